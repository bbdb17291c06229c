"""Posteriors of new rows given their response: ``predict(newdata, which="posterior")``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm


def _conc(seed: int = 0, n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=n)
    lab = rng.random(n) < 1 / (1 + np.exp(-(0.3 + 1.5 * z)))
    x = rng.normal(size=n)
    expo = rng.integers(1, 5, n).astype(float)
    y = rng.poisson(expo * np.exp(np.where(lab, 1 + 0.5 * x, -0.5 * x)))
    trials = rng.integers(3, 9, n)
    succ = rng.binomial(trials, 1 / (1 + np.exp(-np.where(lab, 1 + x, -1 - x))))
    return pd.DataFrame({"y": y, "x": x, "z": z, "expo": expo, "s": succ, "f": trials - succ})


@pytest.mark.parametrize(
    ("formula", "family", "options"),
    [
        ("y ~ x", "poisson", {"exposure": "expo", "concomitant": "~ z"}),
        ("cbind(s, f) ~ x", "binomial", {}),
    ],
)
def test_posteriors_of_the_fitted_rows_are_the_fit_s(formula: str, family: str,
                                                     options: dict) -> None:
    df = _conc()
    res = emglm.em_glm(formula, df, family, K=2, random_state=0, se=None, **options)
    new = df.iloc[::7]
    got = res.predict(new, which="posterior")
    np.testing.assert_allclose(got.to_numpy(), res.posterior.loc[new.index].to_numpy(),
                               rtol=1e-10, atol=1e-12)
    assert list(got.index) == list(new.index)


def test_posteriors_need_the_response_and_its_support() -> None:
    df = _conc()
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=0, se=None)
    with pytest.raises(emglm.FormulaError, match="'y'"):
        res.predict(df[["x"]], which="posterior")
    bad = df.iloc[:4].assign(y=[1.0, np.nan, 2.0, 3.0])
    with pytest.raises(emglm.InputError, match="response 'y' cannot be built: .* missing"):
        res.predict(bad, which="posterior")
    with pytest.raises(emglm.InputError, match="must hold non-negative integer counts; found -1.5"):
        res.predict(df.iloc[:3].assign(y=[-1.5, 2.0, 3.0]), which="posterior")


@pytest.mark.parametrize("options", [{"zero_inflated": True}, {"fixed": "~ z"},
                                     {"zero_inflated": True, "fixed": "~ z"}])
def test_point_mass_and_shared_coefficients_count_as_in_the_fit(options: dict) -> None:
    df = _conc(seed=2, n=600)
    df["y"] = np.where(np.random.default_rng(3).random(len(df)) < 0.25, 0, df.y)
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=0, se=None, **options)
    new = df.iloc[::5]
    got = res.predict(new, which="posterior")
    assert list(got.columns) == res.component_names
    np.testing.assert_allclose(got.to_numpy(), res.posterior.loc[new.index].to_numpy(),
                               rtol=1e-10, atol=1e-12)
    if "zero_inflated" in options:  # a positive count is never the point mass's
        assert np.all(got["zero"].to_numpy()[new.y.to_numpy() > 0] == 0.0)
