//! In-memory tables whose columns are known only at run time: the column types a result table
//! may hold (`f64`, `i64`, `bool`, fixed-length ASCII strings), the `Schema` naming them, the `Value`s of
//! one `Row`, and `Table`, a schema with its rows. Nothing here touches HDF5; `super::hdf5io`
//! maps these onto compound datasets.

use std::collections::HashSet;
use std::fmt;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// The type of one column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ColumnType {
    /// 64-bit float (NaN allowed).
    F64,
    /// 64-bit signed integer.
    I64,
    /// Fixed-length ASCII string of at most this many bytes (NUL-padded in the file).
    Str(usize),
    /// Boolean, stored as HDF5's usual 1-byte enum (FALSE = 0, TRUE = 1): h5py reads it as
    /// `bool`, pandas as 0/1 (so `df.col == True` selects the true rows).
    Bool,
}

impl ColumnType {
    /// True for `F64` and `I64`.
    pub fn is_numeric(&self) -> bool {
        matches!(self, ColumnType::F64 | ColumnType::I64)
    }

    /// Whether `value` may be stored in a column of this type (an `I64` fits an `F64` column).
    pub fn accepts(&self, value: &Value) -> bool {
        matches!(
            (self, value),
            (ColumnType::F64, Value::F64(_) | Value::I64(_))
                | (ColumnType::I64, Value::I64(_))
                | (ColumnType::Str(_), Value::Str(_))
                | (ColumnType::Bool, Value::Bool(_))
        )
    }
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::F64 => f.write_str("f64"),
            ColumnType::I64 => f.write_str("i64"),
            ColumnType::Str(n) => write!(f, "str({n})"),
            ColumnType::Bool => f.write_str("bool"),
        }
    }
}

/// One named column.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Column {
    pub name: String,
    pub ty: ColumnType,
}

/// The ordered columns of a table. Build it builder-style:
/// `Schema::new().str("model", 32).f64("price").i64("paths")`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Schema {
    pub columns: Vec<Column>,
}

impl Schema {
    pub fn new() -> Self {
        Schema::default()
    }

    /// Appends a column of any type.
    pub fn col(mut self, name: impl AsRef<str>, ty: ColumnType) -> Self {
        self.columns.push(Column {
            name: name.as_ref().to_owned(),
            ty,
        });
        self
    }

    /// Appends an `f64` column.
    pub fn f64(self, name: impl AsRef<str>) -> Self {
        self.col(name, ColumnType::F64)
    }

    /// Appends an `i64` column.
    pub fn i64(self, name: impl AsRef<str>) -> Self {
        self.col(name, ColumnType::I64)
    }

    /// Appends a fixed-length ASCII string column of `len` bytes (longer values are truncated).
    pub fn str(self, name: impl AsRef<str>, len: usize) -> Self {
        self.col(name, ColumnType::Str(len))
    }

    /// Appends a `bool` column.
    pub fn bool(self, name: impl AsRef<str>) -> Self {
        self.col(name, ColumnType::Bool)
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }

    /// Position of the column called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.columns.iter().position(|c| c.name == name)
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }

    /// Checks that the schema can be stored: at least one column, names non-empty, unique and
    /// free of NUL, string lengths at least 1.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.columns.is_empty() {
            bail!("a table needs at least one column");
        }
        let mut seen = HashSet::new();
        for c in &self.columns {
            if c.name.is_empty() || c.name.contains('\0') {
                bail!("invalid column name {:?}", c.name);
            }
            if !seen.insert(c.name.as_str()) {
                bail!("column `{}` appears twice", c.name);
            }
            if c.ty == ColumnType::Str(0) {
                bail!("string column `{}` needs a length of at least 1", c.name);
            }
        }
        Ok(())
    }

    /// Checks one row: the number of values and that each fits its column's type.
    pub fn check_row(&self, row: &[Value]) -> anyhow::Result<()> {
        if row.len() != self.columns.len() {
            bail!("expected {} values, got {}", self.columns.len(), row.len());
        }
        for (c, v) in self.columns.iter().zip(row) {
            if !c.ty.accepts(v) {
                bail!(
                    "column `{}` is {}, got {} {v:?}",
                    c.name,
                    c.ty,
                    v.type_name()
                );
            }
        }
        Ok(())
    }
}

/// One cell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Value {
    F64(f64),
    I64(i64),
    Str(String),
    Bool(bool),
}

/// One row: a value per column, in schema order.
pub type Row = Vec<Value>;

impl Value {
    /// The number, for `F64` and `I64` (converted).
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::F64(x) => Some(x),
            Value::I64(i) => Some(i as f64),
            Value::Str(_) | Value::Bool(_) => None,
        }
    }

    /// The integer, for `I64` only.
    pub fn as_i64(&self) -> Option<i64> {
        match *self {
            Value::I64(i) => Some(i),
            _ => None,
        }
    }

    /// The text, for `Str` only.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// "f64", "i64", "str" or "bool".
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::F64(_) => "f64",
            Value::I64(_) => "i64",
            Value::Str(_) => "str",
            Value::Bool(_) => "bool",
        }
    }
}

impl fmt::Display for Value {
    /// Floats in their shortest round-trip form, like Python's `repr` (`1.0`, `0.25`, `1e-7`,
    /// `NaN`, `inf`); booleans as Python spells them (`True`); integers and strings as they are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::F64(x) => write!(f, "{x:?}"),
            Value::I64(i) => write!(f, "{i}"),
            Value::Str(s) => f.write_str(s),
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
        }
    }
}

impl From<f64> for Value {
    fn from(x: f64) -> Self {
        Value::F64(x)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::I64(i)
    }
}

impl From<i32> for Value {
    fn from(i: i32) -> Self {
        Value::I64(i.into())
    }
}

impl From<u32> for Value {
    fn from(i: u32) -> Self {
        Value::I64(i.into())
    }
}

impl From<usize> for Value {
    /// Saturates at `i64::MAX`.
    fn from(i: usize) -> Self {
        Value::I64(i64::try_from(i).unwrap_or(i64::MAX))
    }
}

impl From<bool> for Value {
    /// 0 or 1, as pandas shows a boolean read from HDF5.
    fn from(b: bool) -> Self {
        Value::I64(b.into())
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(s)
    }
}

/// A schema and its rows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub schema: Schema,
    pub rows: Vec<Row>,
}

impl Table {
    /// An empty table.
    pub fn new(schema: Schema) -> Self {
        Table {
            schema,
            rows: Vec::new(),
        }
    }

    /// Appends a row after checking it against the schema.
    pub fn push(&mut self, row: Row) -> anyhow::Result<()> {
        self.schema
            .check_row(&row)
            .with_context(|| format!("row {}", self.rows.len()))?;
        self.rows.push(row);
        Ok(())
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Position of the column called `name`.
    pub fn column(&self, name: &str) -> Option<usize> {
        self.schema.index_of(name)
    }

    /// The value in row `row` of column `name`.
    pub fn get(&self, row: usize, name: &str) -> Option<&Value> {
        self.rows.get(row)?.get(self.column(name)?)
    }

    fn values<'a, T>(
        &'a self,
        name: &str,
        want: &str,
        pick: impl Fn(&'a Value) -> Option<T>,
    ) -> anyhow::Result<Vec<T>> {
        let i = self.column(name).with_context(|| {
            format!(
                "no column `{name}`; columns: {}",
                self.schema.names().join(", ")
            )
        })?;
        self.rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                row.get(i)
                    .and_then(&pick)
                    .with_context(|| format!("row {r} of column `{name}` is not {want}"))
            })
            .collect()
    }

    /// All values of a numeric column as `f64` (integers converted).
    pub fn f64_column(&self, name: &str) -> anyhow::Result<Vec<f64>> {
        self.values(name, "a number", Value::as_f64)
    }

    /// All values of an integer column.
    pub fn i64_column(&self, name: &str) -> anyhow::Result<Vec<i64>> {
        self.values(name, "an integer", Value::as_i64)
    }

    /// All values of a string column.
    pub fn str_column(&self, name: &str) -> anyhow::Result<Vec<String>> {
        self.values(name, "a string", |v| v.as_str().map(str::to_owned))
    }
}
