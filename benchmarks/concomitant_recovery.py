"""Repeated simulation of a two-component Poisson mixture with a concomitant model.

Reports the bias and spread of the concomitant coefficients over replicates, and how often
a fit warned of separation. Run from the repository root:

    PYTHONPATH=$PWD python benchmarks/concomitant_recovery.py [n_rep] [n]
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pandas as pd

import emglm

GAMMA = np.array([0.3, -1.5])  # comp2 against comp1: intercept, z


def one(rng: np.random.Generator, n: int) -> tuple[np.ndarray, bool]:
    x = rng.uniform(-1, 1, size=n)
    z = rng.normal(size=n)
    lab = (rng.uniform(size=n) < 1 / (1 + np.exp(-(GAMMA[0] + GAMMA[1] * z)))).astype(int)
    y = rng.poisson(np.exp(np.where(lab == 1, 2.0 - 0.7 * x, 0.3 + 0.8 * x)))
    df = pd.DataFrame({"y": y, "x": x, "z": z})
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always", emglm.EMGLMWarning)
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=lab, tol=1e-10)
    # Align with the simulation's labels: comp2 of the truth is the high-intercept one.
    high = int(np.argmax(res.params.loc["Intercept"].to_numpy()))
    gamma = res.mixing_params.to_numpy()
    gamma = gamma - gamma[:, [1 - high]]
    separated = any(isinstance(w.message, emglm.SeparationWarning) for w in rec)
    return gamma[:, high], separated


def main(n_rep: int = 200, n: int = 400) -> None:
    rng = np.random.default_rng(20240601)
    est, sep = zip(*(one(rng, n) for _ in range(n_rep)), strict=True)
    est_arr = np.array(est)
    print(f"n = {n}, replicates = {n_rep}, true gamma = {GAMMA}")
    mean = est_arr.mean(axis=0)
    print(f"mean estimate {mean.round(4)}, bias {(mean - GAMMA).round(4)}")
    print(f"empirical sd {est_arr.std(axis=0, ddof=1).round(4)}")
    print(f"fits warned of separation: {sum(sep)}")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
