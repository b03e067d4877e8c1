//! Unconstrained L-BFGS with the stopping rules and line search of L-BFGS-B as SciPy runs it
//! (which scikit-learn's `lbfgs` solver calls): memory 10; the first step along -g scaled to unit
//! length; the inverse-Hessian product by the two-loop recursion with H0 = (s'y / y'y) I
//! (Nocedal & Wright, Algorithm 7.4); the Moré–Thuente line search (MINPACK-2 `dcsrch`/`dcstep`,
//! ftol 1e-3, gtol 0.9, xtol 0.1, at most `max_ls` evaluations); a pair skipped when
//! s'y <= eps * (-s'g_old); a memory reset when a line search fails; stop when the iteration
//! count reaches `max_iter`, when max |g_i| <= `gtol`, or when
//! (f_old - f) / max(|f_old|, |f|, 1) <= `ftol`.

use std::collections::VecDeque;

/// Options, with SciPy's meanings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Number of correction pairs kept (SciPy's `maxcor`).
    pub memory: usize,
    pub max_iter: usize,
    pub max_fun: usize,
    /// Stop when the largest absolute gradient component is at most this (SciPy's `gtol`).
    pub gtol: f64,
    /// Stop when the relative reduction of f is at most this (SciPy's `ftol`).
    pub ftol: f64,
    /// Function evaluations allowed per line search (SciPy's `maxls`).
    pub max_ls: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            memory: 10,
            max_iter: 15000,
            max_fun: 15000,
            gtol: 1e-5,
            ftol: 64.0 * f64::EPSILON,
            max_ls: 20,
        }
    }
}

/// Why the iteration stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// max |g_i| <= gtol.
    GradientTolerance,
    /// The relative reduction of f fell to ftol.
    RelativeReduction,
    /// `max_iter` iterations done.
    MaxIterations,
    /// More than `max_fun` function evaluations.
    MaxEvaluations,
    /// A line search failed with an empty memory (no descent possible from here).
    LineSearchFailed,
}

impl Status {
    pub fn converged(self) -> bool {
        matches!(self, Status::GradientTolerance | Status::RelativeReduction)
    }
}

/// The result of [`minimize`].
#[derive(Debug, Clone)]
pub struct Outcome {
    pub x: Vec<f64>,
    pub f: f64,
    pub max_abs_grad: f64,
    pub n_iter: usize,
    pub n_eval: usize,
    pub status: Status,
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    // four accumulators: vectorisable, and less rounding drift than one long chain
    let mut acc = [0.0f64; 4];
    let chunks = a.len() / 4 * 4;
    for (ca, cb) in a[..chunks].chunks_exact(4).zip(b[..chunks].chunks_exact(4)) {
        for l in 0..4 {
            acc[l] += ca[l] * cb[l];
        }
    }
    let mut tail = 0.0;
    for (x, y) in a[chunks..].iter().zip(&b[chunks..]) {
        tail += x * y;
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

fn axpy(alpha: f64, x: &[f64], y: &mut [f64]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += alpha * xi;
    }
}

fn max_abs(g: &[f64]) -> f64 {
    g.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

struct Pair {
    s: Vec<f64>,
    y: Vec<f64>,
    rho: f64,
}

/// d = -H g by the two-loop recursion over the stored pairs (oldest first in `memory`).
fn direction(memory: &VecDeque<Pair>, g: &[f64], gamma: f64, d: &mut [f64], alpha: &mut Vec<f64>) {
    for (di, gi) in d.iter_mut().zip(g) {
        *di = -gi;
    }
    alpha.clear();
    for pair in memory.iter().rev() {
        let a = pair.rho * dot(&pair.s, d);
        axpy(-a, &pair.y, d);
        alpha.push(a);
    }
    for di in d.iter_mut() {
        *di *= gamma;
    }
    for (pair, a) in memory.iter().zip(alpha.iter().rev()) {
        let b = pair.rho * dot(&pair.y, d);
        axpy(a - b, &pair.s, d);
    }
}

/// Minimises `fg` from `x0`. `fg(x, grad)` returns f(x) and writes its gradient into `grad`.
pub fn minimize<F>(mut fg: F, x0: Vec<f64>, opts: &Options) -> Outcome
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let n = x0.len();
    let mut x = x0;
    let mut g = vec![0.0; n];
    let mut f = fg(&x, &mut g);
    let mut n_eval = 1;
    let outcome = |x: Vec<f64>, f: f64, g: &[f64], n_iter, n_eval, status| Outcome {
        x,
        f,
        max_abs_grad: max_abs(g),
        n_iter,
        n_eval,
        status,
    };
    if max_abs(&g) <= opts.gtol {
        return outcome(x, f, &g, 0, n_eval, Status::GradientTolerance);
    }

    let mut memory: VecDeque<Pair> = VecDeque::with_capacity(opts.memory);
    let mut gamma = 1.0; // 1 / theta of L-BFGS-B
    let mut d = vec![0.0; n];
    let mut alpha = Vec::with_capacity(opts.memory);
    let (mut x_old, mut g_old) = (vec![0.0; n], vec![0.0; n]);
    let (mut s_new, mut y_new) = (vec![0.0; n], vec![0.0; n]);
    let mut n_iter = 0;

    loop {
        if memory.is_empty() {
            for (di, gi) in d.iter_mut().zip(&g) {
                *di = -gi * gamma;
            }
        } else {
            direction(&memory, &g, gamma, &mut d, &mut alpha);
        }
        let gd = dot(&g, &d);
        let dnorm = dot(&d, &d).sqrt();
        x_old.copy_from_slice(&x);
        g_old.copy_from_slice(&g);
        let f_old = f;

        let searched = if gd < 0.0 {
            let stp0 = if n_iter == 0 {
                (1.0 / dnorm).min(STEP_MAX)
            } else {
                1.0
            };
            line_search(
                &mut fg,
                &x_old,
                &d,
                f_old,
                gd,
                stp0,
                opts,
                &mut x,
                &mut g,
                &mut n_eval,
            )
        } else {
            None
        };
        let Some((stp, f_new)) = searched else {
            // restore the previous iterate; restart from steepest descent, or give up
            x.copy_from_slice(&x_old);
            g.copy_from_slice(&g_old);
            f = f_old;
            if memory.is_empty() {
                return outcome(x, f, &g, n_iter + 1, n_eval, Status::LineSearchFailed);
            }
            memory.clear();
            gamma = 1.0;
            continue;
        };
        f = f_new;
        n_iter += 1;

        // SciPy's driver checks the counts before L-BFGS-B's own convergence tests
        if n_iter >= opts.max_iter {
            return outcome(x, f, &g, n_iter, n_eval, Status::MaxIterations);
        }
        if n_eval > opts.max_fun {
            return outcome(x, f, &g, n_iter, n_eval, Status::MaxEvaluations);
        }
        if max_abs(&g) <= opts.gtol {
            return outcome(x, f, &g, n_iter, n_eval, Status::GradientTolerance);
        }
        if f_old - f <= opts.ftol * f_old.abs().max(f.abs()).max(1.0) {
            return outcome(x, f, &g, n_iter, n_eval, Status::RelativeReduction);
        }

        // the correction pair s = x - x_old, y = g - g_old
        for i in 0..n {
            s_new[i] = x[i] - x_old[i];
            y_new[i] = g[i] - g_old[i];
        }
        let sy = dot(&s_new, &y_new);
        if sy <= f64::EPSILON * (-stp * gd) {
            continue; // skip the update: too little curvature along s (-stp * gd = -s'g_old)
        }
        let yy = dot(&y_new, &y_new);
        gamma = sy / yy;
        let mut pair = if memory.len() == opts.memory {
            memory.pop_front().expect("memory is full")
        } else {
            Pair {
                s: vec![0.0; n],
                y: vec![0.0; n],
                rho: 0.0,
            }
        };
        std::mem::swap(&mut pair.s, &mut s_new);
        std::mem::swap(&mut pair.y, &mut y_new);
        pair.rho = 1.0 / sy;
        memory.push_back(pair);
    }
}

/// L-BFGS-B's largest step for an unconstrained problem.
const STEP_MAX: f64 = 1e10;

/// Moré–Thuente search along `d` from `x0` (f0, directional derivative gd0 < 0), first trial
/// `stp0`. On success `x`, `g` hold the accepted point and (step, f) is returned; `None` when the
/// search fails within `max_ls` evaluations.
#[allow(clippy::too_many_arguments)]
fn line_search<F>(
    fg: &mut F,
    x0: &[f64],
    d: &[f64],
    f0: f64,
    gd0: f64,
    stp0: f64,
    opts: &Options,
    x: &mut [f64],
    g: &mut [f64],
    n_eval: &mut usize,
) -> Option<(f64, f64)>
where
    F: FnMut(&[f64], &mut [f64]) -> f64,
{
    let mut search = Dcsrch::start(f0, gd0, stp0, 1e-3, 0.9, 0.1, 0.0, STEP_MAX);
    let mut stp = stp0;
    let mut evaluations = 0;
    loop {
        if evaluations >= opts.max_ls {
            return None;
        }
        for i in 0..x.len() {
            x[i] = if stp == 1.0 {
                x0[i] + d[i]
            } else {
                stp * d[i] + x0[i]
            };
        }
        let f = fg(x, g);
        *n_eval += 1;
        evaluations += 1;
        let gd = dot(g, d);
        match search.next(f, gd, stp) {
            Step::Done => return Some((stp, f)),
            Step::Try(next) => stp = next,
        }
    }
}

enum Step {
    /// The current step is accepted (converged, or no further progress possible).
    Done,
    /// Evaluate at this step next.
    Try(f64),
}

/// MINPACK-2's `dcsrch` state (Moré & Thuente 1994): finds a step satisfying the strong Wolfe
/// conditions f(stp) <= f(0) + ftol·stp·f'(0) and |f'(stp)| <= gtol·|f'(0)|.
struct Dcsrch {
    gtol: f64,
    xtol: f64,
    stpmin: f64,
    stpmax: f64,
    brackt: bool,
    stage1: bool,
    finit: f64,
    ginit: f64,
    gtest: f64,
    width: f64,
    width1: f64,
    stx: f64,
    fx: f64,
    gx: f64,
    sty: f64,
    fy: f64,
    gy: f64,
    stmin: f64,
    stmax: f64,
}

impl Dcsrch {
    #[allow(clippy::too_many_arguments)]
    fn start(
        f: f64,
        g: f64,
        stp: f64,
        ftol: f64,
        gtol: f64,
        xtol: f64,
        stpmin: f64,
        stpmax: f64,
    ) -> Self {
        let width = stpmax - stpmin;
        Dcsrch {
            gtol,
            xtol,
            stpmin,
            stpmax,
            brackt: false,
            stage1: true,
            finit: f,
            ginit: g,
            gtest: ftol * g,
            width,
            width1: width / 0.5,
            stx: 0.0,
            fx: f,
            gx: g,
            sty: 0.0,
            fy: f,
            gy: g,
            stmin: 0.0,
            stmax: stp + 4.0 * stp,
        }
    }

    /// Takes f and f' at `stp`; accepts it or proposes the next trial step.
    fn next(&mut self, f: f64, g: f64, mut stp: f64) -> Step {
        let ftest = self.finit + stp * self.gtest;
        if self.stage1 && f <= ftest && g >= 0.0 {
            self.stage1 = false;
        }
        // warnings: the step is accepted as it is
        if self.brackt && (stp <= self.stmin || stp >= self.stmax) {
            return Step::Done; // rounding errors prevent progress
        }
        if self.brackt && self.stmax - self.stmin <= self.xtol * self.stmax {
            return Step::Done; // xtol test satisfied
        }
        if stp == self.stpmax && f <= ftest && g <= self.gtest {
            return Step::Done;
        }
        if stp == self.stpmin && (f > ftest || g >= self.gtest) {
            return Step::Done;
        }
        if f <= ftest && g.abs() <= self.gtol * (-self.ginit) {
            return Step::Done; // strong Wolfe conditions hold
        }

        if self.stage1 && f <= self.fx && f > ftest {
            // the modified function psi(stp) = f(stp) - f(0) - ftol·stp·f'(0)
            let gt = self.gtest;
            let mut fxm = self.fx - self.stx * gt;
            let mut fym = self.fy - self.sty * gt;
            let mut gxm = self.gx - gt;
            let mut gym = self.gy - gt;
            let fm = f - stp * gt;
            let gm = g - gt;
            dcstep(
                &mut self.stx,
                &mut fxm,
                &mut gxm,
                &mut self.sty,
                &mut fym,
                &mut gym,
                &mut stp,
                fm,
                gm,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
            self.fx = fxm + self.stx * gt;
            self.fy = fym + self.sty * gt;
            self.gx = gxm + gt;
            self.gy = gym + gt;
        } else {
            dcstep(
                &mut self.stx,
                &mut self.fx,
                &mut self.gx,
                &mut self.sty,
                &mut self.fy,
                &mut self.gy,
                &mut stp,
                f,
                g,
                &mut self.brackt,
                self.stmin,
                self.stmax,
            );
        }

        if self.brackt {
            // bisect if the interval did not shrink enough
            if (self.sty - self.stx).abs() >= 0.66 * self.width1 {
                stp = self.stx + 0.5 * (self.sty - self.stx);
            }
            self.width1 = self.width;
            self.width = (self.sty - self.stx).abs();
            self.stmin = self.stx.min(self.sty);
            self.stmax = self.stx.max(self.sty);
        } else {
            self.stmin = stp + 1.1 * (stp - self.stx);
            self.stmax = stp + 4.0 * (stp - self.stx);
        }
        stp = stp.max(self.stpmin).min(self.stpmax);
        if self.brackt
            && (stp <= self.stmin
                || stp >= self.stmax
                || self.stmax - self.stmin <= self.xtol * self.stmax)
        {
            stp = self.stx; // no further progress: the best step so far
        }
        Step::Try(stp)
    }
}

/// MINPACK-2's `dcstep`: a safeguarded cubic/quadratic step for the interval of uncertainty
/// [stx, sty] given the new trial (stp, fp, dp); updates the interval.
#[allow(clippy::too_many_arguments)]
fn dcstep(
    stx: &mut f64,
    fx: &mut f64,
    dx: &mut f64,
    sty: &mut f64,
    fy: &mut f64,
    dy: &mut f64,
    stp: &mut f64,
    fp: f64,
    dp: f64,
    brackt: &mut bool,
    stpmin: f64,
    stpmax: f64,
) {
    let sgnd = dp * (*dx / dx.abs());
    let stpf;
    if fp > *fx {
        // case 1: a higher function value; the minimum is bracketed
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let r = p / q;
        let stpc = *stx + r * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        stpf = if (stpc - *stx).abs() < (stpq - *stx).abs() {
            stpc
        } else {
            stpc + (stpq - stpc) / 2.0
        };
        *brackt = true;
    } else if sgnd < 0.0 {
        // case 2: lower function value, derivatives of opposite sign; bracketed
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let r = p / q;
        let stpc = *stp + r * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = if (stpc - *stp).abs() > (stpq - *stp).abs() {
            stpc
        } else {
            stpq
        };
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // case 3: lower function value, same-sign derivatives, |derivative| decreasing
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).max(0.0).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            let mut f = if (stpc - *stp).abs() < (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            f = if *stp > *stx {
                f.min(*stp + 0.66 * (*sty - *stp))
            } else {
                f.max(*stp + 0.66 * (*sty - *stp))
            };
            stpf = f;
        } else {
            let f = if (stpc - *stp).abs() > (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = f.min(stpmax).max(stpmin);
        }
    } else {
        // case 4: lower function value, same-sign derivatives, |derivative| not decreasing
        stpf = if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            let r = p / q;
            *stp + r * (*sty - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
    }

    // update the interval of uncertainty
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rosenbrock's function converges to (1, 1).
    #[test]
    fn rosenbrock() {
        let fg = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (x[0], x[1]);
            g[0] = -2.0 * (1.0 - a) - 400.0 * a * (b - a * a);
            g[1] = 200.0 * (b - a * a);
            (1.0 - a).powi(2) + 100.0 * (b - a * a).powi(2)
        };
        let opts = Options {
            gtol: 1e-8,
            max_iter: 1000,
            ..Options::default()
        };
        let out = minimize(fg, vec![-1.2, 1.0], &opts);
        assert!(out.status.converged(), "{out:?}");
        assert!(
            (out.x[0] - 1.0).abs() < 1e-5 && (out.x[1] - 1.0).abs() < 1e-5,
            "{out:?}"
        );
    }

    /// A convex quadratic with condition number 1e4 in 50 dimensions.
    #[test]
    fn ill_conditioned_quadratic() {
        let n = 50;
        let scale: Vec<f64> = (0..n)
            .map(|i| 10f64.powf(4.0 * i as f64 / (n - 1) as f64))
            .collect();
        let fg = |x: &[f64], g: &mut [f64]| {
            let mut f = 0.0;
            for i in 0..n {
                g[i] = scale[i] * (x[i] - 1.0);
                f += 0.5 * scale[i] * (x[i] - 1.0).powi(2);
            }
            f
        };
        let opts = Options {
            gtol: 1e-9,
            ftol: 0.0,
            max_iter: 10_000,
            ..Options::default()
        };
        let out = minimize(fg, vec![0.0; n], &opts);
        assert_eq!(out.status, Status::GradientTolerance, "{out:?}");
        assert!(out.x.iter().all(|v| (v - 1.0).abs() < 1e-8));
    }

    #[test]
    fn stops_at_max_iter() {
        let fg = |x: &[f64], g: &mut [f64]| {
            g[0] = 4.0 * x[0].powi(3);
            x[0].powi(4)
        };
        let opts = Options {
            gtol: 1e-300,
            ftol: 0.0,
            max_iter: 5,
            ..Options::default()
        };
        let out = minimize(fg, vec![3.0], &opts);
        assert_eq!(out.status, Status::MaxIterations);
        assert_eq!(out.n_iter, 5);
    }
}
