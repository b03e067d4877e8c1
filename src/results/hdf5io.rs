//! The raw HDF5 side of result tables: the compound layout a `Schema` is stored as, packing rows
//! into that layout and writing them to a hyperslab of a resizable 1-D dataset, and reading any
//! 1-D compound dataset (or attribute) back into `Value`s whatever its member types.
//!
//! Raw `hdf5-sys` calls run inside `locked`, which takes hdf5-metno's own global reentrant mutex
//! (`hdf5::sync::sync`, the lock behind its `h5lock!`), so they are safe next to any other use of
//! the `hdf5` crate, on any thread. Identifiers we get from the C library are wrapped at once in
//! hdf5-metno's owning handles (`Datatype`, `Dataspace`) so they are closed on every path.

use std::ffi::{c_char, c_void, CStr};
use std::ptr;

use anyhow::{bail, Context};
use hdf5::types::{CompoundField, CompoundType, FloatSize, IntSize, TypeDescriptor};
use hdf5::{Dataspace, Datatype};
use hdf5_sys::h5::{hsize_t, H5free_memory};
use hdf5_sys::h5a::H5Aread;
use hdf5_sys::h5d::{H5Dget_space, H5Dread, H5Dvlen_reclaim, H5Dwrite};
use hdf5_sys::h5i::hid_t;
use hdf5_sys::h5p::H5P_DEFAULT;
use hdf5_sys::h5s::{H5S_seloper_t, H5Screate_simple, H5Sselect_hyperslab, H5S_ALL};
use hdf5_sys::h5t::{
    H5T_class_t, H5Tget_class, H5Tget_member_name, H5Tget_member_type, H5Tget_nmembers,
};

use super::table::{Column, ColumnType, Row, Schema, Value};

/// Runs `f` holding hdf5-metno's global HDF5 lock (reentrant).
pub(crate) fn locked<T>(f: impl FnOnce() -> T) -> T {
    hdf5::sync::sync(f)
}

fn owned_type(id: hid_t) -> anyhow::Result<Datatype> {
    let id = hdf5::h5check(id)?;
    // SAFETY: `id` is a fresh datatype identifier that nothing else owns.
    Ok(unsafe { hdf5::from_id::<Datatype>(id) }?)
}

fn owned_space(id: hid_t) -> anyhow::Result<Dataspace> {
    let id = hdf5::h5check(id)?;
    // SAFETY: `id` is a fresh dataspace identifier that nothing else owns.
    Ok(unsafe { hdf5::from_id::<Dataspace>(id) }?)
}

fn round_up(n: usize, to: usize) -> usize {
    n.div_ceil(to) * to
}

/// Where each column lives in one packed record.
#[derive(Clone, Debug)]
pub(crate) struct Layout {
    pub offsets: Vec<usize>,
    /// Record size in bytes, a multiple of 8.
    pub size: usize,
    /// The compound type descriptor (native byte order once turned into a `Datatype`).
    pub descriptor: TypeDescriptor,
}

impl Layout {
    /// Columns in schema order; numbers aligned to 8 bytes as a C struct would be, strings and
    /// booleans unaligned; the record padded to a multiple of 8 bytes.
    pub fn of(schema: &Schema) -> Layout {
        let mut offsets = Vec::with_capacity(schema.len());
        let mut fields = Vec::with_capacity(schema.len());
        let mut end = 0;
        for (index, column) in schema.columns.iter().enumerate() {
            let (ty, offset) = match column.ty {
                ColumnType::F64 => (TypeDescriptor::Float(FloatSize::U8), round_up(end, 8)),
                ColumnType::I64 => (TypeDescriptor::Integer(IntSize::U8), round_up(end, 8)),
                ColumnType::Str(n) => (TypeDescriptor::FixedAscii(n), end),
                ColumnType::Bool => (TypeDescriptor::Boolean, end),
            };
            end = offset + ty.size();
            offsets.push(offset);
            fields.push(CompoundField::new(&column.name, ty, offset, index));
        }
        let size = round_up(end.max(1), 8);
        let descriptor = TypeDescriptor::Compound(CompoundType { fields, size });
        Layout {
            offsets,
            size,
            descriptor,
        }
    }

    /// Packs rows (already checked against `schema`) into records: numbers native-endian,
    /// strings ASCII (anything else, and NUL, becomes '?'), cut to the column's length and
    /// NUL-padded.
    pub fn pack(&self, schema: &Schema, rows: &[Row]) -> Vec<u8> {
        let mut buf = vec![0u8; rows.len() * self.size];
        for (record, row) in buf.chunks_exact_mut(self.size).zip(rows) {
            for ((column, &offset), value) in schema.columns.iter().zip(&self.offsets).zip(row) {
                let field = &mut record[offset..];
                match (column.ty, value) {
                    (ColumnType::F64, Value::F64(x)) => {
                        field[..8].copy_from_slice(&x.to_ne_bytes())
                    }
                    (ColumnType::F64, Value::I64(i)) => {
                        field[..8].copy_from_slice(&(*i as f64).to_ne_bytes())
                    }
                    (ColumnType::I64, Value::I64(i)) => {
                        field[..8].copy_from_slice(&i.to_ne_bytes())
                    }
                    (ColumnType::Bool, Value::Bool(b)) => field[0] = u8::from(*b),
                    (ColumnType::Str(n), Value::Str(s)) => {
                        for (byte, c) in field[..n].iter_mut().zip(s.chars()) {
                            *byte = if c.is_ascii() && c != '\0' {
                                c as u8
                            } else {
                                b'?'
                            };
                        }
                    }
                    _ => debug_assert!(false, "row not checked against the schema"),
                }
            }
        }
        buf
    }
}

/// Writes `n` packed records to rows `start..start + n` of a 1-D dataset that is already at
/// least that long, converting from `mem_type` to the dataset's own type.
pub(crate) fn write_records(
    dataset: &hdf5::Dataset,
    mem_type: &Datatype,
    start: usize,
    n: usize,
    buf: &[u8],
) -> anyhow::Result<()> {
    assert_eq!(buf.len(), n * mem_type.size());
    if n == 0 {
        return Ok(());
    }
    // SAFETY: the dataset id is live for the borrow; both dataspaces are owned (closed on drop);
    // the hyperslab selects exactly `n` rows and `buf` holds `n` records of `mem_type` (asserted
    // above), so H5Dwrite reads only inside `buf`. `locked` serialises calls into the library,
    // which is built without thread safety.
    locked(|| unsafe {
        let file_space = owned_space(H5Dget_space(dataset.id()))?;
        let start = [start as hsize_t];
        let count = [n as hsize_t];
        hdf5::h5check(H5Sselect_hyperslab(
            file_space.id(),
            H5S_seloper_t::H5S_SELECT_SET,
            start.as_ptr(),
            ptr::null(),
            count.as_ptr(),
            ptr::null(),
        ))?;
        let mem_space = owned_space(H5Screate_simple(1, count.as_ptr(), ptr::null()))?;
        hdf5::h5check(H5Dwrite(
            dataset.id(),
            mem_type.id(),
            mem_space.id(),
            file_space.id(),
            H5P_DEFAULT,
            buf.as_ptr().cast::<c_void>(),
        ))?;
        Ok(())
    })
}

/// How one stored element is turned into a `Value`.
#[derive(Clone, Copy, Debug)]
enum Decode {
    /// HDF5's boolean enum (h5py's, ours): nonzero is true.
    Bool,
    /// Integer or enum (its integer value), read native-endian.
    Int {
        size: usize,
        signed: bool,
    },
    Float {
        size: usize,
    },
    /// Fixed-length string: bytes up to the first NUL.
    FixedStr {
        size: usize,
    },
    /// Variable-length string: a `char*` that HDF5 allocated.
    VarStr,
    /// A type we do not decode: shown as "?".
    Unknown,
}

/// The decoder for a stored type and the memory type to read it as (native byte order, same
/// size; HDF5 converts), or `None` for types we skip.
fn plan(desc: &TypeDescriptor) -> (Decode, Option<TypeDescriptor>) {
    use TypeDescriptor as TD;
    let decode = match desc {
        TD::Integer(s) => Decode::Int {
            size: *s as usize,
            signed: true,
        },
        TD::Unsigned(s) => Decode::Int {
            size: *s as usize,
            signed: false,
        },
        TD::Boolean => Decode::Bool,
        TD::Enum(e) => Decode::Int {
            size: e.size as usize,
            signed: e.signed,
        },
        TD::Float(_) if matches!(desc.size(), 4 | 8) => Decode::Float { size: desc.size() },
        TD::FixedAscii(n) | TD::FixedUnicode(n) => Decode::FixedStr { size: *n },
        TD::VarLenAscii | TD::VarLenUnicode => Decode::VarStr,
        _ => return (Decode::Unknown, None),
    };
    (decode, Some(desc.clone()))
}

/// Decodes one element of `bytes` (which starts at the element).
fn decode(bytes: &[u8], how: Decode) -> Value {
    match how {
        Decode::Bool => Value::Bool(bytes[0] != 0),
        Decode::Int { size, signed } => {
            let mut raw = [0u8; 8];
            raw[..size].copy_from_slice(&bytes[..size]);
            let value = if cfg!(target_endian = "little") {
                let negative = signed && bytes[size - 1] & 0x80 != 0;
                if negative {
                    raw[size..].fill(0xff);
                }
                u64::from_le_bytes(raw)
            } else {
                let mut be = [0u8; 8];
                let negative = signed && bytes[0] & 0x80 != 0;
                if negative {
                    be.fill(0xff);
                }
                be[8 - size..].copy_from_slice(&bytes[..size]);
                u64::from_be_bytes(be)
            };
            if signed {
                Value::I64(value as i64)
            } else {
                Value::I64(i64::try_from(value).unwrap_or(i64::MAX))
            }
        }
        Decode::Float { size: 4 } => {
            Value::F64(f32::from_ne_bytes(bytes[..4].try_into().unwrap()).into())
        }
        Decode::Float { .. } => Value::F64(f64::from_ne_bytes(bytes[..8].try_into().unwrap())),
        Decode::FixedStr { size } => {
            let bytes = &bytes[..size];
            let end = bytes.iter().position(|&b| b == 0).unwrap_or(size);
            Value::Str(String::from_utf8_lossy(&bytes[..end]).into_owned())
        }
        Decode::VarStr => {
            // SAFETY: HDF5 stored a `char*` (NULL or NUL-terminated) here, possibly unaligned.
            let p = unsafe { ptr::read_unaligned(bytes.as_ptr().cast::<*const c_char>()) };
            if p.is_null() {
                Value::Str(String::new())
            } else {
                // SAFETY: `p` is non-null and points at the NUL-terminated string HDF5 allocated.
                Value::Str(unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned())
            }
        }
        Decode::Unknown => Value::Str("?".into()),
    }
}

/// True when the datatype is a compound.
pub(crate) fn is_compound(dtype: &Datatype) -> bool {
    // SAFETY: `dtype` owns a live datatype id; the call only reads it.
    locked(|| unsafe { H5Tget_class(dtype.id()) } == H5T_class_t::H5T_COMPOUND)
}

/// The members of a compound datatype: name and (owned) type.
fn members(dtype: &Datatype) -> anyhow::Result<Vec<(String, Datatype)>> {
    // SAFETY: `dtype` owns a live compound datatype id and `i` stays below its member count;
    // a member name is a NUL-terminated string HDF5 allocated, copied before H5free_memory frees
    // it, and every member type id is fresh and taken into an owned `Datatype`.
    locked(|| unsafe {
        let n = hdf5::h5check(H5Tget_nmembers(dtype.id()))?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n as u32 {
            let name_ptr = H5Tget_member_name(dtype.id(), i);
            if name_ptr.is_null() {
                bail!("cannot read the name of compound member {i}");
            }
            let name = CStr::from_ptr(name_ptr).to_string_lossy().into_owned();
            H5free_memory(name_ptr.cast::<c_void>());
            out.push((name, owned_type(H5Tget_member_type(dtype.id(), i))?));
        }
        Ok(out)
    })
}

struct Field {
    name: String,
    decode: Decode,
    /// Offset in the memory record (unused for `Unknown`).
    offset: usize,
}

/// Reads every row of a 1-D compound dataset. Each member becomes a column: integers and enums
/// `I64`, booleans `Bool`, floats `F64`, strings `Str`; members of other types read as "?".
pub(crate) fn read_compound(dataset: &hdf5::Dataset) -> anyhow::Result<(Schema, Vec<Row>)> {
    locked(|| {
        let dtype = dataset.dtype()?;
        if !is_compound(&dtype) || dataset.ndim() != 1 {
            bail!("not a table (a table is a 1-D compound dataset)");
        }
        let n = dataset.shape()[0];

        // Memory record: the decodable members, each at an 8-byte aligned offset.
        let mut fields = Vec::new();
        let mut mem_fields = Vec::new();
        let mut end = 0;
        for (name, member) in members(&dtype)? {
            let (decode, mem) = match member.to_descriptor() {
                Ok(desc) => plan(&desc),
                Err(_) => (Decode::Unknown, None),
            };
            let mut offset = 0;
            if let Some(mem) = mem {
                offset = round_up(end, 8);
                end = offset + mem.size();
                mem_fields.push(CompoundField::new(&name, mem, offset, mem_fields.len()));
            }
            fields.push(Field {
                name,
                decode,
                offset,
            });
        }
        let size = round_up(end.max(1), 8);

        let mut buf = vec![0u8; n * size];
        if n > 0 && !mem_fields.is_empty() {
            let has_vlen = fields.iter().any(|f| matches!(f.decode, Decode::VarStr));
            let mem_type = Datatype::from_descriptor(&TypeDescriptor::Compound(CompoundType {
                fields: mem_fields,
                size,
            }))?;
            // SAFETY: `mem_type` describes records of `size` bytes whose fields lie inside them
            // (offsets built above), and `buf` holds one record per element of the dataset's
            // whole dataspace (`n`), so H5Dread writes only inside `buf`.
            unsafe {
                hdf5::h5check(H5Dread(
                    dataset.id(),
                    mem_type.id(),
                    H5S_ALL,
                    H5S_ALL,
                    H5P_DEFAULT,
                    buf.as_mut_ptr().cast::<c_void>(),
                ))?;
            }
            let rows = decode_records(&fields, &buf, size, n);
            if has_vlen {
                let space = dataset.space()?;
                // SAFETY: `buf` holds what H5Dread wrote with `mem_type` over `space`; reclaiming
                // frees the variable-length strings HDF5 allocated there, after `decode_records`
                // copied them, and nothing reads those pointers again.
                unsafe {
                    #[allow(deprecated)] // H5Treclaim only exists from HDF5 1.12
                    H5Dvlen_reclaim(
                        mem_type.id(),
                        space.id(),
                        H5P_DEFAULT,
                        buf.as_mut_ptr().cast::<c_void>(),
                    );
                }
            }
            return Ok((schema_of(&fields, &rows), rows));
        }
        let rows = decode_records(&fields, &buf, size, n);
        Ok((schema_of(&fields, &rows), rows))
    })
}

fn decode_records(fields: &[Field], buf: &[u8], size: usize, n: usize) -> Vec<Row> {
    (0..n)
        .map(|r| {
            let record = &buf[r * size..(r + 1) * size];
            fields
                .iter()
                .map(|f| decode(&record[f.offset..], f.decode))
                .collect()
        })
        .collect()
}

/// The column types of decoded fields (a variable-length string column gets its longest value's
/// length, at least 1).
fn schema_of(fields: &[Field], rows: &[Row]) -> Schema {
    let columns = fields
        .iter()
        .enumerate()
        .map(|(i, f)| {
            let ty = match f.decode {
                Decode::Int { .. } => ColumnType::I64,
                Decode::Bool => ColumnType::Bool,
                Decode::Float { .. } => ColumnType::F64,
                Decode::FixedStr { size } => ColumnType::Str(size),
                Decode::VarStr => {
                    let longest = rows
                        .iter()
                        .filter_map(|row| row[i].as_str().map(str::len))
                        .max();
                    ColumnType::Str(longest.unwrap_or(0).max(1))
                }
                Decode::Unknown => ColumnType::Str(1),
            };
            Column {
                name: f.name.clone(),
                ty,
            }
        })
        .collect();
    Schema { columns }
}

/// The schema to append to an existing table with: every member must be a type we write
/// (8-byte float, 8-byte signed integer, boolean, fixed-length ASCII string).
pub(crate) fn appendable_schema(dataset: &hdf5::Dataset) -> anyhow::Result<Schema> {
    let dtype = dataset.dtype()?;
    if !is_compound(&dtype) || dataset.ndim() != 1 {
        bail!("not a table (a table is a 1-D compound dataset)");
    }
    let mut columns = Vec::new();
    for (name, member) in members(&dtype)? {
        let desc = member
            .to_descriptor()
            .with_context(|| format!("column `{name}` has an unsupported type"))?;
        let ty = match desc {
            TypeDescriptor::Float(FloatSize::U8) => ColumnType::F64,
            TypeDescriptor::Integer(IntSize::U8) => ColumnType::I64,
            TypeDescriptor::FixedAscii(n) => ColumnType::Str(n),
            TypeDescriptor::Boolean => ColumnType::Bool,
            other => bail!(
                "column `{name}` is {other}; only f64, i64, bool and fixed-length ASCII string \
                 columns can be appended to (the table can still be read)"
            ),
        };
        columns.push(Column { name, ty });
    }
    Ok(Schema { columns })
}

/// Reads an attribute of any type: a single number or string as that `Value`, an array as a
/// `Str` like "[1, 2, 3]", an empty attribute as "", types we do not decode as "?".
pub(crate) fn read_attr(attr: &hdf5::Attribute) -> anyhow::Result<Value> {
    locked(|| {
        let dtype = attr.dtype()?;
        let space = attr.space()?;
        let n = space.size();
        let (how, mem) = match dtype.to_descriptor() {
            Ok(desc) => plan(&desc),
            Err(_) => (Decode::Unknown, None),
        };
        let Some(mem) = mem else {
            return Ok(Value::Str("?".into()));
        };
        if n == 0 {
            return Ok(Value::Str(String::new()));
        }
        let size = mem.size();
        let mem_type = Datatype::from_descriptor(&mem)?;
        let mut buf = vec![0u8; n * size];
        // SAFETY: `buf` holds `n` elements (the attribute's dataspace) of `mem_type`'s size.
        unsafe {
            hdf5::h5check(H5Aread(
                attr.id(),
                mem_type.id(),
                buf.as_mut_ptr().cast::<c_void>(),
            ))?;
        }
        let values: Vec<Value> = buf.chunks_exact(size).map(|b| decode(b, how)).collect();
        if matches!(how, Decode::VarStr) {
            // SAFETY: as for datasets: frees the strings H5Aread allocated in `buf` after `decode`
            // copied them.
            unsafe {
                #[allow(deprecated)] // H5Treclaim only exists from HDF5 1.12
                H5Dvlen_reclaim(
                    mem_type.id(),
                    space.id(),
                    H5P_DEFAULT,
                    buf.as_mut_ptr().cast::<c_void>(),
                );
            }
        }
        Ok(if values.len() == 1 {
            values.into_iter().next().unwrap()
        } else {
            let parts: Vec<String> = values.iter().map(ToString::to_string).collect();
            Value::Str(format!("[{}]", parts.join(", ")))
        })
    })
}
