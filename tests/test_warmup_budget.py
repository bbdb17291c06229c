"""The warm-up budget: how many short and long runs a fit without a start makes
(``emglm.engine.multistart.WarmupBudget``, ``docs/warmup.md``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.engine import em
from emglm.engine.multistart import StartPlan, WarmupBudget
from emglm.exceptions import InputError, InputTypeError
from emglm.options import WARMUP_BUDGET, FitOptions


@pytest.mark.parametrize(
    ("n_units", "n_params", "n_starts", "n_long"),
    [
        (5000, 11, 15, 3),  # load_sim2(), K=2: the reference
        (10**6, 11, 15, 3),  # more rows: never fewer than min_starts
        (4406, 29, 44, 8),  # NMES1988, K=3: 15 * (29 / 4406) / (11 / 5000) = 44.9
        (915, 15, 111, 22),  # bioChemists, K=2 with a concomitant model
        (272, 7, 150, 30),  # faithful, K=2: capped at max_starts
        (146, 23, 150, 30),  # quine, K=3
        (5000, 101, 15, 3),  # many parameters on many rows: the cost bound decides
        (20_000, 60, 15, 3),
    ],
)
def test_budget_sizes_for_data_of_several_sizes(
    n_units: int, n_params: int, n_starts: int, n_long: int
) -> None:
    assert WARMUP_BUDGET.n_starts(n_units, n_params) == n_starts
    assert WARMUP_BUDGET.n_long(n_starts) == n_long
    plan = FitOptions().start_plan()
    assert plan.n_starts is None and plan.n_long is None
    assert plan.sizes(n_units, n_params) == (n_starts, n_long)


def test_cost_bound_keeps_the_short_runs_within_max_cost_of_the_reference() -> None:
    b = WarmupBudget()
    reference = b.min_starts * (b.overhead + b.reference_units * b.reference_params)
    for n_units in (50, 200, 1000, 5000, 20_000):
        for n_params in (3, 11, 30, 100, 300):
            n = b.n_starts(n_units, n_params)
            cost = n * (b.overhead + n_units * n_params)
            # Above min_starts the short runs never cost more than max_cost references.
            assert n == b.min_starts or cost <= b.max_cost * reference, (n_units, n_params)
            assert b.min_starts <= n <= b.max_starts


def test_given_n_starts_and_n_long_are_used_as_they_are() -> None:
    assert FitOptions(n_starts=4).start_plan().sizes(146, 23) == (4, 3)
    assert FitOptions(n_starts=60).start_plan().sizes(146, 23) == (60, 12)
    assert FitOptions(n_long=1).start_plan().sizes(146, 23) == (150, 1)
    assert FitOptions(n_starts=2, n_long=7).start_plan().sizes(5000, 11) == (2, 7)
    plan = StartPlan(3, "mixed", em.EMOptions(), budget=WarmupBudget(min_starts=40))
    assert plan.sizes(10**6, 2) == (3, 3)
    assert StartPlan(None, "mixed", em.EMOptions(), budget=WarmupBudget(min_starts=40)).sizes(
        10**6, 2
    ) == (40, 8)


def test_a_fit_makes_the_given_number_of_runs_and_the_budget_by_default() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=300)
    lab = rng.random(300) < 0.5
    df = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.where(lab, 1 + x, 2 - x)))})
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, n_starts=4, n_long=2, random_state=0,
                       se=None)  # fmt: skip
    assert len(res.warmup.table) == 4 and len(res.warmup.long_table) <= 2
    # 300 rows, 5 parameters: 15 * (5 / 300) / (11 / 5000) = 113 short runs by default.
    assert WARMUP_BUDGET.n_starts(300, 5) == 113
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=0, se=None, n_long=1)
    assert len(res.warmup.table) == 113 and len(res.warmup.long_table) == 1
    again = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=0, se=None, n_long=1)
    assert again.llf == res.llf  # deterministic per seed


def test_bad_warmup_sizes_are_refused() -> None:
    with pytest.raises(InputError, match="n_starts must be a positive integer; got 0"):
        FitOptions(n_starts=0)
    with pytest.raises(InputTypeError, match="n_long must be a positive integer, not 2.5"):
        FitOptions(n_long=2.5)
    with pytest.raises(InputError, match="min_starts <= max_starts"):
        WarmupBudget(min_starts=20, max_starts=10)
    with pytest.raises(InputError, match="sizes must be positive"):
        WarmupBudget(overhead=0)


def test_the_budgeted_warmup_does_not_depend_on_n_jobs() -> None:
    rng = np.random.default_rng(3)
    n = 1500
    x = rng.normal(size=n)
    lab = rng.random(n) < 0.4
    df = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.where(lab, 0.5 + x, 2 - 0.5 * x)))})
    assert WARMUP_BUDGET.n_starts(n, 5) == 22  # 15 * (5 / 1500) / (11 / 5000) = 22.7
    one = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=5, se=None)
    two = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=5, se=None, n_jobs=2)
    assert len(one.warmup.table) == len(two.warmup.table) == 22
    pd.testing.assert_frame_equal(one.warmup.table, two.warmup.table)
    assert one.llf == two.llf
