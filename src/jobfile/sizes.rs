//! What a job will need, estimated from its declared sizes before anything is loaded, allocated or
//! computed: the peak memory of one rank, the result file and a saved model file. A job that
//! cannot fit (more memory than this machine has available, a file larger than its folder's free
//! space) is refused with the estimate and the limit, by `validate` and by the run commands.
//!
//! The estimates are rough on purpose (within a factor of about two) and err on the large side
//! only where a refusal would still be right: they exist to stop `n_samples = 10000000000` before
//! it takes the machine down, not to budget memory to the megabyte.

use std::path::Path;

use crate::jobfile::data::{DataSpec, Source, TestData};
use crate::ml::forest::ForestParams;

/// Memory every rank has before any data: the binary, MPI, HDF5 and thread stacks.
const BASE_MEMORY: u64 = 40_000_000;
/// How many copies of the data a rank holds at its peak: rank 0 the loaded data, the validated
/// job, its clone sent to the workers and the encoded message; a worker the message and the job.
const DATA_COPIES: u64 = 4;
/// Rank 0's bookkeeping per task (queue, held and done sets).
const BYTES_PER_TASK: u64 = 64;
/// Nodes of a fully grown classification tree per bootstrap row, calibrated on the notebook's
/// forest (15000 training rows, about 115 KB a tree in the model file).
const NODES_PER_ROW: f64 = 1.0 / 8.0;

/// What a job needs, in bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sizes {
    /// Peak resident memory of one rank (rank 0, which holds the most).
    pub memory: u64,
    /// The result file.
    pub result: u64,
    /// The model file of `--save-model` (0: none).
    pub model: u64,
}

/// The shape of a job's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    pub rows: u64,
    pub test_rows: u64,
    pub features: u64,
    pub classes: u64,
}

impl DataShape {
    /// Training and test data in memory: f64 features and a label per row.
    pub fn bytes(&self) -> u64 {
        self.rows
            .saturating_add(self.test_rows)
            .saturating_mul(self.features.saturating_add(1))
            .saturating_mul(8)
    }

    /// Before loading: the shape of generated data (`make_classification`, `digits`); `None` for
    /// a file, whose shape is known once it is read (its size on disk is checked instead).
    pub fn planned(spec: &DataSpec) -> Option<Self> {
        let (rows, features, classes) = match &spec.source {
            Source::MakeClassification(p) => {
                (p.n_samples as u64, p.n_features as u64, p.n_classes as u64)
            }
            Source::Digits => (1797, 64, 10),
            Source::File(_) => return None,
        };
        let test_rows = match spec.test {
            TestData::Holdout { test_size, .. } => (rows as f64 * test_size).ceil() as u64,
            _ => 0,
        };
        Some(DataShape {
            rows: rows - test_rows.min(rows),
            test_rows,
            features,
            classes,
        })
    }

    pub fn of(train: &crate::ml::Dataset, test: Option<&crate::ml::Dataset>) -> Self {
        DataShape {
            rows: train.x.nrows() as u64,
            test_rows: test.map_or(0, |t| t.x.nrows() as u64),
            features: train.x.ncols() as u64,
            classes: train.classes.len() as u64,
        }
    }
}

/// Memory every job needs for its data and tasks.
pub fn common_memory(shape: Option<&DataShape>, n_tasks: u64) -> u64 {
    BASE_MEMORY
        .saturating_add(shape.map_or(0, |s| s.bytes().saturating_mul(DATA_COPIES)))
        .saturating_add(n_tasks.saturating_mul(BYTES_PER_TASK))
}

/// Estimated nodes of one tree grown on `rows` training rows.
pub fn tree_nodes(params: &ForestParams, rows: u64) -> u64 {
    let mut nodes = (rows as f64 * NODES_PER_ROW).ceil() as u64 + 1;
    if let Some(depth) = params.max_depth {
        nodes = nodes.min(2u64.saturating_pow(depth.min(62) as u32 + 1) - 1);
    }
    if let Some(leaves) = params.max_leaf_nodes {
        nodes = nodes.min((leaves as u64).saturating_mul(2));
    }
    nodes.max(1)
}

/// Bytes of one tree (in memory, on the wire and in a model file): seven numbers per node and a
/// value per class.
pub fn tree_bytes(params: &ForestParams, shape: &DataShape) -> u64 {
    tree_nodes(params, shape.rows).saturating_mul(8 * (7 + shape.classes.max(1)))
}

/// A forest's working memory on one rank: a block of trees, its votes and the growing state.
pub fn forest_memory(params: &ForestParams, shape: &DataShape, block_trees: u64) -> u64 {
    let trees = block_trees
        .saturating_mul(tree_bytes(params, shape))
        .saturating_mul(2);
    let votes = shape
        .rows
        .saturating_add(shape.test_rows)
        .saturating_mul(shape.classes.max(1))
        .saturating_mul(16);
    let growing = shape.rows.saturating_mul(48);
    trees.saturating_add(votes).saturating_add(growing)
}

/// An SVC fit's working memory: the kernel cache (bounded by `cache_size` MB or the full kernel
/// matrix, whichever is smaller) and the solver's per-row state.
pub fn svc_memory(cache_size_mb: f64, fit_rows: u64) -> u64 {
    let cache =
        ((cache_size_mb * 1e6) as u64).min(fit_rows.saturating_mul(fit_rows).saturating_mul(8));
    cache.saturating_add(fit_rows.saturating_mul(64))
}

/// Bytes as people read them: `512 B`, `45.3 MB`, `1.6 TB` (powers of 1000).
pub fn human(bytes: u64) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit + 1 < units.len() {
        value /= 1000.0;
        unit += 1;
    }
    match unit {
        0 => format!("{bytes} B"),
        _ => format!("{value:.1} {}", units[unit]),
    }
}

/// The memory a rank may plan for: this machine's available memory (MemAvailable in
/// /proc/meminfo), or less when `TRITON_BATCH_MEMORY_MB` caps it (a node shared with other work);
/// `None` where neither tells.
pub fn memory_available() -> Option<u64> {
    let cap = std::env::var("TRITON_BATCH_MEMORY_MB")
        .ok()
        .and_then(|mb| mb.trim().parse::<u64>().ok())
        .map(|mb| mb.saturating_mul(1 << 20));
    let available = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|meminfo| {
            let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
            let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kb.saturating_mul(1024))
        });
    match (available, cap) {
        (Some(a), Some(c)) => Some(a.min(c)),
        (a, c) => a.or(c),
    }
}

/// Free space for an unprivileged writer in `folder`'s filesystem (statvfs); `None` if unknown.
pub fn disk_free(folder: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let folder = if folder.as_os_str().is_empty() {
        Path::new(".")
    } else {
        folder
    };
    let path = std::ffi::CString::new(folder.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs writes into the zeroed struct we own and reads a NUL-terminated path.
    unsafe {
        let mut stat: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(path.as_ptr(), &mut stat) != 0 {
            return None;
        }
        Some((stat.f_bavail as u64).saturating_mul(stat.f_frsize as u64))
    }
}

/// The folder a file goes into (`.` for a bare name).
pub fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Refuses `memory` bytes per rank when this machine has less available; `what` says what the
/// estimate is made of.
pub fn check_memory(memory: u64, what: &str) -> Result<(), String> {
    match memory_available() {
        Some(limit) if memory > limit => Err(format!(
            "needs an estimated {} of memory per rank ({what}), more than the {} available on this machine (MemAvailable in /proc/meminfo, or TRITON_BATCH_MEMORY_MB); make the job smaller",
            human(memory),
            human(limit)
        )),
        _ => Ok(()),
    }
}

/// Refuses a file of `bytes` (the result, or a model: `what`) at `path` when its folder has less
/// free space.
pub fn check_disk(path: &Path, bytes: u64, what: &str, fix: &str) -> anyhow::Result<()> {
    let folder = folder_of(path);
    match disk_free(folder) {
        Some(free) if bytes > free => anyhow::bail!(
            "{what} `{}` would take an estimated {}, more than the {} free in `{}`; {fix}",
            path.display(),
            human(bytes),
            human(free),
            folder.display()
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_read_as_people_read_them() {
        assert_eq!(human(512), "512 B");
        assert_eq!(human(45_300_000), "45.3 MB");
        assert_eq!(human(1_600_000_000_000), "1.6 TB");
        assert_eq!(human(u64::MAX), "18.4 EB");
    }

    #[test]
    fn generated_data_has_a_shape_before_it_is_made() {
        let spec = DataSpec::from_table(
            &toml::from_str(
                "source = 'make_classification'\nn_samples = 10000000000\ntest_size = 0.25",
            )
            .unwrap(),
        )
        .unwrap();
        let shape = DataShape::planned(&spec).unwrap();
        assert_eq!(shape.rows + shape.test_rows, 10_000_000_000);
        assert_eq!(shape.test_rows, 2_500_000_000);
        assert_eq!(shape.bytes(), 10_000_000_000 * 21 * 8);
        assert!(check_memory(common_memory(Some(&shape), 1), "data").is_err());
        assert!(check_memory(common_memory(None, 10), "data").is_ok());
    }

    #[test]
    fn the_notebook_forest_tree_is_about_115_kb() {
        let params: ForestParams = toml::Value::Table(toml::Table::new()).try_into().unwrap();
        let shape = DataShape {
            rows: 15000,
            test_rows: 5000,
            features: 20,
            classes: 2,
        };
        let kb = tree_bytes(&params, &shape) / 1000;
        assert!((80..200).contains(&kb), "{kb} KB");
    }
}
