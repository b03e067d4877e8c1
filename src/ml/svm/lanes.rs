//! The solver's per-iteration loops, written lane-wise (8 independent running maxima / minima
//! with their indices, merged at the end) so that they compile to branch-free vector code, and
//! compiled for AVX2+FMA when the CPU has them. Ties go to the last index, as in libsvm.

#[cfg(target_arch = "x86_64")]
use super::kernel::use_fma;

const L: usize = 8;

/// Defines `pub(crate) fn $name` that runs `$body` compiled for AVX2+FMA when available.
macro_rules! dispatched {
    ($(#[$m:meta])* fn $name:ident($($arg:ident : $ty:ty),* $(,)?) -> $ret:ty $body:block) => {
        $(#[$m])*
        pub(crate) fn $name($($arg: $ty),*) -> $ret {
            #[inline(always)]
            fn imp($($arg: $ty),*) -> $ret $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn fast($($arg: $ty),*) -> $ret {
                    imp($($arg),*)
                }
                if use_fma() {
                    // SAFETY: the CPU has AVX2 and FMA (checked at run time).
                    return unsafe { fast($($arg),*) };
                }
            }
            imp($($arg),*)
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

/// F_t −= a K_i[t] + b K_j[t] over the slice, then argmax of F_t + pen_t (pen = 0 for members
/// of I_up, −inf otherwise). Returns (max, index), index usize::MAX if there is no member.
pub(crate) fn update_argmax(
    f: &mut [f64],
    ki: &[f64],
    kj: &[f64],
    a: f64,
    b: f64,
    pen: &[f64],
) -> (f64, usize) {
    #[cfg(target_arch = "x86_64")]
    if use_fma() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        return unsafe { avx2::update_argmax(f, ki, kj, a, b, pen) };
    }
    update_argmax_generic(f, ki, kj, a, b, pen)
}

/// WSS 2's second index: over t with pen_t = 0 (I_low) and b = gmax − F_t > 0, minimise
/// −b² / a with a = K_ii + K_tt − 2 K_it (tau if a <= 0). Also returns max over I_low of −F_t.
/// Returns (j or usize::MAX, max −F over I_low).
pub(crate) fn select_j(
    f: &[f64],
    pen: &[f64],
    kd: &[f64],
    ki: &[f64],
    kii: f64,
    gmax: f64,
    tau: f64,
) -> (usize, f64) {
    #[cfg(target_arch = "x86_64")]
    if use_fma() {
        // SAFETY: the CPU has AVX2 (checked at run time).
        return unsafe { avx2::select_j(f, pen, kd, ki, kii, gmax, tau) };
    }
    select_j_generic(f, pen, kd, ki, kii, gmax, tau)
}

dispatched! {
    /// Portable form of [`update_argmax`].
    fn update_argmax_generic(f: &mut [f64], ki: &[f64], kj: &[f64], a: f64, b: f64, pen: &[f64]) -> (f64, usize) {
        let n = f.len();
        let (ki, kj, pen) = (&ki[..n], &kj[..n], &pen[..n]);
        let mut bv = [f64::NEG_INFINITY; L];
        let mut bi = [0.0; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &mut [f64; L] = (&mut f[o..o + L]).try_into().expect("lane");
            let kic: &[f64; L] = ki[o..o + L].try_into().expect("lane");
            let kjc: &[f64; L] = kj[o..o + L].try_into().expect("lane");
            let pc: &[f64; L] = pen[o..o + L].try_into().expect("lane");
            let mut v = [0.0; L];
            for l in 0..L {
                fc[l] -= a * kic[l] + b * kjc[l];
                v[l] = fc[l] + pc[l];
            }
            take_max(&mut bv, &mut bi, &v, &idx);
            for x in idx.iter_mut() {
                *x += L as f64;
            }
        }
        for t in full..n {
            f[t] -= a * ki[t] + b * kj[t];
            let v = f[t] + pen[t];
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
    /// argmax of F_t + pen_t, as [`update_argmax`] without the update.
    fn argmax(f: &[f64], pen: &[f64]) -> (f64, usize) {
        let n = f.len();
        let pen = &pen[..n];
        let mut bv = [f64::NEG_INFINITY; L];
        let mut bi = [0.0; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &[f64; L] = f[o..o + L].try_into().expect("lane");
            let pc: &[f64; L] = pen[o..o + L].try_into().expect("lane");
            let v: [f64; L] = std::array::from_fn(|l| fc[l] + pc[l]);
            take_max(&mut bv, &mut bi, &v, &idx);
            for x in idx.iter_mut() {
                *x += L as f64;
            }
        }
        for t in full..n {
            let v = f[t] + pen[t];
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
    fn select_j_generic(f: &[f64], pen: &[f64], kd: &[f64], ki: &[f64], kii: f64, gmax: f64, tau: f64) -> (usize, f64) {
        let n = f.len();
        let (pen, kd, ki) = (&pen[..n], &kd[..n], &ki[..n]);
        let mut bv = [f64::NEG_INFINITY; L]; // maximum of b²/a, i.e. minimum of −b²/a
        let mut bi = [0.0; L];
        let mut g2 = [f64::NEG_INFINITY; L];
        let mut idx = start_index();
        let full = n / L * L;
        for o in (0..full).step_by(L) {
            let fc: &[f64; L] = f[o..o + L].try_into().expect("lane");
            let pc: &[f64; L] = pen[o..o + L].try_into().expect("lane");
            let dc: &[f64; L] = kd[o..o + L].try_into().expect("lane");
            let kc: &[f64; L] = ki[o..o + L].try_into().expect("lane");
            let mut v = [0.0; L];
            for l in 0..L {
                let m = pc[l] - fc[l];
                g2[l] = if m >= g2[l] { m } else { g2[l] };
                let b = gmax - fc[l];
                let a = kii + dc[l] - 2.0 * kc[l];
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
            let m = pen[t] - f[t];
            if m >= g2[l] {
                g2[l] = m;
            }
            let b = gmax - f[t];
            if pen[t] == 0.0 && b > 0.0 {
                let a = kii + kd[t] - 2.0 * ki[t];
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
    fn axpy(h: &mut [f64], w: f64, row: &[f64]) -> () {
        let row = &row[..h.len()];
        for (x, &r) in h.iter_mut().zip(row) {
            *x += w * r;
        }
    }
}

/// The two hot loops with AVX2 intrinsics: the same IEEE operations as the portable forms (no
/// FMA contraction), so both give identical results.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{merge_max, L};

    /// Lanes of two vectors → arrays for [`merge_max`].
    #[inline(always)]
    unsafe fn spill(v0: __m256d, v1: __m256d) -> [f64; L] {
        let mut out = [0.0; L];
        _mm256_storeu_pd(out.as_mut_ptr(), v0);
        _mm256_storeu_pd(out.as_mut_ptr().add(4), v1);
        out
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn update_argmax(
        f: &mut [f64],
        ki: &[f64],
        kj: &[f64],
        a: f64,
        b: f64,
        pen: &[f64],
    ) -> (f64, usize) {
        let n = f.len();
        assert!(ki.len() >= n && kj.len() >= n && pen.len() >= n);
        let (va, vb) = (_mm256_set1_pd(a), _mm256_set1_pd(b));
        let ninf = _mm256_set1_pd(f64::NEG_INFINITY);
        let (mut b0, mut b1) = (ninf, ninf);
        let (mut i0, mut i1) = (_mm256_setzero_pd(), _mm256_setzero_pd());
        let mut x0 = _mm256_setr_pd(0.0, 1.0, 2.0, 3.0);
        let mut x1 = _mm256_setr_pd(4.0, 5.0, 6.0, 7.0);
        let step = _mm256_set1_pd(8.0);
        let full = n / 8 * 8;
        let (fp, kip, kjp, pp) = (f.as_mut_ptr(), ki.as_ptr(), kj.as_ptr(), pen.as_ptr());
        let mut o = 0;
        while o < full {
            let f0 = _mm256_sub_pd(
                _mm256_loadu_pd(fp.add(o)),
                _mm256_add_pd(
                    _mm256_mul_pd(va, _mm256_loadu_pd(kip.add(o))),
                    _mm256_mul_pd(vb, _mm256_loadu_pd(kjp.add(o))),
                ),
            );
            let f1 = _mm256_sub_pd(
                _mm256_loadu_pd(fp.add(o + 4)),
                _mm256_add_pd(
                    _mm256_mul_pd(va, _mm256_loadu_pd(kip.add(o + 4))),
                    _mm256_mul_pd(vb, _mm256_loadu_pd(kjp.add(o + 4))),
                ),
            );
            _mm256_storeu_pd(fp.add(o), f0);
            _mm256_storeu_pd(fp.add(o + 4), f1);
            let v0 = _mm256_add_pd(f0, _mm256_loadu_pd(pp.add(o)));
            let v1 = _mm256_add_pd(f1, _mm256_loadu_pd(pp.add(o + 4)));
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
            f[t] -= a * ki[t] + b * kj[t];
            let v = f[t] + pen[t];
            let l = t - full;
            if v >= bv[l] {
                bv[l] = v;
                bi[l] = t as f64;
            }
        }
        merge_max(&bv, &bi)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn select_j(
        f: &[f64],
        pen: &[f64],
        kd: &[f64],
        ki: &[f64],
        kii: f64,
        gmax: f64,
        tau: f64,
    ) -> (usize, f64) {
        let n = f.len();
        assert!(pen.len() >= n && kd.len() >= n && ki.len() >= n);
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
        let (fp, pp, dp, kp) = (f.as_ptr(), pen.as_ptr(), kd.as_ptr(), ki.as_ptr());
        macro_rules! lane4 {
            ($o:expr, $best:ident, $idx:ident, $x:ident, $g2:ident) => {{
                let fv = _mm256_loadu_pd(fp.add($o));
                let pv = _mm256_loadu_pd(pp.add($o));
                $g2 = _mm256_max_pd(_mm256_sub_pd(pv, fv), $g2);
                let b = _mm256_sub_pd(vg, fv);
                let a = _mm256_sub_pd(
                    _mm256_add_pd(vkii, _mm256_loadu_pd(dp.add($o))),
                    _mm256_mul_pd(two, _mm256_loadu_pd(kp.add($o))),
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
            let m = pen[t] - f[t];
            if m >= gmax2 {
                gmax2 = m;
            }
            let b = gmax - f[t];
            if pen[t] == 0.0 && b > 0.0 {
                let a = kii + kd[t] - 2.0 * ki[t];
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

    fn bits(v: &[f64]) -> Vec<u64> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    /// The dispatched loops (AVX2 intrinsics on x86-64) return what the portable forms, which
    /// aarch64 runs, return: the same F, maxima, indices (ties to the last) bit for bit.
    #[test]
    fn dispatched_loops_are_the_portable_loops() {
        for n in [0, 5, 8, 37, 64] {
            let [f, ki, kj, pen] = inputs(n);
            let (mut f1, mut f2) = (f.clone(), f.clone());
            let a = update_argmax(&mut f1, &ki, &kj, 0.3, -0.7, &pen);
            let b = update_argmax_generic(&mut f2, &ki, &kj, 0.3, -0.7, &pen);
            assert_eq!(bits(&f1), bits(&f2), "F after the update, n = {n}");
            assert_eq!(
                (a.0.to_bits(), a.1),
                (b.0.to_bits(), b.1),
                "update_argmax, n = {n}"
            );
            let kd: Vec<f64> = ki.iter().map(|k| k.abs() + 1.0).collect();
            let a = select_j(&f1, &pen, &kd, &kj, 1.3, 0.4, 1e-12);
            let b = select_j_generic(&f1, &pen, &kd, &kj, 1.3, 0.4, 1e-12);
            assert_eq!(
                (a.0, a.1.to_bits()),
                (b.0, b.1.to_bits()),
                "select_j, n = {n}"
            );
        }
    }
}
