"""How often does one random start end in a local optimum on sim2, per init method?

For each init method, draws ``--seeds`` independent single starts (``n_starts=1``) and
counts the fits whose log-likelihood is more than 1 below the optimum found from the true
row blocks; then the same for the default warm-up (``n_starts=10``) on fewer seeds.

    python benchmarks/warmup_starts.py --seeds 100
"""

from __future__ import annotations

import argparse
import time

import emglm
from emglm.datasets import load_sim2, true_labels

FORMULA = "y ~ V1 + V2 + V3 + V4 + V5 - 1"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100)
    parser.add_argument("--default-seeds", type=int, default=20)
    args = parser.parse_args()
    df = load_sim2()
    optimum = emglm.em_glm(FORMULA, df, "poisson", 2, start=true_labels("sim2"), tol=1e-10).llf
    print(f"optimum from the true blocks: llf = {optimum:.4f}")
    for init in ("random", "fit", "cem"):
        start = time.perf_counter()
        bad = [
            s
            for s in range(args.seeds)
            if emglm.em_glm(FORMULA, df, "poisson", 2, init=init, n_starts=1, random_state=s).llf
            < optimum - 1
        ]
        secs = (time.perf_counter() - start) / args.seeds
        print(
            f"init={init!r:9} single start: {len(bad)}/{args.seeds} local optima, {secs:.2f} s/fit"
        )
    start = time.perf_counter()
    bad = [
        s
        for s in range(args.default_seeds)
        if emglm.em_glm(FORMULA, df, "poisson", 2, random_state=s).llf < optimum - 1
    ]
    secs = (time.perf_counter() - start) / args.default_seeds
    print(f"default (n_starts=10): {len(bad)}/{args.default_seeds} local optima, {secs:.2f} s/fit")


if __name__ == "__main__":
    main()
