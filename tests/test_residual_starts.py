"""Partitions from the pooled GLM's sorted residuals: ``init="quantile"`` and ``"tail"``
(``emglm.components.residual_starts``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.components.glm import GLMComponents
from emglm.components.residual_starts import TAIL_SHARE, quantile_labels, tail_labels
from emglm.data.arrays import MixtureData
from emglm.families import get_family


@pytest.mark.parametrize("seed", range(20))
@pytest.mark.parametrize("n_comp", [2, 3, 4])
def test_tail_start_puts_a_small_end_of_the_residuals_in_one_component(
    seed: int, n_comp: int
) -> None:
    n = 400
    rng = np.random.default_rng(seed)
    resid = rng.permutation(np.arange(n, dtype=float))  # row i has rank resid[i]
    labels = tail_labels(resid, n_comp, np.random.default_rng(seed))
    tail = np.sort(resid[labels == n_comp - 1])
    # A few per cent of the rows, all from one end of the residuals.
    assert np.ceil(TAIL_SHARE[0] * n) <= tail.size <= np.ceil(TAIL_SHARE[1] * n)
    low = np.arange(tail.size, dtype=float)
    assert np.array_equal(tail, low) or np.array_equal(tail, n - 1 - low[::-1])
    # The other rows are cut into n_comp - 1 consecutive residual blocks, in order, none
    # below half of an equal share of them.
    rest = labels[np.argsort(resid)]
    rest = rest[rest != n_comp - 1]
    assert np.all(np.diff(rest) >= 0) and set(rest) == set(range(n_comp - 1))
    counts = np.bincount(rest, minlength=n_comp - 1)
    assert counts.min() >= 0.5 * rest.size / (n_comp - 1) - 1


def test_tail_start_sides_and_sizes_vary_with_the_seed_and_respect_min_rows() -> None:
    resid = np.arange(100.0)
    sides = set()
    for seed in range(30):
        lab = tail_labels(resid, 2, np.random.default_rng(seed), min_rows=12)
        tail = np.flatnonzero(lab == 1)
        assert tail.size == 12  # 2-8% of 100 rows is below min_rows
        sides.add("low" if tail[0] == 0 else "high")
        assert tail[0] == 0 or tail[-1] == 99
    assert sides == {"low", "high"}
    assert tail_labels(resid, 1, np.random.default_rng(0)).tolist() == [0] * 100
    # Never more than half the rows.
    assert (tail_labels(np.arange(10.0), 2, np.random.default_rng(0), min_rows=8) == 1).sum() == 5


def test_quantile_labels_cut_sorted_residuals_into_ordered_blocks() -> None:
    resid = np.random.default_rng(3).normal(size=200)
    labels = quantile_labels(resid, 3, np.random.default_rng(0))
    in_order = labels[np.argsort(resid)]
    assert np.all(np.diff(in_order) >= 0)
    assert np.bincount(in_order).min() >= 200 / 6 - 1


def test_glm_tail_start_takes_the_rows_furthest_from_the_pooled_line() -> None:
    # y = x exactly except for 10 rows far below the line: those are the low tail.
    n = 200
    x = np.linspace(0, 1, n)
    y = x.copy()
    low = np.arange(5, n, 20)
    y[low] -= 5.0
    X = np.column_stack([np.ones(n), x])
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    glm = GLMComponents(get_family("gaussian"), ["Intercept", "x"])
    for seed in range(40):
        tau = glm.random_start("tail", data, 2, np.random.default_rng(seed))
        tail = np.flatnonzero(tau[:, 1] == 1)
        if tail.size <= low.size and np.isin(tail, low).all():
            break
    else:
        pytest.fail("no tail start took only the rows below the line")
    assert tau.sum(axis=1).tolist() == [1.0] * n


def test_init_tail_is_accepted_by_em_glm() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=300)
    small = rng.random(300) < 0.1
    df = pd.DataFrame({"x": x, "y": np.where(small, -4.0, 1.0 + x) + rng.normal(0, 0.3, 300)})
    res = emglm.em_glm("y ~ x", df, "gaussian", K=2, init="tail", n_starts=5,
                       random_state=0, se=None)  # fmt: skip
    assert set(res.warmup.table.init) == {"tail"}
    props = np.sort(res.prior_probs.iloc[0].to_numpy())
    assert props[0] == pytest.approx(small.mean(), abs=0.02)
