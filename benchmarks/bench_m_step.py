"""IRLS steps per M-step (``EMOptions.m_step_iter``): iterations, time and llf.

Usage::

    python benchmarks/bench_m_step.py                # Poisson, n = 1e5
    python benchmarks/bench_m_step.py --family binomial --n 1e5
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_em import K, P, simulate  # noqa: E402

from emglm.components.glm import GLMComponents  # noqa: E402
from emglm.engine.em import EMOptions, MixtureModel, run_em  # noqa: E402
from emglm.families import get_family  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--family", default="poisson", choices=["poisson", "gaussian", "binomial"])
    ap.add_argument("--n", type=float, default=1e5)
    ap.add_argument("--tol", type=float, default=1e-10)
    args = ap.parse_args()
    data, start = simulate(args.family, int(args.n))
    tau0 = np.eye(K)[start]
    print(f"{args.family}, n={int(args.n)}, K={K}, tol={args.tol:g}\n")
    print("| m_step_iter | accel | iterations | seconds | ms/iter | llf |")
    print("|---|---|---|---|---|---|")
    for accel in ("squarem", None):
        for m in (1, 2, 5):
            t0 = time.perf_counter()
            glm = GLMComponents(get_family(args.family), tuple(f"x{j}" for j in range(P)))
            fit = run_em(
                data,
                MixtureModel.for_data(glm, data),
                tau0,
                EMOptions(tol=args.tol, accel=accel, m_step_iter=m, max_iter=100000),
            )
            sec = time.perf_counter() - t0
            print(
                f"| {m} | {accel} | {fit.n_iter} | {sec:.2f} | {sec / fit.n_iter * 1e3:.1f} "
                f"| {fit.llf:.6f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
