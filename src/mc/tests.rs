//! Statistical and contract tests of the pricing pipeline against closed forms. Each runs in well
//! under two seconds in release builds.

use super::closed_form::{black_scholes, geometric_asian, seed_mean_average};
use super::*;
use crate::rng::task_rng;
use rand::Rng;

fn gbm_pricing(
    payoff: Payoff,
    option_type: OptionType,
    (s0, k, r, q, sigma, t): (f64, f64, f64, f64, f64, f64),
    steps: usize,
    estimator: Estimator,
) -> Pricing {
    Pricing::new(
        Model::gbm(s0, r, q, sigma).unwrap(),
        OptionSpec::new(payoff, option_type, k, t, steps).unwrap(),
        estimator,
    )
    .unwrap()
}

/// The notebook's Asian call under gbm: S0 = K = 100, sigma 0.2, r 0.02, q 0, T 4, 1460 fixings.
fn notebook_asian(estimator: Estimator) -> Pricing {
    gbm_pricing(
        Payoff::AsianArithmetic,
        OptionType::Call,
        (100.0, 100.0, 0.02, 0.0, 0.2, 4.0),
        1460,
        estimator,
    )
}

fn seed_pricing(payoff: Payoff, k: f64, estimator: Estimator) -> Pricing {
    Pricing::new(
        Model::seed(100.0, 0.02, 0.2).unwrap(),
        OptionSpec::new(payoff, OptionType::Call, k, 4.0, 1460).unwrap(),
        estimator,
    )
    .unwrap()
}

/// Runs `blocks` blocks of `paths` paths on tasks 0.. of `seed` and reduces them in task order.
fn run(p: &Pricing, seed: u64, blocks: u64, paths: u64) -> Estimate {
    let sums: Vec<BlockSums> = (0..blocks)
        .map(|task| simulate_block(p, &mut task_rng(seed, task), paths))
        .collect();
    reduce(p, &sums)
}

fn assert_within(label: &str, got: f64, want: f64, se: f64, k: f64) {
    assert!(
        (got - want).abs() <= k * se,
        "{label}: got {got}, want {want}, |diff| = {} > {k} x se {se}",
        (got - want).abs()
    );
}

#[test]
fn european_call_and_put_match_black_scholes() {
    let cases = [
        (OptionType::Call, (100.0, 110.0, 0.05, 0.0, 0.25, 1.0)),
        (OptionType::Put, (100.0, 110.0, 0.05, 0.0, 0.25, 1.0)),
        (OptionType::Call, (100.0, 95.0, 0.03, 0.02, 0.3, 2.0)),
        (OptionType::Put, (100.0, 95.0, 0.03, 0.02, 0.3, 2.0)),
    ];
    for (i, (ot, m)) in cases.into_iter().enumerate() {
        let (s0, k, r, q, sigma, t) = m;
        let p = gbm_pricing(Payoff::European, ot, m, 50, Estimator::Plain);
        let e = run(&p, 100 + i as u64, 4, 50_000);
        let bs = black_scholes(ot, s0, k, r, q, sigma, t);
        assert_within(&format!("case {i} {ot}"), e.price, bs, e.std_error, 3.0);
        assert_eq!(p.closed_form_price(), Some(bs));
        assert_eq!(e.paths, 200_000);
        assert_within(
            "forward",
            e.mean_terminal,
            p.expected_terminal(),
            e.terminal_std_error,
            3.0,
        );
    }
}

#[test]
fn european_put_call_parity() {
    let m = (100.0, 105.0, 0.04, 0.015, 0.35, 1.5);
    let (s0, k, r, q, _, t) = m;
    let c = run(
        &gbm_pricing(Payoff::European, OptionType::Call, m, 10, Estimator::Plain),
        1,
        4,
        50_000,
    );
    let p = run(
        &gbm_pricing(Payoff::European, OptionType::Put, m, 10, Estimator::Plain),
        2,
        4,
        50_000,
    );
    let se = (c.std_error.powi(2) + p.std_error.powi(2)).sqrt();
    let parity = s0 * (-q * t).exp() - k * (-r * t).exp();
    assert_within("C - P", c.price - p.price, parity, se, 3.0);
}

#[test]
fn geometric_asian_matches_closed_form() {
    let m = (100.0, 95.0, 0.05, 0.01, 0.3, 1.0);
    let (s0, k, r, q, sigma, t) = m;
    let cf = geometric_asian(OptionType::Call, s0, k, r, q, sigma, t, 12);
    let want = reference()["geometric_asian_call_stack_example"]
        .as_f64()
        .unwrap();
    assert!((cf - want).abs() < 1e-10, "{cf} vs scipy's {want}");
    for (i, ot) in [OptionType::Call, OptionType::Put].into_iter().enumerate() {
        let p = gbm_pricing(Payoff::AsianGeometric, ot, m, 12, Estimator::Plain);
        let e = run(&p, 20 + i as u64, 4, 25_000);
        let want = geometric_asian(ot, s0, k, r, q, sigma, t, 12);
        assert_within(&format!("geometric {ot}"), e.price, want, e.std_error, 3.0);
        assert_eq!(p.closed_form_price(), Some(want));
    }
}

#[test]
fn seed_walk_moments_match_exact_expectations() {
    // Strike 0 turns the call on the average into the average itself.
    let p = seed_pricing(Payoff::AsianArithmetic, 0.0, Estimator::Plain);
    let e = run(&p, 7, 4, 5_001);
    assert_eq!(e.paths, 20_004);
    let want = seed_mean_terminal(100.0, 0.02, 1460);
    assert_within(
        "seed E[S_last]",
        e.mean_terminal,
        want,
        e.terminal_std_error,
        3.0,
    );
    assert_within(
        "seed E[average]",
        e.price,
        seed_mean_average(100.0, 0.02, 1460),
        e.std_error,
        3.0,
    );
    // Second moment of the last price: s0^2 ((1 + mu dt)^2 + sigma^2 dt)^(steps - 1).
    let sums: Vec<BlockSums> = (0..4)
        .map(|t| simulate_block(&p, &mut task_rng(7, t), 5_001))
        .collect();
    let total = sums.iter().fold(BlockSums::default(), |mut a, b| {
        a.add(b);
        a
    });
    let dt = 1.0 / 365.0f64;
    let m2 = 1e4 * ((1.0 + 0.02 * dt).powi(2) + 0.04 * dt).powi(1459);
    let got = total.sum_terminal2 / total.paths as f64;
    assert!((got / m2 - 1.0).abs() < 0.03, "E[S^2] {got} vs {m2}");
}

#[test]
fn seed_walk_two_steps_is_one_shock() {
    // steps = 2: prices [s0, s0 (1 + e)]; the average is s0 (2 + e)/2, so its variance is
    // s0^2 sigma^2 dt / 4.
    let p = Pricing::new(
        Model::seed(100.0, 0.5, 0.8).unwrap(),
        OptionSpec::new(Payoff::AsianArithmetic, OptionType::Call, 0.0, 1.0, 2).unwrap(),
        Estimator::Plain,
    )
    .unwrap();
    let e = run(&p, 3, 2, 100_000);
    let dt = 1.0 / 365.0f64;
    assert_within(
        "mean",
        e.price,
        100.0 * (1.0 + 0.5 * dt / 2.0),
        e.std_error,
        3.0,
    );
    let sd_avg = e.std_error * (e.paths as f64).sqrt();
    let want = 100.0 * 0.8 * dt.sqrt() / 2.0;
    assert!((sd_avg / want - 1.0).abs() < 0.02, "sd {sd_avg} vs {want}");
}

#[test]
fn control_variate_agrees_with_plain_and_reduces_variance_over_100x() {
    let plain = run(&notebook_asian(Estimator::Plain), 5, 2, 2_000);
    let cv = run(&notebook_asian(Estimator::ControlVariate), 6, 2, 2_000);
    let se = (plain.std_error.powi(2) + cv.std_error.powi(2)).sqrt();
    assert_within("cv vs plain", cv.price, plain.price, se, 3.0);
    // With the fixed coefficient b = 1 (QuantLib's choice) the ratio is about 120; the estimated
    // optimal b (about 1.08 here) gives about 340.
    assert!(
        cv.variance_reduction > 100.0 && cv.variance_reduction < 1000.0,
        "variance reduction {}",
        cv.variance_reduction
    );
    // An independent numpy control-variate price (scripts/reference/asian.py).
    let numpy = &reference()["notebook_asian_gbm_call"];
    let (want, want_se) = (
        numpy["price"].as_f64().unwrap(),
        numpy["std_error"].as_f64().unwrap(),
    );
    let se = (cv.std_error.powi(2) + want_se.powi(2)).sqrt();
    assert_within("cv vs numpy", cv.price, want, se, 3.0);
    assert_eq!(plain.variance_reduction, 1.0);
}

#[test]
fn antithetic_agrees_with_plain_and_reduces_variance() {
    // European under gbm (one normal per path) and the seed walk's Asian.
    let m = (100.0, 100.0, 0.03, 0.01, 0.25, 1.0);
    let plain = run(
        &gbm_pricing(Payoff::European, OptionType::Call, m, 1, Estimator::Plain),
        8,
        2,
        50_000,
    );
    let anti = run(
        &gbm_pricing(
            Payoff::European,
            OptionType::Call,
            m,
            1,
            Estimator::Antithetic,
        ),
        9,
        2,
        50_000,
    );
    let se = (plain.std_error.powi(2) + anti.std_error.powi(2)).sqrt();
    assert_within("antithetic vs plain", anti.price, plain.price, se, 3.0);
    assert!(anti.variance_reduction > 1.5, "{}", anti.variance_reduction);
    assert_eq!(anti.paths, 100_000);

    // Arithmetic Asian under gbm (the split exponential pass), against the control variate.
    let m = (100.0, 90.0, 0.03, 0.01, 0.3, 2.0);
    let asian = |e| gbm_pricing(Payoff::AsianArithmetic, OptionType::Put, m, 24, e);
    let anti = run(&asian(Estimator::Antithetic), 12, 2, 20_000);
    let cv = run(&asian(Estimator::ControlVariate), 13, 2, 20_000);
    let se = (cv.std_error.powi(2) + anti.std_error.powi(2)).sqrt();
    assert_within("gbm asian antithetic vs cv", anti.price, cv.price, se, 3.0);
    assert!(anti.variance_reduction > 1.0, "{}", anti.variance_reduction);

    let plain = run(
        &seed_pricing(Payoff::AsianArithmetic, 100.0, Estimator::Plain),
        10,
        2,
        2_000,
    );
    let anti = run(
        &seed_pricing(Payoff::AsianArithmetic, 100.0, Estimator::Antithetic),
        11,
        2,
        2_000,
    );
    let se = (plain.std_error.powi(2) + anti.std_error.powi(2)).sqrt();
    assert_within("seed antithetic vs plain", anti.price, plain.price, se, 3.0);
    assert!(anti.variance_reduction > 1.0, "{}", anti.variance_reduction);
}

#[test]
fn antithetic_rounds_odd_requests_up_to_pairs() {
    let p = seed_pricing(Payoff::European, 100.0, Estimator::Antithetic);
    let b = simulate_block(&p, &mut task_rng(1, 1), 7);
    assert_eq!((b.n, b.paths), (4, 8));
    assert!(p.check_paths(7).is_err());
    assert_eq!(p.check_paths(8), Ok(8));
}

#[test]
fn same_stream_same_sums_and_order_fixed_reduction() {
    for est in [
        Estimator::Plain,
        Estimator::Antithetic,
        Estimator::ControlVariate,
    ] {
        let p = gbm_pricing(
            Payoff::AsianArithmetic,
            OptionType::Put,
            (100.0, 100.0, 0.02, 0.0, 0.2, 1.0),
            64,
            est,
        );
        // 13 paths: three groups of four lanes plus a remainder.
        let a = simulate_block(&p, &mut task_rng(42, 3), 13);
        let b = simulate_block(&p, &mut task_rng(42, 3), 13);
        assert_eq!(a, b);
        assert_ne!(a, simulate_block(&p, &mut task_rng(42, 4), 13));
        assert_eq!(BlockSums::from_values(&a.to_values()), a);
        assert_eq!(a.to_values().len(), BlockSums::field_names().len());
    }
    let p = seed_pricing(Payoff::AsianGeometric, 100.0, Estimator::Plain);
    let blocks: Vec<BlockSums> = (0..6)
        .map(|t| simulate_block(&p, &mut task_rng(9, t), 5))
        .collect();
    let first = reduce(&p, &blocks);
    assert_eq!(first, reduce(&p, &blocks));
    assert_eq!(first.paths, 30);
    // The same blocks in the same order from a copy (as read back from a file) give the same bits.
    let copy: Vec<BlockSums> = blocks
        .iter()
        .map(|b| BlockSums::from_values(&b.to_values()))
        .collect();
    assert_eq!(first.price.to_bits(), reduce(&p, &copy).price.to_bits());
}

#[test]
fn validation_names_the_key() {
    let msg = |e: McError| e.to_string();
    assert_eq!(
        msg(Model::gbm(100.0, 0.0, 0.0, -0.1).unwrap_err()),
        "`sigma` must be > 0, got -0.1"
    );
    assert!(msg(Model::seed(0.0, 0.0, 0.2).unwrap_err()).starts_with("`s0` must be > 0"));
    assert!(msg(Model::seed(100.0, f64::NAN, 0.2).unwrap_err()).contains("`mu` must be a finite"));
    assert!(msg(Model::gbm(100.0, f64::INFINITY, 0.0, 0.2).unwrap_err()).contains("`r`"));
    let call = OptionType::Call;
    let e = OptionSpec::new(Payoff::European, call, -1.0, 1.0, 10).unwrap_err();
    assert_eq!(msg(e), "`strike` must be >= 0, got -1");
    let e = OptionSpec::new(Payoff::European, call, 1.0, 0.0, 10).unwrap_err();
    assert!(msg(e).starts_with("`maturity` must be > 0"));
    let e = OptionSpec::new(Payoff::European, call, 1.0, 1.0, 0).unwrap_err();
    assert_eq!(msg(e), "`steps` must be >= 1, got 0");
    let one_step = OptionSpec::new(Payoff::European, call, 1.0, 1.0, 1).unwrap();
    let e = Pricing::new(
        Model::seed(1.0, 0.0, 0.1).unwrap(),
        one_step.clone(),
        Estimator::Plain,
    );
    assert!(msg(e.unwrap_err()).starts_with("`steps` must be >= 2 under model \"seed\""));
    assert!(Pricing::new(
        Model::gbm(1.0, 0.0, 0.0, 0.1).unwrap(),
        one_step,
        Estimator::Plain
    )
    .is_ok());
    // A model written as a literal is checked too.
    let bad = Model::Gbm {
        s0: -5.0,
        r: 0.0,
        q: 0.0,
        sigma: 0.2,
    };
    let opt = OptionSpec::new(Payoff::AsianArithmetic, call, 1.0, 1.0, 10).unwrap();
    assert!(msg(Pricing::new(bad, opt.clone(), Estimator::Plain).unwrap_err()).contains("`s0`"));
    let e = Pricing::new(
        Model::seed(1.0, 0.0, 0.1).unwrap(),
        opt,
        Estimator::ControlVariate,
    );
    let m = msg(e.unwrap_err());
    assert!(
        m.starts_with("`estimator`") && m.contains("asian_arithmetic") && m.contains("gbm"),
        "{m}"
    );
    let geo = OptionSpec::new(Payoff::AsianGeometric, call, 1.0, 1.0, 10).unwrap();
    assert!(Pricing::new(
        Model::gbm(1.0, 0.0, 0.0, 0.1).unwrap(),
        geo,
        Estimator::ControlVariate
    )
    .is_err());
    let p = notebook_asian(Estimator::Plain);
    assert!(msg(p.check_paths(1).unwrap_err()).starts_with("`paths` must be at least 2"));
    let e = Estimator::from_name("control-variate").unwrap_err();
    assert!(msg(e).starts_with("`estimator` must be one of"));
}

#[test]
fn names_and_serde_round_trip_through_validation() {
    let names: Vec<&str> = Payoff::ALL
        .iter()
        .map(|p| p.name())
        .chain(OptionType::ALL.iter().map(|o| o.name()))
        .chain(Estimator::ALL.iter().map(|e| e.name()))
        .collect();
    assert_eq!(
        names,
        [
            "european",
            "asian_arithmetic",
            "asian_geometric",
            "call",
            "put",
            "plain",
            "antithetic",
            "control_variate"
        ]
    );
    for e in Estimator::ALL {
        assert_eq!(Estimator::from_name(e.name()), Ok(*e));
    }
    assert_eq!(Model::seed(1.0, 0.0, 0.1).unwrap().name(), "seed");
    assert_eq!(Model::gbm(1.0, 0.0, 0.0, 0.1).unwrap().name(), "gbm");

    let p = notebook_asian(Estimator::ControlVariate);
    let json = serde_json::to_string(&p).unwrap();
    assert!(
        json.contains("\"gbm\"") && json.contains("\"asian_arithmetic\""),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Pricing>(&json).unwrap(), p);
    let bytes = bincode::serde::encode_to_vec(&p, bincode::config::standard()).unwrap();
    let (back, _): (Pricing, usize) =
        bincode::serde::decode_from_slice(&bytes, bincode::config::standard()).unwrap();
    assert_eq!(back, p);
    // Invalid values are rejected on the way in, with the constructor's message.
    let bad = json.replace("\"sigma\":0.2", "\"sigma\":-0.2");
    let err = serde_json::from_str::<Pricing>(&bad)
        .unwrap_err()
        .to_string();
    assert!(err.contains("`sigma` must be > 0"), "{err}");
    let bad = json.replace("\"asian_arithmetic\"", "\"european\"");
    assert!(serde_json::from_str::<Pricing>(&bad).is_err());
}

#[test]
fn degenerate_counts_do_not_panic() {
    let p = notebook_asian(Estimator::ControlVariate);
    let e = reduce(&p, &[]);
    assert_eq!(e.paths, 0);
    assert!(e.price.is_nan());
    let one = simulate_block(&notebook_asian(Estimator::Plain), &mut task_rng(0, 0), 1);
    let e = reduce(&notebook_asian(Estimator::Plain), &[one]);
    assert!(e.price.is_finite() && e.std_error.is_nan());
    // Deep out of the money: every payoff is 0, the variance ratio is 1, the error 0.
    let far = gbm_pricing(
        Payoff::European,
        OptionType::Call,
        (1.0, 1e6, 0.0, 0.0, 0.1, 1.0),
        1,
        Estimator::Antithetic,
    );
    let e = run(&far, 0, 1, 100);
    assert_eq!(
        (e.price, e.std_error, e.variance_reduction),
        (0.0, 0.0, 1.0)
    );
}

/// Reference prices computed by scripts/reference/asian.py.
fn reference() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/reference/asian.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A block on 2 and 3 threads (cut into pieces, some walked from drawn normals) has the serial
/// block's sums bit for bit, and leaves the stream where the serial block leaves it, for every
/// estimator, both walks and a count that ends in a partial lane group.
#[test]
fn blocks_on_threads_are_the_serial_blocks() {
    let european = gbm_pricing(
        Payoff::European,
        OptionType::Put,
        (100.0, 95.0, 0.02, 0.01, 0.3, 1.0),
        12,
        Estimator::Antithetic,
    );
    let cases = [
        seed_pricing(Payoff::AsianArithmetic, 100.0, Estimator::Plain),
        notebook_asian(Estimator::ControlVariate),
        notebook_asian(Estimator::Antithetic),
        european,
    ];
    for p in &cases {
        let mut rng = task_rng(5, 2);
        let serial = simulate_block(p, &mut rng, 1_003);
        let after = rng.next_u64();
        for threads in [2, 3] {
            let pool = crate::par::Pool::new(threads).unwrap();
            let mut rng = task_rng(5, 2);
            let spread = pool.install(|| simulate_block(p, &mut rng, 1_003));
            assert_eq!(serial, spread, "{threads} threads");
            assert_eq!(after, rng.next_u64(), "stream position, {threads} threads");
        }
    }
}
