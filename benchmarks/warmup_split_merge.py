"""Split-merge moves from the converged default fit, on a Poisson case of the warm-up suite.

A measured idea for the warm-up (``docs/warmup.md``), not part of the package: from the
default fit of each seed, every move merges two components' posteriors into one and splits
the third component's posteriors in two, by the sign of its own residual ``y - mu_k`` or
at random (``--random`` splits per move), and runs EM to convergence from those
posteriors (``em_glm(..., start=posterior)``). The best move that raises the llf is kept
and the moves are tried again from it, until none does (at most 5 rounds). It prints, per
seed, the default fit's llf, the llf after the moves, and the success counts against the
best known optimum (``benchmarks/warmup_suite/best.json``).

    python benchmarks/warmup_split_merge.py --case quine --seeds 10
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings
from collections.abc import Iterator

import numpy as np
import patsy
from warmup_cases import BY_NAME, best_known

import emglm


def moves(res, y: np.ndarray, X, n_random: int, rng: np.random.Generator) -> Iterator[np.ndarray]:  # type: ignore[no-untyped-def]
    """The starting posteriors of every move from the fit ``res``."""
    tau = res.posterior.to_numpy()
    mu = np.exp(X.to_numpy() @ res.params.loc[X.columns].to_numpy())  # log link
    K = tau.shape[1]
    for k in range(K):  # the component split
        others = [c for c in range(K) if c != k]
        for i, j in itertools.combinations(others, 2):  # the pair merged (into i)
            sides = [(y - mu[:, k]) > 0] + [rng.random(y.size) < 0.5 for _ in range(n_random)]
            for side in sides:
                t = tau.copy()
                t[:, i] = tau[:, i] + tau[:, j]
                t[:, j] = tau[:, k] * side
                t[:, k] = tau[:, k] * ~side
                yield t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", default="quine")
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--random", type=int, default=2, help="random splits per move")
    args = ap.parse_args()
    warnings.simplefilter("ignore")
    case = BY_NAME[args.case]
    if case.family != "poisson" or case.K < 3:
        raise SystemExit("the moves are written for Poisson (log link) cases with K >= 3")
    df = case.data()
    best = best_known()[case.name]["best_llf"]
    yv, X = patsy.dmatrices(case.formula, df, return_type="dataframe")
    y = yv.to_numpy()[:, 0]

    def fit(**kw):  # type: ignore[no-untyped-def]
        return emglm.em_glm(
            case.formula, df, case.family, case.K, se=None, concomitant=case.concomitant, **kw
        )

    before = after = 0
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        res = fit(random_state=seed)
        llf0 = res.llf
        rng = np.random.default_rng(seed)
        for _ in range(5):
            better = None
            for start in moves(res, y, X, args.random, rng):
                try:
                    cand = fit(start=start, random_state=seed)
                except (ValueError, emglm.FitError):
                    continue
                top = better.llf if better is not None else res.llf
                if cand.K == case.K and cand.llf > top + 1e-6:
                    better = cand
            if better is None:
                break
            res = better
        before += llf0 >= best - 0.01
        after += res.llf >= best - 0.01
        print(
            f"seed {seed}: default {llf0:.4f} -> after the moves {res.llf:.4f} "
            f"({time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
    print(
        f"{case.name}: best {best:.4f}; default {before}/{args.seeds}, moves {after}/{args.seeds}"
    )


if __name__ == "__main__":
    main()
