//! Result files: HDF5 files whose root holds attributes describing a run and tables of rows.
//! Every table is a 1-D compound dataset with fixed-length ASCII string members, chunked and
//! resizable, so rows are appended as they arrive and `pandas.read_hdf(path, table)` reads it.
//! Columns are known only at run time (`Schema`); one dynamic mechanism serves every table.
//! `ResultFile` owns the file, its attributes and its tables; `TableWriter` appends to a table.

mod global_heap;
mod hdf5io;
mod table;

#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context};
use hdf5::types::VarLenUnicode;
use hdf5::Datatype;

pub use global_heap::{check_global_heaps, GlobalHeapError};
use hdf5io::Layout;
pub use table::{Column, ColumnType, Row, Schema, Table, Value};

/// The root attribute that marks a triton-batch result file (its value: the crate version).
pub const VERSION_ATTR: &str = "triton_batch_version";

/// Numbers per chunk of a numeric array (see `append_array`).
const ARRAY_CHUNK_ROWS: usize = 1 << 14;

/// Rows per chunk of a table dataset.
const CHUNK_ROWS: usize = 64;

/// An HDF5 result file.
pub struct ResultFile {
    file: hdf5::File,
    path: PathBuf,
}

impl std::fmt::Debug for ResultFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultFile")
            .field("path", &self.path)
            .finish()
    }
}

/// HDF5's signature, found at offset 0 or at 512, 1024, 2048, ... after a user block.
const HDF5_SIGNATURE: [u8; 8] = *b"\x89HDF\r\n\x1a\n";

/// Where a file of `len` bytes has HDF5's signature, which starts its superblock.
fn superblock_offset(file: &fs::File, len: u64) -> Option<u64> {
    use std::os::unix::fs::FileExt;
    std::iter::once(0u64)
        .chain((9..63).map(|shift| 1u64 << shift))
        .take_while(|&offset| offset + 8 <= len)
        .find(|&offset| {
            let mut magic = [0u8; 8];
            file.read_exact_at(&mut magic, offset).is_ok() && magic == HDF5_SIGNATURE
        })
}

/// A one-line error unless `path` is an existing HDF5 file whose global heaps libhdf5 can read
/// safely (see `global_heap`).
fn check_hdf5_file(path: &Path) -> anyhow::Result<()> {
    let file = fs::File::open(path).map_err(|e| anyhow!("cannot open {}: {e}", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let Some(superblock) = superblock_offset(&file, len) else {
        bail!("{} is not an HDF5 file", path.display())
    };
    global_heap::check(&file, len, superblock).map_err(|e| anyhow!("{}: {e}", path.display()))
}

/// Refuses a dataset whose declared size cannot be what the file holds, before a read allocates
/// for it: more bytes than this process may use (see `memory_available`), or, stored without
/// compression, more than the file stores for it (a damaged header claiming 10^12 rows).
pub fn check_declared_size(dataset: &hdf5::Dataset) -> anyhow::Result<()> {
    use crate::jobfile::sizes::{human, memory_available};
    let element = dataset.dtype().map(|t| t.size()).unwrap_or(1).max(1) as u64;
    // The shape's product may overflow in a damaged header: saturate rather than wrap.
    let declared = dataset
        .shape()
        .iter()
        .fold(element, |bytes, &n| bytes.saturating_mul(n as u64));
    if let Some(limit) = memory_available().filter(|&limit| declared > limit) {
        bail!(
            "it declares {} of data, more than the {} of memory available (damaged file?)",
            human(declared),
            human(limit)
        );
    }
    let stored = dataset.storage_size();
    if dataset.filters().is_empty() && declared > stored {
        bail!(
            "it declares {} of data but the file stores {} for it (damaged or cut short?)",
            human(declared),
            human(stored)
        );
    }
    Ok(())
}

fn check_table_name(name: &str) -> anyhow::Result<()> {
    if name.is_empty() || name.contains('/') || name.contains('\0') || name == "." {
        bail!("invalid table name {name:?} (tables live at the file's root; no '/')");
    }
    Ok(())
}

impl ResultFile {
    /// Creates (or truncates) a result file and marks it with `triton_batch_version`. Its format
    /// is HDF5 1.8's or later, whose superblock and object headers carry checksums: a reader
    /// refuses a damaged header instead of decoding it (HDF5 1.10 can crash on some damaged
    /// attribute tables of the older format).
    pub fn create(path: &Path) -> anyhow::Result<Self> {
        let file = hdf5::File::with_options()
            .with_fapl(|fapl| fapl.libver_v18())
            .create(path)
            .with_context(|| format!("creating result file {}", path.display()))?;
        let rf = ResultFile {
            file,
            path: path.to_owned(),
        };
        rf.set_attr(VERSION_ATTR, &Value::Str(env!("CARGO_PKG_VERSION").into()))?;
        Ok(rf)
    }

    /// Opens an existing result file for reading and appending.
    pub fn open_rw(path: &Path) -> anyhow::Result<Self> {
        check_hdf5_file(path)?;
        let file = hdf5::File::open_rw(path)
            .with_context(|| format!("opening {} for writing", path.display()))?;
        Ok(ResultFile {
            file,
            path: path.to_owned(),
        })
    }

    /// Opens an existing result file read-only. If HDF5's file lock refuses (another process,
    /// e.g. a running job, has the file open for writing), it opens again without taking the
    /// lock, so `show` can read a file during a run; the writer flushes after every append, so
    /// the reader sees the rows flushed so far.
    pub fn open_read(path: &Path) -> anyhow::Result<Self> {
        check_hdf5_file(path)?;
        let file = hdf5::File::open(path)
            .or_else(|first| {
                hdf5::File::with_options()
                    .with_fapl(|fapl| fapl.file_locking(false))
                    .open(path)
                    .map_err(|_| first)
            })
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(ResultFile {
            file,
            path: path.to_owned(),
        })
    }

    /// Stores `bytes` as a 1-D u8 dataset at the root (a serialised model or running sums),
    /// overwriting in place any of that name, so that rewriting it after every task does not
    /// grow the file. Such datasets are not tables: `table_names` and `show` pass them over.
    pub fn write_bytes(&self, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
        check_table_name(name)?;
        let context = || format!("writing `{name}` to {}", self.path.display());
        let dataset = match self.file.dataset(name) {
            Ok(dataset) => dataset,
            Err(_) => self
                .file
                .new_dataset::<u8>()
                .chunk(1 << 16)
                .shape(0..)
                .create(name)
                .with_context(context)?,
        };
        dataset.resize(bytes.len()).with_context(context)?;
        dataset.write_raw(bytes).with_context(context)?;
        self.flush()
    }

    /// Reads a dataset written by [`write_bytes`](Self::write_bytes).
    pub fn read_bytes(&self, name: &str) -> anyhow::Result<Vec<u8>> {
        let context = || format!("reading `{name}` of {}", self.path.display());
        let dataset = self.file.dataset(name).with_context(context)?;
        check_declared_size(&dataset).with_context(context)?;
        dataset.read_raw::<u8>().with_context(context)
    }

    /// Appends rows of `width` numbers (row-major `values`) to the numeric array `name` at the
    /// root, created on first use: 1-D when `width` is 1, else `n x width`; chunked and resizable
    /// so that a model's node arrays grow as its trees arrive. Returns the index of the first row
    /// written. Arrays are not tables: `table_names` and `show` pass them over.
    pub fn append_array<T: hdf5::H5Type>(
        &self,
        name: &str,
        values: &[T],
        width: usize,
    ) -> anyhow::Result<usize> {
        let first = self.array_rows(name);
        self.write_array_rows(name, first, values, width)?;
        Ok(first)
    }

    /// Writes rows of `width` numbers from row `first` on and makes them the array's last rows
    /// (whatever stood at or after `first` is cut off), creating the array as `append_array`
    /// does. A writer that knows where its data ends uses this to drop rows a crash left behind.
    pub fn write_array_rows<T: hdf5::H5Type>(
        &self,
        name: &str,
        first: usize,
        values: &[T],
        width: usize,
    ) -> anyhow::Result<()> {
        check_table_name(name)?;
        anyhow::ensure!(
            width > 0 && values.len() % width == 0,
            "`{name}`: {} values do not form rows of {width}",
            values.len()
        );
        let context = || format!("writing to `{name}` of {}", self.path.display());
        let rows = values.len() / width;
        let dataset = match self.file.dataset(name) {
            Ok(dataset) => dataset,
            Err(_) if width == 1 => self
                .file
                .new_dataset::<T>()
                .chunk(ARRAY_CHUNK_ROWS)
                .shape(0..)
                .create(name)
                .with_context(context)?,
            Err(_) => self
                .file
                .new_dataset::<T>()
                .chunk(((ARRAY_CHUNK_ROWS / width).max(1), width))
                .shape((0.., width))
                .create(name)
                .with_context(context)?,
        };
        if width == 1 {
            dataset.resize(first + rows).with_context(context)?;
            dataset
                .write_slice(values, ndarray::s![first..first + rows])
                .with_context(context)?;
        } else {
            let view = ndarray::ArrayView2::from_shape((rows, width), values)?;
            dataset
                .resize((first + rows, width))
                .with_context(context)?;
            dataset
                .write_slice(view, ndarray::s![first..first + rows, ..])
                .with_context(context)?;
        }
        Ok(())
    }

    /// Rows `rows` of a numeric array written by [`append_array`](Self::append_array), row-major.
    pub fn read_array_rows<T: hdf5::H5Type + Clone>(
        &self,
        name: &str,
        rows: std::ops::Range<usize>,
    ) -> anyhow::Result<Vec<T>> {
        let context = || {
            format!(
                "reading rows {}..{} of `{name}` of {}",
                rows.start,
                rows.end,
                self.path.display()
            )
        };
        let dataset = self.file.dataset(name).with_context(context)?;
        check_declared_size(&dataset).with_context(context)?;
        let read = match dataset.ndim() {
            1 => dataset
                .read_slice_1d::<T, _>(ndarray::s![rows.clone()])
                .map(|a| a.into_raw_vec_and_offset().0),
            _ => dataset
                .read_slice_2d::<T, _>(ndarray::s![rows.clone(), ..])
                .map(|a| a.as_standard_layout().iter().cloned().collect()),
        };
        read.with_context(context)
    }

    /// The number of rows of a numeric array (0 if it does not exist).
    pub fn array_rows(&self, name: &str) -> usize {
        self.file
            .dataset(name)
            .map_or(0, |d| d.shape().first().copied().unwrap_or(0))
    }

    /// The path the file was opened with.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets a root attribute, replacing any of that name: `F64` as a float64 scalar, `I64` as an
    /// int64 scalar, `Bool` as HDF5's boolean enum, `Str` as a variable-length UTF-8 string scalar
    /// (h5py reads it as `str`).
    pub fn set_attr(&self, name: &str, value: &Value) -> anyhow::Result<()> {
        let ctx = || format!("setting attribute `{name}` of {}", self.path.display());
        let exists = self
            .file
            .attr_names()
            .with_context(ctx)?
            .iter()
            .any(|n| n == name);
        if exists {
            self.file.delete_attr(name).with_context(ctx)?;
        }
        match value {
            Value::F64(x) => self
                .file
                .new_attr::<f64>()
                .create(name)
                .and_then(|a| a.write_scalar(x)),
            Value::I64(i) => self
                .file
                .new_attr::<i64>()
                .create(name)
                .and_then(|a| a.write_scalar(i)),
            Value::Bool(b) => self
                .file
                .new_attr::<bool>()
                .create(name)
                .and_then(|a| a.write_scalar(b)),
            Value::Str(s) => {
                let s: VarLenUnicode = s
                    .parse()
                    .map_err(|_| anyhow!("a string attribute cannot contain NUL"))
                    .with_context(ctx)?;
                self.file
                    .new_attr::<VarLenUnicode>()
                    .create(name)
                    .and_then(|a| a.write_scalar(&s))
            }
        }
        .with_context(ctx)
    }

    /// A root attribute holding a list of integers (one per halving iteration, say).
    pub fn set_attr_i64s(&self, name: &str, values: &[i64]) -> anyhow::Result<()> {
        let ctx = || format!("setting attribute `{name}` of {}", self.path.display());
        if self
            .file
            .attr_names()
            .with_context(ctx)?
            .iter()
            .any(|n| n == name)
        {
            self.file.delete_attr(name).with_context(ctx)?;
        }
        self.file
            .new_attr::<i64>()
            .shape(values.len())
            .create(name)
            .and_then(|a| a.write(values))
            .with_context(ctx)
    }

    /// A root attribute. Integers of any width and enums read as `I64`, booleans as `Bool`, floats
    /// as `F64`, strings (fixed or variable length) as `Str`; arrays and other types as a `Str`.
    pub fn attr(&self, name: &str) -> anyhow::Result<Value> {
        let ctx = || format!("reading attribute `{name}` of {}", self.path.display());
        let attr = self.file.attr(name).with_context(ctx)?;
        hdf5io::read_attr(&attr).with_context(ctx)
    }

    /// All root attributes, sorted by name.
    pub fn attrs(&self) -> anyhow::Result<Vec<(String, Value)>> {
        let mut names = self
            .file
            .attr_names()
            .with_context(|| format!("listing attributes of {}", self.path.display()))?;
        names.sort();
        names
            .into_iter()
            .map(|name| {
                let value = self.attr(&name)?;
                Ok((name, value))
            })
            .collect()
    }

    /// Creates an empty table (replacing any dataset of that name) and returns its writer.
    pub fn create_table(&self, name: &str, schema: &Schema) -> anyhow::Result<TableWriter> {
        let ctx = || format!("creating table `{name}` in {}", self.path.display());
        check_table_name(name).with_context(ctx)?;
        schema.validate().with_context(ctx)?;
        if self.file.link_exists(name) {
            if self.file.group(name).is_ok() {
                bail!("{}: `{name}` is a group, not a table", ctx());
            }
            self.file.unlink(name).with_context(ctx)?;
        }
        let layout = Layout::of(schema);
        let dataset = self
            .file
            .new_dataset_builder()
            .empty_as(&layout.descriptor)
            .shape(0..)
            .chunk(CHUNK_ROWS)
            .create(name)
            .with_context(ctx)?;
        self.writer(name, dataset, schema.clone(), layout)
            .with_context(ctx)
    }

    /// Opens an existing table for appending; its schema is read from the file.
    pub fn append_table(&self, name: &str) -> anyhow::Result<TableWriter> {
        let ctx = || {
            format!(
                "opening table `{name}` of {} for appending",
                self.path.display()
            )
        };
        let dataset = self.dataset(name).with_context(ctx)?;
        let schema = hdf5io::appendable_schema(&dataset).with_context(ctx)?;
        let layout = Layout::of(&schema);
        self.writer(name, dataset, schema, layout).with_context(ctx)
    }

    fn writer(
        &self,
        name: &str,
        dataset: hdf5::Dataset,
        schema: Schema,
        layout: Layout,
    ) -> anyhow::Result<TableWriter> {
        let mem_type = Datatype::from_descriptor(&layout.descriptor)?;
        // Write with the dataset's own datatype when it is ours (always, for tables created
        // here); otherwise HDF5 converts from our layout, matching members by name.
        let own_type = dataset.dtype()?;
        let write_type = if own_type == mem_type {
            own_type
        } else {
            mem_type
        };
        Ok(TableWriter {
            file: self.file.clone(),
            dataset,
            schema,
            layout,
            write_type,
            name: name.to_owned(),
            path: self.path.clone(),
        })
    }

    /// Creates (or replaces) a table holding `table`'s rows.
    pub fn write_table(&self, name: &str, table: &Table) -> anyhow::Result<()> {
        let mut writer = self.create_table(name, &table.schema)?;
        writer.append(&table.rows)
    }

    fn dataset(&self, name: &str) -> anyhow::Result<hdf5::Dataset> {
        if !self.has_table(name) {
            let names = self.table_names().unwrap_or_default();
            if names.is_empty() {
                bail!("no table `{name}` (the file has no tables)");
            }
            bail!("no table `{name}`; tables: {}", names.join(", "));
        }
        Ok(self.file.dataset(name)?)
    }

    /// Reads a whole table. Any 1-D compound dataset reads: integer and enum members as `I64`,
    /// booleans as `Bool`, floats as `F64`, strings as `Str`, other member types as the string "?".
    pub fn read_table(&self, name: &str) -> anyhow::Result<Table> {
        let ctx = || format!("reading table `{name}` of {}", self.path.display());
        let dataset = self.dataset(name).with_context(ctx)?;
        check_declared_size(&dataset).with_context(ctx)?;
        let (schema, rows) = hdf5io::read_compound(&dataset).with_context(ctx)?;
        Ok(Table { schema, rows })
    }

    /// The tables (root datasets that are 1-D compounds), in name order.
    pub fn table_names(&self) -> anyhow::Result<Vec<String>> {
        let mut names: Vec<String> = self
            .file
            .member_names()
            .with_context(|| format!("listing {}", self.path.display()))?
            .into_iter()
            .filter(|name| self.has_table(name))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether a table of that name exists.
    pub fn has_table(&self, name: &str) -> bool {
        if check_table_name(name).is_err() || !self.file.link_exists(name) {
            return false;
        }
        match self.file.dataset(name) {
            Ok(ds) => ds.ndim() == 1 && ds.dtype().is_ok_and(|t| hdf5io::is_compound(&t)),
            Err(_) => false,
        }
    }

    /// Flushes everything written so far to disk (H5Fflush), so it survives a crash of the writer.
    pub fn flush(&self) -> anyhow::Result<()> {
        self.file
            .flush()
            .with_context(|| format!("flushing {}", self.path.display()))
    }
}

/// Appends rows to one table of a `ResultFile`.
pub struct TableWriter {
    file: hdf5::File,
    dataset: hdf5::Dataset,
    schema: Schema,
    layout: Layout,
    write_type: Datatype,
    name: String,
    path: PathBuf,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("path", &self.path)
            .field("table", &self.name)
            .field("schema", &self.schema)
            .finish()
    }
}

impl TableWriter {
    /// The table's columns.
    pub fn schema(&self) -> &Schema {
        &self.schema
    }

    /// Rows in the table now (read from the file, so other writers' rows count too).
    pub fn len(&self) -> usize {
        self.dataset.shape().first().copied().unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Checks every row against the schema (value count and types; an `I64` may go into an
    /// `F64` column), then writes them after the existing rows and flushes the file. Strings
    /// are stored as ASCII ('?' for other characters), cut to the column's length. Nothing is
    /// written if any row is wrong.
    pub fn append(&mut self, rows: &[Row]) -> anyhow::Result<()> {
        let ctx = || {
            format!(
                "appending to table `{}` of {}",
                self.name,
                self.path.display()
            )
        };
        for (i, row) in rows.iter().enumerate() {
            self.schema
                .check_row(row)
                .with_context(|| format!("row {i} of {}", rows.len()))
                .with_context(ctx)?;
        }
        if rows.is_empty() {
            return Ok(());
        }
        let buf = self.layout.pack(&self.schema, rows);
        let start = self.len();
        self.dataset.resize(start + rows.len()).with_context(ctx)?;
        if let Err(e) =
            hdf5io::write_records(&self.dataset, &self.write_type, start, rows.len(), &buf)
        {
            // Do not leave blank rows behind.
            let _ = self.dataset.resize(start);
            return Err(e.context(ctx()));
        }
        if let Err(e) = self.file.flush() {
            // A full disk fails the flush after the new extent may have reached the file but not
            // the rows: take the rows back, so that a reader finds none of them rather than
            // blank ones (resume also drops blank rows, should this flush fail too).
            let _ = self.dataset.resize(start);
            let _ = self.file.flush();
            return Err(anyhow::Error::from(e).context(ctx()));
        }
        Ok(())
    }
}
