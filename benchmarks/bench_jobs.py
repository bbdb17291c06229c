"""Speed-up of the warm-up and the bootstrap on two cores (``n_jobs=2`` against 1).

Both spread independent EM runs over worker processes; their results do not depend on
``n_jobs`` (checked here: same best warm-up llf, same bootstrap standard errors).

Usage::

    python benchmarks/bench_jobs.py                 # n = 20000, 8 starts, 40 replicates
    python benchmarks/bench_jobs.py --n 5000 --n-boot 20
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_em import simulate  # noqa: E402

import emglm  # noqa: E402


def _frame(n: int) -> tuple[pd.DataFrame, np.ndarray]:
    data, start = simulate("poisson", n)
    df = pd.DataFrame(data.X[:, 1:], columns=[f"x{j}" for j in range(1, data.X.shape[1])])
    df["y"] = data.y
    return df, start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=20000)
    ap.add_argument("--starts", type=int, default=8)
    ap.add_argument("--n-boot", type=int, default=40)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings")
    args = ap.parse_args()
    df, start = _frame(args.n)
    formula = "y ~ " + " + ".join(c for c in df.columns if c != "y")
    print(f"Poisson, K=3, p=6, n={args.n}, best of {args.repeat} timings\n")
    print("| task | n_jobs=1 s | n_jobs=2 s | speed-up | same result |")
    print("|---|---|---|---|---|")

    times, best = {}, {}
    for jobs in (1, 2):
        times[jobs] = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            warm = emglm.small_em(
                formula, df, "poisson", 3, repeats=args.starts, random_state=1, n_jobs=jobs
            )
            times[jobs] = min(times[jobs], time.perf_counter() - t0)
        best[jobs] = float(np.nanmax(warm.table["llf"].to_numpy()))
    print(
        f"| warm-up, {args.starts} short runs | {times[1]:.2f} | {times[2]:.2f} "
        f"| {times[1] / times[2]:.2f}x | {best[1] == best[2]} |"
    )

    bse = {}
    for jobs in (1, 2):
        times[jobs] = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = emglm.em_glm(
                formula,
                df,
                "poisson",
                3,
                start=start,
                se="bootstrap",
                n_boot=args.n_boot,
                random_state=1,
                n_jobs=jobs,
            )
            times[jobs] = min(times[jobs], time.perf_counter() - t0)
        bse[jobs] = res.bse.to_numpy()
    print(
        f"| fit + bootstrap, {args.n_boot} replicates | {times[1]:.2f} | {times[2]:.2f} "
        f"| {times[1] / times[2]:.2f}x | {bool(np.allclose(bse[1], bse[2], rtol=1e-10))} |"
    )


if __name__ == "__main__":
    main()
