"""Fits run BLAS on one thread during their passes over the rows and give the caller's
BLAS setting back afterwards."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

import emglm
from emglm.components import kernels
from emglm.blas_threads import one_blas_thread
from emglm.options import FitOptions


def _blas_threads() -> list[int]:
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def two_blas_threads() -> object:
    """The caller's setting: two BLAS threads (skip where BLAS cannot have two)."""
    with threadpool_limits(limits=2, user_api="blas"):
        if not _blas_threads() or set(_blas_threads()) != {2}:
            pytest.skip("BLAS cannot run two threads here")
        yield


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[list[int]]:
    """Record the BLAS threads each time the kernel ``name`` runs."""
    seen: list[list[int]] = []
    original = getattr(kernels, name)

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(_blas_threads())
        return original(*args, **kwargs)

    monkeypatch.setattr(kernels, name, spy)
    return seen


def test_fit_passes_run_on_one_blas_thread_and_restore(
    poisson_df: pd.DataFrame, two_blas_threads: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch, "e_step_pass")
    grams = _spy(monkeypatch, "irls_normal_equations")
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", 2, random_state=0, n_starts=2)
    assert res.converged
    assert len(seen) > 5 and len(grams) > 5  # the passes ran (warm-up and long run) ...
    assert all(t == [1] * len(t) for t in seen + grams)  # ... each on one BLAS thread
    assert set(_blas_threads()) == {2}  # the caller's setting is back


def test_small_em_runs_on_one_blas_thread(
    poisson_df: pd.DataFrame, two_blas_threads: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen = _spy(monkeypatch, "e_step_pass")
    emglm.small_em("y ~ x", poisson_df, "poisson", K=2, repeats=2, random_state=0)
    assert seen and all(t == [1] * len(t) for t in seen)
    assert set(_blas_threads()) == {2}


def test_setting_restored_after_an_error(
    poisson_df: pd.DataFrame, two_blas_threads: object
) -> None:
    model = emglm.EMGLM.from_formula("y ~ x", poisson_df, "poisson", 2)
    with pytest.raises(emglm.InputError, match="max_iter"):
        model.fit(max_iter=0)
    assert set(_blas_threads()) == {2}
    with pytest.raises(RuntimeError, match="inside"):
        with one_blas_thread():
            assert set(_blas_threads()) == {1}
            raise RuntimeError("inside")
    assert set(_blas_threads()) == {2}


def test_one_thread_gives_the_same_fit(poisson_df: pd.DataFrame, two_blas_threads: object) -> None:
    start = poisson_df.label.to_numpy()
    model = emglm.EMGLM.from_formula("y ~ x", poisson_df, "poisson", 2)
    options = FitOptions(tol=1e-12)
    a = model.fit_with(options, start=start)
    b = model.fit_with.__wrapped__(model, options, start=start)  # BLAS threads left as they are
    np.testing.assert_allclose(a.params, b.params, rtol=1e-9)
