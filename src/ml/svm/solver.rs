//! The SMO decomposition solver of one binary C-SVC dual (Fan, Chen & Lin 2005; Chang & Lin,
//! LIBSVM): min ½ αᵀQα − eᵀα subject to yᵀα = 0, 0 ≤ α_t ≤ C_t, with Q_ts = y_t y_s K_ts.
//! Working pairs by second-order selection (WSS 2), shrinking with one unshrink near the end,
//! gradient reconstruction from Ḡ, the bias as libsvm computes it, and a warm start from a
//! feasible α with its gradient.
//!
//! It keeps F_t = −y_t ∇_t f(α) instead of the gradient (so the maximal violating pair is
//! argmax over I_up and argmin over I_low of F, and a step δ on the pair changes F by
//! −δ (K_i − K_j)), and H_t = −y_t Ḡ_t = −Σ_{s at upper bound} C_s y_s K_ts.

use super::cache::KernelCache;
use super::lanes::{self, KernelValue};
use super::spread;

const TAU: f64 = 1e-12;

const AT_LOWER: u8 = 0;
const AT_UPPER: u8 = 1;
const FREE: u8 = 2;

/// Stopping and shrinking settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SolverSettings {
    pub tol: f64,
    pub shrinking: bool,
    pub max_iter: Option<u64>,
}

/// A feasible starting point, in the problem's row order.
#[derive(Debug, Clone)]
pub(crate) enum Start {
    /// α = 0.
    Cold,
    /// α with F and H exact for it (as a previous [`Solution`] gives them, possibly rescaled).
    Exact {
        alpha: Vec<f64>,
        f: Vec<f64>,
        h: Vec<f64>,
    },
}

/// The optimum, in the problem's row order.
#[derive(Debug, Clone)]
pub(crate) struct Solution {
    pub alpha: Vec<f64>,
    pub f: Vec<f64>,
    pub h: Vec<f64>,
    pub rho: f64,
    pub n_iter: u64,
    pub converged: bool,
}

struct Smo {
    l: usize,
    active: usize,
    unshrink: bool,
    tol: f64,
    y: Vec<f64>,
    c: Vec<f64>,
    alpha: Vec<f64>,
    f: Vec<f64>,
    h: Vec<f64>,
    status: Vec<u8>,
    /// Membership of I_up (resp. I_low), as the vector loops read it.
    in_up: Vec<bool>,
    in_low: Vec<bool>,
    /// The rank's threads (`--threads`), which the long loops are spread over.
    threads: usize,
}

/// Whether a row with label `y` and bound `status` is in I_up (its α can move so that y α grows)
/// and in I_low (so that y α shrinks).
fn membership(y: f64, status: u8) -> (bool, bool) {
    match (y > 0.0, status) {
        (_, FREE) => (true, true),
        (true, AT_LOWER) | (false, AT_UPPER) => (true, false),
        _ => (false, true),
    }
}

/// Solves the problem whose rows are those of `cache` (in the order they were given to it), with
/// labels `y` (±1) and upper bounds `c`.
pub(crate) fn solve<V: KernelValue>(
    cache: &mut KernelCache<V>,
    y: &[f64],
    c: &[f64],
    settings: SolverSettings,
    start: Start,
) -> Solution {
    let l = cache.len();
    assert_eq!(y.len(), l);
    assert_eq!(c.len(), l);
    if matches!(start, Start::Cold) {
        // libsvm's path, which a kernel that is not positive semi-definite depends on, starts
        // from the rows in the order given.
        cache.restore_order();
    }
    let perm = cache.perm().to_vec();
    let yp: Vec<f64> = perm.iter().map(|&r| y[r]).collect();
    let cp: Vec<f64> = perm.iter().map(|&r| c[r]).collect();
    let (alpha, f, h) = match start {
        Start::Cold => (vec![0.0; l], yp.clone(), vec![0.0; l]),
        Start::Exact { alpha, f, h } => (
            perm.iter().map(|&r| alpha[r]).collect(),
            perm.iter().map(|&r| f[r]).collect(),
            perm.iter().map(|&r| h[r]).collect(),
        ),
    };
    let mut s = Smo {
        l,
        active: l,
        unshrink: false,
        tol: settings.tol,
        status: vec![AT_LOWER; l],
        in_up: vec![false; l],
        in_low: vec![false; l],
        y: yp,
        c: cp,
        alpha,
        f,
        h,
        threads: crate::par::threads(),
    };
    for t in 0..l {
        s.update_status(t);
    }
    let (n_iter, converged) = crate::par::with_team(|| s.run(cache, settings));
    if s.active < l {
        s.reconstruct(cache);
        s.active = l;
    }
    let rho = s.rho();
    let perm = cache.perm();
    let mut out = Solution {
        alpha: vec![0.0; l],
        f: vec![0.0; l],
        h: vec![0.0; l],
        rho,
        n_iter,
        converged,
    };
    for (p, &r) in perm.iter().enumerate() {
        out.alpha[r] = s.alpha[p];
        out.f[r] = s.f[p];
        out.h[r] = s.h[p];
    }
    out
}

impl Smo {
    fn update_status(&mut self, t: usize) {
        let st = if self.alpha[t] >= self.c[t] {
            AT_UPPER
        } else if self.alpha[t] <= 0.0 {
            AT_LOWER
        } else {
            FREE
        };
        self.status[t] = st;
        (self.in_up[t], self.in_low[t]) = membership(self.y[t], st);
    }

    /// Applies position exchanges (disjoint pairs) to every per-position array and the cache.
    fn swap_many<V: KernelValue>(&mut self, cache: &mut KernelCache<V>, pairs: &[(usize, usize)]) {
        cache.swap_many(pairs);
        for &(a, b) in pairs {
            self.y.swap(a, b);
            self.c.swap(a, b);
            self.alpha.swap(a, b);
            self.f.swap(a, b);
            self.h.swap(a, b);
            self.status.swap(a, b);
            self.in_up.swap(a, b);
            self.in_low.swap(a, b);
        }
    }

    fn run<V: KernelValue>(
        &mut self,
        cache: &mut KernelCache<V>,
        settings: SolverSettings,
    ) -> (u64, bool) {
        let l = self.l;
        let mut iter: u64 = 0;
        let mut counter = l.min(1000) + 1;
        // argmax of F over I_up on the active set, as the last step left it.
        let mut top: Option<(f64, usize)> = None;
        loop {
            if let Some(m) = settings.max_iter {
                if iter >= m {
                    return (iter, false);
                }
            }
            counter -= 1;
            if counter == 0 {
                counter = l.min(1000);
                if settings.shrinking {
                    self.shrink(cache);
                    top = None;
                }
            }
            let (i, j) = match self.select(cache, top.take()) {
                Some(pair) => pair,
                None => {
                    self.reconstruct(cache);
                    self.active = l;
                    match self.select(cache, None) {
                        Some(pair) => {
                            counter = 1;
                            pair
                        }
                        None => return (iter, true),
                    }
                }
            };
            iter += 1;
            top = Some(self.step(cache, i, j));
        }
    }

    /// WSS 2: i maximises F over I_up (`top` if already known); j minimises −b²/a over
    /// t ∈ I_low with b = F_i − F_t > 0. None when the maximal violation is below tol (optimal on
    /// the active set).
    fn select<V: KernelValue>(
        &self,
        cache: &mut KernelCache<V>,
        top: Option<(f64, usize)>,
    ) -> Option<(usize, usize)> {
        let n = self.active;
        let (gmax, i) = top.unwrap_or_else(|| lanes::argmax(&self.f[..n], &self.in_up[..n]));
        if i == usize::MAX {
            return None;
        }
        cache.ensure(i, n, None);
        let kd = cache.diag();
        let (j, gmax2) = spread::select_j(
            self.threads,
            &self.f[..n],
            &self.in_low[..n],
            &kd[..n],
            &cache.row(i)[..n],
            kd[i],
            gmax,
            TAU,
        );
        if gmax + gmax2 < self.tol || j == usize::MAX {
            return None;
        }
        Some((i, j))
    }

    /// Optimises the pair (i, j) and updates F, the statuses and H.
    /// Returns the argmax of F over I_up after the update (for the next selection).
    fn step<V: KernelValue>(
        &mut self,
        cache: &mut KernelCache<V>,
        i: usize,
        j: usize,
    ) -> (f64, usize) {
        let n = self.active;
        let l = self.l;
        cache.ensure(i, n, None);
        cache.ensure(j, n, Some(i));
        let (yi, yj) = (self.y[i], self.y[j]);
        let (ci, cj) = (self.c[i], self.c[j]);
        let (ai, aj) = (self.alpha[i], self.alpha[j]);
        let kd = cache.diag();
        let mut quad = kd[i] + kd[j] - 2.0 * cache.row(i)[j].to_f64();
        if quad <= 0.0 {
            quad = TAU;
        }
        // α_i += y_i δ, α_j −= y_j δ keeps yᵀα; δ > 0 decreases the objective.
        let room_i = if yi > 0.0 { ci - ai } else { ai };
        let room_j = if yj > 0.0 { aj } else { cj - aj };
        let delta = (self.f[i] - self.f[j]) / quad;
        let moved = delta.min(room_i).min(room_j);
        let new_ai = if moved == room_i {
            if yi > 0.0 {
                ci
            } else {
                0.0
            }
        } else {
            ai + yi * moved
        };
        let new_aj = if moved == room_j {
            if yj > 0.0 {
                0.0
            } else {
                cj
            }
        } else {
            aj - yj * moved
        };
        let new_ai = new_ai.clamp(0.0, ci);
        let new_aj = new_aj.clamp(0.0, cj);
        self.alpha[i] = new_ai;
        self.alpha[j] = new_aj;
        let a = yi * (new_ai - ai);
        let b = yj * (new_aj - aj);
        let (ui, uj) = (self.status[i] == AT_UPPER, self.status[j] == AT_UPPER);
        self.update_status(i);
        self.update_status(j);
        let top = spread::update_argmax(
            self.threads,
            &mut self.f[..n],
            &cache.row(i)[..n],
            &cache.row(j)[..n],
            a,
            b,
            &self.in_up[..n],
        );
        if ui != (self.status[i] == AT_UPPER) {
            cache.ensure(i, l, Some(j));
            let w = if ui { ci * yi } else { -ci * yi };
            spread::axpy(self.threads, &mut self.h, w, cache.row(i));
        }
        if uj != (self.status[j] == AT_UPPER) {
            cache.ensure(j, l, Some(i));
            let w = if uj { cj * yj } else { -cj * yj };
            spread::axpy(self.threads, &mut self.h, w, cache.row(j));
        }
        top
    }

    /// F for the inactive positions from H and the free α (which are all active).
    fn reconstruct<V: KernelValue>(&mut self, cache: &mut KernelCache<V>) {
        let (n, l) = (self.active, self.l);
        if n == l {
            return;
        }
        for t in n..l {
            self.f[t] = self.y[t] + self.h[t];
        }
        let free: Vec<usize> = (0..n).filter(|&t| self.status[t] == FREE).collect();
        if free.len() * l > 2 * n * (l - n) {
            for t in n..l {
                cache.ensure(t, n, None);
                let kt = cache.row(t);
                let s: f64 = free
                    .iter()
                    .map(|&u| self.alpha[u] * self.y[u] * kt[u].to_f64())
                    .sum();
                self.f[t] -= s;
            }
        } else {
            for &u in &free {
                cache.ensure(u, l, None);
                // f − w·k, as f + (−w)·k: the same bits.
                let w = -self.alpha[u] * self.y[u];
                spread::axpy(self.threads, &mut self.f[n..l], w, &cache.row(u)[n..l]);
            }
        }
    }

    fn shrink<V: KernelValue>(&mut self, cache: &mut KernelCache<V>) {
        let mut gmax1 = f64::NEG_INFINITY; // max F over I_up
        let mut gmax2 = f64::NEG_INFINITY; // max −F over I_low
        for t in 0..self.active {
            if self.in_up[t] {
                gmax1 = gmax1.max(self.f[t]);
            }
            if self.in_low[t] {
                gmax2 = gmax2.max(-self.f[t]);
            }
        }
        if !self.unshrink && gmax1 + gmax2 <= 10.0 * self.tol {
            self.unshrink = true;
            self.reconstruct(cache);
            self.active = self.l;
        }
        // Only a position in one of I_up, I_low can leave the active set.
        let out = |s: &Smo, t: usize| match (s.in_up[t], s.in_low[t]) {
            (true, false) => -s.f[t] > gmax2,
            (false, true) => s.f[t] > gmax1,
            _ => false,
        };
        let mut pairs = Vec::new();
        let mut t = 0;
        while t < self.active {
            if out(self, t) {
                self.active -= 1;
                while self.active > t {
                    if !out(self, self.active) {
                        pairs.push((t, self.active));
                        break;
                    }
                    self.active -= 1;
                }
            }
            t += 1;
        }
        self.swap_many(cache, &pairs);
    }

    /// The bias as libsvm computes it: the mean of y_t ∇_t over free α, else the middle of the
    /// feasible interval.
    fn rho(&self) -> f64 {
        let (mut ub, mut lb) = (f64::INFINITY, f64::NEG_INFINITY);
        let (mut sum, mut nfree) = (0.0, 0usize);
        for t in 0..self.active {
            let yg = -self.f[t];
            match (self.status[t], self.y[t] > 0.0) {
                (AT_UPPER, false) | (AT_LOWER, true) => ub = ub.min(yg),
                (AT_UPPER, true) | (AT_LOWER, false) => lb = lb.max(yg),
                _ => {
                    sum += yg;
                    nfree += 1;
                }
            }
        }
        if nfree > 0 {
            sum / nfree as f64
        } else {
            (ub + lb) / 2.0
        }
    }
}
