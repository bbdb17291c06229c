"""Standard errors in the results object, the summary, the tidy table and the dispersion
check."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import emglm
from emglm.exceptions import InputError


@pytest.fixture(scope="module")
def gauss():
    rng = np.random.default_rng(4)
    n = 500
    df = pd.DataFrame({"x": rng.uniform(0, 10, n)})
    lab = (rng.random(n) < 0.5).astype(int)
    df["y"] = np.where(lab == 1, 1 + 2 * df.x, 5 - 0.5 * df.x) + rng.normal(size=n) * np.where(
        lab == 1, 1.0, 0.5
    )
    return emglm.em_glm("y ~ x", df, "gaussian", K=2, start=lab, tol=1e-12)


def test_shapes_and_derived_values(gauss):
    res = gauss
    cov = res.cov_params()
    assert list(cov.index) == [
        ("comp1", "Intercept"), ("comp1", "x"), ("comp1", "log(sigma)"),
        ("comp2", "Intercept"), ("comp2", "x"), ("comp2", "log(sigma)"),
        ("comp2", "mixing:Intercept"),
    ]
    assert cov.index.names == ["component", "term"]
    np.testing.assert_allclose(cov.to_numpy(), cov.to_numpy().T)
    for frame in (res.bse, res.tvalues, res.pvalues):
        assert frame.shape == res.params.shape
        assert list(frame.index) == list(res.params.index)
        assert list(frame.columns) == list(res.params.columns)
    np.testing.assert_allclose(res.bse.loc["x", "comp2"], np.sqrt(cov.loc[("comp2", "x"),
                                                                          ("comp2", "x")]))
    np.testing.assert_allclose(res.tvalues, res.params / res.bse)
    np.testing.assert_allclose(res.pvalues, 2 * stats.norm.sf(np.abs(res.params / res.bse)))
    ci = res.conf_int(alpha=0.1)
    se = np.sqrt(np.diag(cov))
    np.testing.assert_allclose(ci["upper"] - ci["lower"], 2 * stats.norm.ppf(0.95) * se)
    # sigma = exp(log sigma): delta method.
    np.testing.assert_allclose(res.sigma_bse, res.sigma * se[[2, 5]])
    # K = 2, constant proportions: d pi_1 / d alpha = -pi_1 pi_2.
    pi = res.mixing.to_numpy()
    np.testing.assert_allclose(res.mixing_bse, pi[0] * pi[1] * se[6])


def test_tidy_estimates(gauss):
    tidy = gauss.estimates()
    assert list(tidy.columns) == ["component", "term", "kind", "estimate", "std_err", "z",
                                  "p_value", "conf_low", "conf_high"]
    coef = tidy[tidy.kind == "coef"].set_index(["term", "component"])
    np.testing.assert_allclose(coef.loc[("x", "comp1"), "std_err"], gauss.bse.loc["x", "comp1"])
    sig = tidy[tidy.kind == "sigma"]
    np.testing.assert_allclose(sig.estimate, gauss.sigma)
    assert np.all(sig.conf_low < sig.estimate) and np.all(sig.estimate < sig.conf_high)
    assert sig.z.isna().all()
    mix = tidy[tidy.kind == "mixing"]
    np.testing.assert_allclose(mix.std_err, gauss.mixing_bse)
    assert len(tidy) == 2 * 2 + 2 + 1 + 2


def test_summary_text_html_latex(gauss):
    smry = gauss.summary()
    text = str(smry)
    assert "Covariance Type:                 louis" in text
    assert "std err" in text and "P>|z|" in text
    assert f"{gauss.bse.loc['x', 'comp1']:.4f}" in text
    assert f"{gauss.sigma_bse.iloc[1]:.4f}" in text
    assert f"{gauss.mixing_bse.iloc[0]:.4f}" in text
    assert "Louis" in text
    assert str(gauss.summary()) == text  # no timestamp: reproducible
    assert "<table" in smry.as_html() and "tabular" in smry.as_latex()
    assert gauss._repr_html_() == smry.as_html()


def test_se_none_skips_inference():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=200)})
    lab = np.arange(200) % 2
    df["y"] = rng.poisson(np.exp(np.where(lab == 1, 1 + 0.3 * df.x, 3 - 0.2 * df.x)))
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se=None)
    assert res.cov_type == "none" and res.covariance is None
    with pytest.raises(InputError, match="se=None"):
        _ = res.bse
    with pytest.raises(InputError, match="se=None"):
        res.cov_params()
    assert "std err" not in str(res.summary())
    assert res.estimates()["std_err"].isna().all()
    with pytest.raises(InputError, match="percentile intervals need bootstrap"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab).conf_int(method="percentile")
    with pytest.raises(InputError, match="alpha"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab).conf_int(alpha=1.5)


# --- dispersion check --------------------------------------------------------------------
def _poisson_mixture(seed: int, overdispersed: bool):
    rng = np.random.default_rng(seed)
    n = 2000
    df = pd.DataFrame({"x": rng.normal(size=n)})
    lab = (rng.random(n) < 0.4).astype(int)
    mu = np.exp(np.where(lab == 1, 0.5 + 0.5 * df.x, 2.5 - 0.3 * df.x))
    if overdispersed:  # negative binomial with size 3: variance mu + mu^2 / 3
        mu = rng.gamma(3.0, mu / 3.0)
    df["y"] = rng.poisson(mu)
    return emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, tol=1e-10, se=None), df


def test_dispersion_test_direct_computation():
    res, df = _poisson_mixture(1, overdispersed=False)
    # By hand: mixture mean and variance of a Poisson mixture.
    X = np.c_[np.ones(len(df)), df.x]
    mu = np.exp(X @ res.params.to_numpy())
    pi = res.mixing.to_numpy()
    m = mu @ pi
    v = (mu + mu**2) @ pi - m**2
    x2 = np.sum((df.y - m) ** 2 / v)
    t = res.dispersion_test()
    assert t.statistic == pytest.approx(x2, rel=1e-10)
    assert t.df_resid == len(df) - 5
    assert t.dispersion == pytest.approx(x2 / (len(df) - 5))
    assert t.pvalue_over == pytest.approx(stats.chi2.sf(x2, len(df) - 5))
    assert t.pvalue_under + t.pvalue_over == pytest.approx(1.0)
    assert 0.01 < t.pvalue_over < 0.99  # the model is right here
    pooled = res.dispersion_test(level="pooled")
    assert pooled.level == "pooled" and pooled.statistic < t.statistic
    assert "over-dispersion p" in str(t)
    with pytest.raises(InputError, match="level='component'"):
        res.dispersion_test(level="component")


def test_dispersion_test_detects_overdispersion():
    res, _ = _poisson_mixture(2, overdispersed=True)
    t = res.dispersion_test()
    # The components absorb part of the extra spread, so the ratio is below the
    # negative binomial's average variance inflation; it is still far above 1.
    assert t.dispersion > 1.2
    assert t.pvalue_over < 1e-10


def test_concomitant_standard_errors_in_results_and_summary():
    rng = np.random.default_rng(8)
    n = 800
    df = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    lab = (rng.random(n) < 1 / (1 + np.exp(0.5 - 1.5 * df.z))).astype(int)
    df["y"] = rng.poisson(np.exp(np.where(lab == 1, 2 - 0.6 * df.x, 0.5 + 0.8 * df.x)))
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=lab, tol=1e-12)
    cov = res.cov_params()
    assert ("comp2", "mixing:z") in cov.index
    se = res.mixing_params_bse
    assert se.shape == res.mixing_params.shape
    assert se.loc["z", "comp2"] == pytest.approx(np.sqrt(cov.loc[("comp2", "mixing:z"),
                                                                   ("comp2", "mixing:z")]))
    assert (se["comp1"] == 0).all()
    text = str(res.summary())
    assert f"{se.loc['z', 'comp2']:.4f}" in text
    plain = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=lab, se=None)
    assert "std err" not in str(plain.summary())
