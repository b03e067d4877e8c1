//! Path simulation: one block of paths from one random stream, summarised as [`BlockSums`], the
//! unit of work and of reduction. The hot loop draws normals for a chunk of steps into a small
//! buffer (ziggurat, one `u64` each) and then advances several independent paths side by side, so
//! the serial price recursion of one path never limits throughput. No I/O, no MPI.
//!
//! With `--threads` a block is cut into fixed pieces of paths walked on the rank's threads, the
//! normals drawn from the block's one stream in path order and the finished paths summed in path
//! order, so the sums are the serial sums bit for bit (see [`run_units_spread`]).

use serde::{Deserialize, Serialize};

use super::exp::{exp, exp_in_range, FAST_RANGE};
use super::normal::Ziggurat;
use super::params::{Estimator, Model, OptionType, Payoff, Pricing, SEED_DAYS_PER_YEAR};
use crate::rng::TaskRng;

/// Sufficient statistics of one block of paths. Sums are plain `f64` sums in path order; blocks
/// combine by adding fields (see [`BlockSums::add`]).
///
/// - `n`: samples (paths, or pairs under `antithetic`); `paths`: individual paths simulated.
/// - `sum_y`, `sum_y2`: the estimator's sample `Y` (the discounted payoff; the pair mean under
///   `antithetic`; the arithmetic-Asian payoff under `control_variate`) and its square.
/// - `sum_x`, `sum_x2`, `sum_xy`: the control `X` (discounted geometric-Asian payoff of the same
///   path) under `control_variate`; zero otherwise.
/// - `sum_plain`, `sum_plain2`: the single-path discounted payoff over every path, for the
///   variance reduction against plain Monte Carlo.
/// - `sum_terminal`, `sum_terminal2`: the last simulated price of every path, and its square.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct BlockSums {
    pub n: u64,
    pub paths: u64,
    pub sum_y: f64,
    pub sum_y2: f64,
    pub sum_x: f64,
    pub sum_x2: f64,
    pub sum_xy: f64,
    pub sum_plain: f64,
    pub sum_plain2: f64,
    pub sum_terminal: f64,
    pub sum_terminal2: f64,
}

const FIELD_NAMES: [&str; 11] = [
    "n",
    "paths",
    "sum_y",
    "sum_y2",
    "sum_x",
    "sum_x2",
    "sum_xy",
    "sum_plain",
    "sum_plain2",
    "sum_terminal",
    "sum_terminal2",
];

impl BlockSums {
    /// Column names, in the order of [`BlockSums::to_values`].
    pub fn field_names() -> &'static [&'static str] {
        &FIELD_NAMES
    }

    /// The fields as one row of `f64` (counts are below 2^53, so they convert exactly).
    pub fn to_values(&self) -> Vec<f64> {
        vec![
            self.n as f64,
            self.paths as f64,
            self.sum_y,
            self.sum_y2,
            self.sum_x,
            self.sum_x2,
            self.sum_xy,
            self.sum_plain,
            self.sum_plain2,
            self.sum_terminal,
            self.sum_terminal2,
        ]
    }

    /// Inverse of [`BlockSums::to_values`].
    ///
    /// # Panics
    /// If `values` does not have one entry per [`BlockSums::field_names`] (a caller bug: rows are
    /// written from `to_values`).
    pub fn from_values(values: &[f64]) -> Self {
        assert_eq!(
            values.len(),
            FIELD_NAMES.len(),
            "BlockSums::from_values needs {} values ({:?})",
            FIELD_NAMES.len(),
            FIELD_NAMES
        );
        BlockSums {
            n: values[0] as u64,
            paths: values[1] as u64,
            sum_y: values[2],
            sum_y2: values[3],
            sum_x: values[4],
            sum_x2: values[5],
            sum_xy: values[6],
            sum_plain: values[7],
            sum_plain2: values[8],
            sum_terminal: values[9],
            sum_terminal2: values[10],
        }
    }

    /// Adds `other` into `self`, field by field.
    pub fn add(&mut self, other: &BlockSums) {
        self.n += other.n;
        self.paths += other.paths;
        self.sum_y += other.sum_y;
        self.sum_y2 += other.sum_y2;
        self.sum_x += other.sum_x;
        self.sum_x2 += other.sum_x2;
        self.sum_xy += other.sum_xy;
        self.sum_plain += other.sum_plain;
        self.sum_plain2 += other.sum_plain2;
        self.sum_terminal += other.sum_terminal;
        self.sum_terminal2 += other.sum_terminal2;
    }

    #[inline]
    fn add_path(&mut self, plain: f64, last: f64) {
        self.paths += 1;
        self.sum_plain += plain;
        self.sum_plain2 += plain * plain;
        self.sum_terminal += last;
        self.sum_terminal2 += last * last;
    }

    #[inline]
    fn add_sample(&mut self, y: f64) {
        self.n += 1;
        self.sum_y += y;
        self.sum_y2 += y * y;
    }
}

/// Paths advanced side by side (independent normals each).
const LANES: usize = 4;
/// Steps whose normals are drawn at once: `CHUNK * LANES * 8` bytes = 16 KiB stays in L1.
const CHUNK: usize = 512;

/// What a finished path contributes: its last price and both averages (when computed).
#[derive(Clone, Copy, Default)]
struct PathEnd {
    last: f64,
    arith: f64,
    geo: f64,
}

/// One model's step recursion. The state is the price (seed) or the log price ratio (gbm).
trait Walk: Sync {
    /// Whether the averages include the starting price (the seed walk's `s0`).
    const AVERAGE_INCLUDES_START: bool;
    /// Whether `ARITH` walks store the states of a chunk and add their levels in a second,
    /// vectorisable pass ([`Walk::add_levels`]) instead of inside the step loop.
    const SPLIT_LEVELS: bool;
    fn start(&self) -> f64;
    fn shocks(&self) -> usize;
    /// State after a shock driven by `z`; `down` is the antithetic partner driven by `-z`.
    fn up(&self, state: f64, z: f64) -> f64;
    fn down(&self, state: f64, z: f64) -> f64;
    /// Price of a state, up to the factor applied in `end`.
    fn level(&self, state: f64) -> f64;
    /// Adds the levels of lane-interleaved `states` into `acc` (lane `l` holds `states[k H + l]`).
    #[inline(always)]
    fn add_levels<const H: usize>(&self, states: &[f64], acc: &mut [f64; H]) {
        for s in states.chunks_exact(H) {
            for l in 0..H {
                acc[l] += self.level(s[l]);
            }
        }
    }
    /// Log price of a state, up to the shift applied in `end`.
    fn log_level(&self, state: f64) -> f64;
    fn end(&self, state: f64, level_sum: f64, log_sum: f64) -> PathEnd;
}

/// The notebook's walk: `s <- s (1 + e)`, `e = mu dt + sigma sqrt(dt) z`.
struct SeedWalk {
    s0: f64,
    /// `1 + mu dt`
    a: f64,
    /// `sigma sqrt(dt)`
    b: f64,
    shocks: usize,
    inv_count: f64,
}

impl Walk for SeedWalk {
    const AVERAGE_INCLUDES_START: bool = true;
    const SPLIT_LEVELS: bool = false;
    #[inline(always)]
    fn start(&self) -> f64 {
        self.s0
    }
    #[inline(always)]
    fn shocks(&self) -> usize {
        self.shocks
    }
    #[inline(always)]
    fn up(&self, s: f64, z: f64) -> f64 {
        s * (self.a + self.b * z)
    }
    #[inline(always)]
    fn down(&self, s: f64, z: f64) -> f64 {
        s * (self.a - self.b * z)
    }
    #[inline(always)]
    fn level(&self, s: f64) -> f64 {
        s
    }
    #[inline(always)]
    fn log_level(&self, s: f64) -> f64 {
        // A price <= 0 (possible only for huge sigma, as in the notebook) gives NaN here.
        s.ln()
    }
    #[inline(always)]
    fn end(&self, s: f64, level_sum: f64, log_sum: f64) -> PathEnd {
        PathEnd {
            last: s,
            arith: level_sum * self.inv_count,
            geo: (log_sum * self.inv_count).exp(),
        }
    }
}

/// Exact GBM in log space: `x <- x + (r - q - sigma^2/2) dt + sigma sqrt(dt) z`, `S = s0 e^x`.
struct GbmWalk {
    s0: f64,
    drift: f64,
    vol: f64,
    shocks: usize,
    inv_count: f64,
}

impl Walk for GbmWalk {
    const AVERAGE_INCLUDES_START: bool = false;
    const SPLIT_LEVELS: bool = true;
    #[inline(always)]
    fn start(&self) -> f64 {
        0.0
    }
    #[inline(always)]
    fn shocks(&self) -> usize {
        self.shocks
    }
    #[inline(always)]
    fn up(&self, x: f64, z: f64) -> f64 {
        x + (self.drift + self.vol * z)
    }
    #[inline(always)]
    fn down(&self, x: f64, z: f64) -> f64 {
        x + (self.drift - self.vol * z)
    }
    #[inline(always)]
    fn level(&self, x: f64) -> f64 {
        exp(x)
    }
    #[inline(always)]
    fn add_levels<const H: usize>(&self, states: &[f64], acc: &mut [f64; H]) {
        // One range check per chunk keeps the exponential loop branch-free.
        let mut out_of_range = false;
        for x in states {
            out_of_range |= x.abs() >= FAST_RANGE || x.is_nan();
        }
        if out_of_range {
            for s in states.chunks_exact(H) {
                for l in 0..H {
                    acc[l] += s[l].exp();
                }
            }
        } else {
            for s in states.chunks_exact(H) {
                for l in 0..H {
                    acc[l] += exp_in_range(s[l]);
                }
            }
        }
    }
    #[inline(always)]
    fn log_level(&self, x: f64) -> f64 {
        x
    }
    #[inline(always)]
    fn end(&self, x: f64, level_sum: f64, log_sum: f64) -> PathEnd {
        PathEnd {
            last: self.s0 * x.exp(),
            arith: self.s0 * level_sum * self.inv_count,
            geo: self.s0 * (log_sum * self.inv_count).exp(),
        }
    }
}

/// Advances `H` paths (and, with `ANTI`, their `H` antithetic partners) to the end.
/// `ARITH`/`GEO` switch the running sums for the averages on.
#[inline(always)]
fn walk_group<
    W: Walk,
    S: Shocks,
    const H: usize,
    const ANTI: bool,
    const ARITH: bool,
    const GEO: bool,
>(
    w: &W,
    zig: &Ziggurat,
    rng: &mut S,
    buf: &mut [f64],
    down_buf: &mut [f64],
) -> ([PathEnd; H], [PathEnd; H]) {
    let s = w.start();
    let (lev0, log0) = if W::AVERAGE_INCLUDES_START {
        (
            if ARITH { w.level(s) } else { 0.0 },
            if GEO { w.log_level(s) } else { 0.0 },
        )
    } else {
        (0.0, 0.0)
    };
    let (mut su, mut au, mut gu) = ([s; H], [lev0; H], [log0; H]);
    let (mut sd, mut ad, mut gd) = ([s; H], [lev0; H], [log0; H]);
    let mut left = w.shocks();
    while left > 0 {
        let len = left.min(CHUNK);
        let zs = &mut buf[..len * H];
        rng.fill(zig, zs);
        if W::SPLIT_LEVELS && ARITH {
            // Pass 1 advances the states and keeps them (over the normals, and in `down_buf`
            // for the partners); pass 2 adds their levels.
            let ds = &mut down_buf[..len * H];
            for (z, d) in zs.chunks_exact_mut(H).zip(ds.chunks_exact_mut(H)) {
                let z: &mut [f64; H] = z.try_into().unwrap();
                let d: &mut [f64; H] = d.try_into().unwrap();
                for l in 0..H {
                    let zl = z[l];
                    su[l] = w.up(su[l], zl);
                    z[l] = su[l];
                    if GEO {
                        gu[l] += w.log_level(su[l]);
                    }
                    if ANTI {
                        sd[l] = w.down(sd[l], zl);
                        d[l] = sd[l];
                        if GEO {
                            gd[l] += w.log_level(sd[l]);
                        }
                    }
                }
            }
            w.add_levels(zs, &mut au);
            if ANTI {
                w.add_levels(ds, &mut ad);
            }
        } else {
            for z in zs.chunks_exact(H) {
                let z: &[f64; H] = z.try_into().unwrap();
                for l in 0..H {
                    su[l] = w.up(su[l], z[l]);
                    if ARITH {
                        au[l] += w.level(su[l]);
                    }
                    if GEO {
                        gu[l] += w.log_level(su[l]);
                    }
                    if ANTI {
                        sd[l] = w.down(sd[l], z[l]);
                        if ARITH {
                            ad[l] += w.level(sd[l]);
                        }
                        if GEO {
                            gd[l] += w.log_level(sd[l]);
                        }
                    }
                }
            }
        }
        left -= len;
    }
    let mut up = [PathEnd::default(); H];
    let mut down = [PathEnd::default(); H];
    for l in 0..H {
        up[l] = w.end(su[l], au[l], gu[l]);
        if ANTI {
            down[l] = w.end(sd[l], ad[l], gd[l]);
        }
    }
    (up, down)
}

/// Where a walk takes its normals from: the block's stream, or normals drawn from it earlier.
trait Shocks {
    fn fill(&mut self, zig: &Ziggurat, out: &mut [f64]);
}

impl Shocks for TaskRng {
    #[inline(always)]
    fn fill(&mut self, zig: &Ziggurat, out: &mut [f64]) {
        zig.fill(self, out);
    }
}

/// Normals drawn ahead of the walk, read back in the order they were drawn.
struct Drawn {
    normals: Vec<f64>,
    at: usize,
}

impl Shocks for Drawn {
    #[inline(always)]
    fn fill(&mut self, _: &Ziggurat, out: &mut [f64]) {
        out.copy_from_slice(&self.normals[self.at..self.at + out.len()]);
        self.at += out.len();
    }
}

/// Runs `units` paths (or antithetic pairs) in groups of `LANES`, handing each finished path
/// (and its partner) to `sink` in a fixed order; on the rank's threads when the block is long.
fn run_units<W: Walk, const ANTI: bool, const ARITH: bool, const GEO: bool>(
    w: &W,
    rng: &mut TaskRng,
    units: u64,
    sink: impl FnMut(&PathEnd, &PathEnd),
) {
    let threads = crate::par::threads();
    if threads > 1 && units >= 2 * UNIT_PIECE {
        run_units_spread::<W, ANTI, ARITH, GEO>(w, rng, units, threads, sink);
    } else {
        walk_units::<W, _, ANTI, ARITH, GEO>(w, rng, units, sink);
    }
}

/// The serial walk of `units` paths (or pairs), normals from `rng`.
fn walk_units<W: Walk, S: Shocks, const ANTI: bool, const ARITH: bool, const GEO: bool>(
    w: &W,
    rng: &mut S,
    units: u64,
    mut sink: impl FnMut(&PathEnd, &PathEnd),
) {
    let zig = Ziggurat::get();
    let mut buf = vec![0.0; CHUNK * LANES];
    let mut down_buf = vec![0.0; CHUNK * LANES];
    for _ in 0..units / LANES as u64 {
        let (up, down) =
            walk_group::<W, S, LANES, ANTI, ARITH, GEO>(w, zig, rng, &mut buf, &mut down_buf);
        for l in 0..LANES {
            sink(&up[l], &down[l]);
        }
    }
    for _ in 0..units % LANES as u64 {
        let (up, down) =
            walk_group::<W, S, 1, ANTI, ARITH, GEO>(w, zig, rng, &mut buf, &mut down_buf);
        sink(&up[0], &down[0]);
    }
}

/// The ends of `units` paths (or pairs) walked from `rng`, in path order.
fn walk_piece<W: Walk, S: Shocks, const ANTI: bool, const ARITH: bool, const GEO: bool>(
    w: &W,
    rng: &mut S,
    units: u64,
) -> Vec<(PathEnd, PathEnd)> {
    let mut ends = Vec::with_capacity(units as usize);
    walk_units::<W, S, ANTI, ARITH, GEO>(w, rng, units, |u, d| ends.push((*u, *d)));
    ends
}

/// Paths (or pairs) per piece of a block spread over threads: a multiple of `LANES`, so every
/// piece but the last walks whole groups as the serial loop does, and the last one the serial
/// loop's tail.
const UNIT_PIECE: u64 = 8 * LANES as u64;

/// [`walk_units`] in pieces on the rank's threads, with the serial loop's numbers.
///
/// The block has one stream and every path takes `shocks` normals of it in path order, so only
/// one thread can draw them. That thread goes through the pieces in order: it draws a piece's
/// normals into a buffer and hands the walk to another thread, or, when enough pieces already
/// wait for a thread (which bounds the memory held in drawn normals), walks the piece itself
/// straight from the stream. Either way the stream advances exactly as in the serial loop; the
/// finished paths are summed in path order at the end.
fn run_units_spread<W: Walk, const ANTI: bool, const ARITH: bool, const GEO: bool>(
    w: &W,
    rng: &mut TaskRng,
    units: u64,
    threads: usize,
    mut sink: impl FnMut(&PathEnd, &PathEnd),
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let zig = Ziggurat::get();
    let per_unit = w.shocks();
    let n_pieces = units.div_ceil(UNIT_PIECE) as usize;
    let ends: Vec<std::sync::OnceLock<Vec<(PathEnd, PathEnd)>>> =
        (0..n_pieces).map(|_| std::sync::OnceLock::new()).collect();
    let waiting = AtomicUsize::new(0);
    rayon::scope(|scope| {
        for (p, slot) in ends.iter().enumerate() {
            let len = UNIT_PIECE.min(units - p as u64 * UNIT_PIECE);
            if waiting.load(Ordering::Acquire) >= 2 * threads {
                let _ = slot.set(walk_piece::<W, _, ANTI, ARITH, GEO>(w, rng, len));
                continue;
            }
            let mut normals = vec![0.0; len as usize * per_unit];
            zig.fill(rng, &mut normals);
            waiting.fetch_add(1, Ordering::AcqRel);
            let waiting = &waiting;
            scope.spawn(move |_| {
                let mut drawn = Drawn { normals, at: 0 };
                let _ = slot.set(walk_piece::<W, _, ANTI, ARITH, GEO>(w, &mut drawn, len));
                waiting.fetch_sub(1, Ordering::AcqRel);
            });
        }
    });
    for slot in ends {
        for (up, down) in slot.into_inner().expect("every piece ran") {
            sink(&up, &down);
        }
    }
}

#[inline(always)]
fn payoff(option_type: OptionType, a: f64, k: f64) -> f64 {
    match option_type {
        OptionType::Call => (a - k).max(0.0),
        OptionType::Put => (k - a).max(0.0),
    }
}

/// Dispatches on the estimator and which averages the payoff needs.
fn simulate_with<W: Walk>(p: &Pricing, w: &W, rng: &mut TaskRng, paths: u64) -> BlockSums {
    let o = &p.option;
    let (kind, k, disc) = (o.option_type, o.strike, p.discount());
    let select = |e: &PathEnd| match o.payoff {
        Payoff::European => e.last,
        Payoff::AsianArithmetic => e.arith,
        Payoff::AsianGeometric => e.geo,
    };
    let mut bs = BlockSums::default();
    match p.estimator {
        Estimator::Plain => {
            let sink = |e: &PathEnd, _: &PathEnd| {
                let y = disc * payoff(kind, select(e), k);
                bs.add_sample(y);
                bs.add_path(y, e.last);
            };
            match o.payoff {
                Payoff::European => run_units::<W, false, false, false>(w, rng, paths, sink),
                Payoff::AsianArithmetic => run_units::<W, false, true, false>(w, rng, paths, sink),
                Payoff::AsianGeometric => run_units::<W, false, false, true>(w, rng, paths, sink),
            }
        }
        Estimator::Antithetic => {
            // An odd request is rounded up to whole pairs; `paths` reports what ran.
            let pairs = paths.div_ceil(2);
            let sink = |u: &PathEnd, d: &PathEnd| {
                let y1 = disc * payoff(kind, select(u), k);
                let y2 = disc * payoff(kind, select(d), k);
                bs.add_sample(0.5 * (y1 + y2));
                bs.add_path(y1, u.last);
                bs.add_path(y2, d.last);
            };
            match o.payoff {
                Payoff::European => run_units::<W, true, false, false>(w, rng, pairs, sink),
                Payoff::AsianArithmetic => run_units::<W, true, true, false>(w, rng, pairs, sink),
                Payoff::AsianGeometric => run_units::<W, true, false, true>(w, rng, pairs, sink),
            }
        }
        Estimator::ControlVariate => {
            // Pricing::new admits this only for the arithmetic Asian under gbm.
            let sink = |e: &PathEnd, _: &PathEnd| {
                let y = disc * payoff(kind, e.arith, k);
                let x = disc * payoff(kind, e.geo, k);
                bs.add_sample(y);
                bs.add_path(y, e.last);
                bs.sum_x += x;
                bs.sum_x2 += x * x;
                bs.sum_xy += x * y;
            };
            run_units::<W, false, true, true>(w, rng, paths, sink);
        }
    }
    bs
}

/// Simulates `paths` paths of `p` from `rng` and returns their sums. The result is a pure
/// function of `p`, the generator's state and `paths`; the generator is advanced.
///
/// Under `antithetic`, `ceil(paths / 2)` pairs are simulated (`BlockSums::paths` says how many
/// paths ran). European options under gbm draw `S_T` in one exact log-normal step (the product of
/// `steps` such steps has the same law), so their cost does not grow with `steps`.
pub fn simulate_block(p: &Pricing, rng: &mut TaskRng, paths: u64) -> BlockSums {
    let o = &p.option;
    let steps = o.steps;
    match p.model {
        Model::Seed { s0, mu, sigma } => {
            let dt = 1.0 / SEED_DAYS_PER_YEAR;
            let w = SeedWalk {
                s0,
                a: 1.0 + mu * dt,
                b: sigma * dt.sqrt(),
                // Pricing::new guarantees steps >= 2; saturate for hand-assigned fields.
                shocks: steps.saturating_sub(1),
                inv_count: 1.0 / steps.max(1) as f64,
            };
            simulate_with(p, &w, rng, paths)
        }
        Model::Gbm { s0, r, q, sigma } => {
            let t = o.maturity;
            let n = if o.payoff == Payoff::European {
                1
            } else {
                steps.max(1)
            };
            let dt = t / n as f64;
            let w = GbmWalk {
                s0,
                drift: (r - q - 0.5 * sigma * sigma) * dt,
                vol: sigma * dt.sqrt(),
                shocks: n,
                inv_count: 1.0 / n as f64,
            };
            simulate_with(p, &w, rng, paths)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_level_pass_matches_scalar_exp_in_and_out_of_range() {
        let w = GbmWalk {
            s0: 1.0,
            drift: 0.0,
            vol: 1.0,
            shocks: 1,
            inv_count: 1.0,
        };
        let inside: Vec<f64> = (0..64).map(|i| -3.0 + 0.1 * i as f64).collect();
        let mut outside = inside.clone();
        outside[5] = -750.0;
        outside[6] = 710.5;
        for states in [inside, outside] {
            let mut acc = [0.0; 4];
            w.add_levels(&states, &mut acc);
            for (l, got) in acc.iter().enumerate() {
                let want: f64 = states.iter().skip(l).step_by(4).map(|x| x.exp()).sum();
                let close = *got == want || (got - want).abs() <= 1e-15 * want;
                assert!(close, "lane {l}: {got} vs {want}");
            }
        }
    }
}
