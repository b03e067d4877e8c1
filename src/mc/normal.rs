//! Standard normal variates for the path loops: a 256-layer ziggurat (Marsaglia & Tsang 2000, in
//! Doornik's ZIGNOR form) that takes one `u64` per normal on its fast path (about 99% of draws):
//! the low 8 bits pick the layer and the top 53 bits are a signed integer compared against an
//! integer threshold, so the fast path is an integer compare, one int-to-float conversion and one
//! multiply. The method is exact; only the 2^-52 grid of the uniform limits resolution. This module
//! owns the tables and the sampler, nothing else.

use std::sync::LazyLock;

use rand::Rng;

/// Number of ziggurat layers (the low 8 bits of each draw choose one).
const LAYERS: usize = 256;
/// Right edge of the base layer's rectangle for 256 layers (Marsaglia & Tsang).
const R: f64 = 3.654_152_885_361_009;
/// 2^-52: the scale of the signed 53-bit integer `j` taken from the top of a draw.
const SCALE: f64 = 1.0 / (1u64 << 52) as f64;

/// Precomputed ziggurat tables. Layer `i` is the rectangle `[0, x[i]] x [f(x[i]), f(x[i+1])]`
/// (layer 0 is the base rectangle `[0, r] x [0, f(r)]` plus the tail beyond `r`, stretched to
/// width `x[0] = v / f(r)`); all layers have the same area `v`.
pub(crate) struct Ziggurat {
    /// Fast-path thresholds: accept when `|j| < k[i]`, i.e. `|u| * x[i] < x[i+1]`.
    k: [u64; LAYERS],
    /// `x[i] * 2^-52`: turns `j` into the sample.
    w: [f64; LAYERS],
    /// Layer edges `x[0..=256]`, `x[1] = r`, `x[256] = 0`.
    x: [f64; LAYERS + 1],
    /// `f(x[i]) = exp(-x[i]^2 / 2)`.
    f: [f64; LAYERS + 1],
}

static TABLES: LazyLock<Ziggurat> = LazyLock::new(Ziggurat::build);

fn pdf(x: f64) -> f64 {
    (-0.5 * x * x).exp()
}

/// A uniform draw in the open interval (0, 1).
#[inline]
fn open01<G: Rng + ?Sized>(rng: &mut G) -> f64 {
    ((rng.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
}

impl Ziggurat {
    /// The shared tables (built once per process).
    pub(crate) fn get() -> &'static Ziggurat {
        &TABLES
    }

    fn build() -> Ziggurat {
        // Area of each layer: the base rectangle plus the tail.
        let v = R * pdf(R) + (std::f64::consts::PI / 2.0).sqrt() * libm::erfc(R / 2f64.sqrt());
        let mut x = [0.0; LAYERS + 1];
        x[0] = v / pdf(R);
        x[1] = R;
        for i in 1..LAYERS - 1 {
            x[i + 1] = (-2.0 * (v / x[i] + pdf(x[i])).ln()).sqrt();
        }
        x[LAYERS] = 0.0;
        let mut f = [0.0; LAYERS + 1];
        for i in 0..=LAYERS {
            f[i] = pdf(x[i]);
        }
        let mut k = [0u64; LAYERS];
        let mut w = [0.0; LAYERS];
        for i in 0..LAYERS {
            // |j| < 2^52 x[i+1]/x[i]  <=>  |j| < ceil(2^52 x[i+1]/x[i]) for integer j.
            k[i] = ((x[i + 1] / x[i]) / SCALE).ceil() as u64;
            w[i] = x[i] * SCALE;
        }
        Ziggurat { k, w, x, f }
    }

    /// One standard normal variate.
    ///
    /// The generator moves through by value: its address never escapes to the out-of-line slow
    /// path, so in loops its state stays in registers instead of round-tripping through memory.
    #[inline(always)]
    pub(crate) fn sample<G: Rng>(&self, mut rng: G) -> (G, f64) {
        loop {
            let bits = rng.next_u64();
            let i = (bits & 0xff) as usize;
            // Top 53 bits as a signed integer in [-2^52, 2^52): u = j * 2^-52 in [-1, 1).
            let j = (bits as i64) >> 11;
            if j.unsigned_abs() < self.k[i] {
                return (rng, j as f64 * self.w[i]);
            }
            let (back, z) = self.slow(rng, i, j);
            rng = back;
            if let Some(z) = z {
                return (rng, z);
            }
        }
    }

    /// The rare part: the wedge test of layer `i > 0` or the tail of layer 0. `None` rejects.
    #[cold]
    #[inline(never)]
    fn slow<G: Rng>(&self, mut rng: G, i: usize, j: i64) -> (G, Option<f64>) {
        let u = j as f64 * SCALE;
        if i == 0 {
            // Tail beyond r (Marsaglia 1964): x = -ln(U1)/r, y = -ln(U2), accept when 2y > x^2.
            loop {
                let x = -open01(&mut rng).ln() / R;
                let y = -open01(&mut rng).ln();
                if y + y > x * x {
                    return (rng, Some(if u < 0.0 { -(R + x) } else { R + x }));
                }
            }
        }
        let x = u * self.x[i];
        let y = self.f[i] + (self.f[i + 1] - self.f[i]) * open01(&mut rng);
        (rng, (y < pdf(x)).then_some(x))
    }

    /// Fills `out` with independent standard normals.
    #[inline]
    pub(crate) fn fill<G: Rng + Clone>(&self, rng: &mut G, out: &mut [f64]) {
        let mut local = rng.clone();
        for o in out.iter_mut() {
            let (next, z) = self.sample(local);
            local = next;
            *o = z;
        }
        *rng = local;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mc::closed_form::norm_cdf;
    use crate::rng::task_rng;

    #[test]
    fn tables_close_the_top_layer() {
        let z = Ziggurat::get();
        let v = z.x[0] * z.f[1];
        // The last layer [0, x[255]] x [f(x[255]), 1] must have the common area v.
        let top = z.x[255] * (1.0 - z.f[255]);
        assert!((top - v).abs() < 1e-12 * v, "top {top} v {v}");
        assert_eq!(z.x[1], R);
    }

    #[test]
    fn moments_and_tails_match_the_normal() {
        let zig = Ziggurat::get();
        let mut rng = task_rng(11, 0);
        let n = 2_000_000usize;
        let mut buf = vec![0.0; n];
        zig.fill(&mut rng, &mut buf);
        let (mut s1, mut s2, mut s3, mut s4) = (0.0, 0.0, 0.0, 0.0);
        // Counts beyond a few thresholds, including the tail layer (|z| > r).
        let cuts = [0.5, 1.0, 2.0, 3.0, R, 4.0];
        let mut above = [0usize; 6];
        for &z in &buf {
            s1 += z;
            s2 += z * z;
            s3 += z * z * z;
            s4 += z * z * z * z;
            for (c, a) in cuts.iter().zip(above.iter_mut()) {
                if z.abs() > *c {
                    *a += 1;
                }
            }
        }
        let nf = n as f64;
        let (m, var) = (s1 / nf, s2 / nf);
        // Standard errors: mean 1/sqrt(n), var sqrt(2/n), skew sqrt(15/n), kurtosis sqrt(96/n).
        assert!(m.abs() < 4.0 / nf.sqrt(), "mean {m}");
        assert!((var - 1.0).abs() < 4.0 * (2.0 / nf).sqrt(), "var {var}");
        assert!(
            (s3 / nf).abs() < 4.0 * (15.0 / nf).sqrt(),
            "third moment {}",
            s3 / nf
        );
        assert!(
            (s4 / nf - 3.0).abs() < 4.0 * (96.0 / nf).sqrt(),
            "fourth {}",
            s4 / nf
        );
        for (c, a) in cuts.iter().zip(above) {
            let p = 2.0 * norm_cdf(-c);
            let se = (p * (1.0 - p) / nf).sqrt();
            let got = a as f64 / nf;
            assert!((got - p).abs() < 4.0 * se, "P(|Z| > {c}): {got} vs {p}");
        }
    }
}
