//! Randomized search's candidates, drawn exactly as scikit-learn's `ParameterSampler` draws them
//! for the same `random_state`: numpy's legacy `RandomState` (MT19937 seeded by `init_genrand`),
//! its masked-rejection integers, its 53-bit doubles, and scipy.stats' `uniform`, `loguniform`
//! and `randint` on top of them.
//!
//! Lists-only grids are sampled without replacement (scikit-learn's `sample_without_replacement`:
//! a permutation's head, or tracking selection or reservoir sampling at the extreme ratios) from
//! the `ParameterGrid` order; otherwise each draw picks a grid, then each parameter in sorted name
//! order: a distribution's value, or a list's item. Uniform and integer draws are the same to the
//! last bit; a log-uniform value passes through `exp` and `log`, where numpy on a CPU with AVX-512
//! uses its own SIMD routines and elsewhere the C library's, so it can differ in the last place.

use std::collections::BTreeSet;

use rand_mt::Mt;
use serde::{Deserialize, Serialize};

use super::{grid_candidate, grid_size, Candidate, Grid, ParamValue};

/// numpy's legacy `RandomState`: the draws scikit-learn and scipy make from it.
pub struct LegacyRandomState {
    mt: Mt,
}

impl LegacyRandomState {
    /// `np.random.RandomState(seed)`.
    pub fn new(seed: u32) -> Self {
        LegacyRandomState { mt: Mt::new(seed) }
    }

    /// `random_sample()`: 53 random bits from two 32-bit words.
    pub fn random_sample(&mut self) -> f64 {
        let high = (self.mt.next_u32() >> 5) as f64;
        let low = (self.mt.next_u32() >> 6) as f64;
        (high * 67_108_864.0 + low) / 9_007_199_254_740_992.0
    }

    /// A value in `0..=max` by masked rejection (numpy's legacy `random_interval`, and
    /// `randint` for ranges under 2^32).
    fn interval(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        let mask = u64::MAX >> max.leading_zeros();
        assert!(
            max < u64::from(u32::MAX),
            "ranges this large are not sampled"
        );
        loop {
            let value = u64::from(self.mt.next_u32()) & mask;
            if value <= max {
                return value;
            }
        }
    }

    /// `randint(low, high)`: an integer in `low..high`.
    pub fn randint(&mut self, low: i64, high: i64) -> i64 {
        low + self.interval((high - low - 1) as u64) as i64
    }

    /// `permutation(n)`: `arange(n)` shuffled by Fisher-Yates from the end.
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut items: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.interval(i as u64) as usize;
            items.swap(i, j);
        }
        items
    }
}

/// `sklearn.utils.random.sample_without_replacement(population, n, method="auto")`.
pub fn sample_without_replacement(
    population: usize,
    n: usize,
    rng: &mut LegacyRandomState,
) -> Vec<usize> {
    let ratio = if population == 0 {
        1.0
    } else {
        n as f64 / population as f64
    };
    if ratio > 0.01 && ratio < 0.99 {
        let mut order = rng.permutation(population);
        order.truncate(n);
        return order;
    }
    if ratio < 0.2 {
        // Tracking selection: draw until unseen.
        let mut seen = BTreeSet::new();
        (0..n)
            .map(|_| loop {
                let j = rng.randint(0, population as i64) as usize;
                if seen.insert(j) {
                    break j;
                }
            })
            .collect()
    } else {
        // Reservoir sampling.
        let mut out: Vec<usize> = (0..n).collect();
        for i in n..population {
            let j = rng.randint(0, i as i64 + 1) as usize;
            if j < n {
                out[j] = i;
            }
        }
        out
    }
}

/// A scipy.stats distribution a randomized search draws a parameter from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Distribution {
    /// `uniform(loc, scale)`: on `[loc, loc + scale]`.
    Uniform { loc: f64, scale: f64 },
    /// `loguniform(low, high)`: log-uniform on `[low, high]`.
    LogUniform { low: f64, high: f64 },
    /// `randint(low, high)`: an integer in `low..high`.
    RandInt { low: i64, high: i64 },
}

impl Distribution {
    /// `rvs(random_state=rng)`.
    fn draw(&self, rng: &mut LegacyRandomState) -> ParamValue {
        match *self {
            Distribution::Uniform { loc, scale } => {
                ParamValue::Float(rng.random_sample() * scale + loc)
            }
            Distribution::LogUniform { low, high } => {
                let q = rng.random_sample();
                ParamValue::Float((low.ln() + q * (high.ln() - low.ln())).exp())
            }
            Distribution::RandInt { low, high } => ParamValue::Int(rng.randint(low, high)),
        }
    }
}

/// What a randomized search samples a parameter from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Sampled {
    List(Vec<ParamValue>),
    Distribution(Distribution),
}

/// One dictionary of `param_distributions`.
pub type SampledGrid = std::collections::BTreeMap<String, Sampled>;

/// The candidates of `RandomizedSearchCV(param_distributions, n_iter, random_state)`, in its
/// order, and how many were asked for when a lists-only space held fewer (scikit-learn warns
/// and runs them all).
pub fn sample(
    grids: &[SampledGrid],
    n_iter: usize,
    random_state: u32,
) -> Result<(Vec<Candidate>, Option<usize>), String> {
    let mut rng = LegacyRandomState::new(random_state);
    let lists: Option<Vec<Grid>> = grids
        .iter()
        .map(|grid| {
            grid.iter()
                .map(|(name, sampled)| match sampled {
                    Sampled::List(values) => Some((name.clone(), values.clone())),
                    Sampled::Distribution(_) => None,
                })
                .collect()
        })
        .collect();
    if let Some(lists) = lists {
        let size = grid_size(&lists)
            .filter(|&size| size < u32::MAX as usize)
            .ok_or("the lists of [grid] make more than 2**32 - 1 candidates; sample some parameters from distributions instead")?;
        let n = n_iter.min(size);
        let fewer = (n < n_iter).then_some(n_iter);
        let chosen = sample_without_replacement(size, n, &mut rng)
            .into_iter()
            .map(|i| grid_candidate(&lists, i))
            .collect();
        return Ok((chosen, fewer));
    }
    let drawn = (0..n_iter)
        .map(|_| {
            let grid = &grids[rng.randint(0, grids.len() as i64) as usize];
            grid.iter()
                .map(|(name, sampled)| {
                    let value = match sampled {
                        Sampled::Distribution(d) => d.draw(&mut rng),
                        Sampled::List(values) => {
                            values[rng.randint(0, values.len() as i64) as usize].clone()
                        }
                    };
                    (name.clone(), value)
                })
                .collect()
        })
        .collect();
    Ok((drawn, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_legacy_generator_matches_numpy() {
        // np.random.RandomState(0).random_sample(), .randint(0, 10) x 3, permutation(5)
        let mut rng = LegacyRandomState::new(0);
        assert_eq!(rng.random_sample(), 0.5488135039273248);
        let mut rng = LegacyRandomState::new(0);
        let ints: Vec<i64> = (0..3).map(|_| rng.randint(0, 10)).collect();
        assert_eq!(ints, vec![5, 0, 3]);
        let mut rng = LegacyRandomState::new(0);
        assert_eq!(rng.permutation(5), vec![2, 0, 1, 3, 4]);
    }
}
