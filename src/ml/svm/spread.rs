//! The solver's hot loops spread over the rank's threads (`--threads`): kernel rows, the
//! gradient update with its argmax, the second index of the working set and the H update.
//!
//! Each loop is cut into pieces of a fixed size (independent of the thread count) and the
//! pieces' results are merged in piece order with the serial loop's own rule (largest value,
//! ties to the last index), so every result is bit-identical to the serial loop's. Entries of a
//! kernel row are independent of one another, so a row filled piece by piece is the same row.
//! Short loops, or one thread, run the serial loop itself: the overhead of a fork is a few
//! microseconds, worth it only over thousands of entries.

use crate::par;

use super::kernel::{kernel_row, FeatureMajor, KernelSpec};
use super::lanes;

/// Kernel-row columns per piece (a multiple of the kernel's 32-column register block).
const ROW_PIECE: usize = 1024;
/// Multiply-adds (columns × features) below which a kernel row is computed on one thread.
const ROW_MIN_WORK: usize = 16 * 1024;
/// Entries per piece of the solver's scans, and the shortest scan worth spreading (two pieces).
const SCAN_PIECE: usize = 2048;

fn spread(threads: usize, len: usize, min: usize) -> bool {
    threads > 1 && len >= min
}

/// [`kernel_row`] over the rank's threads, its values rounded to single precision when `single`
/// (libsvm's Q values, see `cache`), each piece as it is computed.
#[allow(clippy::too_many_arguments)]
pub(crate) fn kernel_row_spread(
    threads: usize,
    spec: &KernelSpec,
    q: &[f64],
    q_sq: f64,
    cols: &FeatureMajor,
    (start, end): (usize, usize),
    out: &mut [f64],
    single: bool,
) {
    let row_piece = |s: usize, piece: &mut [f64]| {
        kernel_row(spec, q, q_sq, cols, s, s + piece.len(), piece);
        if single {
            piece.iter_mut().for_each(|v| *v = *v as f32 as f64);
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
pub(crate) fn update_argmax(
    threads: usize,
    f: &mut [f64],
    ki: &[f64],
    kj: &[f64],
    a: f64,
    b: f64,
    pen: &[f64],
) -> (f64, usize) {
    let n = f.len();
    if !spread(threads, n, 2 * SCAN_PIECE) {
        return lanes::update_argmax(f, ki, kj, a, b, pen);
    }
    let results = par::map_chunks_mut(f, SCAN_PIECE, |p, fp| {
        let s = p * SCAN_PIECE;
        let e = s + fp.len();
        let (v, i) = lanes::update_argmax(fp, &ki[s..e], &kj[s..e], a, b, &pen[s..e]);
        (v, offset(i, s))
    });
    merge_max(results)
}

/// [`lanes::select_j`] over the rank's threads.
#[allow(clippy::too_many_arguments)]
pub(crate) fn select_j(
    threads: usize,
    f: &[f64],
    pen: &[f64],
    kd: &[f64],
    ki: &[f64],
    kii: f64,
    gmax: f64,
    tau: f64,
) -> (usize, f64) {
    let n = f.len();
    if !spread(threads, n, 2 * SCAN_PIECE) {
        return lanes::select_j(f, pen, kd, ki, kii, gmax, tau);
    }
    // The gain of a piece's choice, by the loop's own operations (so the same bits).
    let gain = |t: usize| {
        let b = gmax - f[t];
        let a = kii + kd[t] - 2.0 * ki[t];
        let a = if a > 0.0 { a } else { tau };
        (b * b) / a
    };
    let results = par::map_pieces(n.div_ceil(SCAN_PIECE), |p| {
        let s = p * SCAN_PIECE;
        let e = (s + SCAN_PIECE).min(n);
        let (j, g2) = lanes::select_j(&f[s..e], &pen[s..e], &kd[s..e], &ki[s..e], kii, gmax, tau);
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
pub(crate) fn axpy(threads: usize, h: &mut [f64], w: f64, row: &[f64]) {
    if !spread(threads, h.len(), 2 * SCAN_PIECE) {
        return lanes::axpy(h, w, row);
    }
    par::map_chunks_mut(h, SCAN_PIECE, |p, hp| {
        let s = p * SCAN_PIECE;
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
    fn inputs(n: usize) -> [Vec<f64>; 4] {
        let v = |salt: usize| -> Vec<f64> {
            (0..n)
                .map(|t| ((t * 7 + salt) % 11) as f64 * 0.3 - 1.1 + (t % 3) as f64 / 7.0)
                .collect()
        };
        let pen = (0..n)
            .map(|t| if t % 4 == 1 { f64::NEG_INFINITY } else { 0.0 })
            .collect();
        [v(0), v(3), v(5), pen]
    }

    /// Every spread loop returns the serial loop's result bit for bit, on 2 and 3 threads, for
    /// lengths around the piece size (ties everywhere, the maximum in several pieces).
    #[test]
    fn spread_scans_are_the_serial_scans() {
        for threads in [2, 3] {
            let pool = Pool::new(threads).unwrap();
            for n in [5, 2 * SCAN_PIECE, 2 * SCAN_PIECE + 37, 5 * SCAN_PIECE + 3] {
                let [f, ki, kj, pen] = inputs(n);
                let (mut f1, mut f2) = (f.clone(), f.clone());
                let serial = lanes::update_argmax(&mut f1, &ki, &kj, 0.3, -0.7, &pen);
                let par =
                    pool.install(|| update_argmax(threads, &mut f2, &ki, &kj, 0.3, -0.7, &pen));
                assert_eq!(bits(&f1), bits(&f2), "F, n = {n}");
                assert_eq!((serial.0.to_bits(), serial.1), (par.0.to_bits(), par.1));
                let kd: Vec<f64> = ki.iter().map(|k| k.abs() + 1.0).collect();
                let serial = lanes::select_j(&f1, &pen, &kd, &kj, 1.3, 0.4, 1e-12);
                let par = pool.install(|| select_j(threads, &f1, &pen, &kd, &kj, 1.3, 0.4, 1e-12));
                assert_eq!(
                    (serial.0, serial.1.to_bits()),
                    (par.0, par.1.to_bits()),
                    "n = {n}"
                );
                let (mut h1, mut h2) = (ki.clone(), ki.clone());
                lanes::axpy(&mut h1, 0.25, &kj);
                pool.install(|| axpy(threads, &mut h2, 0.25, &kj));
                assert_eq!(bits(&h1), bits(&h2));
            }
        }
    }

    /// No member at all: the same "none" answer as the serial loop.
    #[test]
    fn spread_scans_with_no_member_say_none() {
        let n = 3 * SCAN_PIECE;
        let pen = vec![f64::NEG_INFINITY; n];
        let mut f = vec![1.0; n];
        let k = vec![0.5; n];
        let pool = Pool::new(2).unwrap();
        let got = pool.install(|| update_argmax(2, &mut f, &k, &k, 0.1, 0.1, &pen));
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
                let rounded: Vec<f64> = serial.iter().map(|&v| v as f32 as f64).collect();
                for (single, want) in [(false, &serial), (true, &rounded)] {
                    for threads in [1, 2, 3] {
                        let pool = Pool::new(threads).unwrap();
                        let mut par = vec![0.0; end - start];
                        pool.install(|| {
                            let span = (start, end);
                            kernel_row_spread(
                                threads, &spec, &q, q_sq, &cols, span, &mut par, single,
                            )
                        });
                        assert_eq!(bits(want), bits(&par), "{kernel:?} {start}..{end} {single}");
                    }
                }
            }
        }
    }
}
