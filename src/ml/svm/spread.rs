//! The solver's hot loops spread over the rank's threads (`--threads`): kernel rows, the
//! gradient update with its argmax, the second index of the working set and the H update.
//!
//! Each loop is cut into parts and the parts' results are merged in order with the serial
//! loop's own rule (largest value, ties to the last index, which is exact whatever the bounds),
//! so every result is bit-identical to the serial loop's. Entries of a kernel row, of F and of H
//! are independent of one another, so a row or an update done part by part is the same. Kernel
//! rows are cut into pieces of a fixed size ([`par::map_chunks_mut`]). The scans, a few
//! microseconds each and two or three per solver iteration, are cut into one share per thread
//! ([`par::each_share`]), which a team hands over in the line that announces the loop: with the
//! team's pieces instead (two per thread, each thread's found through a closure on the caller's
//! stack, and results in a vector), two threads sped one solve's scans up 1.0–1.2× on 4,096
//! rows and 1.5–1.6× on 13,333; with shares, 1.3–1.4× and 1.6–1.8× (`ceiling`). Short loops, or
//! one thread, run the serial loop itself.

use crate::par;

use super::kernel::{kernel_row, FeatureMajor, KernelSpec};
use super::lanes::{self, KernelValue};

/// Kernel-row columns per piece (a multiple of the kernel's 32-column register block).
const ROW_PIECE: usize = 1024;
/// Multiply-adds (columns × features) below which a kernel row is computed on one thread.
const ROW_MIN_WORK: usize = 16 * 1024;
/// The shortest scan worth spreading: two threads sped scans of 1,024 rows down (0.9×), of
/// 1,536 rows up 1.05–1.1× and of 2,048 rows 1.15–1.25× (`ceiling`).
const SCAN_MIN: usize = 2048;

fn spread(threads: usize, len: usize, min: usize) -> bool {
    threads > 1 && len >= min
}

/// [`kernel_row`] over the rank's threads, into a cache's value type (f32 values rounded to
/// nearest: libsvm's Q values, see `cache`). Each piece is computed in f64 then stored, in runs
/// that stay in the core's first-level cache.
pub(crate) fn kernel_row_spread<V: KernelValue>(
    threads: usize,
    spec: &KernelSpec,
    q: &[f64],
    q_sq: f64,
    cols: &FeatureMajor,
    (start, end): (usize, usize),
    out: &mut [V],
) {
    let row_piece = |s: usize, piece: &mut [V]| {
        let mut computed = [0.0; ROW_PIECE];
        for (k, run) in piece.chunks_mut(ROW_PIECE).enumerate() {
            let (from, values) = (s + k * ROW_PIECE, &mut computed[..run.len()]);
            kernel_row(spec, q, q_sq, cols, from, from + run.len(), values);
            for (stored, &v) in run.iter_mut().zip(values.iter()) {
                *stored = V::from_f64(v);
            }
        }
    };
    if !spread(threads, (end - start) * cols.d, ROW_MIN_WORK) || end - start < 2 * ROW_PIECE {
        return row_piece(start, &mut out[..end - start]);
    }
    par::map_chunks_mut(&mut out[..end - start], ROW_PIECE, |i, piece| {
        row_piece(start + i * ROW_PIECE, piece)
    });
}

/// Merges per-piece `(max, index)` results in piece order: the largest value, ties to the last
/// index, `usize::MAX` when no piece has a member (what the serial loop returns).
fn merge_max(results: impl IntoIterator<Item = (f64, usize)>) -> (f64, usize) {
    let mut best = (f64::NEG_INFINITY, usize::MAX);
    for (v, i) in results {
        if i != usize::MAX && (best.1 == usize::MAX || v >= best.0) {
            best = (v, i);
        }
    }
    best
}

/// A piece's index in the whole slice.
fn offset(i: usize, start: usize) -> usize {
    if i == usize::MAX {
        i
    } else {
        start + i
    }
}

/// The entries of share `share` of `shares` of a scan of `n` entries: runs of the loops' 8
/// lanes, the last share taking the rest.
fn share_range(n: usize, share: usize, shares: usize) -> std::ops::Range<usize> {
    let cut = |s: usize| (s * n / shares / 8 * 8).min(n);
    cut(share)..if share + 1 == shares {
        n
    } else {
        cut(share + 1)
    }
}

/// A share's `(max, index)` in a report's first two words, the index in the whole scan.
fn report(value: f64, index: usize, start: usize) -> par::Words {
    [value.to_bits(), offset(index, start) as u64, 0]
}

/// The shares' `(max, index)` reports, merged in share order.
fn merge_reports(reports: &[par::Words]) -> (f64, usize) {
    merge_max(
        reports
            .iter()
            .map(|w| (f64::from_bits(w[0]), w[1] as usize)),
    )
}

/// [`lanes::update_argmax`] over the rank's threads.
pub(crate) fn update_argmax<V: KernelValue>(
    threads: usize,
    f: &mut [f64],
    ki: &[V],
    kj: &[V],
    a: f64,
    b: f64,
    up: &[bool],
) -> (f64, usize) {
    let n = f.len();
    if !spread(threads, n, SCAN_MIN) {
        return lanes::update_argmax(f, ki, kj, a, b, up);
    }
    let f = par::Disjoint::new(f);
    let reports = par::each_share(move |share, shares| {
        let r = share_range(n, share, shares);
        // SAFETY: the shares' ranges are disjoint.
        let fs = unsafe { f.range(r.clone()) };
        let (v, i) = lanes::update_argmax(fs, &ki[r.clone()], &kj[r.clone()], a, b, &up[r.clone()]);
        report(v, i, r.start)
    });
    merge_reports(&reports)
}

/// The gain b²/a of `t` as the second index (what [`lanes::select_j`] maximises), by the
/// loop's own operations, so with the same bits.
fn gain<V: KernelValue>(
    f: &[f64],
    kd: &[f64],
    ki: &[V],
    kii: f64,
    gmax: f64,
    tau: f64,
    t: usize,
) -> f64 {
    let b = gmax - f[t];
    let a = kii + kd[t] - 2.0 * ki[t].to_f64();
    let a = if a > 0.0 { a } else { tau };
    (b * b) / a
}

/// [`lanes::select_j`] over the rank's threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select_j<V: KernelValue>(
    threads: usize,
    f: &[f64],
    low: &[bool],
    kd: &[f64],
    ki: &[V],
    kii: f64,
    gmax: f64,
    tau: f64,
) -> (usize, f64) {
    let n = f.len();
    if !spread(threads, n, SCAN_MIN) {
        return lanes::select_j(f, low, kd, ki, kii, gmax, tau);
    }
    let reports = par::each_share(move |share, shares| {
        let r = share_range(n, share, shares);
        let (j, g2) = lanes::select_j(
            &f[r.clone()],
            &low[r.clone()],
            &kd[r.clone()],
            &ki[r.clone()],
            kii,
            gmax,
            tau,
        );
        let gain = match j {
            usize::MAX => 0.0,
            j => gain(f, kd, ki, kii, gmax, tau, r.start + j),
        };
        let [gain, j, _] = report(gain, j, r.start);
        [gain, j, g2.to_bits()]
    });
    let gmax2 = reports
        .iter()
        .fold(f64::NEG_INFINITY, |m, w| m.max(f64::from_bits(w[2])));
    (merge_reports(&reports).1, gmax2)
}

/// [`lanes::axpy`] over the rank's threads.
pub(crate) fn axpy<V: KernelValue>(threads: usize, h: &mut [f64], w: f64, row: &[V]) {
    let n = h.len();
    if !spread(threads, n, SCAN_MIN) {
        return lanes::axpy(h, w, row);
    }
    let h = par::Disjoint::new(h);
    par::each_share(move |share, shares| {
        let r = share_range(n, share, shares);
        // SAFETY: the shares' ranges are disjoint.
        lanes::axpy(unsafe { h.range(r.clone()) }, w, &row[r]);
        [0; 3]
    });
}

#[cfg(test)]
mod ceiling;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ml::svm::params::Kernel;
    use crate::par::Pool;
    use ndarray::Array2;

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// Values from a small set (ties on purpose), some outside I_up / I_low.
    fn inputs(n: usize) -> ([Vec<f64>; 3], Vec<bool>) {
        let v = |salt: usize| -> Vec<f64> {
            (0..n)
                .map(|t| ((t * 7 + salt) % 11) as f64 * 0.3 - 1.1 + (t % 3) as f64 / 7.0)
                .collect()
        };
        let members = (0..n).map(|t| t % 4 != 1).collect();
        ([v(0), v(3), v(5)], members)
    }

    /// Every spread loop returns the serial loop's result bit for bit, on 2 and 3 threads, on a
    /// team (the solver's loops) and on the bare pool, for lengths around the shortest spread
    /// scan (ties everywhere, the maximum in several shares), with kernel rows of type `V`.
    fn spread_scans_are_the_serial_scans_on<V: KernelValue>() {
        for (threads, on_team) in [(2, true), (3, true), (2, false), (3, false)] {
            let pool = Pool::new(threads).unwrap();
            let run = |work: &mut (dyn FnMut() + Send)| {
                pool.install(|| match on_team {
                    true => par::with_team(work),
                    false => work(),
                })
            };
            for n in [5, SCAN_MIN, SCAN_MIN + 37, 5 * SCAN_MIN / 2 + 3] {
                let ([f, ki, kj], members) = inputs(n);
                let kd: Vec<f64> = ki.iter().map(|k| k.abs() + 1.0).collect();
                let [ki, kj]: [Vec<V>; 2] =
                    [ki, kj].map(|k| k.iter().map(|&v| V::from_f64(v)).collect());
                let (mut f1, mut f2) = (f.clone(), f.clone());
                let serial = lanes::update_argmax(&mut f1, &ki, &kj, 0.3, -0.7, &members);
                let mut par = (0.0, 0);
                run(&mut || par = update_argmax(threads, &mut f2, &ki, &kj, 0.3, -0.7, &members));
                assert_eq!(bits(&f1), bits(&f2), "F, n = {n}");
                assert_eq!((serial.0.to_bits(), serial.1), (par.0.to_bits(), par.1));
                let serial = lanes::select_j(&f1, &members, &kd, &kj, 1.3, 0.4, 1e-12);
                let mut par = (0, 0.0);
                run(&mut || par = select_j(threads, &f1, &members, &kd, &kj, 1.3, 0.4, 1e-12));
                assert_eq!(
                    (serial.0, serial.1.to_bits()),
                    (par.0, par.1.to_bits()),
                    "n = {n}"
                );
                let (mut h1, mut h2) = (f.clone(), f.clone());
                lanes::axpy(&mut h1, 0.25, &kj);
                run(&mut || axpy(threads, &mut h2, 0.25, &kj));
                assert_eq!(bits(&h1), bits(&h2));
            }
        }
    }

    #[test]
    fn spread_scans_are_the_serial_scans() {
        spread_scans_are_the_serial_scans_on::<f64>();
        spread_scans_are_the_serial_scans_on::<f32>();
    }

    /// No member at all: the same "none" answer as the serial loop.
    #[test]
    fn spread_scans_with_no_member_say_none() {
        let n = 3 * SCAN_MIN;
        let members = vec![false; n];
        let mut f = vec![1.0; n];
        let k = vec![0.5; n];
        let pool = Pool::new(2).unwrap();
        let got = pool.install(|| update_argmax(2, &mut f, &k, &k, 0.1, 0.1, &members));
        assert_eq!(got.1, usize::MAX);
        assert_eq!(got.0, f64::NEG_INFINITY);
    }

    /// A kernel row filled piece by piece equals the serial row, for every kernel, and rounded to
    /// single precision, the serial row rounded.
    #[test]
    fn spread_kernel_rows_are_the_serial_rows() {
        let (n, d) = (5 * ROW_PIECE + 21, 7);
        let x = Array2::from_shape_fn((n, d), |(i, k)| {
            ((i * 31 + k * 17) % 23) as f64 / 11.0 - 1.0
        });
        let cols = FeatureMajor::from_rows(x.view(), None);
        let q: Vec<f64> = x.row(3).to_vec();
        let q_sq = super::super::kernel::dot(&q, &q);
        for kernel in [Kernel::Linear, Kernel::Rbf, Kernel::Poly, Kernel::Sigmoid] {
            let spec = KernelSpec {
                kernel,
                gamma: 0.1,
                degree: 3,
                coef0: 0.5,
            };
            for (start, end) in [(0, n), (37, n - 5), (ROW_PIECE + 3, n)] {
                let mut serial = vec![0.0; end - start];
                kernel_row(&spec, &q, q_sq, &cols, start, end, &mut serial);
                let rounded: Vec<f32> = serial.iter().map(|&v| v as f32).collect();
                for threads in [1, 2, 3] {
                    let pool = Pool::new(threads).unwrap();
                    let span = (start, end);
                    let mut par = vec![0.0f64; end - start];
                    pool.install(|| {
                        kernel_row_spread(threads, &spec, &q, q_sq, &cols, span, &mut par)
                    });
                    assert_eq!(bits(&serial), bits(&par), "{kernel:?} {start}..{end}");
                    let mut par = vec![0.0f32; end - start];
                    pool.install(|| {
                        kernel_row_spread(threads, &spec, &q, q_sq, &cols, span, &mut par)
                    });
                    assert_eq!(rounded, par, "{kernel:?} {start}..{end} single");
                }
            }
        }
    }
}
