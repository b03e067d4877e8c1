//! Successive halving as scikit-learn's `HalvingGridSearchCV` and `HalvingRandomSearchCV` run it
//! with `resource = "n_samples"`: the schedule (iterations, candidates and rows per iteration,
//! from `factor`, `min_resources`, `max_resources` and `aggressive_elimination`), each
//! iteration's row subsample of a fold (scikit-learn's `resample` without replacement, from a
//! fresh legacy `RandomState(random_state)` for every fold's train and test rows, so an
//! iteration's rows hold the previous iteration's), and who advances: the top
//! `ceil(n / factor)` by mean test score, in increasing score with NaN first, as `_top_k` orders
//! them.
//!
//! Ties: scikit-learn sorts scores with numpy's default `argsort`, whose order among equal scores
//! depends on the CPU's sort kernel (AVX-512 and others differ), so scikit-learn itself can pick
//! different survivors on different machines when the cut falls inside a tie. Here the sort is
//! stable: of equal scores, the one later in the iteration's order ranks higher.

use serde::{Deserialize, Serialize};

use super::sampler::LegacyRandomState;

/// The most iterations a search may plan: each ends with a pause while rank 0 decides who
/// advances, and a factor barely above 1 would plan millions.
const MAX_ITERATIONS: usize = 1000;

/// `min_resources`: rows of the first iteration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum MinResources {
    /// As many as lets the last iteration use the most rows (HalvingGridSearchCV's default).
    Exhaust,
    /// `n_splits * 2 * n_classes` (HalvingRandomSearchCV's default).
    Smallest,
    Count(usize),
}

/// How many candidates a halving random search draws (`n_candidates`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum CandidateCount {
    /// Enough for the last iteration to use the most rows: `max_resources // min_resources`.
    Exhaust,
    Count(usize),
}

/// The halving parameters of a job file, validated for their own sake.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalvingParams {
    /// Greater than 1.
    pub factor: f64,
    pub min_resources: MinResources,
    /// `None` is "auto": every training row.
    pub max_resources: Option<usize>,
    pub aggressive_elimination: bool,
    /// Seeds each row subsample (and a random search's draws).
    pub random_state: u32,
}

/// The rows a search over `n_samples` rows in `n_splits` folds of `n_classes` classes has.
#[derive(Debug, Clone, Copy)]
pub struct SearchData {
    pub n_samples: usize,
    pub n_splits: usize,
    pub n_classes: usize,
}

/// A halving search's plan of iterations, as scikit-learn's attributes name it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HalvingSchedule {
    pub factor: f64,
    pub random_state: u32,
    /// Training rows of the whole search (`_n_samples_orig`).
    pub n_samples: usize,
    pub min_resources: usize,
    pub max_resources: usize,
    pub n_required_iterations: usize,
    pub n_possible_iterations: usize,
    /// Rows per iteration.
    pub n_resources: Vec<usize>,
    /// Candidates per iteration.
    pub n_candidates: Vec<usize>,
}

impl HalvingParams {
    /// `min_resources_` and `max_resources_` before an "exhaust" adjusts the first.
    fn resources(&self, data: SearchData) -> Result<(usize, usize), String> {
        let max = self.max_resources.unwrap_or(data.n_samples);
        if max > data.n_samples {
            return Err(format!(
                "[search] max_resources = {max} is more than the {} training rows; lower it or use \"auto\"",
                data.n_samples
            ));
        }
        let min = match self.min_resources {
            MinResources::Count(count) => count,
            MinResources::Exhaust | MinResources::Smallest => data.n_splits * 2 * data.n_classes,
        };
        if min > max {
            return Err(format!(
                "[search] min_resources = {min} is more than max_resources = {max} (rows: {}); lower min_resources",
                data.n_samples
            ));
        }
        Ok((min, max))
    }

    /// How many candidates a halving random search draws.
    pub fn candidates_to_draw(
        &self,
        count: CandidateCount,
        data: SearchData,
    ) -> Result<usize, String> {
        match count {
            CandidateCount::Count(n) => Ok(n),
            CandidateCount::Exhaust if self.min_resources == MinResources::Exhaust => Err(
                "[search] n_candidates and min_resources cannot both be \"exhaust\"; give one a number, or min_resources = \"smallest\"".into(),
            ),
            CandidateCount::Exhaust => {
                let (min, max) = self.resources(data)?;
                Ok(max / min)
            }
        }
    }

    /// scikit-learn's `_run_search` schedule for `n_candidates` first-iteration candidates.
    pub fn schedule(
        &self,
        n_candidates: usize,
        data: SearchData,
    ) -> Result<HalvingSchedule, String> {
        let (mut min, max) = self.resources(data)?;
        let factor = self.factor;
        // Python's math.log(x, base): log(x) / log(base), the same libm calls.
        let log = |x: usize| (x as f64).ln() / factor.ln();
        let n_required_iterations = 1 + log(n_candidates).floor() as usize;
        if n_required_iterations > MAX_ITERATIONS {
            return Err(format!(
                "[search] factor = {factor} needs {n_required_iterations} iterations to narrow {n_candidates} candidates down, more than {MAX_ITERATIONS}; use a larger factor (scikit-learn's default is 3)"
            ));
        }
        if self.min_resources == MinResources::Exhaust {
            let last = (n_required_iterations - 1) as i32;
            min = min.max((max as f64 / factor.powi(last)).floor() as usize);
        }
        let n_possible_iterations = 1 + log(max / min).floor() as usize;
        let n_iterations = match self.aggressive_elimination {
            true => n_required_iterations,
            false => n_possible_iterations.min(n_required_iterations),
        };

        let mut n_resources = Vec::with_capacity(n_iterations);
        let mut n_candidates_per = Vec::with_capacity(n_iterations);
        let mut remaining = n_candidates;
        for iteration in 0..n_iterations {
            let power = match self.aggressive_elimination {
                true => (iteration + n_possible_iterations).saturating_sub(n_required_iterations),
                false => iteration,
            };
            let rows = (factor.powi(power as i32) * min as f64) as usize;
            n_resources.push(rows.min(max));
            n_candidates_per.push(remaining);
            remaining = keep_count(remaining, factor);
        }
        Ok(HalvingSchedule {
            factor,
            random_state: self.random_state,
            n_samples: data.n_samples,
            min_resources: min,
            max_resources: max,
            n_required_iterations,
            n_possible_iterations,
            n_resources,
            n_candidates: n_candidates_per,
        })
    }
}

/// `ceil(n / factor)`: how many of `n` candidates advance.
fn keep_count(n: usize, factor: f64) -> usize {
    (n as f64 / factor).ceil() as usize
}

impl HalvingSchedule {
    pub fn n_iterations(&self) -> usize {
        self.n_resources.len()
    }

    /// How many of an iteration's `n` candidates advance (`n_remaining_candidates_` after the
    /// last).
    pub fn survivors_count(&self, n: usize) -> usize {
        keep_count(n, self.factor).min(n)
    }

    /// Iteration `iteration`'s subsample of a fold's `rows` (train or test), in scikit-learn's
    /// order: the head of a permutation from a fresh `RandomState(random_state)`.
    pub fn subsample(&self, rows: &[usize], iteration: usize) -> Vec<usize> {
        let fraction = self.n_resources[iteration] as f64 / self.n_samples as f64;
        let keep = (fraction * rows.len() as f64) as usize;
        let mut rng = LegacyRandomState::new(self.random_state);
        let mut order = rng.permutation(rows.len());
        order.truncate(keep);
        order.into_iter().map(|i| rows[i]).collect()
    }

    /// Who advances from an iteration whose candidates (in its order) scored `mean_scores`:
    /// the top `ceil(n / factor)`, in increasing score with NaN first (`_top_k`).
    pub fn survivors(&self, candidates: &[usize], mean_scores: &[f64]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..candidates.len()).collect();
        // Stable, NaN first: the numbers sorted, then rolled behind the NaNs.
        order.sort_by(|&a, &b| {
            let (x, y) = (mean_scores[a], mean_scores[b]);
            y.is_nan().cmp(&x.is_nan()).then(x.total_cmp(&y))
        });
        let keep = self.survivors_count(candidates.len());
        order[candidates.len() - keep..]
            .iter()
            .map(|&i| candidates[i])
            .collect()
    }
}

/// The row of an iteration's candidates that `best_index_` picks: the first highest mean test
/// score of the last iteration, or its first row when every score is NaN.
pub fn best_of_last(mean_scores: &[f64]) -> usize {
    let mut best = 0;
    for (i, &score) in mean_scores.iter().enumerate() {
        if !score.is_nan() && (mean_scores[best].is_nan() || score > mean_scores[best]) {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(min_resources: MinResources, aggressive: bool) -> HalvingParams {
        HalvingParams {
            factor: 3.0,
            min_resources,
            max_resources: None,
            aggressive_elimination: aggressive,
            random_state: 0,
        }
    }

    const NOTEBOOK: SearchData = SearchData {
        n_samples: 20000,
        n_splits: 3,
        n_classes: 2,
    };

    /// HalvingGridSearchCV(factor=3) on 48 candidates and 20000 rows in 3 folds of 2 classes:
    /// n_resources_ [740, 2220, 6660, 19980], n_candidates_ [48, 16, 6, 2].
    #[test]
    fn the_notebook_grid_exhausts_the_rows_in_four_iterations() {
        let s = params(MinResources::Exhaust, false)
            .schedule(48, NOTEBOOK)
            .unwrap();
        assert_eq!(s.n_resources, vec![740, 2220, 6660, 19980]);
        assert_eq!(s.n_candidates, vec![48, 16, 6, 2]);
        assert_eq!((s.min_resources, s.max_resources), (740, 20000));
        assert_eq!((s.n_required_iterations, s.n_possible_iterations), (4, 4));
    }

    /// "smallest" starts at 3 * 2 * 2 = 12 rows; 100 candidates need 5 iterations but rows allow
    /// 7; aggressive elimination repeats the first size while there are too many candidates.
    #[test]
    fn smallest_and_aggressive_elimination_follow_scikit_learn() {
        let data = SearchData {
            n_samples: 120,
            ..NOTEBOOK
        };
        let s = params(MinResources::Smallest, false)
            .schedule(100, data)
            .unwrap();
        assert_eq!(s.n_resources, vec![12, 36, 108]);
        assert_eq!(s.n_candidates, vec![100, 34, 12]);
        let s = params(MinResources::Smallest, true)
            .schedule(100, data)
            .unwrap();
        assert_eq!(s.n_resources, vec![12, 12, 12, 36, 108]);
        assert_eq!(s.n_candidates, vec![100, 34, 12, 4, 2]);
    }

    /// HalvingRandomSearchCV() on 1000 rows of 3 classes in 3 folds: "smallest" is 18 rows, so
    /// "exhaust" draws 1000 // 18 = 55 candidates: n_resources_ [18, 54, 162, 486],
    /// n_candidates_ [55, 19, 7, 3].
    #[test]
    fn a_random_search_exhausts_the_rows_with_its_candidates() {
        let data = SearchData {
            n_samples: 1000,
            n_splits: 3,
            n_classes: 3,
        };
        let p = params(MinResources::Smallest, false);
        let n = p.candidates_to_draw(CandidateCount::Exhaust, data).unwrap();
        assert_eq!(n, 55);
        let s = p.schedule(n, data).unwrap();
        assert_eq!(s.n_resources, vec![18, 54, 162, 486]);
        assert_eq!(s.n_candidates, vec![55, 19, 7, 3]);
        let both =
            params(MinResources::Exhaust, false).candidates_to_draw(CandidateCount::Exhaust, data);
        assert!(both.unwrap_err().contains("cannot both be \"exhaust\""));
    }

    #[test]
    fn survivors_are_the_top_third_in_increasing_score_nan_first() {
        let s = params(MinResources::Exhaust, false)
            .schedule(7, NOTEBOOK)
            .unwrap();
        let candidates = [10, 11, 12, 13, 14, 15, 16];
        let scores = [0.5, f64::NAN, 0.9, 0.7, 0.9, 0.1, 0.8];
        assert_eq!(s.survivors(&candidates, &scores), vec![16, 12, 14]);
        let nan = [f64::NAN; 7];
        assert_eq!(s.survivors(&candidates, &nan), vec![14, 15, 16]);
        assert_eq!(best_of_last(&[0.5, f64::NAN, 0.9, 0.9]), 2);
        assert_eq!(best_of_last(&[f64::NAN, f64::NAN]), 0);
    }

    /// resample(arange(10), replace=False, random_state=0, n_samples=5): the head of
    /// RandomState(0).permutation(10) = [2, 8, 4, 9, 1, ...].
    #[test]
    fn a_subsample_is_the_head_of_a_fresh_permutation() {
        let s = HalvingSchedule {
            n_samples: 20,
            n_resources: vec![10],
            ..params(MinResources::Exhaust, false)
                .schedule(3, NOTEBOOK)
                .unwrap()
        };
        let rows: Vec<usize> = (100..110).collect();
        assert_eq!(s.subsample(&rows, 0), vec![102, 108, 104, 109, 101]);
    }

    #[test]
    fn resources_beyond_the_rows_are_refused() {
        let data = SearchData {
            n_samples: 100,
            ..NOTEBOOK
        };
        let err = params(MinResources::Count(101), false)
            .schedule(10, data)
            .unwrap_err();
        assert!(err.contains("min_resources = 101 is more than"), "{err}");
        let mut p = params(MinResources::Exhaust, false);
        p.max_resources = Some(101);
        assert!(p
            .schedule(10, data)
            .unwrap_err()
            .contains("max_resources = 101"));
    }
}
