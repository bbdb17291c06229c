"""em-EM, the default warm-up of em_glm: long runs from the best distinct short runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.engine import emem, warmup
from emglm.engine.em import EMOptions, MixtureParams
from emglm.model import EMGLM


def _two_process(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.random(n) < 0.5
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.where(lab, 1 + 0.5 * x, 2 - 0.5 * x)))})


def test_default_fit_reports_its_long_runs_and_keeps_the_best() -> None:
    df = emglm.datasets.load_sim2()
    # Random partitions reach three basins of sim2 with this seed.
    res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2, random_state=1,
                       init="random", n_starts=10, se=None)  # fmt: skip
    long = res.warmup.long_table
    assert list(long.columns) == ["from_run", "n_iter", "llf", "K", "chosen"]
    assert len(long) == emglm.options.WARMUP_BUDGET.n_long(10) == 3
    assert long.chosen.sum() == 1
    chosen = long[long.chosen].iloc[0]
    assert chosen.llf == pytest.approx(res.llf, abs=1e-9) and chosen.llf == long.llf.max()
    # The long runs start from the best short run and then from runs in other basins.
    ok = res.warmup.table[res.warmup.table.status == "ok"]
    assert long.from_run.iloc[0] == ok.llf.idxmax()
    assert "Long runs from the 3 best distinct short runs" in str(res.warmup)
    assert len(set(long.from_run)) == 3
    text = str(res.summary())
    assert "EM was run to convergence from the 3 best distinct of them" in text
    assert f"(llf {long.llf.min():.4f} to {long.llf.max():.4f})" in text


def test_distinct_runs_skip_runs_that_classify_the_rows_alike() -> None:
    df = _two_process()
    model = EMGLM.from_formula("y ~ x", df, "poisson", K=2)
    warm = emglm.small_em("y ~ x", df, "poisson", K=2, repeats=6, random_state=0)
    runs = sorted((r for r in warm.runs if r.status == "ok"), key=lambda r: -r.llf)
    # The same run twice, and a run with its components swapped, are one basin.
    p = runs[0].params
    swapped = MixtureParams(
        dataclasses.replace(p.components, coef=p.components.coef[::-1].copy()),
        p.gamma[:, ::-1] - p.gamma[:, -1:],
    )
    same = [runs[0], dataclasses.replace(runs[0], run=99, params=swapped)]
    assert warmup.distinct_runs(model.data, model.mixture, same, 5) == [0]
    # A start that puts every row in one component classifies them differently.
    lumped = MixtureParams(p.components, np.array([[0.0, -30.0]]))
    other = [runs[0], dataclasses.replace(runs[0], run=98, params=lumped)]
    assert warmup.distinct_runs(model.data, model.mixture, other, 5) == [0, 1]
    assert warmup.distinct_runs(model.data, model.mixture, other, 1) == [0]


def test_a_long_run_that_loses_a_component_is_replaced_by_the_next_start() -> None:
    df = _two_process()
    model = EMGLM.from_formula("y ~ x", df, "poisson", K=2)
    warm = emglm.small_em("y ~ x", df, "poisson", K=2, repeats=4, random_state=0)
    good = max((r for r in warm.runs if r.status == "ok"), key=lambda r: r.llf)
    # A start whose second component has prior ~1e-13: the minprior rule drops it.
    lumped = MixtureParams(good.params.components, np.array([[0.0, -30.0]]))
    bad = dataclasses.replace(good, run=7, llf=0.0, params=lumped)  # listed as the best
    options = EMOptions(minprior=0.05)
    rng = np.random.default_rng(0)
    fit, long = emem.best_long_run(
        model.data, model.mixture, (bad, good), 2, 1, options, rng
    )
    assert [(r.run, r.n_components, r.chosen) for r in long] == [(7, 1, False), (good.run, 2, True)]
    assert fit.params.n_components == 2 and fit.llf == long[1].llf
    # With only the bad start, the fit with fewer components is what there is.
    fit1, long1 = emem.best_long_run(model.data, model.mixture, (bad,), 2, 3, options, rng)
    assert fit1.params.n_components == 1 and [r.chosen for r in long1] == [True]


def test_each_long_run_that_loses_a_component_gets_a_replacement() -> None:
    # One of two long runs loses a component: the best untried short run takes its place
    # (on faithful a short run sat on a component of 3.6 rows, below minprior, while its
    # twin, skipped as alike, leads to the best optimum), though the other long run kept K.
    df = _two_process()
    model = EMGLM.from_formula("y ~ x", df, "poisson", K=2)
    warm = emglm.small_em("y ~ x", df, "poisson", K=2, repeats=4, random_state=0)
    ok = sorted((r for r in warm.runs if r.status == "ok"), key=lambda r: -r.llf)
    good = ok[0]
    lumped = MixtureParams(good.params.components, np.array([[0.0, -30.0]]))
    bad = dataclasses.replace(good, run=7, llf=1.0, params=lumped)  # listed first
    p = good.params.components
    other = dataclasses.replace(  # listed second: a different start, kept K
        good, run=8, llf=0.5,
        params=MixtureParams(dataclasses.replace(p, coef=p.coef * 0.5), good.params.gamma),
    )  # fmt: skip
    options = EMOptions(minprior=0.05)
    rng = np.random.default_rng(0)
    fit, long = emem.best_long_run(
        model.data, model.mixture, (bad, other, good), 2, 2, options, rng
    )
    assert [(r.run, r.n_components) for r in long] == [(7, 1), (8, 2), (good.run, 2)]
    assert fit.llf == max(r.llf for r in long if r.n_components == 2)
    # Before, with one long run kept, the good start was never run.
    before = [r for r in long if r.run != good.run]
    assert fit.llf >= max(r.llf for r in before if r.n_components == 2)


def test_n_long_one_is_the_old_best_short_run_strategy() -> None:
    df = _two_process()
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=3, n_long=1, se=None)
    long = res.warmup.long_table
    ok = res.warmup.table[res.warmup.table.status == "ok"]
    assert len(long) == 1 and long.from_run.iloc[0] == ok.llf.idxmax()
    with pytest.raises(emglm.InputError, match="n_long"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, n_long=0)


def test_a_start_with_an_empty_component_gives_floored_logits_without_a_numpy_warning() -> None:
    # A grouped model's quantile start can leave a component without rows.
    import warnings

    from emglm import mixing

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gamma = mixing.gamma_from_proportions(np.array([0.5, 0.0, 0.5]))
    assert gamma[0, 0] == 0.0 and gamma[0, 2] == 0.0
    assert gamma[0, 1] == pytest.approx(mixing._LOG_PI_MIN - np.log(0.5))
