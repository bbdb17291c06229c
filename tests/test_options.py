"""One validated options object, forwarded by every front end."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.options import FitOptions

F = "y ~ V1 + V2 + V3 + V4 + V5 - 1"


def test_em_glm_takes_every_argument_by_keyword(poisson_df: pd.DataFrame) -> None:
    by_kw = emglm.em_glm(
        formula="y ~ x", data=poisson_df, family="poisson", K=2, random_state=3, se=None
    )
    by_pos = emglm.em_glm("y ~ x", poisson_df, "poisson", 2, random_state=3, se=None)
    assert by_kw.llf == by_pos.llf
    model = emglm.EMGLM.from_formula(formula="y ~ x", data=poisson_df, family="poisson", K=2)
    assert model.fit(random_state=3, se=None).llf == by_pos.llf


def test_select_k_and_small_em_forward_accel() -> None:
    df = emglm.datasets.load_sim2()
    kw = {"K": [2], "random_state": 5, "n_starts": 1, "tol": 1e-10}
    fast = emglm.select_k(F, df, "poisson", **kw)
    plain = emglm.select_k(F, df, "poisson", accel=None, **kw)
    # The same start: plain EM climbs to the same optimum in more iterations.
    assert plain.fits[2].n_iter > fast.fits[2].n_iter
    assert plain.fits[2].llf == pytest.approx(fast.fits[2].llf, rel=1e-9)
    assert np.all(np.diff(plain.fits[2].llf_history) >= 0)
    kw = {"K": 2, "repeats": 3, "max_iter": 10, "tol": 1e-12, "random_state": 1}
    warm_fast = emglm.small_em(F, df, "poisson", **kw)
    warm_plain = emglm.small_em(F, df, "poisson", accel=None, **kw)
    # Ten plain EM steps from the same starts climb less far than ten accelerated ones.
    assert (warm_plain.table.llf < warm_fast.table.llf).all()
    assert (warm_fast.table.llf - warm_plain.table.llf).sum() > 1e-2


def test_select_k_takes_an_options_object() -> None:
    df = emglm.datasets.load_sim2()
    opts = FitOptions(n_starts=2, se=None, accel=None)
    sel = emglm.select_k(F, df, "poisson", K=[1, 2], random_state=0, options=opts)
    assert sel.best_k == 2
    with pytest.raises(emglm.InputTypeError, match="either options= or options by name"):
        emglm.select_k(F, df, "poisson", K=[1], options=opts, n_starts=3)
    with pytest.raises(emglm.InputTypeError, match=r"unknown option\(s\) \['n_start'\]; allowed: init"):
        emglm.select_k(F, df, "poisson", K=[1], n_start=3)


@pytest.mark.parametrize(
    ("field", "value", "error", "message"),
    [
        ("accel", "squarm", emglm.InputError, "accel='squarm' is not allowed; choose one of 'squarem', None"),
        ("accel", 1, emglm.InputTypeError, "accel must be 'squarem' or None, not 1"),
        ("m_step_iter", 0, emglm.InputError, "m_step_iter must be a positive integer; got 0"),
        ("n_jobs", 0, emglm.InputError, "n_jobs must be a positive integer or -1; got 0"),
        ("tol", -1.0, emglm.InputError, "tol must be a positive number; got -1.0"),
        ("bootstrap", "wild", emglm.InputError, "bootstrap='wild' is not allowed"),
        ("minprior", 1.5, emglm.InputError, r"minprior must be a number in \[0, 1\); got 1.5"),
        ("progress", "yes", emglm.InputTypeError, "progress must be True, False or None"),
    ],
)
def test_options_are_validated_once_for_every_front_end(
    poisson_df: pd.DataFrame, field: str, value: object, error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        FitOptions(**{field: value})
    with pytest.raises(error, match=message):
        emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, **{field: value})
    with pytest.raises(error, match=message):
        emglm.select_k("y ~ x", poisson_df, "poisson", K=[2], **{field: value})


def test_minprior_is_checked_against_k(poisson_df: pd.DataFrame) -> None:
    with pytest.raises(emglm.InputError, match=r"\[0, 1/K\) = \[0, 0.5\); got 0.5"):
        emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, minprior=0.5)
