//! Per-split outcomes summarised per candidate as scikit-learn's `cv_results_` does: means and
//! population standard deviations of scores (per metric) and times, "min" ranks of each metric's
//! mean test score with NaN last, and the best candidate by the refit metric.

use super::{mean_std, rank_min};

/// Outcomes of every (candidate, fold), NaN where none was recorded; scores indexed
/// `[metric][candidate][fold]`.
pub struct SplitScores {
    folds: usize,
    test: Vec<Vec<Vec<f64>>>,
    train: Vec<Vec<Vec<f64>>>,
    fit_time: Vec<Vec<f64>>,
    score_time: Vec<Vec<f64>>,
}

/// One split's recorded numbers; one score per metric.
pub struct SplitNumbers {
    pub test_scores: Vec<f64>,
    pub train_scores: Vec<f64>,
    pub fit_time: f64,
    pub score_time: f64,
}

/// One candidate's row of `cv_results`.
pub struct CandidateSummary {
    pub fit_time: (f64, f64),
    pub score_time: (f64, f64),
    /// Per metric: the per-fold scores, then their mean and standard deviation.
    pub test: Vec<(Vec<f64>, f64, f64)>,
    pub train: Vec<(Vec<f64>, f64, f64)>,
    /// Per metric: the rank of the mean test score.
    pub rank_test: Vec<i64>,
}

impl SplitScores {
    pub fn new(candidates: usize, folds: usize, metrics: usize) -> Self {
        let blank = || vec![vec![f64::NAN; folds]; candidates];
        SplitScores {
            folds,
            test: vec![blank(); metrics],
            train: vec![blank(); metrics],
            fit_time: blank(),
            score_time: blank(),
        }
    }

    /// Records one split; `None` if (candidate, fold) is outside the grid or the scores are not
    /// one per metric.
    pub fn record(&mut self, candidate: usize, fold: usize, numbers: SplitNumbers) -> Option<()> {
        let metrics = self.test.len();
        if candidate >= self.fit_time.len()
            || fold >= self.folds
            || numbers.test_scores.len() != metrics
            || numbers.train_scores.len() != metrics
        {
            return None;
        }
        for (m, (test, train)) in numbers
            .test_scores
            .into_iter()
            .zip(numbers.train_scores)
            .enumerate()
        {
            self.test[m][candidate][fold] = test;
            self.train[m][candidate][fold] = train;
        }
        self.fit_time[candidate][fold] = numbers.fit_time;
        self.score_time[candidate][fold] = numbers.score_time;
        Some(())
    }

    /// One summary per candidate, in candidate order.
    pub fn summarise(&self) -> Vec<CandidateSummary> {
        let with_mean = |values: &[f64]| {
            let (mean, std) = mean_std(values);
            (values.to_vec(), mean, std)
        };
        let ranks: Vec<Vec<i64>> = self
            .test
            .iter()
            .map(|metric| rank_min(&metric.iter().map(|s| mean_std(s).0).collect::<Vec<_>>()))
            .collect();
        (0..self.fit_time.len())
            .map(|c| CandidateSummary {
                fit_time: mean_std(&self.fit_time[c]),
                score_time: mean_std(&self.score_time[c]),
                test: self.test.iter().map(|m| with_mean(&m[c])).collect(),
                train: self.train.iter().map(|m| with_mean(&m[c])).collect(),
                rank_test: ranks.iter().map(|r| r[c]).collect(),
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
