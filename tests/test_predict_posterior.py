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


def _grouped(seed: int = 1, n_groups: int = 120) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gid = np.repeat(np.arange(n_groups), rng.integers(2, 6, n_groups))
    zg = rng.normal(size=n_groups)
    lab = (rng.random(n_groups) < 1 / (1 + np.exp(-zg)))[gid]
    x = rng.normal(size=gid.size)
    y = rng.poisson(np.exp(np.where(lab, 1 + 0.5 * x, -0.5 * x)))
    return pd.DataFrame({"y": y, "x": x, "z": zg[gid], "id": gid})


def test_grouped_posteriors_of_new_groups() -> None:
    # flexmix's group posteriors: tau_gk ∝ pi_k(z_g) prod_{i in g} f_k(y_i), computed here
    # from the fitted parameters with scipy, for new groups (and the fitted ones).
    from scipy.special import softmax
    from scipy.stats import poisson

    df = _grouped()
    res = emglm.em_glm("y ~ x | id", df, "poisson", K=2, concomitant="~ z", random_state=0,
                       se=None)  # fmt: skip
    new = _grouped(seed=9, n_groups=15).assign(id=lambda d: d.id + 1000)
    got = res.predict(new, which="posterior")
    coef = res.params.to_numpy()  # (p, K)
    mu = np.exp(np.c_[np.ones(len(new)), new.x] @ coef)
    logf = pd.DataFrame(poisson.logpmf(new.y.to_numpy()[:, None], mu)).groupby(new.id.values).sum()
    first = new.groupby("id").z.first().loc[logf.index].to_numpy()
    gamma = res.mixing_params.to_numpy()  # (q, K)
    expect = softmax(logf.to_numpy() + np.c_[np.ones(first.size), first] @ gamma, axis=1)
    np.testing.assert_allclose(got.groupby(new.id.values).first().to_numpy(), expect,
                               rtol=1e-9, atol=1e-12)  # fmt: skip
    assert got.groupby(new.id.values).nunique().max().max() == 1
    fitted = res.predict(df, which="posterior")
    np.testing.assert_allclose(fitted.to_numpy(), res.posterior.to_numpy(), rtol=1e-10,
                               atol=1e-12)  # fmt: skip
    with pytest.raises(emglm.InputError, match="grouping column 'id' is not a column"):
        res.predict(new.drop(columns="id"), which="posterior")
    with pytest.raises(emglm.InputError, match="concomitant covariates vary within group"):
        res.predict(new.assign(z=np.arange(len(new), dtype=float)), which="posterior")
    by_array = emglm.em_glm("y ~ x", df, "poisson", K=2, groups=df.id.to_numpy(),
                            random_state=0, se=None)  # fmt: skip
    with pytest.raises(emglm.InputError, match="groups were given as an array"):
        by_array.predict(new, which="posterior")
