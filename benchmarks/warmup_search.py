"""A long search for the best optimum of every case of the warm-up suite.

For each case of ``benchmarks/warmup_cases.py``: ``--seeds`` single-start fits
(``n_starts=1``) for each start method (``random``, ``fit``, ``quantile``, ``cem``), each EM
run to ``tol=1e-10``, plus emglm polished from the hard labels of R flexmix's best of 30
fits (``benchmarks/warmup_suite/flexmix.json``, made by ``flexmix_search.R``) when present.
A fit counts only when it keeps all K components and no Gaussian variance collapsed (a
spurious maximum). The best of them, how it was found, how many starts reached it and the
next distinct optima are written to ``benchmarks/warmup_suite/best.json``.

    python benchmarks/warmup_search.py --export-sims /tmp/warmup_sims   # data for R
    Rscript benchmarks/warmup_suite/flexmix_search.R /tmp/warmup_sims 30
    nice python benchmarks/warmup_search.py --seeds 50 --cases doctorvisits nmes1988 \
        recreation biochemists faithful galaxies boston quine sim_close
    nice python benchmarks/warmup_search.py --seeds 15 --cases sim_unequal sim_k4_poisson \
        sim_k5_gaussian sim_variances sim_binomial_k3
    nice python benchmarks/warmup_search.py --big-seeds 4 --cases quine recreation galaxies boston
    nice python benchmarks/warmup_search.py --big-seeds 3 --cases faithful sim_unequal \
        sim_variances sim_k5_gaussian
    nice python benchmarks/warmup_search.py --flexmix-only       # add flexmix.json, once
    nice python benchmarks/warmup_search.py --perturb 4 60       # iterated local search
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from warmup_cases import BEST_FILE, CASES, SUITE_DIR, Case  # noqa: E402

import emglm  # noqa: E402
from emglm.exceptions import DegenerateComponentWarning  # noqa: E402

INITS = ("random", "fit", "quantile", "cem")
# Optima closer than this (absolute llf) are one optimum: see docs/warmup.md.
SAME = 0.01


def polished_fit(case: Case, df, start=None, init="random", seed=0):
    """One long fit (tol 1e-10); ``None`` when it lost a component or is spurious."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", DegenerateComponentWarning)
        try:
            res = emglm.em_glm(
                case.formula, df, case.family, case.K, concomitant=case.concomitant,
                start=start, init=init, n_starts=1, random_state=seed, tol=1e-10,
                max_iter=5000, se=None,
            )  # fmt: skip
        except (DegenerateComponentWarning, emglm.FitError):
            return None
    return res if res.K == case.K else None


def polished(case: Case, df, start=None, init="random", seed=0):
    """The llf of :func:`polished_fit`, or ``None``."""
    res = polished_fit(case, df, start, init, seed)
    return None if res is None else res.llf


def search(case: Case, seeds: int) -> dict:
    """The emglm part of the search: ``seeds`` single starts per init method."""
    df = case.data()
    found: list[tuple[float, str]] = []
    t0 = time.perf_counter()
    for init in INITS:
        for s in range(seeds):
            llf = polished(case, df, init=init, seed=s)
            if llf is not None:
                found.append((llf, f"emglm init={init!r} seed={s}"))
    llfs = np.array([f[0] for f in found])
    best = float(llfs.max())
    hits = [f[1] for f in found if f[0] >= best - SAME]
    optima: list[float] = []
    for v in sorted(llfs, reverse=True):
        if not optima or optima[-1] - v > SAME:
            optima.append(float(v))
    return {
        "source": case.source,
        "formula": case.formula,
        "family": case.family,
        "K": case.K,
        "concomitant": case.concomitant,
        "nobs": len(df),
        "best_llf": best,
        "found_by": hits[0],
        "emglm_best_llf": best,
        "n_starts": seeds * len(INITS),
        "n_kept_K": len(found),
        "n_reached": len(hits),
        "next_optima": optima[1:6],
        "seconds": round(time.perf_counter() - t0, 1),
    }


def add_big(case: Case, rec: dict, seeds: int) -> None:
    """``seeds`` em_glm fits with a large warm-up (init="mixed", n_starts=90, n_long=5),
    each polished to tol 1e-10; one becomes the best when it is higher."""
    df = case.data()
    llfs = []
    for s in range(seeds):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", DegenerateComponentWarning)
            try:
                res = emglm.em_glm(
                    case.formula, df, case.family, case.K, concomitant=case.concomitant,
                    init="mixed", n_starts=90, n_long=5, random_state=s, tol=1e-10,
                    max_iter=5000, se=None,
                )  # fmt: skip
            except (DegenerateComponentWarning, emglm.FitError):
                continue
        if res.K == case.K:
            llfs.append((res.llf, s))
    rec["big_seeds"] = seeds
    rec["big_llfs"] = [v for v, _ in llfs]
    if llfs:
        llf, s = max(llfs)
        if llf > rec["best_llf"] + SAME:
            rec["best_llf"] = llf
            rec["found_by"] = f"emglm init='mixed', n_starts=90, n_long=5, seed={s}"


def add_perturbed(case: Case, rec: dict, chains: int, rounds: int, share: float) -> None:
    """An iterated local search: ``chains`` chains, each from the default fit of one seed;
    each round gives a random ``share`` of the rows of the chain's current fit a random
    component (hard labels), refits from those labels to tol 1e-10, and moves the chain
    there when the llf is higher. One becomes the best when it is higher."""
    df = case.data()
    ends = []
    for c in range(chains):
        rng = np.random.default_rng(1000 + c)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cur = emglm.em_glm(
                case.formula, df, case.family, case.K, concomitant=case.concomitant,
                random_state=c, tol=1e-10, max_iter=5000, se=None,
            )  # fmt: skip
        if cur.K != case.K:
            continue
        best_round = 0
        for r in range(1, rounds + 1):
            lab = np.argmax(cur.posterior, axis=1)
            hit = rng.random(lab.size) < share
            lab[hit] = rng.integers(0, case.K, int(hit.sum()))
            if np.bincount(lab, minlength=case.K).min() < 2:
                continue
            new = polished_fit(case, df, lab)
            if new is not None and new.llf > cur.llf + 1e-6:
                cur, best_round = new, r
        ends.append((cur.llf, c, best_round))
    rec["perturb"] = {"chains": chains, "rounds": rounds, "share": share,
                      "llfs": [v for v, _, _ in ends], "best_before": rec["best_llf"]}  # fmt: skip
    if ends:
        llf, c, r = max(ends)
        if llf > rec["best_llf"] + SAME:
            rec["best_llf"] = llf
            rec["found_by"] = (
                f"perturbation search from the default fit of seed {c}: a random {share:.0%} "
                f"of the rows relabelled, refitted, kept when higher (round {r} of {rounds})"
            )


def add_flexmix(case: Case, rec: dict, fx: dict) -> None:
    """Polish flexmix's best fit with emglm; it becomes the best when it is higher."""
    rec["flexmix_nrep"] = fx["nrep"]
    rec["flexmix_kept_K"] = fx["n_kept_K"]
    rec["flexmix_llf"] = fx.get("llf")
    rec["flexmix_polished_llf"] = None
    if "labels" not in fx:
        return
    llf = polished(case, case.data(), start=np.asarray(fx["labels"]))
    rec["flexmix_polished_llf"] = llf
    if llf is not None and llf > rec["best_llf"] + SAME:
        rec["best_llf"] = llf
        rec["found_by"] = f"flexmix best of {fx['nrep']} (seed {fx['seed']}), polished by emglm"
    elif llf is not None and llf >= rec["best_llf"] - SAME:
        rec["found_by"] += f"; also flexmix best of {fx['nrep']} (polished)"


def export_sims(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = []
    for c in CASES:
        if c.source == "simulated":
            c.data().to_csv(folder / f"{c.name}.csv", index=False)
        meta.append(
            {"name": c.name, "family": c.family, "K": c.K, "r_formula": c.r_formula,
             "concomitant": c.concomitant}
        )  # fmt: skip
    (folder / "cases.json").write_text(json.dumps(meta, indent=1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=60, help="single starts per init method")
    parser.add_argument("--cases", nargs="*", help="only these cases")
    parser.add_argument(
        "--flexmix-only", action="store_true", help="only add flexmix.json to best.json"
    )
    parser.add_argument(
        "--big-seeds", type=int, default=0, help="also em_glm with 90 starts, 5 long runs"
    )
    parser.add_argument("--export-sims", type=Path, help="write the simulated data as CSV")
    parser.add_argument(
        "--perturb", nargs=2, type=int, metavar=("CHAINS", "ROUNDS"),
        help="add a perturbation search to the search made before",
    )  # fmt: skip
    parser.add_argument("--share", type=float, default=0.15, help="rows relabelled per round")
    args = parser.parse_args()
    if args.export_sims:
        export_sims(args.export_sims)
        return
    fx_file = SUITE_DIR / "flexmix.json"
    flexmix = json.loads(fx_file.read_text())["cases"] if fx_file.exists() else {}
    out = json.loads(BEST_FILE.read_text()) if BEST_FILE.exists() else {"cases": {}}
    out["how"] = (
        "benchmarks/warmup_search.py: per case n_starts single-start emglm fits (a quarter "
        "each from init random, fit, quantile, cem) to tol 1e-10, and R flexmix's best fit "
        f"(flexmix_search.R) polished by emglm; optima within {SAME} are one optimum"
    )
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        if args.perturb:
            rec = out["cases"][case.name]
            t0 = time.perf_counter()
            add_perturbed(case, rec, *args.perturb, args.share)
            BEST_FILE.write_text(json.dumps(out, indent=1) + "\n")
            print(f"{case.name:16} perturbation search {np.round(rec['perturb']['llfs'], 4)}; "
                  f"best {rec['best_llf']:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
            continue
        if args.big_seeds and args.cases and case.name in out["cases"] and not args.flexmix_only:
            rec = out["cases"][case.name]  # add the large warm-ups to the search made before
            add_big(case, rec, args.big_seeds)
            out["cases"][case.name] = rec
            BEST_FILE.write_text(json.dumps(out, indent=1) + "\n")
            print(f"{case.name:16} big warm-ups {rec['big_llfs']}; best {rec['best_llf']}")
            continue
        if args.flexmix_only:  # run once, after the emglm searches
            rec = out["cases"][case.name]
        else:
            rec = search(case, args.seeds)
        if args.big_seeds and not args.flexmix_only:
            add_big(case, rec, args.big_seeds)
        if case.name in flexmix:
            add_flexmix(case, rec, flexmix[case.name])
        out["cases"][case.name] = rec
        print(
            f"{case.name:16} best {rec['best_llf']:.4f} by {rec['found_by']}; "
            f"{rec['n_reached']}/{rec['n_starts']} starts; flexmix "
            f"{rec.get('flexmix_polished_llf')}; next "
            f"{[round(v, 3) for v in rec['next_optima'][:3]]} ({rec['seconds']} s)",
            flush=True,
        )
        BEST_FILE.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
