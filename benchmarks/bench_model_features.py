"""Speed of the model features against the plain GLM mixture on the same rows.

One Poisson data set (n rows, K=3 components, p=6 columns: intercept + x1..x5); each row of
the table fits it from the same starting labels (the true ones with 30% of the rows
relabelled at random) with the same tolerance, in this process, one after the other:

* ``plain``: ``y ~ x1 + ... + x5``, every coefficient per component (18 + 2 parameters);
* ``fixed``: ``y ~ x1 + x2 + x3``, ``fixed="~ x4 + x5"`` (the same six design columns; the
  x4 and x5 coefficients shared by all components: 14 + 2 parameters);
* ``grouped``: ``y ~ x1 + ... + x5 | id``, the rows in groups of 10 consecutive rows that
  share one latent class (the data are simulated that way: n / 10 groups).

Each fit is the long EM run with SQUAREM (``engine.em.run_em``, what ``em_glm`` runs after
the warm-up), without standard errors; the model (formula, design) is built beforehand and
not timed. The table gives iterations, seconds, ms per iteration, the llf and the time
relative to ``plain``.

Usage::

    python benchmarks/bench_model_features.py              # n = 1e6
    python benchmarks/bench_model_features.py --n 1e5
    python benchmarks/bench_model_features.py --rounds 3   # the table three times
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from emglm.engine.em import EMOptions, run_em  # noqa: E402
from emglm.model import EMGLM  # noqa: E402

K = 3
INTERCEPT = np.array([1.0, 2.0, 0.3])
SLOPES = np.array([[0.5, -0.3, 0.2], [-0.4, 0.3, 0.1], [0.1, 0.2, -0.5]])  # x1..x3
SHARED = np.array([0.3, -0.2])  # x4, x5


GROUP_SIZE = 10


def simulate(n: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """The data and the starting labels; each group of ``GROUP_SIZE`` consecutive rows
    comes from one component."""
    rng = np.random.default_rng(seed)
    gid = np.arange(n) // GROUP_SIZE
    lab = rng.choice(K, size=gid[-1] + 1, p=[0.4, 0.35, 0.25])[gid]
    x = rng.normal(size=(n, 5)) * 0.5
    eta = INTERCEPT[lab] + np.einsum("ij,ij->i", x[:, :3], SLOPES[lab]) + x[:, 3:] @ SHARED
    df = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, 6)])
    df["y"] = rng.poisson(np.exp(eta))
    df["id"] = gid
    # The true labels of 30% of the groups relabelled at random (whole groups).
    start = lab[::GROUP_SIZE].copy()
    moved = rng.random(start.size) < 0.3
    start[moved] = rng.integers(0, K, size=int(moved.sum()))
    return df, start[gid]


def plain_case(df: pd.DataFrame) -> EMGLM:
    return EMGLM.from_formula("y ~ x1 + x2 + x3 + x4 + x5", df, "poisson", K)


def fixed_case(df: pd.DataFrame) -> EMGLM:
    return EMGLM.from_formula("y ~ x1 + x2 + x3", df, "poisson", K, fixed="~ x4 + x5")


def grouped_case(df: pd.DataFrame) -> EMGLM | None:
    return EMGLM.from_formula("y ~ x1 + x2 + x3 + x4 + x5 | id", df, "poisson", K)


CASES: dict[str, Callable[[pd.DataFrame], EMGLM | None]] = {
    "plain": plain_case,
    "fixed": fixed_case,
    "grouped": grouped_case,
}


def time_fit(model: EMGLM, start: np.ndarray, tol: float) -> tuple[int, float, float]:
    """Iterations, seconds and llf of the long EM run from ``start``."""
    tau0 = np.eye(K)[start]
    t0 = time.perf_counter()
    fit = run_em(model.data, model.mixture, tau0, EMOptions(tol=tol, max_iter=100000))
    return fit.n_iter, time.perf_counter() - t0, fit.llf


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=float, default=1e6)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--rounds", type=int, default=1, help="repeat the table (order effects)")
    args = ap.parse_args()
    n = int(args.n)
    df, start = simulate(n)
    print(f"Poisson, n={n}, K={K}, p=6, tol={args.tol:g}, SQUAREM\n")
    print(
        "| model | k_params | iterations | seconds | ms/iter | llf | time / plain "
        "| ms/iter / plain |"
    )
    print("|---|---|---|---|---|---|---|---|")
    models = {name: make(df) for name, make in CASES.items()}
    for _ in range(args.rounds):
        base = None
        for name, model in models.items():
            if model is None:
                print(f"| {name} | | | | | | not measured yet |", flush=True)
                continue
            iters, sec, llf = time_fit(model, start, args.tol)
            base = (sec, sec / iters) if base is None else base
            k_params = model.mixture.n_params(K, model.data.n_mixing_columns)
            print(
                f"| {name} | {k_params} | {iters} | {sec:.2f} | {sec / iters * 1e3:.1f} | "
                f"{llf:.4f} | {sec / base[0]:.2f} | {sec / iters / base[1]:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
