"""Complete starts: a previous results object, or coefficients, proportions and dispersions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emglm


@pytest.fixture
def gauss() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 400
    lab = rng.random(n) < 0.3
    x = rng.normal(size=n)
    y = np.where(lab, 1 + 2 * x, -1 + 0.5 * x) + rng.normal(0, np.where(lab, 0.5, 1.0))
    return pd.DataFrame({"y": y, "x": x})


def test_a_previous_fit_starts_where_it_ended(gauss: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", gauss, "gaussian", K=2, random_state=0, tol=1e-10)
    again = emglm.em_glm("y ~ x", gauss, "gaussian", K=2, start=res, tol=1e-10)
    assert again.llf_history[0] == pytest.approx(res.llf, rel=1e-12)
    assert again.llf == pytest.approx(res.llf, rel=1e-10)
    assert "Started from the given start." in str(again.summary())
    with pytest.raises(emglm.InputError, match="start.coef has shape"):
        emglm.em_glm("y ~ x", gauss, "gaussian", K=3, start=res)


def test_a_complete_start_is_used_as_given(gauss: pd.DataFrame) -> None:
    coef = np.array([[-1.0, 0.5], [1.0, 2.0]])
    pi, scale = np.array([0.7, 0.3]), np.array([1.0, 0.25])
    start = {"params": coef, "mixing": pi, "scale": scale}
    res = emglm.em_glm("y ~ x", gauss, "gaussian", K=2, start=start, se=None)
    mu = gauss.x.to_numpy()[:, None] * coef[:, 1] + coef[:, 0]
    dens = pi * stats.norm.pdf(gauss.y.to_numpy()[:, None], mu, np.sqrt(scale))
    assert res.llf_history[0] == pytest.approx(np.log(dens.sum(axis=1)).sum(), rel=1e-12)
    frame = pd.DataFrame(coef.T, index=["Intercept", "x"], columns=["comp1", "comp2"])
    same = emglm.em_glm("y ~ x", gauss, "gaussian", K=2, se=None,
                        start={"params": frame, "mixing": pi, "scale": scale})
    assert same.llf == res.llf


@pytest.mark.parametrize(
    ("start", "family", "message"),
    [
        ({"coef": np.zeros((2, 2))}, "gaussian", "needs 'params'"),
        ({"params": np.zeros((2, 2)), "mixing": [0.5, 0.6]}, "gaussian",
         "2 positive proportions summing to 1"),
        ({"params": np.zeros((2, 2)), "scale": [1.0, -1.0]}, "gaussian", "2 positive dispersions"),
        ({"params": np.zeros((2, 2)), "scale": [2.0, 2.0]}, "poisson", "has no dispersion"),
        ({"params": np.zeros((3, 2))}, "gaussian", "start has shape"),
    ],
)
def test_bad_complete_starts(gauss: pd.DataFrame, start: dict, family: str, message: str) -> None:
    df = gauss.assign(y=np.abs(np.round(gauss.y))) if family == "poisson" else gauss
    with pytest.raises(emglm.InputError, match=message):
        emglm.em_glm("y ~ x", df, family, K=2, start=start)
