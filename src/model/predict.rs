//! `triton-batch predict MODEL DATA`: every row's predicted class and class probabilities, written
//! as a `predictions` table (with `y_true` and the accuracy when the data has labels). Everything
//! is checked and computed before the output file is touched, and the file is written under a
//! temporary name and renamed, so a failure never damages an existing result.

use std::path::{Path, PathBuf};

use anyhow::Context;
use ndarray::Array2;

use super::{open, Model};
use crate::datafile::load_samples;
use crate::files;
use crate::ml::dataset::encode_labels;
use crate::ml::forest::argmax_rows;
use crate::results::{ResultFile, Schema, Table, Value};

/// What `predict` reads and writes.
#[derive(Debug, Clone)]
pub struct PredictOptions {
    pub model: PathBuf,
    pub data: PathBuf,
    /// Default: `results/<data file name>-predictions.h5`.
    pub out: Option<PathBuf>,
}

/// A model's answers for every row of the data.
pub(crate) struct Predictions {
    /// Indices into the model's classes.
    predicted: Vec<usize>,
    /// Columns and the classes they stand for; none for a model without probabilities.
    proba: Option<(Array2<f64>, Vec<usize>)>,
}

/// Runs `predict` and returns the line to print.
pub fn predict(options: &PredictOptions) -> anyhow::Result<String> {
    let model = open(&options.model)?;
    let out = output_path(options)?;
    let samples = load_samples(&options.data, model.n_features())?;
    if samples.x.ncols() != model.n_features() {
        anyhow::bail!(
            "data `{}` has {} feature columns but the model `{}` was fitted on {} features",
            options.data.display(),
            samples.x.ncols(),
            options.model.display(),
            model.n_features()
        );
    }
    let predictions = run_model(&model, &samples.x)?;
    let y_true = samples.labels.map(|labels| {
        let (codes, names) = encode_labels(&labels);
        codes
            .into_iter()
            .map(|c| names[c].clone())
            .collect::<Vec<_>>()
    });
    let table = predictions_table(&model, &predictions, y_true.as_deref());
    let accuracy = y_true.as_ref().map(|y| {
        let hits = y
            .iter()
            .zip(&predictions.predicted)
            .filter(|(t, &p)| **t == model.classes()[p])
            .count();
        hits as f64 / y.len().max(1) as f64
    });
    write(&out, &table, options, &model, accuracy)?;
    let scored = accuracy
        .map(|a| format!("; accuracy {a:.4} against the data's labels"))
        .unwrap_or_default();
    Ok(format!(
        "predicted {} rows of {} with {} ({}){scored}; wrote {}",
        table.rows.len(),
        options.data.display(),
        options.model.display(),
        model.describe(),
        out.display()
    ))
}

fn output_path(options: &PredictOptions) -> anyhow::Result<PathBuf> {
    let stem = options
        .data
        .file_stem()
        .map_or("data".into(), |s| s.to_string_lossy());
    files::output_path(options.out.as_deref(), &format!("{stem}-predictions.h5"))
}

pub(crate) fn run_model(model: &Model, x: &Array2<f64>) -> anyhow::Result<Predictions> {
    match model {
        Model::Forest(forest) => {
            let proba = forest.predict_proba(x.view())?;
            let predicted = argmax_rows(&proba);
            let classes = (0..forest.classes().len()).collect();
            Ok(Predictions {
                predicted,
                proba: Some((proba, classes)),
            })
        }
        Model::Estimator(saved) => {
            let fitted = &saved.model;
            let predicted = fitted.predict(x.view())?;
            let proba = fitted
                .predict_proba(x.view())?
                .map(|p| (p, fitted.proba_classes()));
            Ok(Predictions { predicted, proba })
        }
    }
}

fn predictions_table(model: &Model, predictions: &Predictions, y_true: Option<&[String]>) -> Table {
    let classes = model.classes();
    let label_width = classes
        .iter()
        .chain(y_true.into_iter().flatten())
        .map(String::len)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut schema = Schema::new().i64("row");
    if y_true.is_some() {
        schema = schema.str("y_true", label_width);
    }
    schema = schema.str("y_pred", label_width);
    if let Some((_, columns)) = &predictions.proba {
        for &c in columns {
            schema = schema.f64(format!("proba_{}", classes[c]));
        }
    }
    let rows = predictions
        .predicted
        .iter()
        .enumerate()
        .map(|(i, &p)| {
            let mut row = vec![Value::I64(i as i64)];
            if let Some(y) = y_true {
                row.push(Value::Str(y[i].clone()));
            }
            row.push(Value::Str(classes[p].clone()));
            if let Some((proba, _)) = &predictions.proba {
                row.extend(proba.row(i).iter().map(|&v| Value::F64(v)));
            }
            row
        })
        .collect();
    Table { schema, rows }
}

fn write(
    out: &Path,
    table: &Table,
    options: &PredictOptions,
    model: &Model,
    accuracy: Option<f64>,
) -> anyhow::Result<()> {
    let partial = files::partial_path(out);
    let file = ResultFile::create(&partial)
        .with_context(|| format!("cannot write `{}`", partial.display()))?;
    let path_text = |p: &Path| Value::Str(p.display().to_string());
    file.set_attr("job_kind", &Value::Str("predict".into()))?;
    file.set_attr("model", &path_text(&options.model))?;
    file.set_attr("model_description", &Value::Str(model.describe()))?;
    file.set_attr("data", &path_text(&options.data))?;
    if let Some(accuracy) = accuracy {
        file.set_attr("accuracy", &Value::F64(accuracy))?;
    }
    file.write_table("predictions", table)?;
    file.flush()?;
    drop(file);
    files::put_in_place(&partial, out)
}
