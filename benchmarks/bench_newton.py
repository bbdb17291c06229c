"""Newton steps at the end of the long run against SQUAREM alone (docs/performance.md).

For each family and n, the benchmark's data (``bench_em.simulate``, K=3, p=6) of 8 seeds,
each fitted from its labels with and without Newton steps (``EMOptions.newton``) in this
process, ``tol=1e-10``; prints the M-steps and seconds summed over the seeds, the largest
relative llf shortfall of the fits with Newton steps and the largest parameter difference.

    python benchmarks/bench_newton.py --sizes 2e5 1e6
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import bench_em  # noqa: E402

from emglm.engine.em import EMOptions, run_em  # noqa: E402
from emglm.families import get_family  # noqa: E402


def run(family: str, n: int, seeds: int) -> str:
    steps = {False: 0, True: 0}
    secs = {False: 0.0, True: 0.0}
    short, apart = 0.0, 0.0
    for seed in range(seeds):
        data, labels = bench_em.simulate(family, n, seed=seed)
        model, start = bench_em.first_m_step(data, get_family(family), np.eye(bench_em.K)[labels])
        fits = {}
        for newton in (False, True):
            t0 = time.perf_counter()
            fits[newton] = run_em(
                data, model, start, EMOptions(tol=1e-10, max_iter=100000, newton=newton)
            )
            secs[newton] += time.perf_counter() - t0
            steps[newton] += fits[newton].n_iter
        off, on = fits[False], fits[True]
        short = max(short, (off.llf - on.llf) / abs(off.llf))
        apart = max(apart, float(np.max(np.abs(model.pack(on.params) - model.pack(off.params)))))
    return (
        f"| {n:.0e} | {family} | {steps[False]} / {steps[True]} | {secs[False]:.2f} / "
        f"{secs[True]:.2f} | {short:.1e} | {apart:.0e} |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[2e5, 1e6])
    ap.add_argument("--families", nargs="+", default=["poisson", "gaussian", "binomial"])
    ap.add_argument("--seeds", type=int, default=8)
    args = ap.parse_args()
    print(f"Machine: {bench_em.machine()}; {args.seeds} seeds, tol=1e-10\n")
    print("| n | family | M-steps without / with | s without / with | llf short (rel.) | "
          "largest parameter difference |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        for family in args.families:
            print(run(family, int(n), args.seeds), flush=True)


if __name__ == "__main__":
    main()
