//! A forest saved as HDF5, written tree by tree as blocks reach rank 0 and read back one tree at a
//! time, so neither side holds the whole forest. Layout (h5py/pandas-friendly):
//! root attributes `model_kind = "random_forest"`, `model_format`, `n_features`, `classes` (JSON
//! list), `n_estimators`; node arrays in scikit-learn's `tree_` layout, the trees' nodes one after
//! the other: `children_left`, `children_right`, `feature`, `threshold`, `impurity`,
//! `n_node_samples`, `weighted_n_node_samples` (1-D) and `value` (nodes x classes); and the table
//! `trees` (`tree`, `node_offset`, `n_nodes`) saying where each tree's nodes are. Trees arrive in
//! any order; prediction sums them in tree order (exactly, see `ForestVotes`).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use ndarray::{Array2, ArrayView2};

use crate::ml::forest::{FittedTree, ForestVotes};
use crate::ml::tree::{DecisionTree, TreeArrays};
use crate::results::{ResultFile, Schema, Table, TableWriter, Value};

/// The root attribute that marks a saved forest.
pub const MODEL_KIND_ATTR: &str = "model_kind";
const RANDOM_FOREST: &str = "random_forest";
const FORMAT: i64 = 1;
const TREES: &str = "trees";
const VALUE: &str = "value";
const I64_ARRAYS: [&str; 4] = [
    "children_left",
    "children_right",
    "feature",
    "n_node_samples",
];
const F64_ARRAYS: [&str; 3] = ["threshold", "impurity", "weighted_n_node_samples"];

fn trees_schema() -> Schema {
    Schema::new().i64("tree").i64("node_offset").i64("n_nodes")
}

/// What a saved forest is a model of.
#[derive(Debug, Clone, PartialEq)]
pub struct ForestShape {
    pub classes: Vec<String>,
    pub n_features: usize,
    pub n_estimators: usize,
    /// Identifies the job that grows the trees, so a resumed run only adds to its own file.
    pub job: String,
}

/// Rank 0's writer of a forest being grown: `<path>.partial` until every tree is in, then renamed
/// to `path`.
pub struct ForestModelWriter {
    file: ResultFile,
    trees: TableWriter,
    partial: PathBuf,
    path: PathBuf,
    present: BTreeSet<usize>,
    /// Where the next tree's nodes go: after the last tree in `trees`. Node rows beyond it are
    /// what a crash left half-written; the next tree overwrites them.
    next_node: usize,
}

impl ForestModelWriter {
    /// Continues `<path>.partial` if a run of the same job left it, or the finished `path` of
    /// the same job (a run resumed after it completed), else starts afresh.
    pub fn open_or_create(path: &Path, shape: &ForestShape) -> anyhow::Result<Self> {
        let partial = crate::files::partial_path(path);
        let same_job = |file: &Path| {
            file.exists()
                && ResultFile::open_read(file)
                    .and_then(|f| f.attr("job"))
                    .is_ok_and(|job| job == Value::Str(shape.job.clone()))
        };
        if !partial.exists() && same_job(path) {
            std::fs::copy(path, &partial).with_context(|| {
                format!(
                    "copying `{}` to `{}` to resume",
                    path.display(),
                    partial.display()
                )
            })?;
        }
        let resumable = same_job(&partial);
        let (file, present, next_node) = match resumable {
            true => {
                let file = ResultFile::open_rw(&partial)?;
                let trees = file.read_table(TREES)?;
                let present = trees
                    .i64_column("tree")?
                    .into_iter()
                    .map(|t| t as usize)
                    .collect();
                let ends = trees
                    .i64_column("node_offset")?
                    .into_iter()
                    .zip(trees.i64_column("n_nodes")?);
                let next_node = ends.map(|(o, n)| (o + n) as usize).max().unwrap_or(0);
                (file, present, next_node)
            }
            false => (Self::create(&partial, shape)?, BTreeSet::new(), 0),
        };
        let trees = file.append_table(TREES)?;
        Ok(ForestModelWriter {
            file,
            trees,
            partial,
            path: path.to_path_buf(),
            present,
            next_node,
        })
    }

    fn create(partial: &Path, shape: &ForestShape) -> anyhow::Result<ResultFile> {
        let file = ResultFile::create(partial)
            .with_context(|| format!("cannot write the model `{}`", partial.display()))?;
        let attrs = [
            (MODEL_KIND_ATTR, Value::Str(RANDOM_FOREST.into())),
            ("model_format", Value::I64(FORMAT)),
            ("n_features", Value::I64(shape.n_features as i64)),
            (
                "classes",
                Value::Str(serde_json::to_string(&shape.classes)?),
            ),
            ("n_estimators", Value::I64(shape.n_estimators as i64)),
            ("job", Value::Str(shape.job.clone())),
        ];
        for (name, value) in &attrs {
            file.set_attr(name, value)?;
        }
        file.create_table(TREES, &trees_schema())?;
        Ok(file)
    }

    /// Whether tree `index` is already saved.
    pub fn has_tree(&self, index: usize) -> bool {
        self.present.contains(&index)
    }

    /// Appends trees (skipping any already saved) and flushes, so a crash keeps them.
    pub fn add_trees(&mut self, trees: &[(usize, TreeArrays)]) -> anyhow::Result<()> {
        for (index, tree) in trees {
            if self.has_tree(*index) {
                continue;
            }
            let offset = self.next_node;
            self.write_nodes(tree, offset)?;
            crate::runtime::failure::kill_point("model");
            self.trees.append(&[vec![
                Value::I64(*index as i64),
                Value::I64(offset as i64),
                Value::I64(tree.feature.len() as i64),
            ]])?;
            self.present.insert(*index);
            self.next_node += tree.feature.len();
        }
        self.file.flush()
    }

    /// Writes a tree's node arrays from node `offset` on.
    fn write_nodes(&self, tree: &TreeArrays, offset: usize) -> anyhow::Result<()> {
        let i64_arrays = [
            &tree.children_left,
            &tree.children_right,
            &tree.feature,
            &tree.n_node_samples,
        ];
        let f64_arrays = [
            &tree.threshold,
            &tree.impurity,
            &tree.weighted_n_node_samples,
        ];
        let value: Vec<f64> = tree.value.iter().copied().collect();
        self.file
            .write_array_rows(VALUE, offset, &value, tree.n_classes)?;
        for (name, values) in I64_ARRAYS.iter().zip(i64_arrays) {
            self.file.write_array_rows(name, offset, values, 1)?;
        }
        for (name, values) in F64_ARRAYS.iter().zip(f64_arrays) {
            self.file.write_array_rows(name, offset, values, 1)?;
        }
        Ok(())
    }

    /// Checks that trees `0..n_estimators` are all saved and renames the file into place.
    pub fn finish(self, n_estimators: usize) -> anyhow::Result<PathBuf> {
        if let Some(missing) = (0..n_estimators).find(|i| !self.present.contains(i)) {
            anyhow::bail!("the saved model lacks tree {missing} of {n_estimators}");
        }
        self.file.flush()?;
        let ForestModelWriter {
            file,
            trees,
            partial,
            path,
            ..
        } = self;
        drop(trees);
        drop(file);
        crate::files::put_in_place(&partial, &path)?;
        Ok(path)
    }
}

/// A saved forest opened for prediction; trees are read one at a time.
pub struct ForestModelReader {
    file: ResultFile,
    classes: Vec<String>,
    n_features: usize,
    /// `(tree, node_offset, n_nodes)` in tree order.
    trees: Vec<(usize, usize, usize)>,
}

impl ForestModelReader {
    /// Checks the attributes and the tree index against the node arrays: a file cut short or
    /// missing trees is refused here, a damaged tree when it is read.
    pub fn open(file: ResultFile) -> anyhow::Result<Self> {
        let path = file.path().display().to_string();
        let bad = |what: String| anyhow::anyhow!("model `{path}`: {what}");
        let int_attr = |name: &str| {
            file.attr(name)
                .ok()
                .and_then(|v| v.as_i64())
                .ok_or_else(|| bad(format!("attribute `{name}` is missing or not an integer")))
        };
        match file.attr(MODEL_KIND_ATTR)? {
            Value::Str(kind) if kind == RANDOM_FOREST => {}
            other => return Err(bad(format!("unknown model kind {other}"))),
        }
        let format = int_attr("model_format")?;
        if format != FORMAT {
            return Err(bad(format!(
                "model format {format}; this triton-batch reads format {FORMAT}"
            )));
        }
        let n_features = usize::try_from(int_attr("n_features")?).unwrap_or(0);
        let n_estimators = usize::try_from(int_attr("n_estimators")?).unwrap_or(0);
        let classes: Vec<String> = match file.attr("classes") {
            Ok(Value::Str(json)) => serde_json::from_str(&json).ok(),
            _ => None,
        }
        .ok_or_else(|| bad("attribute `classes` is missing or not a JSON list".into()))?;
        let table: Table = file
            .read_table(TREES)
            .map_err(|e| bad(format!("no readable `{TREES}` table ({e:#})")))?;
        let column = |name| {
            table
                .i64_column(name)
                .map_err(|e| bad(format!("`{TREES}` table: {e:#}")))
        };
        let (index, offset, size) = (column("tree")?, column("node_offset")?, column("n_nodes")?);
        let n_nodes = file.array_rows(VALUE);
        let mut trees = Vec::with_capacity(index.len());
        for ((&t, &o), &n) in index.iter().zip(&offset).zip(&size) {
            let end = o.checked_add(n).filter(|_| t >= 0 && o >= 0 && n > 0);
            if end.is_none_or(|end| end as u64 > n_nodes as u64) {
                return Err(bad(format!(
                    "tree {t} has nodes {o}..{} but the node arrays hold {n_nodes} (truncated?)",
                    o.saturating_add(n)
                )));
            }
            trees.push((t as usize, o as usize, n as usize));
        }
        trees.sort_unstable();
        if trees.iter().map(|t| t.0).ne(0..n_estimators) {
            return Err(bad(format!(
                "holds {} distinct trees of the {n_estimators} it should (truncated or unfinished save?)",
                trees.iter().map(|t| t.0).collect::<BTreeSet<_>>().len()
            )));
        }
        Ok(ForestModelReader {
            file,
            classes,
            n_features,
            trees,
        })
    }

    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    pub fn n_features(&self) -> usize {
        self.n_features
    }

    pub fn n_trees(&self) -> usize {
        self.trees.len()
    }

    /// Tree `tree`'s arrays, checked to form one tree.
    fn tree(&self, (index, offset, n): (usize, usize, usize)) -> anyhow::Result<DecisionTree> {
        let rows = offset..offset + n;
        let i64s = |name| self.file.read_array_rows::<i64>(name, rows.clone());
        let f64s = |name| self.file.read_array_rows::<f64>(name, rows.clone());
        let k = self.classes.len();
        let arrays = TreeArrays {
            n_features: self.n_features,
            n_classes: k,
            children_left: i64s("children_left")?,
            children_right: i64s("children_right")?,
            feature: i64s("feature")?,
            threshold: f64s("threshold")?,
            value: Array2::from_shape_vec((n, k), f64s(VALUE)?)
                .with_context(|| format!("tree {index}: `{VALUE}` is not nodes x {k}"))?,
            impurity: f64s("impurity")?,
            n_node_samples: i64s("n_node_samples")?,
            weighted_n_node_samples: f64s("weighted_n_node_samples")?,
        };
        DecisionTree::from_arrays(arrays)
            .with_context(|| format!("model `{}`: tree {index}", self.file.path().display()))
    }

    /// Mean class probabilities over the trees, summed exactly as the forest job sums its votes,
    /// so a saved forest predicts what the job reported. One tree is in memory at a time.
    pub fn predict_proba(&self, x: ArrayView2<f64>) -> anyhow::Result<Array2<f64>> {
        let k = self.classes.len();
        let no_training_rows = Array2::<f64>::zeros((0, self.n_features));
        let mut votes = ForestVotes::new(0, x.nrows(), k, self.n_features);
        for &entry in &self.trees {
            let fitted = FittedTree {
                index: entry.0,
                tree: self.tree(entry)?,
                oob_indices: vec![],
            };
            votes.add_tree(&fitted, no_training_rows.view(), x)?;
        }
        Ok(votes.test_proba())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::dataset::{make_classification, MakeClassification};
    use crate::ml::tree::TreeParams;

    #[test]
    fn a_resumed_writer_overwrites_the_nodes_a_crash_left_half_written() {
        let data = make_classification(&MakeClassification {
            n_samples: 200,
            ..Default::default()
        })
        .unwrap();
        let trees: Vec<TreeArrays> = [1, 3, 5]
            .map(|depth| {
                let params = TreeParams {
                    max_depth: Some(depth),
                    ..Default::default()
                };
                DecisionTree::fit(&params, &data).unwrap().to_arrays()
            })
            .into();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("model.h5");
        let shape = three_trees_of(&data);
        let mut writer = ForestModelWriter::open_or_create(&path, &shape).unwrap();
        writer.add_trees(&[(0, trees[0].clone())]).unwrap();
        // A crash while tree 1 was being written: some node arrays grew, its `trees` row never came.
        writer.file.append_array("threshold", &[7.0; 5], 1).unwrap();
        writer.file.append_array("feature", &[3i64; 2], 1).unwrap();
        drop(writer);

        let mut writer = ForestModelWriter::open_or_create(&path, &shape).unwrap();
        assert!(writer.has_tree(0) && !writer.has_tree(1));
        writer
            .add_trees(&[
                (2, trees[2].clone()),
                (1, trees[1].clone()),
                (0, trees[0].clone()),
            ])
            .unwrap();
        writer.finish(3).unwrap();

        let reader = ForestModelReader::open(ResultFile::open_read(&path).unwrap()).unwrap();
        for (i, expected) in trees.iter().enumerate() {
            assert_eq!(
                reader.tree(reader.trees[i]).unwrap().to_arrays(),
                *expected,
                "tree {i}"
            );
        }
    }

    /// The shape of a forest of three trees on `data`.
    fn three_trees_of(data: &crate::ml::Dataset) -> ForestShape {
        ForestShape {
            classes: data.classes.clone(),
            n_features: data.x.ncols(),
            n_estimators: 3,
            job: "test".into(),
        }
    }

    /// A saved forest of three trees in a fresh folder, and its tree table.
    fn saved_forest(dir: &Path) -> (PathBuf, Table) {
        let data = make_classification(&MakeClassification {
            n_samples: 100,
            ..Default::default()
        })
        .unwrap();
        let path = dir.join("model.h5");
        let mut writer = ForestModelWriter::open_or_create(&path, &three_trees_of(&data)).unwrap();
        for index in 0..3 {
            let tree = DecisionTree::fit(&TreeParams::default(), &data).unwrap();
            writer.add_trees(&[(index, tree.to_arrays())]).unwrap();
        }
        writer.finish(3).unwrap();
        let table = ResultFile::open_read(&path)
            .unwrap()
            .read_table(TREES)
            .unwrap();
        (path, table)
    }

    /// The error of predicting one row of zeros with the model at `path`.
    fn prediction_error(path: &Path) -> String {
        let outcome = ResultFile::open_read(path)
            .and_then(ForestModelReader::open)
            .and_then(|m| m.predict_proba(Array2::zeros((1, m.n_features())).view()));
        format!("{:#}", outcome.expect_err("the damaged model is refused"))
    }

    /// Overwrites one number of node array `name` in place.
    fn overwrite(path: &Path, name: &str, row: usize, value: i64) {
        let file = hdf5::File::open_rw(path).unwrap();
        let dataset = file.dataset(name).unwrap();
        dataset
            .write_slice(&[value], ndarray::s![row..row + 1])
            .unwrap();
    }

    #[test]
    fn damaged_models_are_refused_before_allocating_or_looping() {
        let dir = tempfile::tempdir().unwrap();
        let (path, good) = saved_forest(dir.path());
        // A tree index claiming 10^12 nodes, or nodes past any end.
        for claim in [1_000_000_000_000i64, i64::MAX] {
            let mut table = good.clone();
            table.rows[1][2] = Value::I64(claim);
            ResultFile::open_rw(&path)
                .unwrap()
                .write_table(TREES, &table)
                .unwrap();
            let err = prediction_error(&path);
            assert!(err.contains("but the node arrays hold"), "{err}");
        }
        // Node arrays that claim rows the file does not store, and a tree that uses them:
        // refused before the read, as more than the memory or than what the file stores.
        for (rows, refusal) in [
            (
                1_000_000_000_000u64,
                "it declares 8.0 TB of data, more than",
            ),
            (
                20_000_000,
                "it declares 160.0 MB of data but the file stores",
            ),
        ] {
            let mut table = good.clone();
            table.rows[1][2] = Value::I64(rows as i64 - 1_000);
            ResultFile::open_rw(&path)
                .unwrap()
                .write_table(TREES, &table)
                .unwrap();
            let file = hdf5::File::open_rw(&path).unwrap();
            for name in I64_ARRAYS.into_iter().chain(F64_ARRAYS).chain([VALUE]) {
                let dataset = file.dataset(name).unwrap();
                let mut shape = dataset.shape();
                shape[0] = rows as usize;
                dataset.resize(shape).unwrap();
            }
            drop(file);
            let err = prediction_error(&path);
            assert!(err.contains(refusal), "{err}");
        }

        // A node that is its own child (a cycle), and a split on a feature the model lacks.
        let offset = good.i64_column("node_offset").unwrap()[0] as usize;
        for (name, value, refusal) in [
            ("children_left", 0, "not a later node"),
            ("feature", 1_000_000_000, "feature 1000000000"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (path, _) = saved_forest(dir.path());
            overwrite(&path, name, offset, value);
            let err = prediction_error(&path);
            assert!(err.contains(refusal), "{err}");
        }
    }
}
