"""Concomitant models: mixing proportions pi_ik = softmax_k(z_i' gamma_k).

References: R flexmix ``FLXPmultinom`` (tests/reference, script flexmix_reference.R),
statsmodels ``MNLogit`` and scipy optimisation for the mixing M-step, simulation with known
gamma (tolerance from a finite-difference observed information), and duplicated rows for
case weights.
"""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import optimize
from scipy.special import softmax

import emglm
from helpers import glm_model, glm_params
from emglm import mixing
from emglm.engine import em
from emglm.exceptions import FormulaError, InputError, InputTypeError, SeparationWarning

REF = Path(__file__).parent / "reference"
FITS = json.loads((REF / "flexmix_reference.json").read_text())["fits"]


def _load(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"{name}.csv")


def _fit_reference(
    key: str, start: str = "labels", concomitant_formula: str | None = None, **kw
) -> emglm.EMGLMResults:
    ref = FITS[key]
    df = _load(ref["dataset"].removesuffix(".csv"))
    if start == "labels":
        kw["start"] = df["label"].to_numpy() - 1
    return emglm.em_glm(
        ref["formula"], df, ref["family"], K=ref["K"],
        concomitant=concomitant_formula or ref["concomitant_formula"],
        tol=1e-12, max_iter=5000, **kw,
    )


def _match(res: emglm.EMGLMResults, ref_coef: list[dict[str, float]]) -> np.ndarray:
    """perm[k] = flexmix component of our component k, by nearest coefficients."""
    ours = res.params.to_numpy().T
    theirs = np.array([list(c.values()) for c in ref_coef])
    perm = np.array([int(np.argmin(np.abs(theirs - row).sum(axis=1))) for row in ours])
    assert sorted(perm) == list(range(res.K))
    return perm


# --- agreement with R flexmix ------------------------------------------------------------
@pytest.mark.parametrize("key", ["conc_pois", "conc_gauss_ml"])
def test_matches_flexmix_concomitant(key: str) -> None:
    ref = FITS[key]
    mle = ref["mle"]  # flexmix EM polished to score 1e-12 by Newton on its analytic score
    res = _fit_reference(key)
    assert res.converged
    assert res.llf == pytest.approx(mle["logLik"], abs=1e-4)
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert res.k_params == ref["df"]
    assert res.aic == pytest.approx(ref["AIC"], abs=2e-4)
    assert res.bic == pytest.approx(ref["BIC"], abs=2e-4)
    perm = _match(res, mle["coefficients"])
    want = np.array([list(mle["coefficients"][j].values()) for j in perm]).T
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-3)
    np.testing.assert_allclose(res.params.to_numpy(), want, rtol=1e-5, atol=1e-5)
    # flexmix's gamma has its comp1 as reference; re-reference to ours.
    gamma_r = np.array(list(mle["concomitant"].values()))[:, perm]
    gamma_r = gamma_r - gamma_r[:, :1]
    assert list(res.mixing_params.index) == ["Intercept", "z"]
    np.testing.assert_allclose(res.mixing_params.to_numpy(), gamma_r, rtol=1e-3, atol=1e-12)
    np.testing.assert_allclose(res.mixing.to_numpy(), np.array(mle["priors"])[perm], rtol=1e-5)
    if "sigma" in mle:
        np.testing.assert_allclose(np.sqrt(res.scale), np.array(mle["sigma"])[perm], rtol=1e-4)


def test_random_starts_reach_the_flexmix_optimum() -> None:
    ref = FITS["conc_pois"]
    res = _fit_reference("conc_pois", start="random", random_state=3)
    assert res.llf == pytest.approx(ref["mle"]["logLik"], abs=1e-4)


def test_llf_never_decreases_and_mean_prior_equals_mean_posterior() -> None:
    res = _fit_reference("conc_gauss_ml", start="random", random_state=0)
    hist = res.llf_history
    assert np.all(np.diff(hist) >= -1e-9 * np.abs(hist[1:]))
    # Score equation of the concomitant intercept: average prior = average posterior.
    np.testing.assert_allclose(res.mixing.to_numpy(), res.posterior.mean().to_numpy(), atol=1e-6)


# --- the mixing M-step --------------------------------------------------------------------
def _design(rng: np.random.Generator, n: int) -> np.ndarray:
    return np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(-1, 1, size=n)])


def test_newton_matches_statsmodels_mnlogit_on_labels() -> None:
    rng = np.random.default_rng(1)
    Z = _design(rng, 500)
    gamma_true = np.array([[0, 0.5, -0.3], [0, 1.0, -0.8], [0, -0.5, 1.2]])
    labels = np.array([rng.choice(3, p=p) for p in softmax(Z @ gamma_true, axis=1)])
    wtau = np.eye(3)[labels]
    gamma = mixing.m_step_mixing(Z, wtau, np.zeros((3, 3)))
    mnl = sm.MNLogit(labels, Z).fit(method="newton", disp=False, tol=1e-12)
    np.testing.assert_allclose(gamma[:, 1:], mnl.params, rtol=1e-7, atol=1e-9)
    assert gamma[:, 0].tolist() == [0, 0, 0]


def test_newton_fractional_weighted_matches_scipy_and_warm_start() -> None:
    rng = np.random.default_rng(2)
    Z = _design(rng, 300)
    wtau = rng.dirichlet([1.0, 2.0, 1.5], size=300) * rng.integers(1, 4, size=300)[:, None]
    gamma = mixing.m_step_mixing(Z, wtau, np.zeros((3, 3)))

    def negobj(v: np.ndarray) -> float:
        g = np.column_stack([np.zeros(3), v.reshape(3, 2)])
        return -mixing.mixing_objective(Z, wtau, g)

    opt = optimize.minimize(negobj, np.zeros(6), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(gamma[:, 1:], opt.x.reshape(3, 2), atol=1e-5)
    assert -opt.fun <= mixing.mixing_objective(Z, wtau, gamma) + 1e-9
    # Warm start from elsewhere (and an unreferenced gamma) reaches the same optimum.
    warm = mixing.m_step_mixing(Z, wtau, rng.normal(size=(3, 3)))
    np.testing.assert_allclose(warm, gamma, atol=1e-8)


def _max_logodds(Z: np.ndarray, gamma: np.ndarray) -> float:
    return float(np.abs(Z @ gamma[:, 1:]).max())


def test_separated_labels_m_step_stays_finite_and_is_recognised() -> None:
    rng = np.random.default_rng(4)
    Z = _design(rng, 200)
    wtau = np.eye(2)[(Z[:, 1] > 0).astype(int)]
    start = np.zeros((3, 2))
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        gamma = mixing.m_step_mixing(Z, wtau, start)
    assert np.all(np.isfinite(gamma))
    # The supremum is at infinity: Newton goes far beyond any moderate log-odds and stops
    # where its gains fall below rounding.
    assert _max_logodds(Z, gamma) > 100
    assert mixing.mixing_objective(Z, wtau, start) < -100
    assert -1e-9 < mixing.mixing_objective(Z, wtau, gamma) <= 0
    log_prior = mixing.log_prior(Z, gamma)
    assert np.all(np.isfinite(log_prior)) and log_prior.min() >= np.log(1e-300)
    mix = mixing.mixing_model(Z)
    assert mix.separates(Z, gamma, lambda g: mixing.mixing_objective(Z, wtau, g))
    # From a start ten times further out it does not lose objective either.
    far = mixing.m_step_mixing(Z, wtau, gamma * 10)
    assert mixing.mixing_objective(Z, wtau, far) >= mixing.mixing_objective(Z, wtau, gamma * 10)
    assert np.all(np.isfinite(far))


def test_interior_maximum_is_not_separation() -> None:
    """Labels that z predicts well but not perfectly: a finite optimum, whatever the
    log-odds at one row with an extreme z (here about -50)."""
    rng = np.random.default_rng(6)
    z = np.r_[rng.normal(size=300), 12.0]
    Z = np.column_stack([np.ones(301), z])
    labels = (rng.uniform(size=301) < 1 / (1 + np.exp(-(0.5 - 4.0 * z)))).astype(int)
    wtau = np.eye(2)[labels]
    gamma = mixing.m_step_mixing(Z, wtau, np.zeros((2, 2)))
    mnl = sm.Logit(labels, Z).fit(method="newton", disp=False, tol=1e-12)
    np.testing.assert_allclose(gamma[:, 1], mnl.params, rtol=1e-7)
    assert _max_logodds(Z, gamma) > 40
    assert np.exp(mixing.log_prior(Z, gamma)).min() < mixing.SEPARATION_PRIOR
    assert not mixing.mixing_model(Z).separates(
        Z, gamma, lambda g: mixing.mixing_objective(Z, wtau, g)
    )


# --- separation in a fit ------------------------------------------------------------------
def _separated_df() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(3)
    n = 300
    z = rng.normal(size=n)
    x = rng.normal(size=n)
    lab = (z > 0).astype(int)
    y = rng.poisson(np.exp(np.where(lab == 1, 2.5 + 0.3 * x, 0.5 - 0.2 * x)))
    return pd.DataFrame({"y": y, "x": x, "z": z}), lab


def test_separation_warns_and_stays_finite() -> None:
    df, lab = _separated_df()
    with np.errstate(over="raise", invalid="raise"):
        with pytest.warns(emglm.EMGLMWarning) as rec:
            res = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=lab)
    sep = [r for r in rec if r.category is SeparationWarning]
    assert len(sep) == 1 and sep[0].filename == __file__  # stacklevel: the user's line
    text = str(sep[0].message)
    assert "separate the components" in text and "still rises" in text
    assert "drop or coarsen the separating concomitant terms" in text
    # The only other warning: the information is singular in the unidentified logits.
    assert {r.category for r in rec} <= {SeparationWarning, emglm.SingularInformationWarning}
    assert np.isfinite(res.llf) and res.converged
    # The likelihood's supremum (about -651), not the -667.3 of logits held at |30|.
    assert res.llf > -651.0
    for frame in (res.params, res.bse, res.mixing_params, res.mixing_params_bse,
                  res.prior_probs, res.posterior):  # fmt: skip
        assert np.all(np.isfinite(frame.to_numpy()))
    prior = res.prior_probs.to_numpy()
    assert prior.min() >= 1e-300 and prior.max() <= 1.0
    assert np.all(np.isfinite(np.log(prior)))
    assert np.all(np.diff(res.llf_history) >= -1e-9 * abs(res.llf))
    summary = str(res.summary())
    assert "comp2 (log-odds vs comp1)" in summary and "nan" not in summary.lower()


def test_no_warning_without_separation() -> None:
    df, lab = _separated_df()
    df["z"] = np.random.default_rng(0).normal(size=len(df))  # unrelated to the classes
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=lab)
    assert _max_logodds(res.record.data.Z, res.em.params.gamma) < 5


# --- starting values ----------------------------------------------------------------------
def test_params_from_coef_gives_equal_priors_for_q_above_one() -> None:
    df = _load("conc_pois")
    model = emglm.EMGLM.from_formula("y ~ x", df, "poisson", K=3, concomitant="~ z + I(z**2)")
    coef = np.array([[0.5, 0.8], [2.0, -0.6], [1.0, 0.0]])
    params = model._from_coef(coef)
    assert params.gamma.shape == (3, 3)
    np.testing.assert_array_equal(params.gamma, 0.0)
    np.testing.assert_allclose(np.exp(mixing.log_prior(model.data.Z, params.gamma)), 1 / 3)


def test_start_from_params_reaches_the_label_optimum() -> None:
    ref = FITS["conc_pois"]
    df = _load("conc_pois")
    start = pd.DataFrame(
        {f"c{k}": [v + 0.1 for v in c.values()] for k, c in enumerate(ref["coefficients"])},
        index=["Intercept", "x"],
    )
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant="~ z", start=start, tol=1e-12)
    assert res.llf == pytest.approx(ref["mle"]["logLik"], abs=1e-4)


def test_start_gamma_from_separable_labels_is_shrunk_not_divergent() -> None:
    df = _load("conc_pois")
    model = emglm.EMGLM.from_formula("y ~ x", df, "poisson", K=2, concomitant="~ z")
    Z = model.data.Z
    tau = np.eye(2)[(df["z"] > df["z"].median()).to_numpy().astype(int)]  # separable by z
    gamma = mixing.initial_gamma(Z, tau)
    assert _max_logodds(Z, gamma) < 20
    assert _max_logodds(Z, mixing.m_step_mixing(Z, tau, np.zeros((2, 2)))) > 100
    # It is the multinomial-logit fit to the 0.95 / 0.05 targets.
    shrunk = 0.9 * tau + 0.05
    np.testing.assert_allclose(gamma, mixing.m_step_mixing(Z, shrunk, np.zeros((2, 2))))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        res = model.fit(start=tau, tol=1e-12)
    assert res.llf == pytest.approx(FITS["conc_pois"]["mle"]["logLik"], abs=1e-4)


def test_start_params_with_wrong_gamma_shape() -> None:
    df = _load("conc_pois")
    model = emglm.EMGLM.from_formula("y ~ x", df, "poisson", K=2, concomitant="~ z")
    bad = glm_params(coef=np.zeros((2, 2)), scale=np.ones(2), gamma=np.zeros((1, 2)))
    with pytest.raises(InputError, match=r"start.gamma has shape \(1, 2\); expected \(2, 2\)"):
        model.fit(start=bad)


# --- results and prediction ---------------------------------------------------------------
def test_results_prior_probs_predict_and_permute() -> None:
    res = _fit_reference("conc_gauss_ml")
    df = _load("conc_gauss")
    gamma = res.mixing_params.to_numpy()
    assert res.mixing_params["comp1"].tolist() == [0.0, 0.0]
    Z = np.column_stack([np.ones(len(df)), df["z"]])
    prior = softmax(Z @ gamma, axis=1)
    np.testing.assert_allclose(res.prior_probs.to_numpy(), prior, rtol=1e-12)
    np.testing.assert_allclose(res.mixing.to_numpy(), prior.mean(axis=0), rtol=1e-12)
    # predict on new rows uses their z: same x, different z -> different mixture means.
    new = pd.DataFrame({"x": [1.0, 1.0, 1.0], "z": [-2.0, 0.0, 2.0]})
    mu = new["x"].to_numpy()[:, None] * res.params.loc["x"].to_numpy() + res.params.loc[
        "Intercept"
    ].to_numpy()
    prob_new = softmax(np.column_stack([np.ones(3), new["z"]]) @ gamma, axis=1)
    np.testing.assert_allclose(res.predict(new, which="prob").to_numpy(), prob_new, rtol=1e-12)
    np.testing.assert_allclose(res.predict(new).to_numpy(), (prob_new * mu).sum(axis=1))
    assert np.ptp(res.predict(new).to_numpy()) > 0.5
    np.testing.assert_allclose(res.predict(df).to_numpy(), res.fittedvalues.to_numpy())
    with pytest.raises(FormulaError, match="'z'"):
        res.predict(new.drop(columns="z"))
    # The concomitant design survives pickling (its formula is re-evaluated).
    again = pickle.loads(pickle.dumps(res))
    np.testing.assert_array_equal(again.predict(new, which="prob"), res.predict(new, which="prob"))
    # Reordering components re-references gamma and leaves the model unchanged.
    perm = np.array([1, 0])
    swapped = em.permute(res.record.mixture, res.em, perm)
    assert np.all(swapped.params.gamma[:, 0] == 0)
    llf, post = em.e_step(res.record.data, res.record.mixture, swapped.params)
    assert llf == pytest.approx(res.llf, abs=1e-9)
    np.testing.assert_allclose(np.exp(mixing.log_prior(Z, swapped.params.gamma)), prior[:, perm])


def test_summary_has_concomitant_table_and_k_params_counts_gamma() -> None:
    res = _fit_reference("conc_pois", concomitant_formula="~ z + I(z**2)")
    assert res.k_params == 2 * 2 + (2 - 1) * 3
    assert res.mixing_params.shape == (3, 2)
    text = str(res.summary())
    table = "Concomitant model comp2 (log-odds vs comp1)"
    assert text.count("Concomitant model") == 1
    block = text.split(table)[1].split("Component")[0]
    for term in ("Intercept", "z", "I(z ** 2)"):
        assert f"{res.mixing_params.loc[term, 'comp2']:.4f}" in block
    assert "Concomitant model" not in str(emglm.em_glm("y ~ x", _load("conc_pois"), K=2).summary())


# --- bad input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("concomitant", "error", "match"),
    [
        ("~ z + nosuch", FormulaError, "'nosuch', which is not a column"),
        ("y ~ z", FormulaError, "must be one-sided"),
        ("~ z - 1", FormulaError, "must keep its intercept"),
        (["z"], InputTypeError, "one-sided formula string"),
        (3, InputTypeError, "not int"),
    ],
)
def test_bad_concomitant(concomitant: object, error: type, match: str) -> None:
    df = _load("conc_pois")
    with pytest.raises(error, match=match):
        emglm.em_glm("y ~ x", df, "poisson", K=2, concomitant=concomitant)  # type: ignore[arg-type]


# --- simulation with known gamma, all families, offsets and weights -----------------------
def _flat(params: em.MixtureParams, has_scale: bool) -> np.ndarray:
    parts = [params.components.coef.ravel()]
    if has_scale:
        parts.append(0.5 * np.log(params.components.scale))
    parts.append(params.gamma[:, 1:].ravel())
    return np.concatenate(parts)


def _fd_se(res: emglm.EMGLMResults) -> np.ndarray:
    """Standard errors of gamma[:, 1:] from a central-difference Hessian of the observed
    log-likelihood in all free parameters (coefficients, log sigma, gamma)."""
    d, fam, p0 = res.record.data, res.family, res.em.params
    K, p = p0.components.coef.shape
    theta0 = _flat(p0, fam.has_scale)

    def llf(theta: np.ndarray) -> float:
        coef = theta[: K * p].reshape(K, p)
        rest = theta[K * p :]
        scale = p0.components.scale
        if fam.has_scale:
            scale, rest = np.exp(2 * rest[:K]), rest[K:]
        q = p0.gamma.shape[0]
        gamma = np.column_stack([np.zeros(q), rest.reshape(q, K - 1)])
        return em.e_step(d, glm_model(fam, d), glm_params(coef, scale, gamma))[0]

    m, h = theta0.size, 1e-4
    hess = np.empty((m, m))
    eye = np.eye(m) * h
    for i in range(m):
        for j in range(i, m):
            hess[i, j] = hess[j, i] = (
                llf(theta0 + eye[i] + eye[j]) - llf(theta0 + eye[i] - eye[j])
                - llf(theta0 - eye[i] + eye[j]) + llf(theta0 - eye[i] - eye[j])
            ) / (4 * h * h)
    cov = np.linalg.inv(-hess)
    n_gamma = p0.gamma[:, 1:].size
    return np.sqrt(np.diag(cov)[-n_gamma:])


@pytest.mark.parametrize("key", ["conc_pois", "conc_gauss_ml"])
def test_fd_standard_errors_match_flexmix_observed_information(key: str) -> None:
    # The finite-difference reference used for the tolerances below (and the target for
    # Louis standard errors) reproduces flexmix's observed-information SEs of gamma.
    mle = FITS[key]["mle"]
    res = _fit_reference(key)
    np.testing.assert_allclose(_fd_se(res), mle["se"][-2:], rtol=1e-4)


def _simulate(family: str, seed: int, n: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=n)
    z = rng.normal(size=n)
    gamma = np.array([0.3, -1.5])  # comp2 vs comp1: intercept, z
    lab = (rng.uniform(size=n) < 1 / (1 + np.exp(-(gamma[0] + gamma[1] * z)))).astype(int)
    expo = rng.uniform(1, 4, size=n)
    df = pd.DataFrame({"x": x, "z": z, "expo": expo, "w": rng.integers(1, 4, size=n)})
    if family == "poisson":
        df["y"] = rng.poisson(expo * np.exp(np.where(lab == 1, 2.0 - 0.7 * x, 0.3 + 0.8 * x)))
    elif family == "gaussian":
        df["y"] = np.where(lab == 1, 3.0 - x, x) + rng.normal(scale=np.where(lab == 1, 0.7, 0.4))
    else:
        trials = rng.integers(8, 20, size=n)
        p = 1 / (1 + np.exp(-np.where(lab == 1, 1.5 - x, -1.5 + 0.5 * x)))
        df["succ"] = rng.binomial(trials, p)
        df["fail"] = trials - df["succ"]
    return df, lab


@pytest.mark.parametrize(
    ("family", "formula", "kw"),
    [
        ("poisson", "y ~ x", {"offset": "log_expo"}),
        ("gaussian", "y ~ x", {}),
        ("binomial", "cbind(succ, fail) ~ x", {}),
    ],
)
def test_simulation_recovers_gamma(family: str, formula: str, kw: dict) -> None:
    df, lab = _simulate(family, seed={"poisson": 7, "gaussian": 8, "binomial": 9}[family], n=800)
    df["log_expo"] = np.log(df["expo"])
    res = emglm.em_glm(formula, df, family, K=2, concomitant="~ z", start=lab, tol=1e-10, **kw)
    # Map to the simulation's labelling (comp2 of the simulation has gamma (0.3, -1.5)).
    agree = (res.classes.to_numpy() - 1 == lab).mean()
    gamma_true = np.array([0.3, -1.5]) if agree > 0.5 else np.array([-0.3, 1.5])
    est = res.mixing_params["comp2"].to_numpy()
    se = _fd_se(res)
    assert np.all(se > 0.05) and np.all(se < 0.5)
    np.testing.assert_array_less(np.abs(est - gamma_true), 3.5 * se)


def test_offset_and_exposure_agree() -> None:
    df, lab = _simulate("poisson", seed=7, n=400)
    df["log_expo"] = np.log(df["expo"])
    kw = {"concomitant": "~ z", "start": lab, "tol": 1e-12}
    a = emglm.em_glm("y ~ x", df, "poisson", K=2, offset="log_expo", **kw)
    b = emglm.em_glm("y ~ x", df, "poisson", K=2, exposure="expo", **kw)
    c = emglm.em_glm("y ~ x + offset(np.log(expo))", df, "poisson", K=2, **kw)
    for other in (b, c):
        assert other.llf == pytest.approx(a.llf, abs=1e-8)
        np.testing.assert_allclose(other.mixing_params, a.mixing_params, atol=1e-7)


def test_weights_equal_duplicated_rows() -> None:
    df, lab = _simulate("gaussian", seed=8, n=300)
    w = df["w"].to_numpy()
    long = df.loc[df.index.repeat(w)].reset_index(drop=True)
    kw = {"concomitant": "~ z", "tol": 1e-13, "max_iter": 5000}
    a = emglm.em_glm("y ~ x", df, "gaussian", K=2, weights="w", start=lab, **kw)
    b = emglm.em_glm("y ~ x", long, "gaussian", K=2, start=np.repeat(lab, w), **kw)
    assert a.nobs == b.nobs == w.sum()
    assert a.llf == pytest.approx(b.llf, abs=1e-7)
    np.testing.assert_allclose(a.mixing_params, b.mixing_params, atol=1e-6)
    np.testing.assert_allclose(a.params, b.params, atol=1e-6)
    np.testing.assert_allclose(a.mixing, b.mixing, atol=1e-8)
    # A weight-0 row does not count: same as dropping it.
    w0 = w.astype(float).copy()
    w0[:10] = 0
    c = emglm.em_glm("y ~ x", df, "gaussian", K=2, weights=w0, start=lab, **kw)
    d = emglm.em_glm(
        "y ~ x", df.iloc[10:], "gaussian", K=2, weights=w[10:], start=lab[10:], **kw
    )
    assert c.llf == pytest.approx(d.llf, abs=1e-7)
    np.testing.assert_allclose(c.mixing_params, d.mixing_params, atol=1e-6)


def test_result_frames_are_copies() -> None:
    # Editing mixing_params or prior_probs does not change the fitted model.
    res = _fit_reference("conc_pois")
    llf = em.e_step(res.record.data, res.record.mixture, res.em.params)[0]
    gamma, prior = res.mixing_params, res.prior_probs
    gamma.iloc[0, 1] = 99.0
    prior.iloc[0, 0] = 99.0
    assert res.em.params.gamma[0, 1] != 99.0
    assert res.mixing_params.iloc[0, 1] != 99.0 and res.prior_probs.iloc[0, 0] != 99.0
    assert em.e_step(res.record.data, res.record.mixture, res.em.params)[0] == llf


def test_small_em_select_best_with_a_concomitant_model() -> None:
    """The em.glm workflow works unchanged with a concomitant model."""
    ref = FITS["conc_pois"]
    df = _load("conc_pois")
    warm = emglm.small_em(
        "y ~ x", df, "poisson", K=2, concomitant="~ z", repeats=6, random_state=2
    )
    assert warm.n_failed == 0
    best = emglm.select_best(warm)
    assert best.gamma.shape == (2, 2)  # intercept and z, comp1 the reference
    res = emglm.em_glm(
        "y ~ x", df, "poisson", K=2, concomitant="~ z", start=best, tol=1e-12, max_iter=5000
    )
    assert res.llf == pytest.approx(ref["mle"]["logLik"], abs=1e-4)
    assert res.k_params == ref["df"]
