//! Per-split outcomes summarised per candidate as scikit-learn's `cv_results_` does: means and
//! population standard deviations of scores and times, "min" ranks of the mean test score with
//! NaN last, and the best candidate.

use super::{mean_std, rank_min};

/// Outcomes of every (candidate, fold), NaN where none was recorded.
pub struct SplitScores {
    folds: usize,
    test: Vec<Vec<f64>>,
    train: Vec<Vec<f64>>,
    fit_time: Vec<Vec<f64>>,
    score_time: Vec<Vec<f64>>,
}

/// One split's recorded numbers.
pub struct SplitNumbers {
    pub test_score: f64,
    pub train_score: f64,
    pub fit_time: f64,
    pub score_time: f64,
}

/// One candidate's row of `cv_results`.
pub struct CandidateSummary {
    pub fit_time: (f64, f64),
    pub score_time: (f64, f64),
    /// Per-fold scores, then their mean and standard deviation.
    pub test: (Vec<f64>, f64, f64),
    pub train: (Vec<f64>, f64, f64),
    pub rank_test: i64,
}

impl SplitScores {
    pub fn new(candidates: usize, folds: usize) -> Self {
        let blank = || vec![vec![f64::NAN; folds]; candidates];
        SplitScores {
            folds,
            test: blank(),
            train: blank(),
            fit_time: blank(),
            score_time: blank(),
        }
    }

    /// Records one split; `None` if (candidate, fold) is outside the grid.
    pub fn record(&mut self, candidate: usize, fold: usize, numbers: SplitNumbers) -> Option<()> {
        if candidate >= self.test.len() || fold >= self.folds {
            return None;
        }
        self.test[candidate][fold] = numbers.test_score;
        self.train[candidate][fold] = numbers.train_score;
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
        let means: Vec<f64> = self.test.iter().map(|s| mean_std(s).0).collect();
        let ranks = rank_min(&means);
        (0..self.test.len())
            .map(|c| CandidateSummary {
                fit_time: mean_std(&self.fit_time[c]),
                score_time: mean_std(&self.score_time[c]),
                test: with_mean(&self.test[c]),
                train: with_mean(&self.train[c]),
                rank_test: ranks[c],
            })
            .collect()
    }
}

/// The best candidate: ranked first with a score (none when every candidate failed).
pub fn best_candidate(summaries: &[CandidateSummary]) -> Option<usize> {
    summaries
        .iter()
        .position(|s| s.rank_test == 1)
        .filter(|&i| !summaries[i].test.1.is_nan())
}
