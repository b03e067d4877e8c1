//! The dense loops logistic regression spends its time in: a small register-blocked matrix
//! product C = A·B (A read through strides, so that Aᵀ needs no copy; B and C row-major with a
//! width padded to a multiple of 4), and an exponential over a slice written so the compiler
//! vectorises it. On x86-64 both run in a copy compiled for AVX2 + FMA when the processor has
//! them (checked at run time); elsewhere the portable copy is used.

/// Multiply-add: fused where the instruction exists, else a plain multiply and add (a software
/// fused multiply-add would be far slower).
trait Mac {
    fn mac(acc: f64, a: f64, b: f64) -> f64;
}

/// acc + a·b with one rounding (a hardware FMA instruction where compiled for it).
struct Fused;
/// acc + a·b with two roundings (aarch64 always has the fused instruction; its tests still
/// check this form).
#[cfg(any(test, not(target_arch = "aarch64")))]
struct Plain;

impl Mac for Fused {
    #[inline(always)]
    fn mac(acc: f64, a: f64, b: f64) -> f64 {
        a.mul_add(b, acc)
    }
}

#[cfg(any(test, not(target_arch = "aarch64")))]
impl Mac for Plain {
    #[inline(always)]
    fn mac(acc: f64, a: f64, b: f64) -> f64 {
        acc + a * b
    }
}

/// A's layout: element (r, t) is `a[r * row_stride + t * inner_stride]`.
#[derive(Clone, Copy)]
pub struct Strided<'a> {
    pub data: &'a [f64],
    pub row_stride: usize,
    pub inner_stride: usize,
}

/// C (rows × width) = A (rows × inner) · B (inner × width); `width` is a multiple of 4, B and C
/// row-major with that width. C is overwritten.
pub fn gemm(rows: usize, inner: usize, a: Strided, b: &[f64], width: usize, c: &mut [f64]) {
    assert!(width % 4 == 0, "width {width} is not a multiple of 4");
    assert!(b.len() >= inner * width && c.len() >= rows * width);
    if rows > 0 {
        let last = (rows - 1) * a.row_stride + inner.saturating_sub(1) * a.inner_stride;
        assert!(
            inner == 0 || last < a.data.len(),
            "A is too short for its strides"
        );
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            unsafe { gemm_avx2(rows, inner, a, b, width, c) };
            return;
        }
        gemm_with::<Plain>(rows, inner, a, b, width, c);
    }
    #[cfg(target_arch = "aarch64")]
    gemm_with::<Fused>(rows, inner, a, b, width, c);
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    gemm_with::<Plain>(rows, inner, a, b, width, c);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn gemm_avx2(rows: usize, inner: usize, a: Strided, b: &[f64], width: usize, c: &mut [f64]) {
    gemm_with::<Fused>(rows, inner, a, b, width, c);
}

#[inline(always)]
fn gemm_with<M: Mac>(
    rows: usize,
    inner: usize,
    a: Strided,
    b: &[f64],
    width: usize,
    c: &mut [f64],
) {
    let mut r0 = 0;
    while r0 < rows {
        let r = if rows - r0 >= 4 { 4 } else { 1 };
        let mut c0 = 0;
        while c0 < width {
            match ((width - c0) / 4).min(3) {
                3 => block::<M, 4, 3>(r0, c0, r, inner, a, b, width, c),
                2 => block::<M, 4, 2>(r0, c0, r, inner, a, b, width, c),
                _ => block::<M, 4, 1>(r0, c0, r, inner, a, b, width, c),
            }
            c0 += 4 * ((width - c0) / 4).min(3);
        }
        r0 += r;
    }
}

/// Dispatches a block of `r` (4 or 1) rows and `4 * C` columns to its micro-kernel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn block<M: Mac, const R: usize, const C: usize>(
    r0: usize,
    c0: usize,
    r: usize,
    inner: usize,
    a: Strided,
    b: &[f64],
    width: usize,
    c: &mut [f64],
) {
    if r == R {
        micro::<M, R, C>(r0, c0, inner, a, b, width, c);
    } else {
        micro::<M, 1, C>(r0, c0, inner, a, b, width, c);
    }
}

/// C[r0..r0+R, c0..c0+4C] = A[r0..r0+R, :] · B[:, c0..c0+4C], accumulated in registers.
#[inline(always)]
fn micro<M: Mac, const R: usize, const C: usize>(
    r0: usize,
    c0: usize,
    inner: usize,
    a: Strided,
    b: &[f64],
    width: usize,
    c: &mut [f64],
) {
    let mut acc = [[[0.0f64; 4]; C]; R];
    let base = r0 * a.row_stride;
    for t in 0..inner {
        let brow = &b[t * width + c0..t * width + c0 + 4 * C];
        let mut bv = [[0.0f64; 4]; C];
        for (q, chunk) in bv.iter_mut().enumerate() {
            chunk.copy_from_slice(&brow[4 * q..4 * q + 4]);
        }
        let at = base + t * a.inner_stride;
        for (i, acc_row) in acc.iter_mut().enumerate() {
            // SAFETY: r0 + i < rows and t < inner, so the index is at most the last element
            // `gemm` checked to be inside `a.data`.
            let av = unsafe { *a.data.get_unchecked(at + i * a.row_stride) };
            for (acc_chunk, b_chunk) in acc_row.iter_mut().zip(&bv) {
                for l in 0..4 {
                    acc_chunk[l] = M::mac(acc_chunk[l], av, b_chunk[l]);
                }
            }
        }
    }
    for (i, acc_row) in acc.iter().enumerate() {
        let out = &mut c[(r0 + i) * width + c0..(r0 + i) * width + c0 + 4 * C];
        for (q, chunk) in acc_row.iter().enumerate() {
            out[4 * q..4 * q + 4].copy_from_slice(chunk);
        }
    }
}

/// v[i] = exp(v[i]) for every element, to within about 2 ulp; arguments below -708 (whose
/// exponentials are subnormal, under 3.4e-308) give 0, above 709 give +inf. NaN stays NaN.
pub fn exp_inplace(v: &mut [f64]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            unsafe { exp_avx2(v) };
            return;
        }
    }
    exp_portable(v);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn exp_avx2(v: &mut [f64]) {
    exp_with::<Fused>(v);
}

fn exp_portable(v: &mut [f64]) {
    #[cfg(target_arch = "aarch64")]
    exp_with::<Fused>(v);
    #[cfg(not(target_arch = "aarch64"))]
    exp_with::<Plain>(v);
}

/// exp(x) = 2^k · exp(r), k = round(x / ln 2), |r| <= ln 2 / 2, exp(r) by its Taylor series to
/// degree 13 evaluated by Estrin's scheme (truncation error below 1e-17 relative). Branch-free, with k taken from the bits of
/// the rounding sum, so that it vectorises.
#[inline(always)]
fn exp_with<M: Mac>(v: &mut [f64]) {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    const SHIFTER: f64 = 6_755_399_441_055_744.0; // 1.5 · 2^52: adding it rounds to an integer
    const INV: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5040.0,
        1.0 / 40320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    for x in v.iter_mut() {
        let xi = *x;
        let xc = xi.clamp(-708.0, 709.0);
        let shifted = xc * LOG2E + SHIFTER;
        let kf = shifted - SHIFTER;
        let r = (xc - kf * LN2_HI) - kf * LN2_LO;
        // Estrin's scheme: a dependency chain 4 operations deep instead of 13
        let r2 = r * r;
        let r4 = r2 * r2;
        let r8 = r4 * r4;
        let q0 = M::mac(INV[0], INV[1], r);
        let q1 = M::mac(INV[2], INV[3], r);
        let q2 = M::mac(INV[4], INV[5], r);
        let q3 = M::mac(INV[6], INV[7], r);
        let q4 = M::mac(INV[8], INV[9], r);
        let q5 = M::mac(INV[10], INV[11], r);
        let q6 = M::mac(INV[12], INV[13], r);
        let s0 = M::mac(q0, q1, r2);
        let s1 = M::mac(q2, q3, r2);
        let s2 = M::mac(q4, q5, r2);
        let u0 = M::mac(s0, s1, r4);
        let u1 = M::mac(s2, q6, r4);
        let p = M::mac(u0, u1, r8);
        // 2^k: k (in -1021..=1023) is the low bits of `shifted`; put k + 1023 in the exponent
        let k_plus_bias = shifted
            .to_bits()
            .wrapping_sub(SHIFTER.to_bits())
            .wrapping_add(1023);
        let mut y = p * f64::from_bits(k_plus_bias << 52);
        if xi > 709.0 {
            y = f64::INFINITY;
        }
        if xi < -708.0 {
            y = 0.0;
        }
        if xi.is_nan() {
            y = xi;
        }
        *x = y;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Gemm = fn(usize, usize, Strided, &[f64], usize, &mut [f64]);

    /// The dispatched product and both portable variants against a naive product.
    #[test]
    fn gemm_matches_naive_product() {
        let variants: [(&str, Gemm); 3] = [
            ("dispatched", gemm),
            ("plain", gemm_with::<Plain>),
            ("fused", gemm_with::<Fused>),
        ];
        for (name, product) in variants {
            for (rows, inner, width) in [(7, 5, 4), (9, 64, 12), (1, 3, 8), (13, 1, 16), (4, 0, 4)]
            {
                let a: Vec<f64> = (0..rows * inner)
                    .map(|i| ((i * 37) % 11) as f64 - 5.0)
                    .collect();
                let b: Vec<f64> = (0..inner * width)
                    .map(|i| ((i * 17) % 7) as f64 * 0.5)
                    .collect();
                let mut c = vec![f64::NAN; rows * width];
                let strided = Strided {
                    data: &a,
                    row_stride: inner,
                    inner_stride: 1,
                };
                product(rows, inner, strided, &b, width, &mut c);
                for r in 0..rows {
                    for q in 0..width {
                        let want: f64 = (0..inner)
                            .map(|t| a[r * inner + t] * b[t * width + q])
                            .sum();
                        assert!(
                            (c[r * width + q] - want).abs() < 1e-9,
                            "{name} {rows}x{inner}x{width}"
                        );
                    }
                }
                // Aᵀ through strides: (inner × rows)ᵀ
                if rows > 0 && inner > 0 {
                    let mut ct = vec![0.0; inner * width];
                    let transposed = Strided {
                        data: &a,
                        row_stride: 1,
                        inner_stride: inner,
                    };
                    let bt: Vec<f64> = (0..rows * width).map(|i| (i % 5) as f64).collect();
                    product(inner, rows, transposed, &bt, width, &mut ct);
                    for t in 0..inner {
                        for q in 0..width {
                            let want: f64 = (0..rows)
                                .map(|r| a[r * inner + t] * bt[r * width + q])
                                .sum();
                            assert!((ct[t * width + q] - want).abs() < 1e-9, "{name} transposed");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn exp_is_accurate() {
        let mut xs: Vec<f64> = (-7400..=7090).map(|i| i as f64 * 0.1 + 0.0123).collect();
        xs.extend([
            0.0,
            -0.0,
            1e-300,
            -1e-300,
            709.5,
            -746.0,
            -1000.0,
            f64::NEG_INFINITY,
        ]);
        type InPlace = fn(&mut [f64]);
        let variants: [(&str, InPlace); 3] = [
            ("dispatched", exp_inplace),
            ("portable", exp_portable),
            ("plain", exp_with::<Plain>),
        ];
        for (name, exp) in variants {
            let mut ys = xs.clone();
            exp(&mut ys);
            check_exp(name, &xs, &ys);
        }
        let mut nan = [f64::NAN];
        exp_inplace(&mut nan);
        assert!(nan[0].is_nan());
    }

    /// On x86-64 with AVX2+FMA the product and the exponential are the generic fused forms,
    /// which aarch64 runs, bit for bit: the nodes of a mixed cluster fit the same models.
    #[test]
    fn dispatched_kernels_are_the_generic_fused_ones() {
        #[cfg(target_arch = "x86_64")]
        if !(std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")) {
            return; // this CPU runs the unfused forms
        }
        let (rows, inner, width) = (9, 31, 12);
        let a: Vec<f64> = (0..rows * inner).map(|i| (i as f64 * 0.7).sin()).collect();
        let b: Vec<f64> = (0..inner * width)
            .map(|i| (i as f64 * 1.618).cos())
            .collect();
        let strided = Strided {
            data: &a,
            row_stride: inner,
            inner_stride: 1,
        };
        let product = |f: Gemm| {
            let mut c = vec![0.0; rows * width];
            f(rows, inner, strided, &b, width, &mut c);
            c.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        let fused = product(gemm_with::<Fused>);
        assert_eq!(product(gemm), fused);
        // Otherwise the inputs could not tell a fused product from an unfused one.
        assert_ne!(product(gemm_with::<Plain>), fused);

        let xs: Vec<f64> = (0..2000).map(|i| i as f64 * 0.0377 - 37.0).collect();
        let exp = |f: fn(&mut [f64])| {
            let mut v = xs.clone();
            f(&mut v);
            v.iter().map(|x| x.to_bits()).collect::<Vec<_>>()
        };
        let fused = exp(exp_with::<Fused>);
        assert_eq!(exp(exp_inplace), fused);
        assert_ne!(exp(exp_with::<Plain>), fused);
    }

    fn check_exp(name: &str, xs: &[f64], ys: &[f64]) {
        for (x, y) in xs.iter().zip(ys) {
            let want = x.exp();
            if *x < -708.0 {
                assert_eq!(*y, 0.0, "{name}: exp({x}) = {y}");
            } else if *x > 709.0 {
                assert!(y.is_infinite(), "{name}: exp({x}) = {y}");
            } else {
                assert!(
                    ((y - want) / want).abs() < 4.0 * f64::EPSILON,
                    "{name}: exp({x}) = {y}, want {want}"
                );
            }
        }
    }
}
