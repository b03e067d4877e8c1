"""Reference prices for the Monte Carlo tests in src/mc, computed here rather than quoted.

- The discrete geometric-average Asian call of STACK.md's example (S0 100, K 95, r 0.05, q 0.01,
  sigma 0.3, T 1, 12 fixings) from the lognormal closed form, with scipy's normal CDF.
- The notebook's Asian call under GBM (S0 = K = 100, sigma 0.2, r 0.02, q 0, T 4, 1460 daily
  fixings): a numpy Monte Carlo of exact log-normal steps, PATHS paths in batches, with the
  geometric average as control variate (closed form above, optimal coefficient), so the test
  can compare its own control-variate price with an independent one.
Writes tests/reference/asian.json.
"""

import json

import numpy as np
from scipy.stats import norm

PATHS = 100_000
BATCH = 5_000


def geometric_asian_call(s0, k, r, q, sigma, t, n):
    m = np.log(s0) + (r - q - sigma**2 / 2) * t * (n + 1) / (2 * n)
    v = sigma**2 * t * (n + 1) * (2 * n + 1) / (6 * n**2)
    d1 = (m - np.log(k) + v) / np.sqrt(v)
    d2 = d1 - np.sqrt(v)
    return np.exp(-r * t) * (np.exp(m + v / 2) * norm.cdf(d1) - k * norm.cdf(d2))


def arithmetic_asian_call_cv(s0, k, r, sigma, t, n, rng):
    dt = t / n
    disc = np.exp(-r * t)
    arith, geo = [], []
    for _ in range(PATHS // BATCH):
        z = rng.standard_normal((BATCH, n))
        log_s = np.log(s0) + np.cumsum((r - sigma**2 / 2) * dt + sigma * np.sqrt(dt) * z, axis=1)
        arith.append(disc * np.maximum(np.exp(log_s).mean(axis=1) - k, 0.0))
        geo.append(disc * np.maximum(np.exp(log_s.mean(axis=1)) - k, 0.0))
    a, g = np.concatenate(arith), np.concatenate(geo)
    b = np.cov(a, g)[0, 1] / g.var(ddof=1)
    adjusted = a - b * (g - geometric_asian_call(s0, k, r, 0.0, sigma, t, n))
    return adjusted.mean(), adjusted.std(ddof=1) / np.sqrt(PATHS)


price, se = arithmetic_asian_call_cv(100.0, 100.0, 0.02, 0.2, 4.0, 1460, np.random.default_rng(2026))
answer = {
    "geometric_asian_call_stack_example": float(geometric_asian_call(100.0, 95.0, 0.05, 0.01, 0.3, 1.0, 12)),
    "notebook_asian_gbm_call": {"price": float(price), "std_error": float(se), "paths": PATHS},
}
with open("tests/reference/asian.json", "w") as out:
    json.dump(answer, out, indent=1)
print(answer)
