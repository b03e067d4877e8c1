//! Monte Carlo option pricing as plain functions: validated parameters (`params`), path
//! simulation into block sums (`simulate`), the reduction of block sums into an estimate
//! (`estimate`), closed forms (`closed_form`) and the normal sampler (`normal`). It knows nothing of
//! MPI, files or threads: the runtime hands it a `Pricing`, a task's random stream and a path
//! count, stores the returned `BlockSums`, and reduces them in task-id order.

pub mod closed_form;
mod estimate;
mod exp;
mod normal;
mod params;
mod simulate;

#[cfg(test)]
mod tests;

pub use closed_form::seed_mean_terminal;
pub use estimate::{estimate, reduce, Estimate, Z95};
pub use params::{Estimator, Model, OptionSpec, OptionType, Payoff, Pricing, SEED_DAYS_PER_YEAR};
pub use simulate::{simulate_block, BlockSums};

/// An invalid pricing parameter. Each message names the job-file key and what it accepts.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum McError {
    #[error("`{key}` must be a finite number, got {value}")]
    NotFinite { key: &'static str, value: f64 },
    #[error("`{key}` must be > 0, got {value}")]
    NotPositive { key: &'static str, value: f64 },
    #[error("`{key}` must be >= 0, got {value}")]
    Negative { key: &'static str, value: f64 },
    #[error("`steps` must be >= {min}{why}, got {got}")]
    TooFewSteps {
        min: usize,
        got: usize,
        why: &'static str,
    },
    #[error(
        "`estimator` \"control_variate\" applies only to payoff \"asian_arithmetic\" under model \
         \"gbm\" (its control, the geometric Asian, has a closed form there); got payoff \
         \"{payoff}\" under model \"{model}\": use \"plain\" or \"antithetic\""
    )]
    EstimatorNotApplicable {
        payoff: &'static str,
        model: &'static str,
    },
    #[error("`paths` must be {allowed}, got {got}")]
    Paths { got: u64, allowed: &'static str },
    #[error("`{key}` must be one of {allowed}, got \"{got}\"")]
    UnknownName {
        key: &'static str,
        got: String,
        allowed: &'static str,
    },
}
