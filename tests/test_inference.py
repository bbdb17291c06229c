"""Louis standard errors: finite-difference Hessians, R flexmix, singular information."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.tools.numdiff import approx_hess

import emglm
from helpers import glm_model, glm_params
from emglm.engine import em
from emglm.inference import louis as inference
from emglm.exceptions import SingularInformationWarning
from emglm.data.arrays import MixtureData
from emglm.families import get_family

REF_DIR = Path(__file__).parent / "reference"


def _mixture_data(y, X, offset=None, trials=None, weights=None, Z=None):
    n = y.shape[0]
    return MixtureData(
        y=np.asarray(y, dtype=float),
        X=X,
        offset=np.zeros(n) if offset is None else offset,
        trials=np.ones(n) if trials is None else trials,
        weights=np.ones(n) if weights is None else weights,
        Z=np.ones((n, 1)) if Z is None else Z,
    )


def _simulated(case: str):
    """(data, family, true labels) for one check of the information matrix; the "offset"
    case also has integer case weights."""
    seeds = {"poisson": 1, "gaussian": 2, "binomial": 3, "probit": 4, "offset": 5,
             "concomitant": 6}
    rng = np.random.default_rng(seeds[case])
    n = 400
    x = rng.normal(size=n)
    X = np.c_[np.ones(n), x]
    lab = (rng.random(n) < 0.4).astype(int)
    eta = np.where(lab == 1, 1.0 + 0.5 * x, 2.0 - 0.3 * x)
    if case in ("poisson", "offset", "concomitant"):
        off = rng.normal(scale=0.3, size=n) if case == "offset" else None
        w = rng.integers(1, 4, n).astype(float) if case == "offset" else None
        Z = np.c_[np.ones(n), rng.normal(size=n)] if case == "concomitant" else None
        y = rng.poisson(np.exp(eta + (0 if off is None else off)))
        return _mixture_data(y, X, offset=off, weights=w, Z=Z), get_family("poisson"), lab
    if case == "gaussian":
        y = np.where(lab == 1, 1 + 2 * x, -1 - x) + rng.normal(size=n) * np.where(lab, 1, 0.5)
        return _mixture_data(y, X), get_family("gaussian"), lab
    trials = rng.integers(5, 15, n).astype(float)
    p = 1 / (1 + np.exp(-np.where(lab == 1, -1 + 1.5 * x, 1 - x)))
    y = rng.binomial(trials.astype(int), p) / trials
    link = sm.families.links.Probit() if case == "probit" else sm.families.links.Logit()
    return _mixture_data(y, X, trials=trials), get_family(sm.families.Binomial(link=link)), lab


@pytest.mark.parametrize("case", ["poisson", "gaussian", "binomial", "probit", "offset",
                                  "concomitant"])
def test_louis_equals_finite_difference_hessian(case):
    data, family, lab = _simulated(case)
    fit = em.run_em(data, glm_model(family, data), np.eye(2)[lab], em.EMOptions(tol=1e-12, max_iter=5000))
    assert fit.converged
    model = glm_model(family, data)
    theta = model.pack(fit.params)
    info = inference.louis_information(data, model, fit.params)
    hess = approx_hess(theta, inference.observed_loglike, args=(data, model, fit.params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    se_fd = np.sqrt(np.diag(np.linalg.inv(-hess)))
    np.testing.assert_allclose(se, se_fd, rtol=1e-3)


def test_louis_away_from_the_maximum_and_with_gamma_family():
    # Louis' identity holds at any parameter value, and the dispersion of a non-Gaussian
    # family enters through numerical derivatives in log(sigma).
    rng = np.random.default_rng(3)
    n = 300
    x = rng.normal(size=n)
    X = np.c_[np.ones(n), x]
    lab = rng.random(n) < 0.5
    y = rng.gamma(2.0, np.exp(np.where(lab, 1 + 0.5 * x, 2 - 0.3 * x)) / 2.0)
    fam = get_family(sm.families.Gamma(link=sm.families.links.Log()))
    data = _mixture_data(y, X)
    params = glm_params(
        coef=np.array([[0.9, 0.4], [2.1, -0.2]]), scale=np.array([0.6, 0.4]),
        gamma=np.array([[0.0, 0.3]]),
    )
    model = glm_model(fam, data)
    info = inference.louis_information(data, model, params)
    hess = approx_hess(model.pack(params), inference.observed_loglike,
                       args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-4 * np.abs(info).max())


def test_pack_and_unpack_are_inverse():
    params = glm_params(
        coef=np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), scale=np.array([1.0, 4.0, 0.25]),
        gamma=np.array([[0.0, 0.5, -1.0], [0.0, 2.0, 3.0]]),
    )
    n = 4
    data = MixtureData(np.arange(n, dtype=float), np.ones((n, 2)), np.zeros(n), np.ones(n),
                       np.ones(n), np.c_[np.ones(n), np.arange(n)])
    model = glm_model("gaussian", data)
    theta = model.pack(params)
    assert theta.shape == (3 * 3 + 2 * 2,)
    np.testing.assert_allclose(theta[:3], [1.0, 2.0, 0.0])  # coef, log(sigma = 1)
    np.testing.assert_allclose(theta[-2:], [-1.0, 3.0])  # comp3's logits
    back = model.unpack(data, theta, params)
    np.testing.assert_allclose(back.components.coef, params.components.coef)
    np.testing.assert_allclose(back.components.scale, params.components.scale)
    np.testing.assert_allclose(back.gamma, params.gamma)


# --- R flexmix ---------------------------------------------------------------------------
# tests/reference/flexmix_reference.R fits the CSVs in tests/reference/data with flexmix
# started from the true labels, polishes the MLE by Newton steps (score ~1e-12) and stores
# sqrt(diag(inverse observed information)) ("mle") and refit() standard errors ("refit").
FLEXMIX_CASES = {
    "pois_offset": ("pois_mix.csv", "y ~ x1 + x2", "poisson",
                    {"offset": "log_expo"}),
    "pois_offset_weights": ("pois_mix.csv", "y ~ x1 + x2", "poisson",
                            {"offset": "log_expo", "weights": "w"}),
    "gauss_ml": ("gauss_mix.csv", "y ~ x", "gaussian", {}),
    "binom": ("binom_mix.csv", "cbind(succ, fail) ~ x", "binomial", {}),
    "conc_pois": ("conc_pois.csv", "y ~ x", "poisson", {"concomitant": "~ z"}),
    "conc_gauss_ml": ("conc_gauss.csv", "y ~ x", "gaussian", {"concomitant": "~ z"}),
}


def _flexmix_in_our_order(entry: dict, res, block: str):
    """flexmix's (coef, se) vectors, components reordered to ours (K = 2)."""
    coef, se = np.array(entry[block]["coef"]), np.array(entry[block]["se"])
    pc = res.record.mixture.components.per_component(res.params.shape[0])
    if np.abs(coef[:pc] - res._theta[:pc]).max() > 0.1:  # components swapped
        coef = np.r_[coef[pc : 2 * pc], coef[:pc], -coef[2 * pc :]]
        se = np.r_[se[pc : 2 * pc], se[:pc], se[2 * pc :]]
    return coef, se


@pytest.fixture(scope="module")
def flexmix_fits():
    ref = json.loads((REF_DIR / "flexmix_reference.json").read_text())["fits"]
    fits = {}
    for key, (csv, formula, family, extra) in FLEXMIX_CASES.items():
        df = pd.read_csv(REF_DIR / "data" / csv)
        if "offset" in extra:
            df["log_expo"] = np.log(df["expo"])
        res = emglm.em_glm(formula, df, family, K=2, start=df["label"] - 1, tol=1e-13,
                           max_iter=5000, **extra)
        fits[key] = (ref[key], res)
    return fits


@pytest.mark.parametrize("key", list(FLEXMIX_CASES))
def test_louis_matches_flexmix(flexmix_fits, key):
    entry, res = flexmix_fits[key]
    assert res.cov_type == "louis"
    assert res.llf == pytest.approx(entry["mle"]["logLik"], abs=1e-8)
    coef, se_mle = _flexmix_in_our_order(entry, res, "mle")
    np.testing.assert_allclose(res._theta, coef, atol=2e-6)
    se = np.sqrt(np.diag(res.cov_params().to_numpy()))
    np.testing.assert_allclose(se, se_mle, rtol=1e-5)
    # refit() re-maximises with BFGS and a finite-difference Hessian: agreement ~1e-6.
    _, se_refit = _flexmix_in_our_order(entry, res, "refit")
    np.testing.assert_allclose(se, se_refit, rtol=1e-4)


@pytest.mark.parametrize("key", ["pois_offset", "gauss_ml", "binom", "conc_gauss_ml"])
def test_delta_method_matches_flexmix(flexmix_fits, key):
    entry, res = flexmix_fits[key]
    mle = entry["mle"]
    swapped = np.abs(np.array(mle["coef"][0]) - res._theta[0]) > 0.1
    order = slice(None, None, -1) if swapped else slice(None)
    if "prior_se_delta" in mle:
        np.testing.assert_allclose(res.mixing_bse, np.array(mle["prior_se_delta"])[order],
                                   rtol=1e-5)
    if "sigma_se_delta" in mle:
        np.testing.assert_allclose(res.sigma_bse, np.array(mle["sigma_se_delta"])[order],
                                   rtol=1e-5)


# --- singular or indefinite information --------------------------------------------------
def test_identical_components_warn_with_cause():
    # Two identical components are an EM fixed point at which the mixing logit and the
    # difference of the components are not identified: the information is singular.
    rng = np.random.default_rng(5)
    n = 300
    df = pd.DataFrame({"x": rng.normal(size=n)})
    df["y"] = rng.poisson(np.exp(1 + 0.3 * df.x))
    with pytest.warns(SingularInformationWarning, match="too many components") as rec:
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=[[1.0, 0.3], [1.0, 0.3]],
                           tol=1e-10)
    assert rec[0].filename == __file__  # points at the user's line
    assert "pseudo-inverse" in str(rec[0].message)
    assert "comp2:mixing:Intercept" in str(rec[0].message)
    assert np.all(np.isfinite(res.bse.to_numpy()))
    assert np.isfinite(res.mixing_bse).all()


def test_indefinite_information_warns_and_stays_finite():
    info = np.array([[2.0, 0.0], [0.0, -1.0]])
    with pytest.warns(SingularInformationWarning, match="indefinite"):
        cov = inference.invert_information(info, [("comp1", "a"), ("comp1", "b")])
    np.testing.assert_allclose(cov, [[0.5, 0.0], [0.0, 0.0]])


def test_regular_information_inverts_silently():
    info = np.array([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(inference.invert_information(info), np.linalg.inv(info))


def test_collapsed_components_are_named_as_the_cause():
    """sim1 has one process: K=2 collapses and the warning says why, not 'stopped early'."""
    df = emglm.datasets.load_sim1()
    # Ten random starts, the best continued: the collapsed fit (the default's em-EM finds a
    # slightly higher optimum with unequal shares, see tests/test_vignettes.py).
    with pytest.warns(emglm.SingularInformationWarning, match="comp1 and comp2 have nearly the same"):
        emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2, random_state=0,
                     minprior=0, init="random", n_starts=10, n_long=1)
