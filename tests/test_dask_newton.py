"""Newton steps at the end of a Dask fit: their informations from the in-memory sample of
whole partitions, the EM map's move and their points' E-steps from the partitions; the
same optimum as in memory in fewer M-steps, on a real ``distributed.LocalCluster``
started and stopped here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import emglm  # noqa: E402
from emglm.engine import newton  # noqa: E402


def _frame(n: int = 6000, seed: int = 3) -> pd.DataFrame:
    """Three overlapping Poisson regressions: EM's rate is close to 1."""
    rng = np.random.default_rng(seed)
    x1, x2 = 0.5 * rng.normal(size=(2, n))
    coef = np.array([[1.0, 0.5, -0.5], [2.0, -0.4, 0.3], [0.0, 0.2, 0.2]])
    lab = rng.integers(0, 3, size=n)
    eta = coef[lab, 0] + coef[lab, 1] * x1 + coef[lab, 2] * x2
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x1": x1, "x2": x2})


def test_dask_fit_ends_with_newton_steps(client, monkeypatch) -> None:
    df = _frame()
    # A start away from the optimum, so that the long run over the partitions has work to
    # do (the warm-up on a sample of every row would end at the optimum already).
    start = np.array([[1.2, 0.3, -0.3], [1.8, -0.2, 0.1], [0.2, 0.0, 0.4]])
    kw = dict(start=start, se=None, tol=1e-10)
    ddf = dd.from_pandas(df, npartitions=4)
    without = emglm.em_glm("y ~ x1 + x2", ddf, "poisson", 3, **kw)
    # Newton steps on these 6000 rows (with the defaults, from 200 000), from a subsample
    # of 1500 rows of the in-memory sample (here every partition).
    monkeypatch.setattr(newton, "SAMPLE_UNITS", 1500)
    with_newton = emglm.em_glm("y ~ x1 + x2", ddf, "poisson", 3, **kw)
    in_memory = emglm.em_glm("y ~ x1 + x2", df, "poisson", 3, **kw)
    for fit in (with_newton, in_memory):
        np.testing.assert_allclose(fit.params.to_numpy(), without.params.to_numpy(), atol=1e-6)
        assert fit.llf == pytest.approx(without.llf, rel=1e-12)
    # 61 against 110 M-steps (61 in memory too).
    assert with_newton.em.n_iter < 0.7 * without.em.n_iter, (
        with_newton.em.n_iter, without.em.n_iter, in_memory.em.n_iter)
    history = with_newton.em.llf_history
    assert np.all(np.diff(history) >= -1e-12 * np.abs(history[1:]))
