"""How often does one default fit reach the best known optimum? The warm-up suite.

For every case of ``benchmarks/warmup_cases.py`` (real data sets from R packages and
simulated hard cases) and seeds ``0..--seeds-1``:

* the **default**: ``em_glm(formula, data, family, K, random_state=seed, se=None)``, the
  call a user makes, timed;
* with ``--strategies``, candidate warm-up strategies built from the engine's own pieces
  (``warmup.run_starts``, ``em.run_em``) on the same seed streams, so that they share short
  and long runs (a strategy's time is the sum of the runs it uses).

A fit **succeeds** when it keeps all K components and its llf is within ``SAME`` (0.01) of
the best known optimum (a fit above it would be an optimum the search missed: the table
says so) (``benchmarks/warmup_suite/best.json``). The table has, per case,
n, K, the best llf and how it was found, each strategy's success rate and the mean
seconds per fit.

    python benchmarks/bench_warmup.py --quick                # 3 seeds, default only
    # the table of docs/warmup.md:
    nice python benchmarks/bench_warmup.py --seeds 20 --configs --out /tmp/a.json \
        --cases doctorvisits nmes1988 recreation biochemists sim_close
    nice python benchmarks/bench_warmup.py --seeds 10 --configs "old default" \
        --out /tmp/b.json --cases faithful galaxies boston quine sim_unequal \
        sim_k4_poisson sim_variances sim_k5_gaussian sim_binomial_k3
    python benchmarks/bench_warmup.py --rescore /tmp/a.json /tmp/b.json
    # the screen of candidate strategies:
    nice python benchmarks/bench_warmup.py --seeds 8 --strategies --cases nmes1988 recreation
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from warmup_cases import BY_NAME, CASES, Case, best_known  # noqa: E402

import emglm  # noqa: E402
from emglm.engine import em, warmup  # noqa: E402
from emglm.engine.warmup import distinct_runs  # noqa: E402
from emglm.model import EMGLM  # noqa: E402
from emglm.options import FitOptions  # noqa: E402

SAME = 0.01


@dataclass(frozen=True)
class Strategy:
    """``repeats`` short runs of ``init`` (a ``+`` joins several inits, ``repeats`` each),
    then long runs from the best ``n_long`` (distinct when ``distinct``) short runs."""

    name: str
    init: str
    repeats: int
    n_long: int
    distinct: bool = True
    short_iter: int = 20


STRATEGIES = (
    Strategy("10 random, best 1 (old default)", "random", 10, 1),
    Strategy("20 random, best 1", "random", 20, 1),
    Strategy("40 random, best 1", "random", 40, 1),
    Strategy("10 random, best 3 top", "random", 10, 3, distinct=False),
    Strategy("10 random, best 3 distinct", "random", 10, 3),
    Strategy("20 random, best 3 distinct", "random", 20, 3),
    Strategy("40 random, best 5 distinct", "random", 40, 5),
    Strategy("10 cem, best 3 distinct", "cem", 10, 3),
    Strategy("10 quantile, best 3 distinct", "quantile", 10, 3),
    Strategy("10 fit, best 3 distinct", "fit", 10, 3),
    Strategy("5 random + 5 quantile + 5 fit, best 3 distinct", "random+quantile+fit", 5, 3),
    Strategy("10 random + 10 quantile + 10 fit, best 3 distinct", "random+quantile+fit", 10, 3),
    Strategy("10 random + 10 quantile + 10 fit, best 5 distinct", "random+quantile+fit", 10, 5),
    Strategy("10 random + 10 cem, best 3 distinct", "random+cem", 10, 3),
)


# em_glm option sets compared side by side with --configs (the real code path).
CONFIGS = {
    "fixed 15/3: init=mixed, n_starts=15, n_long=3 (the default before the budget)": {"n_starts": 15, "n_long": 3},
    "old default: init=random, n_starts=10, n_long=1": {"init": "random", "n_starts": 10, "n_long": 1},
    "em-EM alone: init=random, n_starts=10, n_long=3": {"init": "random", "n_starts": 10, "n_long": 3},
}  # fmt: skip


class Runs:
    """The short and long runs of one (case, seed), made on demand and shared."""

    def __init__(self, model: EMGLM, seed: int) -> None:
        self.model = model
        self.options = FitOptions(se=None).check_for(model.n_total)
        start_seed, self.em_seed, _ = warmup.seed_sequence(seed).spawn(3)
        # One stream per init method, so strategies that use a prefix share the runs.
        self.init_seeds = dict(
            zip(("random", "quantile", "cem", "fit"), start_seed.spawn(4), strict=True)
        )
        self.short: dict[str, tuple[list[warmup.StartRun], list[float]]] = {}
        self.long: dict[tuple[str, int], tuple[em.EMFit, float]] = {}

    def short_runs(self, init: str, repeats: int) -> tuple[list[warmup.StartRun], float]:
        have = self.short.get(init, ([], []))
        if len(have[0]) < repeats:
            runs, secs = [], []
            seeds = np.random.SeedSequence(
                self.init_seeds[init].entropy, spawn_key=self.init_seeds[init].spawn_key
            ).spawn(repeats)
            for r, child in enumerate(seeds):
                t = time.perf_counter()
                w = warmup.run_starts(
                    self.model.data, self.model.mixture, self.model.n_total, repeats=1,
                    options=self.options.warmup_options(), init=init, seed=child,
                )  # fmt: skip
                secs.append(time.perf_counter() - t)
                runs.append(w.runs[0].__class__(**{**w.runs[0].__dict__, "run": r + 1}))
            have = (runs, secs)
            self.short[init] = have
        return have[0][:repeats], float(sum(have[1][:repeats]))

    def long_run(self, init: str, run: warmup.StartRun) -> tuple[em.EMFit, float]:
        key = (init, run.run)
        if key not in self.long:
            t = time.perf_counter()
            fit = em.run_em(
                self.model.data, self.model.mixture, run.params, self.options.em_options(),
                np.random.default_rng(self.em_seed),
            )  # fmt: skip
            self.long[key] = (fit, time.perf_counter() - t)
        return self.long[key]

    def apply(self, s: Strategy) -> tuple[float, int, float]:
        """llf, fitted K and seconds of strategy ``s``."""
        pool: list[tuple[str, warmup.StartRun]] = []
        secs = 0.0
        for init in s.init.split("+"):
            runs, t = self.short_runs(init, s.repeats)
            pool += [(init, r) for r in runs]
            secs += t
        ok = sorted((p for p in pool if p[1].status == "ok"), key=lambda p: -p[1].llf)
        if s.distinct:
            t = time.perf_counter()
            chosen = [ok[i] for i in distinct_runs(
                self.model.data, self.model.mixture, [p[1] for p in ok], s.n_long + 2
            )]  # fmt: skip
            secs += time.perf_counter() - t
        else:
            chosen = ok
        best: tuple[float, int] | None = None
        used = 0
        for init, run in chosen:
            fit, t = self.long_run(init, run)
            secs += t
            full = fit.params.n_components == self.model.n_total
            if full:
                used += 1
                if best is None or fit.llf > best[0]:
                    best = (fit.llf, fit.params.n_components)
            if used >= s.n_long:
                break
        if best is None:
            return -np.inf, 0, secs
        return best[0], best[1], secs


def default_fit(case: Case, df, seed: int, options: dict | None = None):
    """llf, fitted K and seconds of ``em_glm`` with its defaults (or ``options``)."""
    t = time.perf_counter()
    res = emglm.em_glm(
        case.formula, df, case.family, case.K, concomitant=case.concomitant,
        random_state=seed, se=None, **(options or {}),
    )  # fmt: skip
    return res.llf, res.K, time.perf_counter() - t


def report(dump: dict[str, dict[str, list]], best: dict[str, dict]) -> None:
    """Print the table of ``dump`` (case -> column -> [llf, K, seconds] per seed)."""
    columns = list(dict.fromkeys(c for cols in dump.values() for c in cols))
    total = {c: [0, 0, 0.0] for c in columns}
    for name, cols in dump.items():
        case, rec = BY_NAME[name], best[name]
        target = rec["best_llf"]
        n = len(cols["default"])
        above = max(llf - target for c in cols.values() for llf, k, _ in c if k == case.K)
        print(
            f"\n{name} (n={rec['nobs']}, K={case.K}, {case.family}"
            + (f", concomitant {case.concomitant}" if case.concomitant else "")
            + f"): best llf {target:.4f}, found by {rec['found_by']}"
            + (f"; a fit was {above:.4f} above it" if above > SAME else "")
        )
        for c in (c for c in columns if c in cols):
            fits = cols[c]
            hits = sum(k == case.K and abs(llf - target) <= SAME for llf, k, _ in fits)
            secs = sum(f[2] for f in fits)
            total[c][0] += hits
            total[c][1] += len(fits)
            total[c][2] += secs
            print(f"  {c:50} {hits:3d}/{n}  {secs / n:6.3f} s/fit")
    print("\n| case | data | n | model | best llf | found by | " + " | ".join(columns) + " |")
    print("|---" * (6 + len(columns)) + "|")
    for name, cols in dump.items():
        case, rec = BY_NAME[name], best[name]
        rates = []
        for c in columns:
            fits = cols.get(c)
            if fits is None:
                rates.append("-")
                continue
            hits = sum(k == case.K and abs(llf - rec["best_llf"]) <= SAME for llf, k, _ in fits)
            rates.append(f"{hits}/{len(fits)}")
        model = f"`{case.formula}`, {case.family}, K={case.K}" + (
            f", concomitant `{case.concomitant}`" if case.concomitant else ""
        )
        print(
            f"| {name} | {case.source} | {rec['nobs']} | {model} | {rec['best_llf']:.4f} | "
            f"{rec['found_by']} | " + " | ".join(rates) + " |"
        )
    print("\nall cases:")
    for c in columns:
        hits, n, secs = total[c]
        print(f"  {c:50} {hits:4d}/{n} = {100 * hits / n:5.1f}%  {secs / n:6.3f} s/fit (mean)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="3 seeds, default only")
    parser.add_argument("--strategies", action="store_true", help="also the candidates")
    parser.add_argument(
        "--configs", nargs="*", help="also these em_glm option sets (CONFIGS; none: all)"
    )
    parser.add_argument("--cases", nargs="*", help="only these cases")
    parser.add_argument("--out", type=Path, help="write every fit's llf, K, seconds (JSON)")
    parser.add_argument(
        "--rescore", type=Path, nargs="*", help="print the table of --out files again"
    )
    args = parser.parse_args()
    best = best_known()
    if args.rescore:
        dump = {}
        for path in args.rescore:
            dump.update(json.loads(path.read_text()))
        report(dump, best)
        return
    seeds = 3 if args.quick else args.seeds
    columns = ["default"] + ([s.name for s in STRATEGIES] if args.strategies else [])
    configs = {}
    if args.configs is not None:
        configs = {
            c: o for c, o in CONFIGS.items() if not args.configs or c.split(":")[0] in args.configs
        }
    columns += list(configs)
    warnings.simplefilter("ignore")
    dump: dict[str, dict[str, list]] = {}
    print(f"{seeds} seeds per case; success = all K kept and llf within {SAME} of the best")
    for case in CASES:
        if args.cases and case.name not in args.cases:
            continue
        df = case.data()
        model = EMGLM.from_formula(
            case.formula, df, case.family, case.K, concomitant=case.concomitant
        )
        for seed in range(seeds):
            results = {"default": default_fit(case, df, seed)}
            if args.strategies:
                runs = Runs(model, seed)
                results.update({s.name: runs.apply(s) for s in STRATEGIES})
            results.update({c: default_fit(case, df, seed, o) for c, o in configs.items()})
            for c in columns:
                dump.setdefault(case.name, {}).setdefault(c, []).append(list(results[c]))
        print(f"{case.name}: done", flush=True)
        if args.out:
            args.out.write_text(json.dumps(dump))
    report(dump, best)


if __name__ == "__main__":
    main()
