//! The solver's per-iteration loops, written lane-wise (8 independent running maxima / minima
//! with their indices, merged at the end) so that they compile to branch-free vector code, and
//! compiled for AVX2+FMA when the CPU has them. Ties go to the last index, as in libsvm.
//! Kernel rows come in a cache's value type ([`KernelValue`]) and are read as f64, which is exact.

#[cfg(target_arch = "x86_64")]
use super::kernel::use_fma;

const L: usize = 8;

/// The type a kernel cache keeps its values in: `f32` for libsvm's single-precision values (half
/// the memory, and half the bytes the solver's scans read per row), `f64` otherwise.
pub(crate) trait KernelValue:
    Copy + Default + Send + Sync + std::fmt::Debug + 'static
{
    /// The value stored for a computed kernel value (rounded to nearest in single precision).
    fn from_f64(v: f64) -> Self;
    /// The stored value as the loops compute with it (exact).
    fn to_f64(self) -> f64;
}

impl KernelValue for f32 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
}

impl KernelValue for f64 {
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

/// Defines `pub(crate) fn $name` that runs `$body` compiled for AVX2+FMA when available,
/// generic over a kernel value type when one is named.
macro_rules! dispatched {
    ($(#[$m:meta])* fn $name:ident $(<$v:ident>)? ($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        pub(crate) fn $name$(<$v: KernelValue>)?($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn imp$(<$v: KernelValue>)?($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast$(<$v: KernelValue>)?($($arg: $ty),*) -> $ret {
                    imp$(::<$v>)?($($arg),*)
                }
                if use_fma() {
                    // SAFETY: the CPU has AVX2 and FMA (checked at run time).
                    return unsafe { fast$(::<$v>)?($($arg),*) };
                }
            }
            imp$(::<$v>)?($($arg),*)
        }
    };
}

/// Lane-wise "take if v >= best" (maximum, last index on ties).
#[inline(always)]
fn take_max(bv: &mut [f64; L], bi: &mut [f64; L], v: &[f64; L], idx: &[f64; L]) {
    for l in 0..L {
        let take = v[l] >= bv[l];
        bv[l] = if take { v[l] } else { bv[l] };
        bi[l] = if take { idx[l] } else { bi[l] };
    }
}

/// Merges the lanes of a maximum: the largest value, and among equal ones the last index.
#[inline(always)]
fn merge_max(bv: &[f64; L], bi: &[f64; L]) -> (f64, usize) {
    let mut best = f64::NEG_INFINITY;
    let mut at = -1.0f64;
    for l in 0..L {
        if bv[l] > best || (bv[l] == best && bi[l] > at) {
            best = bv[l];
            at = bi[l];
        }
    }
    if best == f64::NEG_INFINITY {
        (best, usize::MAX)
    } else {
        (best, at as usize)
    }
}

#[inline(always)]
fn start_index() -> [f64; L] {
    std::array::from_fn(|l| l as f64)
}

/// The penalty the loops add for membership of I_up / I_low: 0 for members, −inf otherwise.
/// Membership is kept one byte per position, so the scans read a byte where a penalty is 8.
#[inline(always)]
fn pen(member: bool) -> f64 {
    if member {
        0.0
    } else {
        f64::NEG_INFINITY
    }
}

#[inline(always)]
fn pens(members: &[bool]) -> [f64; L] {
    std::array::from_fn(|l| pen(members[l]))
}

/// F_t −= a K_i[t] + b K_j[t] over the slice, then argmax of F_t + pen_t over the members `up`
/// of I_up (see [`pen`]). Returns (max, index), index usize::MAX if there is no member.
pub(crate) fn update_argmax<V: KernelValue>(
    f: &mut [f64],
    ki: &[V],
    kj: &[V],
    a: f64,
    b: f64,
    up: &[bool],
) -> (f64, usize) {
    #[cfg(target_arch = "x86_64")]
    if use_fma() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        return unsafe { avx2::update_argmax(f, ki, kj, a, b, up) };
    }
    update_argmax_generic(f, ki, kj, a, b, up)
}

/// WSS 2's second index: over the members `low` of I_low with b = gmax − F_t > 0, minimise
/// −b² / a with a = K_ii + K_tt − 2 K_it (tau if a <= 0). Also returns max over I_low of −F_t.
/// Returns (j or usize::MAX, max −F over I_low).
pub(crate) fn select_j<V: KernelValue>(
    f: &[f64],
    low: &[bool],
    kd: &[f64],
    ki: &[V],
    kii: f64,
    gmax: f64,
    tau: f64,
) -> (usize, f64) {
    #[cfg(target_arch = "x86_64")]
    if use_fma() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        return unsafe { avx2::select_j(f, low, kd, ki, kii, gmax, tau) };
    }
    select_j_generic(f, low, kd, ki, kii, gmax, tau)
}

dispatched! {
    /// Portable form of [`update_argmax`].
    fn update_argmax_generic<V>(f: &mut [f64], ki: &[V], kj: &[V], a: f64, b: f64, up: &[bool]) -> (f64, usize) {
        let n = f.len();
        let (ki, kj, up) = (&ki[..n], &kj[..n], &up[..n]);
        let mut bv = [f64::NEG_INFINITY; L];
        let mut bi = [0.0; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &mut [f64; L] = (&mut f[o..o + L]).try_into().expect("lane");
            let kic: &[V; L] = ki[o..o + L].try_into().expect("lane");
            let kjc: &[V; L] = kj[o..o + L].try_into().expect("lane");
            let pc = pens(&up[o..o + L]);
            let mut v = [0.0; L];
            for l in 0..L {
                fc[l] -= a * kic[l].to_f64() + b * kjc[l].to_f64();
                v[l] = fc[l] + pc[l];
            }
            take_max(&mut bv, &mut bi, &v, &idx);
            for x in idx.iter_mut() {
                *x += L as f64;
            }
        }
        for t in full..n {
            f[t] -= a * ki[t].to_f64() + b * kj[t].to_f64();
            let v = f[t] + pen(up[t]);
            let l = t - full;
            if v >= bv[l] {
                bv[l] = v;
                bi[l] = t as f64;
            }
        }
        merge_max(&bv, &bi)
    }
}

dispatched! {
    /// argmax of F_t + pen_t over the members `up`, as [`update_argmax`] without the update.
    fn argmax(f: &[f64], up: &[bool]) -> (f64, usize) {
        let n = f.len();
        let up = &up[..n];
        let mut bv = [f64::NEG_INFINITY; L];
        let mut bi = [0.0; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &[f64; L] = f[o..o + L].try_into().expect("lane");
            let pc = pens(&up[o..o + L]);
            let v: [f64; L] = std::array::from_fn(|l| fc[l] + pc[l]);
            take_max(&mut bv, &mut bi, &v, &idx);
            for x in idx.iter_mut() {
                *x += L as f64;
            }
        }
        for t in full..n {
            let v = f[t] + pen(up[t]);
            let l = t - full;
            if v >= bv[l] {
                bv[l] = v;
                bi[l] = t as f64;
            }
        }
        merge_max(&bv, &bi)
    }
}

dispatched! {
    /// Portable form of [`select_j`].
    fn select_j_generic<V>(f: &[f64], low: &[bool], kd: &[f64], ki: &[V], kii: f64, gmax: f64, tau: f64) -> (usize, f64) {
        let n = f.len();
        let (low, kd, ki) = (&low[..n], &kd[..n], &ki[..n]);
        let mut bv = [f64::NEG_INFINITY; L]; // maximum of b²/a, i.e. minimum of −b²/a
        let mut bi = [0.0; L];
        let mut g2 = [f64::NEG_INFINITY; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &[f64; L] = f[o..o + L].try_into().expect("lane");
            let pc = pens(&low[o..o + L]);
            let dc: &[f64; L] = kd[o..o + L].try_into().expect("lane");
            let kc: &[V; L] = ki[o..o + L].try_into().expect("lane");
            let mut v = [0.0; L];
            for l in 0..L {
                let m = pc[l] - fc[l];
                g2[l] = if m >= g2[l] { m } else { g2[l] };
                let b = gmax - fc[l];
                let a = kii + dc[l] - 2.0 * kc[l].to_f64();
                let a = if a > 0.0 { a } else { tau };
                let gain = (b * b) / a;
                v[l] = if b > 0.0 && pc[l] == 0.0 { gain } else { f64::NEG_INFINITY };
            }
            take_max(&mut bv, &mut bi, &v, &idx);
            for x in idx.iter_mut() {
                *x += L as f64;
            }
        }
        for t in full..n {
            let l = t - full;
            let m = pen(low[t]) - f[t];
            if m >= g2[l] {
                g2[l] = m;
            }
            let b = gmax - f[t];
            if low[t] && b > 0.0 {
                let a = kii + kd[t] - 2.0 * ki[t].to_f64();
                let a = if a > 0.0 { a } else { tau };
                let gain = (b * b) / a;
                if gain >= bv[l] {
                    bv[l] = gain;
                    bi[l] = t as f64;
                }
            }
        }
        let gmax2 = g2.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        (merge_max(&bv, &bi).1, gmax2)
    }
}

dispatched! {
    /// h += w · row over the slice.
    fn axpy<V>(h: &mut [f64], w: f64, row: &[V]) -> () {
        let row = &row[..h.len()];
        for (x, &r) in h.iter_mut().zip(row) {
            *x += w * r.to_f64();
        }
    }
}

/// The two hot loops with AVX2 intrinsics: the same IEEE operations as the portable forms (no
/// FMA contraction), so both give identical results.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{merge_max, pen, KernelValue, L};

    /// Four kernel values from `p` as f64 lanes (4-byte values are `f32`, widened exactly).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load4<V: KernelValue>(p: *const V) -> __m256d {
        if std::mem::size_of::<V>() == 4 {
            _mm256_cvtps_pd(_mm_loadu_ps(p.cast()))
        } else {
            _mm256_loadu_pd(p.cast())
        }
    }

    /// The penalties of four positions from their membership bytes: 0 or −inf, as [`pen`].
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn pen4(members: *const bool) -> __m256d {
        let bytes = _mm_cvtsi32_si128(members.cast::<i32>().read_unaligned());
        let outside = _mm256_cmpeq_epi64(_mm256_cvtepu8_epi64(bytes), _mm256_setzero_si256());
        _mm256_and_pd(
            _mm256_castsi256_pd(outside),
            _mm256_set1_pd(f64::NEG_INFINITY),
        )
    }

    /// Lanes of two vectors → arrays for [`merge_max`].
    #[inline(always)]
    unsafe fn spill(v0: __m256d, v1: __m256d) -> [f64; L] {
        let mut out = [0.0; L];
        _mm256_storeu_pd(out.as_mut_ptr(), v0);
        _mm256_storeu_pd(out.as_mut_ptr().add(4), v1);
        out
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn update_argmax<V: KernelValue>(
        f: &mut [f64],
        ki: &[V],
        kj: &[V],
        a: f64,
        b: f64,
        up: &[bool],
    ) -> (f64, usize) {
        let n = f.len();
        assert!(ki.len() >= n && kj.len() >= n && up.len() >= n);
        let (va, vb) = (_mm256_set1_pd(a), _mm256_set1_pd(b));
        let ninf = _mm256_set1_pd(f64::NEG_INFINITY);
        let (mut b0, mut b1) = (ninf, ninf);
        let (mut i0, mut i1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut x0 = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
        let mut x1 = _mm256_setr_pd(4.0, 5.0, 6.0, 7.0);
        let step = _mm256_set1_pd(8.0);
        let full = n / 8 * 8;
        let (fp, kip, kjp, pp) = (f.as_mut_ptr(), ki.as_ptr(), kj.as_ptr(), up.as_ptr());
        let mut o = 0;
        while o < full {
            let f0 = _mm256_sub_pd(
                _mm256_loadu_pd(fp.add(o)),
                _mm256_add_pd(
                    _mm256_mul_pd(va, load4(kip.add(o))),
                    _mm256_mul_pd(vb, load4(kjp.add(o))),
                ),
            );
            let f1 = _mm256_sub_pd(
                _mm256_loadu_pd(fp.add(o + 4)),
                _mm256_add_pd(
                    _mm256_mul_pd(va, load4(kip.add(o + 4))),
                    _mm256_mul_pd(vb, load4(kjp.add(o + 4))),
                ),
            );
            _mm256_storeu_pd(fp.add(o), f0);
            _mm256_storeu_pd(fp.add(o + 4), f1);
            let v0 = _mm256_add_pd(f0, pen4(pp.add(o)));
            let v1 = _mm256_add_pd(f1, pen4(pp.add(o + 4)));
            let t0 = _mm256_cmp_pd::<_CMP_GE_OQ>(v0, b0);
            let t1 = _mm256_cmp_pd::<_CMP_GE_OQ>(v1, b1);
            b0 = _mm256_blendv_pd(b0, v0, t0);
            b1 = _mm256_blendv_pd(b1, v1, t1);
            i0 = _mm256_blendv_pd(i0, x0, t0);
            i1 = _mm256_blendv_pd(i1, x1, t1);
            x0 = _mm256_add_pd(x0, step);
            x1 = _mm256_add_pd(x1, step);
            o += 8;
        }
        let (mut bv, mut bi) = (spill(b0, b1), spill(i0, i1));
        for t in full..n {
            f[t] -= a * ki[t].to_f64() + b * kj[t].to_f64();
            let v = f[t] + pen(up[t]);
            let l = t - full;
            if v >= bv[l] {
                bv[l] = v;
                bi[l] = t as f64;
            }
        }
        merge_max(&bv, &bi)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn select_j<V: KernelValue>(
        f: &[f64],
        low: &[bool],
        kd: &[f64],
        ki: &[V],
        kii: f64,
        gmax: f64,
        tau: f64,
    ) -> (usize, f64) {
        let n = f.len();
        assert!(low.len() >= n && kd.len() >= n && ki.len() >= n);
        let ninf = _mm256_set1_pd(f64::NEG_INFINITY);
        let zero = _mm256_setzero_pd();
        let (vg, vkii, vtau, two) = (
            _mm256_set1_pd(gmax),
            _mm256_set1_pd(kii),
            _mm256_set1_pd(tau),
            _mm256_set1_pd(2.0),
        );
        let (mut b0, mut b1) = (ninf, ninf);
        let (mut g0, mut g1) = (ninf, ninf);
        let (mut i0, mut i1) = (zero, zero);
        let mut x0 = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
        let mut x1 = _mm256_setr_pd(4.0, 5.0, 6.0, 7.0);
        let step = _mm256_set1_pd(8.0);
        let full = n / 8 * 8;
        let (fp, pp, dp, kp) = (f.as_ptr(), low.as_ptr(), kd.as_ptr(), ki.as_ptr());
        macro_rules! lane4 {
            ($o:expr, $best:ident, $idx:ident, $x:ident, $g2:ident) => {{
                let fv = _mm256_loadu_pd(fp.add($o));
                let pv = pen4(pp.add($o));
                $g2 = _mm256_max_pd(_mm256_sub_pd(pv, fv), $g2);
                let b = _mm256_sub_pd(vg, fv);
                let a = _mm256_sub_pd(
                    _mm256_add_pd(vkii, _mm256_loadu_pd(dp.add($o))),
                    _mm256_mul_pd(two, load4(kp.add($o))),
                );
                let a = _mm256_blendv_pd(vtau, a, _mm256_cmp_pd::<_CMP_GT_OQ>(a, zero));
                let gain = _mm256_div_pd(_mm256_mul_pd(b, b), a);
                let valid = _mm256_and_pd(
                    _mm256_cmp_pd::<_CMP_GT_OQ>(b, zero),
                    _mm256_cmp_pd::<_CMP_EQ_OQ>(pv, zero),
                );
                let gain = _mm256_blendv_pd(ninf, gain, valid);
                let take = _mm256_cmp_pd::<_CMP_GE_OQ>(gain, $best);
                $best = _mm256_blendv_pd($best, gain, take);
                $idx = _mm256_blendv_pd($idx, $x, take);
                $x = _mm256_add_pd($x, step);
            }};
        }
        let mut o = 0;
        while o < full {
            lane4!(o, b0, i0, x0, g0);
            lane4!(o + 4, b1, i1, x1, g1);
            o += 8;
        }
        let (mut bv, mut bi, g2) = (spill(b0, b1), spill(i0, i1), spill(g0, g1));
        let mut gmax2 = g2.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        for t in full..n {
            let l = t - full;
            let m = pen(low[t]) - f[t];
            if m >= gmax2 {
                gmax2 = m;
            }
            let b = gmax - f[t];
            if low[t] && b > 0.0 {
                let a = kii + kd[t] - 2.0 * ki[t].to_f64();
                let a = if a > 0.0 { a } else { tau };
                let gain = (b * b) / a;
                if gain >= bv[l] {
                    bv[l] = gain;
                    bi[l] = t as f64;
                }
            }
        }
        (merge_max(&bv, &bi).1, gmax2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Inputs with ties (values from a small set) and members and non-members of I_up / I_low.
    fn inputs(n: usize) -> ([Vec<f64>; 3], Vec<bool>) {
        let v = |salt: usize| -> Vec<f64> {
            (0..n)
                .map(|t| ((t * 7 + salt) % 11) as f64 * 0.3 - 1.1 + (t % 3) as f64 / 7.0)
                .collect()
        };
        let members = (0..n).map(|t| t % 4 != 1).collect();
        ([v(0), v(3), v(5)], members)
    }

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The values as the cache of `V` keeps them.
    fn stored<V: KernelValue>(v: &[f64]) -> Vec<V> {
        v.iter().map(|&x| V::from_f64(x)).collect()
    }

    /// The dispatched loops (AVX2 intrinsics on x86-64) return what the portable forms, which
    /// aarch64 runs, return: the same F, maxima, indices (ties to the last) bit for bit. Run on
    /// kernel rows of type `V`, the result is the one of f64 rows holding the same values.
    fn dispatched_loops_are_the_portable_loops_on<V: KernelValue>() {
        for n in [0, 5, 8, 37, 64] {
            let ([f, ki, kj], members) = inputs(n);
            let (ki_v, kj_v) = (stored::<V>(&ki), stored::<V>(&kj));
            let (ki, kj): (Vec<f64>, Vec<f64>) = (
                ki_v.iter().map(|v| v.to_f64()).collect(),
                kj_v.iter().map(|v| v.to_f64()).collect(),
            );
            let (mut f1, mut f2, mut f3) = (f.clone(), f.clone(), f.clone());
            let a = update_argmax(&mut f1, &ki_v, &kj_v, 0.3, -0.7, &members);
            let b = update_argmax_generic(&mut f2, &ki_v, &kj_v, 0.3, -0.7, &members);
            let c = update_argmax_generic(&mut f3, &ki, &kj, 0.3, -0.7, &members);
            assert_eq!(bits(&f1), bits(&f2), "F after the update, n = {n}");
            assert_eq!(bits(&f1), bits(&f3), "F from f64 rows, n = {n}");
            for other in [b, c] {
                assert_eq!(
                    (a.0.to_bits(), a.1),
                    (other.0.to_bits(), other.1),
                    "n = {n}"
                );
            }
            let kd: Vec<f64> = ki.iter().map(|k| k.abs() + 1.0).collect();
            let a = select_j(&f1, &members, &kd, &kj_v, 1.3, 0.4, 1e-12);
            let b = select_j_generic(&f1, &members, &kd, &kj_v, 1.3, 0.4, 1e-12);
            let c = select_j_generic(&f1, &members, &kd, &kj, 1.3, 0.4, 1e-12);
            for other in [b, c] {
                assert_eq!(
                    (a.0, a.1.to_bits()),
                    (other.0, other.1.to_bits()),
                    "n = {n}"
                );
            }
        }
    }

    #[test]
    fn dispatched_loops_are_the_portable_loops() {
        dispatched_loops_are_the_portable_loops_on::<f64>();
        dispatched_loops_are_the_portable_loops_on::<f32>();
    }
}
