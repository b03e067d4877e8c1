//! The task log: `<out>.tasks`, rank 0's append-only record of every finished task, written and
//! synced to disk before the task reaches the HDF5 journal. HDF5 promises nothing about a file
//! whose writer was killed in the middle of a write (a Pi's power pulled), so `--resume` does not
//! read the journal when a log is there: it reads the log, cuts a torn last record off, and
//! rebuilds the journal (and a forest's model file) from the records.
//!
//! A record is `payload length (u32 LE) | CRC-32 of the payload (u32 LE) | payload`. The first
//! record names the job (kind, seed, data, job text), so a log is never replayed into another job.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// What opens a log's first record, before the job's identity.
const MAGIC: &[u8] = b"triton-batch task log 1\n";
const HEADER_BYTES: usize = 8;

/// An open task log, positioned at its end.
pub struct TaskLog {
    file: File,
    path: PathBuf,
}

/// A reopened log: its task records and how many bytes of a torn record were cut off.
pub struct Reopened {
    pub log: TaskLog,
    pub records: Vec<Vec<u8>>,
    pub torn_bytes: u64,
}

/// A log written by another job than the one being resumed.
#[derive(Debug, thiserror::Error)]
#[error("--resume: `{}` was written by a different job; run without --resume or choose another --out", path.display())]
pub struct OtherJobsLog {
    pub path: PathBuf,
}

impl TaskLog {
    /// Starts an empty log for the job named by `identity` (replacing any earlier log).
    pub fn create(path: &Path, identity: &str) -> anyhow::Result<Self> {
        let file = File::create(path)
            .with_context(|| format!("cannot write the task log `{}`", path.display()))?;
        let mut log = TaskLog {
            file,
            path: path.to_path_buf(),
        };
        log.append(&[MAGIC, identity.as_bytes()].concat())?;
        Ok(log)
    }

    /// Opens the log of an interrupted run of the job named by `identity`: returns the payloads
    /// of its whole records, in the order they were written, and cuts off whatever follows them
    /// (a record torn by a kill mid-write), so that new records go right after the last good one.
    /// `None` when not even the header was written whole: the run recorded no task.
    pub fn reopen(path: &Path, identity: &str) -> anyhow::Result<Option<Reopened>> {
        let context = || format!("reading the task log `{}`", path.display());
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(path)
            .with_context(context)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).with_context(context)?;
        let (mut records, whole) = whole_records(&bytes);
        if records.is_empty() {
            return Ok(None);
        }
        if records[0] != [MAGIC, identity.as_bytes()].concat() {
            return Err(OtherJobsLog {
                path: path.to_path_buf(),
            }
            .into());
        }
        if whole < bytes.len() {
            file.set_len(whole as u64).with_context(context)?;
        }
        file.seek(SeekFrom::Start(whole as u64))
            .with_context(context)?;
        records.remove(0);
        let log = TaskLog {
            file,
            path: path.to_path_buf(),
        };
        Ok(Some(Reopened {
            log,
            records: records.into_iter().map(<[u8]>::to_vec).collect(),
            torn_bytes: (bytes.len() - whole) as u64,
        }))
    }

    /// Appends one record in a single write and syncs it to disk. A failed write (a full disk)
    /// is cut off again, so the log stays a sequence of whole records.
    pub fn append(&mut self, payload: &[u8]) -> anyhow::Result<()> {
        let length = u32::try_from(payload.len()).context("a task's output exceeds 4 GiB")?;
        let mut record = Vec::with_capacity(HEADER_BYTES + payload.len());
        record.extend_from_slice(&length.to_le_bytes());
        record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        record.extend_from_slice(payload);
        let end = self.file.stream_position()?;
        crate::runtime::failure::injected_torn_write(&mut self.file, &record);
        let written = self
            .file
            .write_all(&record)
            .and_then(|()| self.file.sync_data());
        if let Err(err) = written {
            let _ = self.file.set_len(end);
            let _ = self.file.seek(SeekFrom::Start(end));
            return Err(err)
                .with_context(|| format!("writing the task log `{}`", self.path.display()));
        }
        Ok(())
    }

    /// Deletes the log once the result it backs is in place.
    pub fn remove(self) -> anyhow::Result<()> {
        drop(self.file);
        std::fs::remove_file(&self.path)
            .with_context(|| format!("removing the task log `{}`", self.path.display()))
    }
}

/// The payloads of the whole, intact records at the start of `bytes`, and where they end.
fn whole_records(bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    let mut records = Vec::new();
    let mut at = 0;
    while let Some(header) = bytes.get(at..at + HEADER_BYTES) {
        let length = u32::from_le_bytes(header[..4].try_into().unwrap()) as usize;
        let crc = u32::from_le_bytes(header[4..].try_into().unwrap());
        let start = at + HEADER_BYTES;
        let Some(payload) = start
            .checked_add(length)
            .and_then(|end| bytes.get(start..end))
        else {
            break;
        };
        if crc32fast::hash(payload) != crc {
            break;
        }
        records.push(payload);
        at = start + length;
    }
    (records, at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_torn_or_damaged_tail_is_cut_and_appending_goes_on_after_the_last_good_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.h5.tasks");
        let mut log = TaskLog::create(&path, "job A").unwrap();
        log.append(b"first").unwrap();
        log.append(b"second").unwrap();
        drop(log);
        let good = std::fs::metadata(&path).unwrap().len();
        // A record cut short by a kill, then one whose bytes were never written (zeros).
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(file);
        let Reopened {
            mut log,
            records,
            torn_bytes,
        } = TaskLog::reopen(&path, "job A").unwrap().unwrap();
        assert_eq!(records, vec![b"first".to_vec(), b"second".to_vec()]);
        assert_eq!(torn_bytes, 6);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), good);
        log.append(b"third").unwrap();
        drop(log);
        let mut bytes = std::fs::read(&path).unwrap();
        let records = TaskLog::reopen(&path, "job A").unwrap().unwrap().records;
        assert_eq!(records.len(), 3);
        // A flipped bit in the last record: the CRC drops it.
        *bytes.last_mut().unwrap() ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let records = TaskLog::reopen(&path, "job A").unwrap().unwrap().records;
        assert_eq!(records, vec![b"first".to_vec(), b"second".to_vec()]);
    }

    #[test]
    fn another_jobs_log_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.h5.tasks");
        TaskLog::create(&path, "job A").unwrap();
        let err = TaskLog::reopen(&path, "job B").err().unwrap();
        assert!(format!("{err:#}").contains("different job"), "{err:#}");
        // A header torn by a kill: no task was recorded, so there is nothing to resume from it.
        std::fs::write(&path, &MAGIC[..5]).unwrap();
        assert!(TaskLog::reopen(&path, "job A").unwrap().is_none());
    }
}
