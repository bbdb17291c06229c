"""Time per EM iteration with the package's BLAS control (one thread during fits) against
BLAS's own default threads, side by side in one run, for p in {6, 20, 50}.

``EMGLM.fit_with`` (behind ``EMGLM.fit`` and ``em_glm``) runs on one BLAS thread
(``emglm.blas_threads``); ``EMGLM.fit_with.__wrapped__`` is the same method without that
control, so BLAS keeps the threads it starts with. Both
fit the same model from the same coefficients, plain EM (no SQUAREM, no standard errors)
for a fixed number of iterations; the two variants alternate and the best of
``--repeat`` timings of each is reported. "K Grams ms" times the K weighted Gram
products of one blocked pass over ``X`` (``kernels.weighted_grams``) the same two ways.

Each p is measured twice: with the machine as it is, and with one other CPU-bound process
running beside the fit ("busy": what a second fit, an ``n_jobs`` worker or another user's
job does to the cores). BLAS's thread pool waits for a thread that has no core, so the
busy rows show what the default threads cost when the cores are not all free; the load
average at the start of each row says how busy the machine was anyway.

Usage::

    python benchmarks/bench_blas_threads.py                # n = 200000, K = 4 (a few minutes)
    python benchmarks/bench_blas_threads.py --n 50000 --iters 5 --busy 0
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_info, threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import emglm  # noqa: E402
from emglm.components import kernels  # noqa: E402
from emglm.options import FitOptions  # noqa: E402


def simulate(n: int, p: int, K: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Poisson mixture with an intercept and p - 1 standard-normal covariates."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p - 1))
    coef = np.column_stack(
        [0.5 + 0.4 * np.arange(K), rng.normal(scale=0.3 / np.sqrt(p), size=(K, p - 1))]
    )
    lab = rng.integers(0, K, size=n)
    eta = coef[lab, 0] + np.einsum("ij,ij->i", X, coef[lab, 1:])
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, p)])
    df["y"] = rng.poisson(np.exp(eta))
    return df, coef


def time_fit(fit, model, coef: np.ndarray, iters: int) -> float:  # noqa: ANN001
    """Seconds per EM iteration of one fit."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emglm.EMGLMWarning)
        t0 = time.perf_counter()
        options = FitOptions(se=None, accel=None, max_iter=iters, tol=1e-300)
        res = fit(model, options, start=coef)
        seconds = time.perf_counter() - t0
    assert res.em.n_iter == iters, res.em.n_iter
    return seconds / iters


def time_grams(X: np.ndarray, K: int, repeat: int = 3) -> tuple[float, float]:
    """Best ms of the K weighted Gram products of one pass over ``X``
    (``kernels.weighted_grams``) on one BLAS thread and with the default threads."""
    W = np.random.default_rng(1).uniform(size=(X.shape[0], K))
    out = []
    for limit in (1, None):
        with threadpool_limits(limits=limit, user_api="blas"):
            best = np.inf
            for _ in range(repeat):
                t0 = time.perf_counter()
                kernels.weighted_grams(X, W)
                best = min(best, time.perf_counter() - t0)
        out.append(best * 1e3)
    return out[0], out[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--K", type=int, default=4)
    ap.add_argument("--p", type=int, nargs="+", default=[6, 20, 50])
    ap.add_argument("--iters", type=int, default=10, help="EM iterations per fit")
    ap.add_argument("--repeat", type=int, default=2, help="best of this many fits each")
    ap.add_argument(
        "--busy", type=int, nargs="+", default=[0, 1], help="CPU-bound processes beside the fit"
    )
    args = ap.parse_args()
    threads = sorted({lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"})
    libs = sorted({lib["internal_api"] for lib in threadpool_info() if lib["user_api"] == "blas"})
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, NumPy {np.__version__} ({', '.join(libs)}, default "
        f"threads {threads}); Poisson, n={args.n}, K={args.K}, {args.iters} plain EM "
        f"iterations per fit, best of {args.repeat}\n"
    )
    print(
        "| p | busy | load avg | ms/iter, one BLAS thread (package) | ms/iter, default BLAS "
        "threads | ratio | K Grams ms, 1 thread | K Grams ms, default | ratio |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    controlled = emglm.EMGLM.fit_with
    default = emglm.EMGLM.fit_with.__wrapped__
    for p in args.p:
        df, coef = simulate(args.n, p, args.K)
        formula = "y ~ " + " + ".join(c for c in df.columns if c != "y")
        model = emglm.EMGLM.from_formula(formula, df, "poisson", args.K)
        for busy in args.busy:
            load = os.getloadavg()[0]
            burners = [
                subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)
            ]
            try:
                best = {"one": np.inf, "default": np.inf}
                for _ in range(args.repeat):  # alternate, so both see the same machine load
                    best["one"] = min(best["one"], time_fit(controlled, model, coef, args.iters))
                    best["default"] = min(
                        best["default"], time_fit(default, model, coef, args.iters)
                    )
                g1, gd = time_grams(model.data.X, args.K)
            finally:
                for proc in burners:
                    proc.kill()
                    proc.wait()
            one, dflt = best["one"] * 1e3, best["default"] * 1e3
            print(
                f"| {p} | {busy} | {load:.1f} | {one:.1f} | {dflt:.1f} | {dflt / one:.2f}x "
                f"| {g1:.1f} | {gd:.1f} | {gd / g1:.2f}x |",
                flush=True,
            )


if __name__ == "__main__":
    main()
