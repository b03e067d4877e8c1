//! Validated pricing parameters: the model, the option, the estimator and their combination
//! [`Pricing`]. A value that exists is valid: constructors check every field and return
//! [`McError`] naming the job-file key; deserialisation goes through the same checks, so a
//! `Pricing` broadcast to another rank is valid there too. Enum names are the job-file spellings.

use serde::{Deserialize, Serialize};

use super::closed_form;
use super::McError;

/// Days per year of the notebook's walk (`dt = 1/365`).
pub const SEED_DAYS_PER_YEAR: f64 = 365.0;

/// Price dynamics.
///
/// Build with [`Model::seed`] or [`Model::gbm`]; [`Pricing::new`] re-checks a model written as a
/// literal, so an invalid one never reaches the simulation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "ModelRepr", rename_all = "snake_case")]
pub enum Model {
    /// The notebook's daily walk: `prices[i] = prices[i-1] * (1 + e)`, `e ~ N(mu dt, sigma sqrt(dt))`,
    /// `dt = 1/365`, undiscounted payoffs; `steps` counts the prices including `s0`.
    Seed { s0: f64, mu: f64, sigma: f64 },
    /// Risk-neutral geometric Brownian motion with dividend yield `q`, exact log-normal steps at
    /// `t_i = i T / steps`, payoffs discounted at `r`.
    Gbm { s0: f64, r: f64, q: f64, sigma: f64 },
}

/// What is averaged (or not) before the strike is applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Payoff {
    /// The last price.
    European,
    /// The arithmetic mean of the monitored prices.
    AsianArithmetic,
    /// The geometric mean of the monitored prices.
    AsianGeometric,
}

/// Call `max(A - K, 0)` or put `max(K - A, 0)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OptionType {
    Call,
    Put,
}

/// How paths are turned into an estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimator {
    /// One payoff per path.
    Plain,
    /// Paths in pairs driven by `Z` and `-Z`; a sample is the pair's mean payoff.
    Antithetic,
    /// Arithmetic Asian under `gbm` with the geometric Asian of the same path as control.
    ControlVariate,
}

/// The option: payoff, call/put, strike, maturity in years and number of steps.
///
/// Build with [`OptionSpec::new`]. Fields are public for reading; code that assigns them takes
/// over the constructor's checks ([`Pricing::new`] re-checks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "OptionSpecRepr")]
pub struct OptionSpec {
    pub payoff: Payoff,
    pub option_type: OptionType,
    pub strike: f64,
    /// Years; ignored by the seed model, which steps one day (`dt = 1/365`).
    pub maturity: f64,
    /// Prices per path: monitoring dates under gbm (`s0` excluded), prices including `s0` under
    /// seed.
    pub steps: usize,
}

/// A complete, consistent pricing problem. Build with [`Pricing::new`]; fields are public for
/// reading (assigning them bypasses the checks).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "PricingRepr")]
pub struct Pricing {
    pub model: Model,
    pub option: OptionSpec,
    pub estimator: Estimator,
}

fn finite(key: &'static str, value: f64) -> Result<f64, McError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(McError::NotFinite { key, value })
    }
}

fn positive(key: &'static str, value: f64) -> Result<f64, McError> {
    finite(key, value)?;
    if value > 0.0 {
        Ok(value)
    } else {
        Err(McError::NotPositive { key, value })
    }
}

fn non_negative(key: &'static str, value: f64) -> Result<f64, McError> {
    finite(key, value)?;
    if value >= 0.0 {
        Ok(value)
    } else {
        Err(McError::Negative { key, value })
    }
}

impl Model {
    /// The notebook's walk. `s0 > 0`, `sigma > 0`, `mu` finite.
    pub fn seed(s0: f64, mu: f64, sigma: f64) -> Result<Model, McError> {
        Ok(Model::Seed {
            s0: positive("s0", s0)?,
            mu: finite("mu", mu)?,
            sigma: positive("sigma", sigma)?,
        })
    }

    /// Risk-neutral GBM. `s0 > 0`, `sigma > 0`, `r` and `q` finite.
    pub fn gbm(s0: f64, r: f64, q: f64, sigma: f64) -> Result<Model, McError> {
        Ok(Model::Gbm {
            s0: positive("s0", s0)?,
            r: finite("r", r)?,
            q: finite("q", q)?,
            sigma: positive("sigma", sigma)?,
        })
    }

    /// Re-runs the constructor's checks (for models written as literals).
    pub fn validated(self) -> Result<Model, McError> {
        match self {
            Model::Seed { s0, mu, sigma } => Model::seed(s0, mu, sigma),
            Model::Gbm { s0, r, q, sigma } => Model::gbm(s0, r, q, sigma),
        }
    }

    /// Job-file spelling: `"seed"` or `"gbm"`.
    pub fn name(&self) -> &'static str {
        match self {
            Model::Seed { .. } => "seed",
            Model::Gbm { .. } => "gbm",
        }
    }

    /// The initial price.
    pub fn s0(&self) -> f64 {
        match *self {
            Model::Seed { s0, .. } | Model::Gbm { s0, .. } => s0,
        }
    }
}

/// Job-file names and parsing for the unit enums.
macro_rules! named_enum {
    ($ty:ident, $key:literal, $allowed:literal, $($variant:ident => $name:literal),+) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// Job-file spelling.
            pub fn name(&self) -> &'static str {
                match self {
                    $($ty::$variant => $name),+
                }
            }

            /// Parses a job-file spelling.
            pub fn from_name(name: &str) -> Result<$ty, McError> {
                match name {
                    $($name => Ok($ty::$variant),)+
                    _ => Err(McError::UnknownName { key: $key, got: name.to_string(), allowed: $allowed }),
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

named_enum!(Payoff, "payoff", "\"european\", \"asian_arithmetic\" or \"asian_geometric\"",
    European => "european", AsianArithmetic => "asian_arithmetic", AsianGeometric => "asian_geometric");
named_enum!(OptionType, "option_type", "\"call\" or \"put\"", Call => "call", Put => "put");
named_enum!(Estimator, "estimator", "\"plain\", \"antithetic\" or \"control_variate\"",
    Plain => "plain", Antithetic => "antithetic", ControlVariate => "control_variate");

impl std::fmt::Display for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl OptionSpec {
    /// `strike >= 0`, `maturity > 0` (years; ignored by the seed model), `steps >= 1`
    /// (the seed model needs `steps >= 2`, checked by [`Pricing::new`]).
    pub fn new(
        payoff: Payoff,
        option_type: OptionType,
        strike: f64,
        maturity: f64,
        steps: usize,
    ) -> Result<OptionSpec, McError> {
        let strike = non_negative("strike", strike)?;
        let maturity = positive("maturity", maturity)?;
        if steps < 1 {
            return Err(McError::TooFewSteps {
                min: 1,
                got: steps,
                why: "",
            });
        }
        Ok(OptionSpec {
            payoff,
            option_type,
            strike,
            maturity,
            steps,
        })
    }
}

impl Pricing {
    /// Checks the combination: the model's values, `steps >= 2` under `seed`, and
    /// `control_variate` only for `asian_arithmetic` under `gbm`.
    pub fn new(model: Model, option: OptionSpec, estimator: Estimator) -> Result<Pricing, McError> {
        let model = model.validated()?;
        // Re-check the option too, in case it was deserialised from an older layout.
        let option = OptionSpec::new(
            option.payoff,
            option.option_type,
            option.strike,
            option.maturity,
            option.steps,
        )?;
        if matches!(model, Model::Seed { .. }) && option.steps < 2 {
            return Err(McError::TooFewSteps {
                min: 2,
                got: option.steps,
                why: " under model \"seed\" (it counts the prices including s0)",
            });
        }
        if estimator == Estimator::ControlVariate
            && !(matches!(model, Model::Gbm { .. }) && option.payoff == Payoff::AsianArithmetic)
        {
            return Err(McError::EstimatorNotApplicable {
                payoff: option.payoff.name(),
                model: model.name(),
            });
        }
        Ok(Pricing {
            model,
            option,
            estimator,
        })
    }

    /// Checks a number of paths for a block or a job: at least 2 (for a standard error), and even
    /// under `antithetic` (paths come in pairs).
    pub fn check_paths(&self, paths: u64) -> Result<u64, McError> {
        if paths < 2 {
            return Err(McError::Paths {
                got: paths,
                allowed: "at least 2",
            });
        }
        if self.estimator == Estimator::Antithetic && paths & 1 == 1 {
            return Err(McError::Paths {
                got: paths,
                allowed: "even under estimator \"antithetic\" (paths come in pairs)",
            });
        }
        Ok(paths)
    }

    /// Discount factor applied to payoffs: `exp(-rT)` under gbm, 1 under seed.
    pub fn discount(&self) -> f64 {
        match self.model {
            Model::Seed { .. } => 1.0,
            Model::Gbm { r, .. } => (-r * self.option.maturity).exp(),
        }
    }

    /// Exact expectation of the last simulated price.
    pub fn expected_terminal(&self) -> f64 {
        match self.model {
            Model::Seed { s0, mu, .. } => {
                closed_form::seed_mean_terminal(s0, mu, self.option.steps)
            }
            Model::Gbm { s0, r, q, .. } => s0 * ((r - q) * self.option.maturity).exp(),
        }
    }

    /// Closed-form price when one exists: European under gbm (Black–Scholes) and geometric Asian
    /// under gbm (discrete Kemna–Vorst). `None` otherwise.
    pub fn closed_form_price(&self) -> Option<f64> {
        let Model::Gbm { s0, r, q, sigma } = self.model else {
            return None;
        };
        let o = &self.option;
        match o.payoff {
            Payoff::European => Some(closed_form::black_scholes(
                o.option_type,
                s0,
                o.strike,
                r,
                q,
                sigma,
                o.maturity,
            )),
            Payoff::AsianGeometric => Some(closed_form::geometric_asian(
                o.option_type,
                s0,
                o.strike,
                r,
                q,
                sigma,
                o.maturity,
                o.steps,
            )),
            Payoff::AsianArithmetic => None,
        }
    }

    /// Known mean of the control variate (the discounted geometric Asian of the same option),
    /// `None` unless the estimator is `control_variate`.
    pub fn control_mean(&self) -> Option<f64> {
        let Model::Gbm { s0, r, q, sigma } = self.model else {
            return None;
        };
        if self.estimator != Estimator::ControlVariate {
            return None;
        }
        let o = &self.option;
        Some(closed_form::geometric_asian(
            o.option_type,
            s0,
            o.strike,
            r,
            q,
            sigma,
            o.maturity,
            o.steps,
        ))
    }
}

// Deserialisation goes through the constructors, so invalid values are rejected on arrival.

#[derive(Deserialize)]
#[serde(rename_all = "snake_case")]
enum ModelRepr {
    Seed { s0: f64, mu: f64, sigma: f64 },
    Gbm { s0: f64, r: f64, q: f64, sigma: f64 },
}

impl TryFrom<ModelRepr> for Model {
    type Error = McError;
    fn try_from(m: ModelRepr) -> Result<Model, McError> {
        match m {
            ModelRepr::Seed { s0, mu, sigma } => Model::seed(s0, mu, sigma),
            ModelRepr::Gbm { s0, r, q, sigma } => Model::gbm(s0, r, q, sigma),
        }
    }
}

#[derive(Deserialize)]
struct OptionSpecRepr {
    payoff: Payoff,
    option_type: OptionType,
    strike: f64,
    maturity: f64,
    steps: usize,
}

impl TryFrom<OptionSpecRepr> for OptionSpec {
    type Error = McError;
    fn try_from(o: OptionSpecRepr) -> Result<OptionSpec, McError> {
        OptionSpec::new(o.payoff, o.option_type, o.strike, o.maturity, o.steps)
    }
}

#[derive(Deserialize)]
struct PricingRepr {
    model: Model,
    option: OptionSpec,
    estimator: Estimator,
}

impl TryFrom<PricingRepr> for Pricing {
    type Error = McError;
    fn try_from(p: PricingRepr) -> Result<Pricing, McError> {
        Pricing::new(p.model, p.option, p.estimator)
    }
}
