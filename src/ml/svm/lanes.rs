//! The solver's per-iteration loops, written lane-wise (8 independent running maxima / minima
//! with their indices, merged at the end) so that they compile to branch-free vector code, and
//! compiled for AVX2+FMA when the CPU has them. Ties go to the last index, as in libsvm.

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

dispatched! {
    /// F_t −= a K_i[t] + b K_j[t] over the slice, then argmax of F_t + pen_t (pen = 0 for members
    /// of I_up, −inf otherwise). Returns (max, index), index usize::MAX if there is no member.
    fn update_argmax(f: &mut [f64], ki: &[f64], kj: &[f64], a: f64, b: f64, pen: &[f64]) -> (f64, usize) {
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
    /// WSS 2's second index: over t with pen_t = 0 (I_low) and b = gmax − F_t > 0, minimise
    /// −b² / a with a = K_ii + K_tt − 2 K_it (tau if a <= 0). Also returns max over I_low of −F_t.
    /// Returns (j or usize::MAX, max −F over I_low).
    fn select_j(f: &[f64], pen: &[f64], kd: &[f64], ki: &[f64], kii: f64, gmax: f64, tau: f64) -> (usize, f64) {
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
