"""Coverage of the 95% Louis intervals on a known K=2 Poisson mixture.

Simulates ``--reps`` data sets (default 500) of ``--n`` rows (default 1000) from

    comp1 (pi = 0.6): log mu = 2.0 - 0.3 x,    comp2 (pi = 0.4): log mu = 1.0 + 0.5 x,
    x ~ N(0, 1),

fits each by EM started from the true labels (so the study measures the standard errors,
not the search for the global maximum), and reports for every free parameter how often the
95% Wald interval from the Louis covariance covers the truth, with the mean Louis standard
error against the standard deviation of the estimates across data sets.

    PYTHONPATH=. python benchmarks/coverage_louis.py --reps 500 --jobs 2

A coverage estimate from R data sets has Monte Carlo standard error
sqrt(0.95 * 0.05 / R), 0.0097 for R = 500.
"""

from __future__ import annotations

import argparse
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

import emglm

TRUE_COEF = np.array([[2.0, -0.3], [1.0, 0.5]])  # comp1, comp2: (Intercept, x)
TRUE_PI = np.array([0.6, 0.4])


def one_dataset(seed: int, n: int) -> np.ndarray:
    """Estimates, Louis standard errors and cover flags of one simulated data set."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    lab = (rng.random(n) < TRUE_PI[1]).astype(int)
    y = rng.poisson(np.exp(TRUE_COEF[lab, 0] + TRUE_COEF[lab, 1] * x))
    df = pd.DataFrame({"y": y, "x": x})
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, tol=1e-10, max_iter=5000)
    # Components come back ordered by decreasing proportion; match them to the truth.
    slope = res.params.loc["x"]
    if abs(slope["comp1"] - TRUE_COEF[0, 1]) > abs(slope["comp2"] - TRUE_COEF[0, 1]):
        raise RuntimeError(f"seed {seed}: components swapped relative to the truth")
    truth = np.r_[TRUE_COEF[0], TRUE_COEF[1], np.log(TRUE_PI[1] / TRUE_PI[0])]
    est = res._theta
    se = np.sqrt(np.diag(res.cov_params().to_numpy()))
    cover = np.abs(est - truth) <= 1.959963984540054 * se
    return np.r_[est, se, cover, float(res.converged)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=500)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    seeds = np.random.SeedSequence(args.seed).generate_state(args.reps).tolist()
    start = time.perf_counter()
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        rows = list(pool.map(one_dataset, seeds, [args.n] * args.reps, chunksize=10))
    out = np.array(rows)
    n_par = (out.shape[1] - 1) // 3
    est, se, cover = out[:, :n_par], out[:, n_par : 2 * n_par], out[:, 2 * n_par : 3 * n_par]
    names = ["comp1 Intercept", "comp1 x", "comp2 Intercept", "comp2 x", "mixing logit"]
    mc = np.sqrt(0.95 * 0.05 / args.reps)
    print(f"{args.reps} data sets, n = {args.n}, all converged: {bool(out[:, -1].all())}, "
          f"{time.perf_counter() - start:.0f} s")
    print(f"{'parameter':<18}{'coverage':>10}{'mean SE':>10}{'SD est':>10}{'ratio':>8}")
    for j, name in enumerate(names):
        sd = est[:, j].std(ddof=1)
        print(f"{name:<18}{cover[:, j].mean():>10.3f}{se[:, j].mean():>10.4f}{sd:>10.4f}"
              f"{se[:, j].mean() / sd:>8.3f}")
    print(f"all parameters: coverage {cover.mean():.3f} (Monte Carlo SE per parameter {mc:.4f})")


if __name__ == "__main__":
    main()
