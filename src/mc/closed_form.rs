//! Closed-form prices the simulations are checked against and the control variate uses:
//! the normal CDF, Black–Scholes with a dividend yield, the discretely monitored geometric Asian
//! (Kemna–Vorst with `n` fixings at `iT/n`), and the seed walk's expected last price. Pure
//! functions of their arguments; no validation (callers pass checked values).

use super::params::{OptionType, SEED_DAYS_PER_YEAR};

/// Standard normal cumulative distribution function, `0.5 erfc(-x / sqrt 2)` (accurate in the
/// tails, unlike `0.5 (1 + erf)`).
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// Black–Scholes price with continuous dividend yield `q`:
/// call `S0 e^{-qT} N(d1) - K e^{-rT} N(d2)`, put `K e^{-rT} N(-d2) - S0 e^{-qT} N(-d1)`.
pub fn black_scholes(
    option_type: OptionType,
    s0: f64,
    k: f64,
    r: f64,
    q: f64,
    sigma: f64,
    t: f64,
) -> f64 {
    let vol = sigma * t.sqrt();
    let d1 = ((s0 / k).ln() + (r - q + 0.5 * sigma * sigma) * t) / vol;
    let d2 = d1 - vol;
    let fwd = s0 * (-q * t).exp();
    let pv_k = k * (-r * t).exp();
    match option_type {
        OptionType::Call => fwd * norm_cdf(d1) - pv_k * norm_cdf(d2),
        OptionType::Put => pv_k * norm_cdf(-d2) - fwd * norm_cdf(-d1),
    }
}

/// Discretely monitored geometric-average Asian option, fixings `t_i = iT/n`, `i = 1..n`
/// (`S0` not included). `ln G ~ N(m, v)` with `m = ln S0 + (r - q - sigma^2/2) T (n+1)/(2n)` and
/// `v = sigma^2 T (n+1)(2n+1)/(6n^2)`; call `e^{-rT}(e^{m+v/2} N(d1) - K N(d2))`,
/// put `e^{-rT}(K N(-d2) - e^{m+v/2} N(-d1))`, `d1 = (m - ln K + v)/sqrt v`, `d2 = d1 - sqrt v`.
#[allow(clippy::too_many_arguments)]
pub fn geometric_asian(
    option_type: OptionType,
    s0: f64,
    k: f64,
    r: f64,
    q: f64,
    sigma: f64,
    t: f64,
    n: usize,
) -> f64 {
    let nf = n as f64;
    let m = s0.ln() + (r - q - 0.5 * sigma * sigma) * t * (nf + 1.0) / (2.0 * nf);
    let v = sigma * sigma * t * (nf + 1.0) * (2.0 * nf + 1.0) / (6.0 * nf * nf);
    let sd = v.sqrt();
    let d1 = (m - k.ln() + v) / sd;
    let d2 = d1 - sd;
    let mean_g = (m + 0.5 * v).exp();
    let disc = (-r * t).exp();
    match option_type {
        OptionType::Call => disc * (mean_g * norm_cdf(d1) - k * norm_cdf(d2)),
        OptionType::Put => disc * (k * norm_cdf(-d2) - mean_g * norm_cdf(-d1)),
    }
}

/// Exact expectation of the seed walk's last price: `s0 (1 + mu/365)^(steps-1)` (the shocks
/// are independent with mean `mu dt`).
pub fn seed_mean_terminal(s0: f64, mu: f64, steps: usize) -> f64 {
    let shocks = steps.saturating_sub(1);
    s0 * (1.0 + mu / SEED_DAYS_PER_YEAR).powf(shocks as f64)
}

/// Exact expectation of the seed walk's arithmetic average over all `steps` prices (`s0`
/// included): `s0 * mean_{i<steps} (1 + mu/365)^i`.
pub fn seed_mean_average(s0: f64, mu: f64, steps: usize) -> f64 {
    let g = 1.0 + mu / SEED_DAYS_PER_YEAR;
    let n = steps.max(1) as f64;
    if mu == 0.0 {
        s0
    } else {
        s0 * (g.powf(n) - 1.0) / ((g - 1.0) * n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn norm_cdf_values() {
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((norm_cdf(1.959963985) - 0.975).abs() < 1e-9);
        assert!((norm_cdf(-1.0) - 0.158_655_253_931_457_05).abs() < 1e-15);
        assert!(norm_cdf(-10.0) > 0.0 && norm_cdf(-10.0) < 1e-22);
    }

    #[test]
    fn black_scholes_reference_and_parity() {
        // Hull's textbook example: S 42, K 40, r 10%, sigma 20%, T 0.5 -> call 4.76, put 0.81.
        let c = black_scholes(OptionType::Call, 42.0, 40.0, 0.1, 0.0, 0.2, 0.5);
        let p = black_scholes(OptionType::Put, 42.0, 40.0, 0.1, 0.0, 0.2, 0.5);
        assert!((c - 4.7594).abs() < 1e-4, "{c}");
        assert!((p - 0.8086).abs() < 1e-4, "{p}");
        let (s0, k, r, q, s, t) = (100.0, 95.0, 0.05, 0.02, 0.3, 1.5);
        let c = black_scholes(OptionType::Call, s0, k, r, q, s, t);
        let p = black_scholes(OptionType::Put, s0, k, r, q, s, t);
        let parity = s0 * (-q * t).exp() - k * (-r * t).exp();
        assert!((c - p - parity).abs() < 1e-12);
    }

    #[test]
    fn geometric_asian_call_and_put_keep_parity() {
        // The price itself is checked against scipy in src/mc/tests.rs; here, its parity.
        let c = geometric_asian(OptionType::Call, 100.0, 95.0, 0.05, 0.01, 0.3, 1.0, 12);
        // Put-call parity on the same lognormal: C - P = e^{-rT}(E[G] - K).
        let p = geometric_asian(OptionType::Put, 100.0, 95.0, 0.05, 0.01, 0.3, 1.0, 12);
        let (nf, t, sig) = (12.0f64, 1.0, 0.3f64);
        let m = 100f64.ln() + (0.05 - 0.01 - 0.5 * sig * sig) * t * (nf + 1.0) / (2.0 * nf);
        let v = sig * sig * t * (nf + 1.0) * (2.0 * nf + 1.0) / (6.0 * nf * nf);
        let parity = (-0.05f64).exp() * ((m + 0.5 * v).exp() - 95.0);
        assert!((c - p - parity).abs() < 1e-12);
        // One fixing at T is the European option.
        let e = black_scholes(OptionType::Call, 100.0, 95.0, 0.05, 0.01, 0.3, 1.0);
        let g1 = geometric_asian(OptionType::Call, 100.0, 95.0, 0.05, 0.01, 0.3, 1.0, 1);
        assert!((e - g1).abs() < 1e-12);
    }

    #[test]
    fn seed_expectations() {
        assert_eq!(seed_mean_terminal(100.0, 0.0, 1460), 100.0);
        let m = seed_mean_terminal(100.0, 0.02, 1460);
        assert!((m - 100.0 * (1.0 + 0.02 / 365.0f64).powi(1459)).abs() < 1e-9);
        let direct: f64 = (0..10).map(|i| (1.0 + 0.3 / 365.0f64).powi(i)).sum::<f64>() * 10.0;
        assert!((seed_mean_average(100.0, 0.3, 10) - direct).abs() < 1e-9);
    }
}
