//! Probability outputs: Platt's sigmoid P(class i | f) = 1 / (1 + exp(A f + B)) fitted to
//! cross-validated decision values by Newton's method with backtracking (Lin, Lin & Weng 2007,
//! "A note on Platt's probabilistic outputs for support vector machines"), and pairwise coupling
//! of the sigmoids into class probabilities (Wu, Lin & Weng 2004, method 2), as libsvm does.

/// Fits (A, B) to decision values `dec` with labels `positive[t]` (true = the pair's first class).
pub(crate) fn fit_sigmoid(dec: &[f64], positive: &[bool]) -> (f64, f64) {
    const MAX_ITER: usize = 100;
    const MIN_STEP: f64 = 1e-10;
    const SIGMA: f64 = 1e-12; // keeps the Hessian strictly positive definite
    const EPS: f64 = 1e-5;
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    // Regularised targets (Platt): avoid fitting 0 / 1 exactly.
    let hi = (n_pos + 1.0) / (n_pos + 2.0);
    let lo = 1.0 / (n_neg + 2.0);
    let target: Vec<f64> = positive.iter().map(|&p| if p { hi } else { lo }).collect();

    // Negative log-likelihood, written to avoid overflow of exp.
    let loss = |a: f64, b: f64| -> f64 {
        dec.iter()
            .zip(&target)
            .map(|(&f, &t)| {
                let z = f * a + b;
                if z >= 0.0 {
                    t * z + (-z).exp().ln_1p()
                } else {
                    (t - 1.0) * z + z.exp().ln_1p()
                }
            })
            .sum()
    };

    let mut a = 0.0;
    let mut b = ((n_neg + 1.0) / (n_pos + 1.0)).ln();
    let mut value = loss(a, b);
    for _ in 0..MAX_ITER {
        let (mut h11, mut h22, mut h21, mut g1, mut g2) = (SIGMA, SIGMA, 0.0, 0.0, 0.0);
        for (&f, &t) in dec.iter().zip(&target) {
            let z = f * a + b;
            // p = 1/(1+e^z), q = 1 − p, computed on the stable side.
            let (p, q) = if z >= 0.0 {
                let e = (-z).exp();
                (e / (1.0 + e), 1.0 / (1.0 + e))
            } else {
                let e = z.exp();
                (1.0 / (1.0 + e), e / (1.0 + e))
            };
            let w = p * q;
            h11 += f * f * w;
            h22 += w;
            h21 += f * w;
            let r = t - p;
            g1 += f * r;
            g2 += r;
        }
        if g1.abs() < EPS && g2.abs() < EPS {
            break;
        }
        // Newton direction −H⁻¹ g.
        let det = h11 * h22 - h21 * h21;
        let da = -(h22 * g1 - h21 * g2) / det;
        let db = -(-h21 * g1 + h11 * g2) / det;
        let slope = g1 * da + g2 * db;
        let mut step = 1.0;
        let mut accepted = false;
        while step >= MIN_STEP {
            let (na, nb) = (a + step * da, b + step * db);
            let nv = loss(na, nb);
            if nv < value + 1e-4 * step * slope {
                a = na;
                b = nb;
                value = nv;
                accepted = true;
                break;
            }
            step /= 2.0;
        }
        if !accepted {
            break;
        }
    }
    (a, b)
}

/// P(first class of the pair | decision value f).
pub(crate) fn sigmoid(f: f64, a: f64, b: f64) -> f64 {
    let z = f * a + b;
    if z >= 0.0 {
        let e = (-z).exp();
        e / (1.0 + e)
    } else {
        1.0 / (1.0 + z.exp())
    }
}

/// Class probabilities from pairwise ones: `r[i][j]` ≈ P(i | i or j), r[j][i] = 1 − r[i][j].
/// Minimises Σ_i Σ_{j≠i} (r[j][i] p_i − r[i][j] p_j)² over the simplex by the fixed-point
/// iteration of Wu, Lin & Weng (method 2); `p` receives the k probabilities.
pub(crate) fn couple(k: usize, r: &[Vec<f64>], p: &mut [f64]) {
    let max_iter = 100.max(k);
    let eps = 0.005 / k as f64;
    let mut q = vec![vec![0.0; k]; k];
    for t in 0..k {
        p[t] = 1.0 / k as f64;
        for j in 0..k {
            if j != t {
                q[t][t] += r[j][t] * r[j][t];
                q[t][j] = -r[j][t] * r[t][j];
            }
        }
    }
    let mut qp = vec![0.0; k];
    for _ in 0..max_iter {
        let mut pqp = 0.0;
        for t in 0..k {
            qp[t] = (0..k).map(|j| q[t][j] * p[j]).sum();
            pqp += p[t] * qp[t];
        }
        let worst = qp.iter().map(|v| (v - pqp).abs()).fold(0.0, f64::max);
        if worst < eps {
            break;
        }
        for t in 0..k {
            let diff = (pqp - qp[t]) / q[t][t];
            p[t] += diff;
            let scale = 1.0 + diff;
            pqp = (pqp + diff * (diff * q[t][t] + 2.0 * qp[t])) / (scale * scale);
            for j in 0..k {
                qp[j] = (qp[j] + diff * q[t][j]) / scale;
                p[j] /= scale;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigmoid_fit_separates() {
        let dec: Vec<f64> = (0..200).map(|i| (i as f64 - 100.0) / 20.0).collect();
        let pos: Vec<bool> = (0..200).map(|i| (i > 100) != (i % 10 == 0)).collect();
        let (a, b) = fit_sigmoid(&dec, &pos);
        assert!(a.is_finite() && b.is_finite());
        // More positives at higher decision values: probability must rise with f, so A < 0.
        assert!(sigmoid(2.0, a, b) > sigmoid(-2.0, a, b));
    }

    #[test]
    fn coupling_two_classes_gives_pairwise() {
        let r = vec![vec![0.0, 0.8], vec![0.2, 0.0]];
        let mut p = [0.0; 2];
        couple(2, &r, &mut p);
        assert!((p[0] - 0.8).abs() < 0.01 && (p[0] + p[1] - 1.0).abs() < 1e-12);
    }
}
