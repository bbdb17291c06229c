"""K=1 must equal statsmodels GLM: coefficients, log-likelihood, AIC and BIC."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import emglm


def _check(res: emglm.EMGLMResults, ref, k_params: int) -> None:
    np.testing.assert_allclose(res.params["comp1"].to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    assert res.llf == pytest.approx(ref.llf, rel=1e-9)
    assert res.k_params == k_params
    assert res.aic == pytest.approx(-2 * ref.llf + 2 * k_params, rel=1e-9)
    assert res.bic == pytest.approx(-2 * ref.llf + np.log(res.nobs) * k_params, rel=1e-9)
    assert res.mixing.tolist() == [1.0]
    assert np.all(np.diff(res.llf_history) >= -1e-10 * abs(res.llf))


def test_poisson_with_exposure(glm_df: pd.DataFrame) -> None:
    res = emglm.em_glm("count ~ x1 + x2 + C(g)", glm_df, "poisson", K=1, exposure="expo", tol=1e-12)
    ref = smf.glm(
        "count ~ x1 + x2 + C(g)", glm_df, family=sm.families.Poisson(), exposure=glm_df.expo
    ).fit(tol=1e-12)
    _check(res, ref, 5)
    assert ref.aic == pytest.approx(res.aic, rel=1e-9)


def test_poisson_with_case_weights(glm_df: pd.DataFrame) -> None:
    res = emglm.em_glm("count ~ x1", glm_df, "poisson", K=1, weights="w", tol=1e-12)
    ref = smf.glm("count ~ x1", glm_df, family=sm.families.Poisson(), freq_weights=glm_df.w).fit(
        tol=1e-12
    )
    _check(res, ref, 2)
    assert res.nobs == glm_df.w.sum()
    # Frequency weights are the same as repeating rows.
    rep = glm_df.loc[glm_df.index.repeat(glm_df.w.astype(int))]
    res_rep = emglm.em_glm("count ~ x1", rep, "poisson", K=1, tol=1e-12)
    assert res_rep.llf == pytest.approx(res.llf, rel=1e-10)
    assert res_rep.bic == pytest.approx(res.bic, rel=1e-10)


def test_gaussian(glm_df: pd.DataFrame) -> None:
    res = emglm.em_glm("yg ~ x1 + x2", glm_df, "gaussian", K=1, tol=1e-12)
    ref = smf.glm("yg ~ x1 + x2", glm_df, family=sm.families.Gaussian()).fit()
    _check(res, ref, 4)  # three coefficients and the variance
    ml_var = np.mean(ref.resid_response**2)
    assert res.scale["comp1"] == pytest.approx(ml_var, rel=1e-9)


def test_binomial_two_columns(glm_df: pd.DataFrame) -> None:
    res = emglm.em_glm("cbind(succ, fail) ~ x1", glm_df, "binomial", K=1, tol=1e-12)
    ref = smf.glm("succ + fail ~ x1", glm_df, family=sm.families.Binomial()).fit(tol=1e-12)
    _check(res, ref, 2)
    res_sm_style = emglm.em_glm("succ + fail ~ x1", glm_df, "binomial", K=1, tol=1e-12)
    assert res_sm_style.llf == pytest.approx(res.llf, rel=1e-12)


def test_binomial_probit_on_01(glm_df: pd.DataFrame) -> None:
    fam = sm.families.Binomial(link=sm.families.links.Probit())
    res = emglm.em_glm("yb ~ x1 + x2", glm_df, fam, K=1, tol=1e-12)
    ref = smf.glm("yb ~ x1 + x2", glm_df, family=fam).fit(tol=1e-12)
    _check(res, ref, 3)


def test_boolean_binomial_response(glm_df: pd.DataFrame) -> None:
    df = glm_df.assign(yb=glm_df.yb.astype(bool))
    res = emglm.em_glm("yb ~ x1", df, "binomial", K=1, tol=1e-12)
    ref = smf.glm("yb ~ x1", glm_df, family=sm.families.Binomial()).fit(tol=1e-12)
    _check(res, ref, 2)


def test_gamma_family_instance(glm_df: pd.DataFrame) -> None:
    """Any statsmodels family: Gamma with log link, ML dispersion."""
    fam = sm.families.Gamma(link=sm.families.links.Log())
    df = glm_df.assign(pos=np.exp(0.3 * glm_df.x1) * (1 + glm_df.x2))
    rng = np.random.default_rng(2)
    df["pos"] = rng.gamma(4.0, df.pos / 4.0)
    res = emglm.em_glm("pos ~ x1", df, fam, K=1, tol=1e-12)
    ref = smf.glm("pos ~ x1", df, family=fam).fit(tol=1e-12)
    np.testing.assert_allclose(res.params["comp1"], ref.params, rtol=1e-6)
    # The ML dispersion maximises the statsmodels log-likelihood at these means.
    s = res.scale["comp1"]
    ll = [fam.loglike(df.pos.to_numpy(), ref.mu, scale=s * f) for f in (0.99, 1.0, 1.01)]
    assert ll[1] >= max(ll[0], ll[2])
    assert res.llf == pytest.approx(ll[1], rel=1e-8)
