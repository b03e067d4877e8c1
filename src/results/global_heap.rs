//! A check of an HDF5 file's global heap collections before libhdf5 reads them. Variable-length
//! strings (every string attribute triton-batch writes, and h5py's `str` datasets) live in these
//! collections, which carry no checksum in any HDF5 format. libhdf5 1.10 walks a collection's
//! objects trusting their sizes: a zero-sized free-space object makes it loop for ever, and an
//! oversized object makes it copy past the collection (both found by `scripts/fuzz`: the inputs
//! fuzz/regressions/hdf5/global-heap-*). So the file is scanned for collections and each one is walked
//! here first, the way libhdf5 walks it, and a damaged one refuses the file with a one-line error.

use std::fs;
use std::os::unix::fs::FileExt;
use std::path::Path;

use memchr::memmem;

/// A collection's signature, version 1 and its three reserved zero bytes.
const COLLECTION_START: &[u8; 8] = b"GCOL\x01\0\0\0";

/// HDF5 never writes a smaller collection (the file format's minimum, H5HG_MINSIZE).
const MIN_COLLECTION_SIZE: u64 = 4096;

/// Bytes read per step of the scan.
const SCAN_BLOCK: usize = 1 << 20;

/// Why a file's global heaps were not checked, or what is wrong with them. The messages leave out
/// the file, which the caller names.
#[derive(Debug, thiserror::Error)]
pub enum GlobalHeapError {
    #[error("cannot read: {0}")]
    Io(#[from] std::io::Error),
    #[error("damaged HDF5 file: the global heap collection at byte {offset} {problem}; restore the file from a copy or write it again")]
    Damaged { offset: u64, problem: String },
}

/// Refuses the file at `path` if one of its global heap collections would make libhdf5 loop or
/// read out of bounds. Files without HDF5's signature, or whose superblock cannot be read, are
/// left to libhdf5, which refuses them itself.
pub fn check_global_heaps(path: &Path) -> Result<(), GlobalHeapError> {
    let file = fs::File::open(path)?;
    let len = file.metadata()?.len();
    match super::superblock_offset(&file, len) {
        Some(superblock) => check(&file, len, superblock),
        None => Ok(()),
    }
}

/// [`check_global_heaps`] on an open file of `len` bytes whose superblock is at `superblock`.
pub(super) fn check(file: &fs::File, len: u64, superblock: u64) -> Result<(), GlobalHeapError> {
    let Some(length_size) = size_of_lengths(file, superblock, len) else {
        return Ok(());
    };
    let mut block_start = 0u64;
    while block_start < len {
        // Each block overlaps the next by a signature's length less one, so a signature that
        // straddles two blocks is found in the first.
        let block = read_at(
            file,
            block_start,
            SCAN_BLOCK + COLLECTION_START.len() - 1,
            len,
        )?;
        for found in memmem::find_iter(&block, COLLECTION_START) {
            if found >= SCAN_BLOCK {
                break;
            }
            let offset = block_start + found as u64;
            let collection = read_collection(file, offset, length_size, len)?;
            walk_collection(&collection, length_size)
                .map_err(|problem| GlobalHeapError::Damaged { offset, problem })?;
        }
        block_start += SCAN_BLOCK as u64;
    }
    Ok(())
}

/// Up to `wanted` bytes at `offset`, fewer at the end of the file.
fn read_at(file: &fs::File, offset: u64, wanted: usize, len: u64) -> std::io::Result<Vec<u8>> {
    let mut bytes = vec![0u8; wanted.min(len.saturating_sub(offset) as usize)];
    file.read_exact_at(&mut bytes, offset)?;
    Ok(bytes)
}

/// The collection at `offset`: as many bytes as its header declares, or what the file holds
/// after `offset` if that is less (which `walk_collection` then refuses).
fn read_collection(
    file: &fs::File,
    offset: u64,
    length_size: usize,
    len: u64,
) -> std::io::Result<Vec<u8>> {
    let header = read_at(file, offset, 8 + length_size, len)?;
    let declared = read_length(&header, 8, length_size).unwrap_or(0);
    read_at(
        file,
        offset,
        declared.max(header.len() as u64).min(len) as usize,
        len,
    )
}

/// The "size of lengths" of the superblock at `superblock`, which sizes a collection's length
/// fields.
fn size_of_lengths(file: &fs::File, superblock: u64, len: u64) -> Option<usize> {
    let start = read_at(file, superblock, 16, len).ok()?;
    let at = match start.get(8)? {
        0 | 1 => 14,
        _ => 10,
    };
    start
        .get(at)
        .map(|&n| n as usize)
        .filter(|n| matches!(n, 2 | 4 | 8 | 16 | 32))
}

/// Walks the objects of the collection that `collection` starts with, as libhdf5's decoder does
/// (H5HG__cache_heap_deserialize), and says what would go wrong there.
fn walk_collection(collection: &[u8], length_size: usize) -> Result<(), String> {
    let header = 8 + length_size;
    let object_header = 8 + length_size;
    let size =
        read_length(collection, 8, length_size).ok_or("is cut off by the end of the file")?;
    if size < MIN_COLLECTION_SIZE {
        return Err(format!(
            "declares {size} bytes, less than HDF5's minimum of {MIN_COLLECTION_SIZE}"
        ));
    }
    if size > collection.len() as u64 {
        return Err(format!(
            "declares {size} bytes but only {} remain in the file",
            collection.len()
        ));
    }
    let end = size as usize;
    let mut at = header;
    while at + object_header <= end {
        let index = u16::from_le_bytes([collection[at], collection[at + 1]]);
        let object_size = read_length(collection, at + 8, length_size).unwrap_or(u64::MAX);
        // Object 0 is the free space, whose size counts its own header; the others are padded
        // to a multiple of 8 after a header.
        let span = if index == 0 {
            object_size
        } else {
            object_size
                .checked_add(7)
                .map(|padded| (padded & !7).saturating_add(object_header as u64))
                .unwrap_or(u64::MAX)
        };
        let refuse = |why: &str| {
            Err(format!(
                "has object {index} at byte {at} of its {size} declaring {object_size} bytes, {why}"
            ))
        };
        if span < object_header as u64 {
            return refuse("less than the object's own header");
        }
        if span > (end - at) as u64 {
            return refuse("which run past the collection's end");
        }
        at += span as usize;
    }
    Ok(())
}

/// A little-endian length field of `length_size` bytes at `at`; a value past 64 bits (in 16- or
/// 32-byte fields) reads as `u64::MAX`, more than any file holds.
fn read_length(bytes: &[u8], at: usize, length_size: usize) -> Option<u64> {
    let field = bytes.get(at..at + length_size)?;
    let (low, high) = field.split_at(field.len().min(8));
    if high.iter().any(|&byte| byte != 0) {
        return Some(u64::MAX);
    }
    Some(
        low.iter()
            .rev()
            .fold(0u64, |value, &byte| value << 8 | u64::from(byte)),
    )
}
