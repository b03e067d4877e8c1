//! Per-split outcomes summarised per candidate (per halving iteration) as scikit-learn's `cv_results_` does: means and
//! population standard deviations of scores (per metric) and times, "min" ranks of each metric's
//! mean test score with NaN last, and the best candidate by the refit metric.

use std::collections::BTreeMap;

use super::{mean_std, rank_min};

/// Outcomes of every (iteration, candidate, fold) recorded (iteration 0 for a full search).
pub struct SplitScores {
    candidates: usize,
    folds: usize,
    metrics: usize,
    splits: BTreeMap<(usize, usize), Vec<Option<SplitNumbers>>>,
}

/// One split's recorded numbers; one score per metric.
#[derive(Clone)]
pub struct SplitNumbers {
    pub test_scores: Vec<f64>,
    pub train_scores: Vec<f64>,
    pub fit_time: f64,
    pub score_time: f64,
}

/// One row of `cv_results`: a candidate (in one halving iteration).
pub struct CandidateSummary {
    pub fit_time: (f64, f64),
    pub score_time: (f64, f64),
    /// Per metric: the per-fold scores, then their mean and standard deviation.
    pub test: Vec<(Vec<f64>, f64, f64)>,
    pub train: Vec<(Vec<f64>, f64, f64)>,
    /// Per metric: the rank of the mean test score among all rows.
    pub rank_test: Vec<i64>,
}

impl SplitScores {
    pub fn new(candidates: usize, folds: usize, metrics: usize) -> Self {
        SplitScores {
            candidates,
            folds,
            metrics,
            splits: BTreeMap::new(),
        }
    }

    /// Records one split; `None` if (candidate, fold) is outside the grid or the scores are not
    /// one per metric.
    pub fn record(
        &mut self,
        (iteration, candidate, fold): (usize, usize, usize),
        numbers: SplitNumbers,
    ) -> Option<()> {
        if candidate >= self.candidates
            || fold >= self.folds
            || numbers.test_scores.len() != self.metrics
            || numbers.train_scores.len() != self.metrics
        {
            return None;
        }
        let folds = self.folds;
        self.splits
            .entry((iteration, candidate))
            .or_insert_with(|| vec![None; folds])[fold] = Some(numbers);
        Some(())
    }

    /// The first metric's test score of a recorded split.
    pub fn test_score(&self, iteration: usize, candidate: usize, fold: usize) -> Option<f64> {
        let numbers = self.splits.get(&(iteration, candidate))?[fold].as_ref()?;
        Some(numbers.test_scores[0])
    }

    /// One summary per (iteration, candidate) of `rows`, in that order (NaN for splits never
    /// recorded), ranked among those rows.
    pub fn summarise(&self, rows: &[(usize, usize)]) -> Vec<CandidateSummary> {
        let blank = vec![None; self.folds];
        let splits: Vec<&Vec<Option<SplitNumbers>>> = rows
            .iter()
            .map(|row| self.splits.get(row).unwrap_or(&blank))
            .collect();
        let column = |splits: &[Option<SplitNumbers>], number: &dyn Fn(&SplitNumbers) -> f64| {
            splits
                .iter()
                .map(|s| s.as_ref().map_or(f64::NAN, number))
                .collect::<Vec<f64>>()
        };
        let with_mean = |values: Vec<f64>| {
            let (mean, std) = mean_std(&values);
            (values, mean, std)
        };
        let summaries: Vec<CandidateSummary> = splits
            .iter()
            .map(|s| CandidateSummary {
                fit_time: mean_std(&column(s, &|n| n.fit_time)),
                score_time: mean_std(&column(s, &|n| n.score_time)),
                test: (0..self.metrics)
                    .map(|m| with_mean(column(s, &|n| n.test_scores[m])))
                    .collect(),
                train: (0..self.metrics)
                    .map(|m| with_mean(column(s, &|n| n.train_scores[m])))
                    .collect(),
                rank_test: vec![],
            })
            .collect();
        let ranks: Vec<Vec<i64>> = (0..self.metrics)
            .map(|m| rank_min(&summaries.iter().map(|s| s.test[m].1).collect::<Vec<_>>()))
            .collect();
        summaries
            .into_iter()
            .enumerate()
            .map(|(row, summary)| CandidateSummary {
                rank_test: ranks.iter().map(|r| r[row]).collect(),
                ..summary
            })
            .collect()
    }
}

/// The best candidate by metric `refit` (an index into the metrics): ranked first with a score
/// (none when every candidate failed).
pub fn best_candidate(summaries: &[CandidateSummary], refit: usize) -> Option<usize> {
    summaries
        .iter()
        .position(|s| s.rank_test[refit] == 1)
        .filter(|&i| !summaries[i].test[refit].1.is_nan())
}
