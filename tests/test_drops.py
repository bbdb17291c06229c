"""Components dropped by the minprior rule are recorded, and the llf falls only there."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm


def _two_process(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.random(n) < 0.5
    x = rng.normal(size=n)
    return pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.where(lab, 1 + 0.5 * x, 2 - 0.5 * x)))})


def _four_from_labels(df: pd.DataFrame, accel: str | None) -> emglm.EMGLMResults:
    start = np.random.default_rng(1).integers(0, 4, len(df))
    with pytest.warns(emglm.DegenerateComponentWarning, match="were dropped"):
        return emglm.em_glm("y ~ x", df, "poisson", K=4, minprior=0.2, start=start,
                            accel=accel, se=None)


def test_plain_em_records_each_drop_with_the_llf_around_it() -> None:
    res = _four_from_labels(_two_process(), None)
    drops, history = res.drops, res.llf_history
    assert len(drops) == 4 - res.K >= 1
    assert list(drops.columns) == [
        "iteration", "component", "of", "weight", "prior", "llf_before", "llf_after",
    ]  # fmt: skip
    for _, d in drops.iterrows():
        it = int(d.iteration)
        assert d.llf_before == history[it - 1] and d.llf_after == history[it]
        assert d.prior < 0.2 and d.weight == pytest.approx(d.prior * 600)
    falls = {i + 1 for i in np.flatnonzero(np.diff(history) < 0)}
    assert falls <= set(drops.iteration.astype(int))  # the llf falls only at a drop
    assert f"4 components requested, {len(drops)} dropped" in str(res.summary())


def test_squarem_records_drops_and_falls_only_there() -> None:
    res = _four_from_labels(_two_process(), "squarem")
    drops, history = res.drops, res.llf_history
    assert len(drops) == 4 - res.K >= 1
    assert np.all(np.isfinite(drops[["llf_before", "llf_after"]].to_numpy()))
    after = set(drops.llf_after)
    for i in np.flatnonzero(np.diff(history) < -1e-12 * np.abs(history[1:])):
        assert history[i + 1] in after  # a fall lands on the llf right after a drop


def test_no_drop_no_record() -> None:
    res = emglm.em_glm("y ~ x", _two_process(), "poisson", K=2, random_state=0, se=None)
    assert res.drops.empty and "requested" not in str(res.summary())
