//! The solver's hot loops spread over the rank's threads (`--threads`): kernel rows, the
//! gradient update with its argmax, the second index of the working set and the H update.
//!
//! Each loop is cut into pieces and the pieces' results are merged in piece order with the
//! serial loop's own rule (largest value, ties to the last index, which is exact whatever the
//! bounds), so every result is bit-identical to the serial loop's. Entries of a kernel row, of F
//! and of H are independent of one another, so a row or an update done piece by piece is the
//! same. Kernel rows are cut into pieces of a fixed size; the scans into two pieces per thread,
//! so the threads' shares are equal (fixed 2048-entry pieces cut a fold of the notebook's grid
//! into 7, and a poly fit on 2 threads ran 6 % slower so). Short loops, or one thread, run the
//! serial loop itself: the overhead of a fork is a few microseconds, worth it only over
//! thousands of entries.

use crate::par;

use super::kernel::{kernel_row, FeatureMajor, KernelSpec};
use super::lanes::{self, KernelValue};

/// Kernel-row columns per piece (a multiple of the kernel's 32-column register block).
const ROW_PIECE: usize = 1024;
/// Multiply-adds (columns × features) below which a kernel row is computed on one thread.
const ROW_MIN_WORK: usize = 16 * 1024;
/// The shortest scan worth spreading.
const SCAN_MIN: usize = 4096;
/// Pieces per thread of a spread scan: a thread done with its own share early can still take a
/// late thread's second piece.
const SCAN_PIECES_PER_THREAD: usize = 2;

/// Entries per piece of a scan of `n` entries on `threads` threads (whole runs of the loops' 8
/// lanes).
fn scan_piece(threads: usize, n: usize) -> usize {
    n.div_ceil(threads * SCAN_PIECES_PER_THREAD)
        .next_multiple_of(8)
}

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
    let piece = scan_piece(threads, n);
    let results = par::map_chunks_mut(f, piece, |p, fp| {
        let s = p * piece;
        let e = s + fp.len();
        let (v, i) = lanes::update_argmax(fp, &ki[s..e], &kj[s..e], a, b, &up[s..e]);
        (v, offset(i, s))
    });
    merge_max(results)
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
    // The gain of a piece's choice, by the loop's own operations (so the same bits).
    let gain = |t: usize| {
        let b = gmax - f[t];
        let a = kii + kd[t] - 2.0 * ki[t].to_f64();
        let a = if a > 0.0 { a } else { tau };
        (b * b) / a
    };
    let piece = scan_piece(threads, n);
    let results = par::map_pieces(n.div_ceil(piece), |p| {
        let s = p * piece;
        let e = (s + piece).min(n);
        let (j, g2) = lanes::select_j(&f[s..e], &low[s..e], &kd[s..e], &ki[s..e], kii, gmax, tau);
        (offset(j, s), g2)
    });
    let gmax2 = results
        .iter()
        .fold(f64::NEG_INFINITY, |m, &(_, g2)| m.max(g2));
    let j = merge_max(
        results
            .iter()
            .map(|&(j, _)| (if j == usize::MAX { 0.0 } else { gain(j) }, j)),
    )
    .1;
    (j, gmax2)
}

/// [`lanes::axpy`] over the rank's threads.
pub(crate) fn axpy<V: KernelValue>(threads: usize, h: &mut [f64], w: f64, row: &[V]) {
    if !spread(threads, h.len(), SCAN_MIN) {
        return lanes::axpy(h, w, row);
    }
    let piece = scan_piece(threads, h.len());
    par::map_chunks_mut(h, piece, |p, hp| {
        let s = p * piece;
        lanes::axpy(hp, w, &row[s..s + hp.len()]);
    });
}

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

    /// Every spread loop returns the serial loop's result bit for bit, on 2 and 3 threads, for
    /// lengths around the piece size (ties everywhere, the maximum in several pieces), with
    /// kernel rows of type `V`.
    fn spread_scans_are_the_serial_scans_on<V: KernelValue>() {
        for threads in [2, 3] {
            let pool = Pool::new(threads).unwrap();
            for n in [5, SCAN_MIN, SCAN_MIN + 37, 5 * SCAN_MIN / 2 + 3] {
                let ([f, ki, kj], members) = inputs(n);
                let kd: Vec<f64> = ki.iter().map(|k| k.abs() + 1.0).collect();
                let [ki, kj]: [Vec<V>; 2] =
                    [ki, kj].map(|k| k.iter().map(|&v| V::from_f64(v)).collect());
                let (mut f1, mut f2) = (f.clone(), f.clone());
                let serial = lanes::update_argmax(&mut f1, &ki, &kj, 0.3, -0.7, &members);
                let par =
                    pool.install(|| update_argmax(threads, &mut f2, &ki, &kj, 0.3, -0.7, &members));
                assert_eq!(bits(&f1), bits(&f2), "F, n = {n}");
                assert_eq!((serial.0.to_bits(), serial.1), (par.0.to_bits(), par.1));
                let serial = lanes::select_j(&f1, &members, &kd, &kj, 1.3, 0.4, 1e-12);
                let par =
                    pool.install(|| select_j(threads, &f1, &members, &kd, &kj, 1.3, 0.4, 1e-12));
                assert_eq!(
                    (serial.0, serial.1.to_bits()),
                    (par.0, par.1.to_bits()),
                    "n = {n}"
                );
                let (mut h1, mut h2) = (f.clone(), f.clone());
                lanes::axpy(&mut h1, 0.25, &kj);
                pool.install(|| axpy(threads, &mut h2, 0.25, &kj));
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
