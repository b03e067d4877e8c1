//! An inlinable `e^x` for the gbm path loop, where one exponential per step and path is most of
//! the work: the call into libm (PLT, errno wrapper) costs more than the arithmetic. Range
//! reduction `x = k ln2 + r`, `|r| <= ln2/2`, a degree-13 Taylor polynomial (truncation below
//! 1e-17) and an exponent-field scale by `2^k`; within 2 ulp of libm's `exp` (tested), and libm's
//! own `exp` outside `|x| < 700` and for NaN. Owns nothing else.

const LOG2E: f64 = std::f64::consts::LOG2_E;
/// `ln 2` split so that `k * LN2_HI` is exact for `|k| < 2^11` (fdlibm's constants).
const LN2_HI: f64 = f64::from_bits(0x3fe6_2e42_fee0_0000); // 0.693147180369123816490
const LN2_LO: f64 = f64::from_bits(0x3dea_39ef_3579_3c76); // 1.90821492927058770002e-10
/// `1.5 * 2^52`: adding and subtracting it rounds to the nearest integer.
const ROUND: f64 = 6_755_399_441_055_744.0;

/// Inputs below this magnitude take the fast path.
pub(crate) const FAST_RANGE: f64 = 700.0;

/// `e^x`.
#[inline(always)]
pub(crate) fn exp(x: f64) -> f64 {
    if x.abs() < FAST_RANGE {
        exp_in_range(x)
    } else {
        x.exp()
    }
}

/// `e^x` for `|x| < FAST_RANGE` only (garbage outside, NaN included). Branch-free, so loops over
/// slices of it vectorise.
#[inline(always)]
pub(crate) fn exp_in_range(x: f64) -> f64 {
    let t = x * LOG2E + ROUND;
    let k = t - ROUND;
    let r = (x - k * LN2_HI) - k * LN2_LO;
    // Horner form of sum_{n <= 13} r^n / n!.
    let mut p = 1.0 / 6_227_020_800.0;
    p = p * r + 1.0 / 479_001_600.0;
    p = p * r + 1.0 / 39_916_800.0;
    p = p * r + 1.0 / 3_628_800.0;
    p = p * r + 1.0 / 362_880.0;
    p = p * r + 1.0 / 40_320.0;
    p = p * r + 1.0 / 5_040.0;
    p = p * r + 1.0 / 720.0;
    p = p * r + 1.0 / 120.0;
    p = p * r + 1.0 / 24.0;
    p = p * r + 1.0 / 6.0;
    p = p * r + 0.5;
    p = p * r + 1.0;
    p = p * r + 1.0;
    // |k| <= 1010, so 2^k is a normal number built from its exponent field. The low bits of
    // `t` hold `2^51 + k` (integer arithmetic only, which SSE2 vectorises, unlike f64 -> i64).
    let k_bits = t.to_bits().wrapping_sub(ROUND.to_bits());
    let scale = f64::from_bits(k_bits.wrapping_add(1023) << 52);
    p * scale
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps(a: f64, b: f64) -> u64 {
        (a.to_bits() as i64 - b.to_bits() as i64).unsigned_abs()
    }

    #[test]
    fn matches_libm_within_two_ulp() {
        let mut worst = 0;
        // A dense sweep of the usual range and a coarse one of the whole fast range.
        let dense = (0..2_000_001).map(|i| -10.0 + 20.0 * i as f64 / 2e6);
        let wide = (0..200_001).map(|i| -699.9 + 1399.8 * i as f64 / 2e5);
        for x in dense.chain(wide) {
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(ulps(got, want));
            assert!(ulps(got, want) <= 2, "exp({x}) = {got}, libm {want}");
        }
        assert!(worst <= 2);
        assert_eq!(exp(0.0), 1.0);
        assert_eq!(exp(-800.0), 0.0);
        assert_eq!(exp(800.0), f64::INFINITY);
        assert!(exp(f64::NAN).is_nan());
    }
}
