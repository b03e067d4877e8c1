//! Kernel values, fast: rows are kept feature-major (one contiguous run per feature) so that the
//! dot products of one or a few query rows against many rows are streaming multiply-adds the
//! compiler vectorises; rbf / sigmoid then apply a vectorisable exp (|error| ~ 1 ulp, f64
//! throughout). On x86-64 with AVX2+FMA (detected at run time) the same code is compiled for those
//! units. Every kernel value used in training comes from here, so K(i, j) == K(j, i) bit for bit.

use std::sync::OnceLock;

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::params::Kernel;

/// A kernel with its coefficients resolved (gamma is a number here).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct KernelSpec {
    pub kernel: Kernel,
    pub gamma: f64,
    pub degree: u32,
    pub coef0: f64,
}

/// Width of a panel: rows are stored in panels of `PANEL` rows, feature-major within a panel
/// (`data[(p / PANEL) * PANEL * d + k * PANEL + p % PANEL]` is feature k of row p), so that the
/// dot products of a query with a panel's rows are `d` contiguous vector multiply-adds into
/// registers. The last panel is padded with zero rows.
pub(crate) const PANEL: usize = 16;

/// Rows in panels (see [`PANEL`]); `sq[p]` = <x_p, x_p> (padded with zeros like `data`).
#[derive(Debug, Clone)]
pub(crate) struct FeatureMajor {
    pub d: usize,
    pub n: usize,
    pub data: Vec<f64>,
    pub sq: Vec<f64>,
}

impl FeatureMajor {
    #[inline(always)]
    fn at(&self, p: usize, k: usize) -> usize {
        (p / PANEL) * PANEL * self.d + k * PANEL + p % PANEL
    }

    /// Copies rows `rows` (all rows when `None`) of the row-major `x`.
    pub fn from_rows(x: ArrayView2<f64>, rows: Option<&[usize]>) -> FeatureMajor {
        let d = x.ncols();
        let n = rows.map_or(x.nrows(), <[usize]>::len);
        let panels = n.div_ceil(PANEL);
        let mut fm = FeatureMajor {
            d,
            n,
            data: vec![0.0; panels * PANEL * d],
            sq: vec![0.0; panels * PANEL],
        };
        for p in 0..n {
            let r = rows.map_or(p, |rows| rows[p]);
            for (k, &v) in x.row(r).iter().enumerate() {
                let at = fm.at(p, k);
                fm.data[at] = v;
            }
        }
        let mut q = vec![0.0; d];
        for p in 0..n {
            fm.row_into(p, &mut q);
            fm.sq[p] = dot(&q, &q);
        }
        fm
    }

    /// Row p, gathered into `out` (length d).
    #[inline]
    pub fn row_into(&self, p: usize, out: &mut [f64]) {
        for (k, o) in out.iter_mut().enumerate() {
            *o = self.data[self.at(p, k)];
        }
    }

    /// Exchanges rows a and b.
    pub fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        for k in 0..self.d {
            let (ia, ib) = (self.at(a, k), self.at(b, k));
            self.data.swap(ia, ib);
        }
        self.sq.swap(a, b);
    }
}

pub(crate) fn use_fma() -> bool {
    static DETECTED: OnceLock<bool> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        // TRITON_SVM_PORTABLE=1 forces the portable code (to test what other CPUs run).
        #[cfg(target_arch = "x86_64")]
        {
            std::env::var_os("TRITON_SVM_PORTABLE").is_none()
                && std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            false
        }
    })
}

/// Whether `f64::mul_add` is a single instruction on the generic (non-dispatched) path.
const NATIVE_FMA: bool = cfg!(target_arch = "aarch64");

#[inline(always)]
fn madd<const F: bool>(a: f64, b: f64, c: f64) -> f64 {
    if F {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// <a, b> summed in feature order with the same operations as the kernel rows.
pub(crate) fn dot(a: &[f64], b: &[f64]) -> f64 {
    if use_fma() || NATIVE_FMA {
        dot_impl::<true>(a, b)
    } else {
        dot_impl::<false>(a, b)
    }
}

#[inline(always)]
fn dot_impl<const F: bool>(a: &[f64], b: &[f64]) -> f64 {
    let mut s = 0.0;
    for (x, y) in a.iter().zip(b) {
        s = madd::<F>(*x, *y, s);
    }
    s
}

/// exp(x) for x <= 709, vectorisable: x = n ln2 + r with |r| <= ln2/2, a degree-13 Taylor
/// polynomial for e^r (truncation < 1e-17 relative), and 2^n built from its bits. Returns 0 below
/// -708 (where the true value is below 3.4e-308).
#[inline(always)]
fn exp_v<const F: bool>(x: f64) -> f64 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const SHIFT: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    let xc = x.clamp(-708.0, 709.0);
    let t = madd::<F>(xc, LOG2E, SHIFT);
    let n = t - SHIFT;
    let r = madd::<F>(-n, LN2_HI, xc);
    let r = madd::<F>(-n, LN2_LO, r);
    let mut p = 1.0 / 6_227_020_800.0; // 1/13!
    p = madd::<F>(p, r, 1.0 / 479_001_600.0);
    p = madd::<F>(p, r, 1.0 / 39_916_800.0);
    p = madd::<F>(p, r, 1.0 / 3_628_800.0);
    p = madd::<F>(p, r, 1.0 / 362_880.0);
    p = madd::<F>(p, r, 1.0 / 40_320.0);
    p = madd::<F>(p, r, 1.0 / 5_040.0);
    p = madd::<F>(p, r, 1.0 / 720.0);
    p = madd::<F>(p, r, 1.0 / 120.0);
    p = madd::<F>(p, r, 1.0 / 24.0);
    p = madd::<F>(p, r, 1.0 / 6.0);
    p = madd::<F>(p, r, 0.5);
    p = madd::<F>(p, r, 1.0);
    p = madd::<F>(p, r, 1.0);
    let k = (t.to_bits() as i64).wrapping_sub(SHIFT.to_bits() as i64);
    let scale = f64::from_bits(((k + 1023) << 52) as u64);
    if x < -708.0 {
        0.0
    } else {
        p * scale
    }
}

/// tanh through exp(-2|z|); absolute error ~ 1e-16.
#[inline(always)]
fn tanh_v<const F: bool>(z: f64) -> f64 {
    let e = exp_v::<F>(-2.0 * z.abs());
    ((1.0 - e) / (1.0 + e)).copysign(z)
}

/// libsvm's integer power by squaring, applied to a whole chunk.
#[inline(always)]
fn powi_chunk(v: &mut [f64], degree: u32) {
    match degree {
        0 => v.iter_mut().for_each(|x| *x = 1.0),
        1 => {}
        2 => v.iter_mut().for_each(|x| *x *= *x),
        3 => v.iter_mut().for_each(|x| *x = *x * (*x * *x)),
        _ => {
            let mut base = [0.0; W];
            let base = &mut base[..v.len()];
            base.copy_from_slice(v);
            v.iter_mut().for_each(|x| *x = 1.0);
            let mut t = degree;
            while t > 0 {
                if t % 2 == 1 {
                    v.iter_mut().zip(base.iter()).for_each(|(x, b)| *x *= *b);
                }
                base.iter_mut().for_each(|b| *b *= *b);
                t /= 2;
            }
        }
    }
}

/// Kernel values of the query row `q` against rows `start..end` of `cols`:
/// `out[p - start] = K(q, row p)`. `q_sq` must be `dot(q, q)`.
pub(crate) fn kernel_row(
    spec: &KernelSpec,
    q: &[f64],
    q_sq: f64,
    cols: &FeatureMajor,
    start: usize,
    end: usize,
    out: &mut [f64],
) {
    debug_assert!(end <= cols.n && start <= end && q.len() == cols.d);
    #[cfg(target_arch = "x86_64")]
    if use_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked at run time just above).
        unsafe { kernel_row_avx2(spec, q, q_sq, cols, start, end, out) };
        return;
    }
    kernel_row_impl::<NATIVE_FMA>(spec, q, q_sq, cols, start, end, out);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_row_avx2(
    spec: &KernelSpec,
    q: &[f64],
    q_sq: f64,
    cols: &FeatureMajor,
    start: usize,
    end: usize,
    out: &mut [f64],
) {
    kernel_row_impl::<true>(spec, q, q_sq, cols, start, end, out);
}

/// Columns per register block: two panels, i.e. 8 independent AVX2 accumulator chains.
const W: usize = 2 * PANEL;

#[inline(always)]
fn kernel_row_impl<const F: bool>(
    spec: &KernelSpec,
    q: &[f64],
    q_sq: f64,
    cols: &FeatureMajor,
    start: usize,
    end: usize,
    out: &mut [f64],
) {
    let d = cols.d;
    let stride = PANEL * d;
    let mut b0 = start / PANEL * PANEL;
    while b0 < end {
        // Two panels when both exist (the data is padded to whole panels only).
        let two = b0 + PANEL < end;
        let p0 = &cols.data[(b0 / PANEL) * stride..(b0 / PANEL + 1) * stride];
        let p1 = if two {
            &cols.data[(b0 / PANEL + 1) * stride..(b0 / PANEL + 2) * stride]
        } else {
            p0
        };
        let mut acc = [0.0f64; W];
        for (k, &a) in q.iter().enumerate() {
            let c0: &[f64; PANEL] = p0[k * PANEL..(k + 1) * PANEL].try_into().expect("panel");
            let c1: &[f64; PANEL] = p1[k * PANEL..(k + 1) * PANEL].try_into().expect("panel");
            for m in 0..PANEL {
                acc[m] = madd::<F>(a, c0[m], acc[m]);
                acc[PANEL + m] = madd::<F>(a, c1[m], acc[PANEL + m]);
            }
        }
        let width = if two { W } else { PANEL };
        let mut sq = [0.0f64; W];
        sq[..width].copy_from_slice(&cols.sq[b0..b0 + width]);
        let v = transform::<W, F>(spec, &acc, q_sq, &sq);
        let lo = b0.max(start);
        let hi = (b0 + width).min(end);
        out[lo - start..hi - start].copy_from_slice(&v[lo - b0..hi - b0]);
        b0 += width;
    }
}

#[inline(always)]
fn transform<const W: usize, const F: bool>(
    spec: &KernelSpec,
    acc: &[f64; W],
    q_sq: f64,
    sq: &[f64; W],
) -> [f64; W] {
    let mut v = *acc;
    match spec.kernel {
        Kernel::Linear => {}
        Kernel::Rbf => {
            let g = -spec.gamma;
            for m in 0..W {
                let d2 = ((q_sq + sq[m]) - 2.0 * acc[m]).max(0.0);
                v[m] = exp_v::<F>(g * d2);
            }
        }
        Kernel::Poly => {
            for x in v.iter_mut() {
                *x = madd::<F>(spec.gamma, *x, spec.coef0);
            }
            powi_chunk(&mut v, spec.degree);
        }
        Kernel::Sigmoid => {
            for x in v.iter_mut() {
                *x = tanh_v::<F>(madd::<F>(spec.gamma, *x, spec.coef0));
            }
        }
    }
    v
}

/// K(p, p) for every row of `cols`, by the same code as the rows.
pub(crate) fn diagonal(spec: &KernelSpec, cols: &FeatureMajor) -> Vec<f64> {
    let mut q = vec![0.0; cols.d];
    (0..cols.n)
        .map(|p| {
            cols.row_into(p, &mut q);
            let mut v = [0.0];
            kernel_row(spec, &q, cols.sq[p], cols, p, p + 1, &mut v);
            v[0]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm() {
        let mut worst: f64 = 0.0;
        let mut x = -700.0;
        while x < 700.0 {
            let rel = ((exp_v::<false>(x) - x.exp()) / x.exp()).abs();
            let rel2 = ((exp_v::<true>(x) - x.exp()) / x.exp()).abs();
            worst = worst.max(rel).max(rel2);
            x += 0.0137;
        }
        assert!(worst < 4e-16, "worst relative error {worst}");
        assert_eq!(exp_v::<false>(-1000.0), 0.0);
        assert_eq!(exp_v::<true>(0.0), 1.0);
    }

    /// Timing of kernel rows (run with --ignored --nocapture).
    #[test]
    #[ignore]
    fn kbench() {
        let (n, d) = (13334, 20);
        let x = ndarray::Array2::from_shape_fn((n, d), |(i, k)| {
            ((i * 31 + k * 17) % 101) as f64 / 50.0 - 1.0
        });
        let fm = FeatureMajor::from_rows(x.view(), None);
        let spec = KernelSpec {
            kernel: Kernel::Rbf,
            gamma: 0.04,
            degree: 3,
            coef0: 0.0,
        };
        let mut out = vec![0.0; n];
        let mut q = vec![0.0; d];
        for kernel in [Kernel::Linear, Kernel::Rbf, Kernel::Poly, Kernel::Sigmoid] {
            let spec = KernelSpec { kernel, ..spec };
            let mut best = f64::INFINITY;
            for _ in 0..7 {
                let t = std::time::Instant::now();
                for i in 0..200 {
                    fm.row_into(i, &mut q);
                    kernel_row(&spec, &q, fm.sq[i], &fm, 0, n, &mut out);
                }
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{kernel} row: {:.2} ns/value",
                best / (200.0 * n as f64) * 1e9
            );
        }
    }

    /// Values with full mantissas in [-1, 1), so that fused and unfused sums round apart.
    fn scattered(n: usize, salt: u64) -> Vec<f64> {
        let mut state = salt.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 52) as f64 - 1.0
            })
            .collect()
    }

    /// The dispatched rows (AVX2+FMA on x86-64) are the generic fused rows, which aarch64 runs:
    /// the nodes of a mixed cluster compute the same kernel values bit for bit.
    #[test]
    fn dispatched_rows_are_the_generic_fused_rows() {
        if !(use_fma() || NATIVE_FMA) {
            return; // an x86-64 without FMA (or TRITON_SVM_PORTABLE) runs the unfused form
        }
        let (n, d) = (45, 7);
        let x = ndarray::Array2::from_shape_vec((n, d), scattered(n * d, 1)).unwrap();
        let fm = FeatureMajor::from_rows(x.view(), None);
        let mut q = vec![0.0; d];
        let (mut dispatched, mut fused, mut plain) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut unfused_differs = false;
        for kernel in [Kernel::Linear, Kernel::Rbf, Kernel::Poly, Kernel::Sigmoid] {
            let spec = KernelSpec {
                kernel,
                gamma: 0.37,
                degree: 3,
                coef0: 0.25,
            };
            for p in 0..n {
                fm.row_into(p, &mut q);
                let q_sq = fm.sq[p];
                kernel_row(&spec, &q, q_sq, &fm, 3, n, &mut dispatched[3..]);
                kernel_row_impl::<true>(&spec, &q, q_sq, &fm, 3, n, &mut fused[3..]);
                kernel_row_impl::<false>(&spec, &q, q_sq, &fm, 3, n, &mut plain[3..]);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&dispatched), bits(&fused), "{kernel} row {p}");
                unfused_differs |= bits(&plain) != bits(&fused);
            }
        }
        // Otherwise the inputs could not tell a fused kernel from an unfused one.
        assert!(unfused_differs);
    }

    #[test]
    fn tanh_matches_libm() {
        let mut z = -20.0;
        while z < 20.0 {
            assert!((tanh_v::<true>(z) - z.tanh()).abs() < 1e-15, "{z}");
            z += 0.0093;
        }
    }
}
