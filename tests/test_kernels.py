"""The blocked passes and precomputed constants give what the plain formulas give."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import logsumexp

from helpers import glm_model, glm_params
from emglm.components import irls, kernels
from emglm.engine import em
from emglm.data.arrays import MixtureData
from emglm.families import get_family


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """512-row blocks, so that a few thousand rows span several blocks and a ragged end."""
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 4096)


def _problem(family: str, n: int = 1700, p: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    off = rng.normal(scale=0.1, size=n)
    trials = np.ones(n)
    eta = X @ np.linspace(0.5, -0.3, p) + off
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        trials = rng.integers(1, 6, size=n).astype(float)
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))) / trials
    else:
        y = np.exp(eta) + rng.normal(size=n)
    W = rng.dirichlet(np.ones(3), size=n) * rng.integers(1, 3, size=(n, 1))
    coef = rng.normal(scale=0.3, size=(3, p))
    return X, y, off, trials, W, coef


FAMILIES = {
    "poisson": sm.families.Poisson(),
    "binomial": sm.families.Binomial(),
    "probit": sm.families.Binomial(link=sm.families.links.Probit()),
    "gaussian": sm.families.Gaussian(),
    "gaussian_log": sm.families.Gaussian(link=sm.families.links.Log()),
}


def _data_kind(name: str) -> str:
    return {"probit": "binomial", "gaussian_log": "gaussian"}.get(name, name)


@pytest.mark.parametrize("name", list(FAMILIES))
def test_loglik_eta_with_constants_equals_plain_density(name: str) -> None:
    fam = get_family(FAMILIES[name])
    X, y, off, trials, _, coef = _problem(_data_kind(name))
    eta = X @ coef.T + off[:, None]
    scale = np.array([0.7, 1.3, 2.0]) if fam.has_scale else 1.0
    const = fam.loglik_constant(y, trials)
    fast = fam.loglik_eta(
        y[:, None], eta, scale, trials[:, None], None if const is None else const[:, None]
    )
    plain = fam.loglik(y[:, None], fam.linkinv(eta), scale, trials[:, None])
    np.testing.assert_allclose(fast, plain, rtol=1e-12, atol=1e-12)
    # ... and an independent density: scipy's (as R's dbinom, dpois, dnorm).
    mu = fam.linkinv(eta)
    if fam.name == "binomial":
        tr = trials[:, None].astype(int)
        ref = stats.binom.logpmf(np.round(y[:, None] * tr), tr, mu)
    elif fam.name == "poisson":
        ref = stats.poisson.logpmf(y[:, None], mu)
    else:
        ref = stats.norm.logpdf(y[:, None], mu, np.sqrt(scale))
    np.testing.assert_allclose(fast, ref, rtol=1e-10)


def test_loglik_constant_is_computed_once_per_data_set() -> None:
    X, y, off, trials, _, _ = _problem("poisson")
    data = MixtureData(y, X, off, trials, np.ones_like(y), np.ones((y.size, 1)))
    fam = get_family("poisson")
    first = glm_model(fam, data).components.component_data(data).loglik_constant(fam)
    assert glm_model(fam, data).components.component_data(data).loglik_constant(fam) is first


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("p", [3, 20])  # packed products and one BLAS product per component
def test_weighted_grams_equal_the_textbook_product(order: str, p: int) -> None:
    rng = np.random.default_rng(1)
    X = np.asarray(rng.normal(size=(1300, p)), order=order)
    W = rng.random((1300, 3))
    got = kernels.weighted_grams(X, W)
    for k in range(3):
        np.testing.assert_allclose(got[k], (X.T * W[:, k]) @ X, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(irls.weighted_gram(X, W[:, 0]), got[0], rtol=1e-14)


@pytest.mark.parametrize("name", ["poisson", "binomial", "probit", "gaussian_log"])
def test_irls_equations_equal_the_plain_formulas(name: str) -> None:
    fam = get_family(FAMILIES[name])
    X, y, off, trials, W, coef = _problem(_data_kind(name))
    scale = np.array([0.5, 1.0, 2.0]) if fam.has_scale else np.ones(3)
    const = fam.loglik_constant(y, trials)
    grams, rhs, obj = kernels.irls_normal_equations(X, y, off, trials, const, fam, W, coef, scale)
    for k in range(3):
        eta = X @ coef[k] + off
        mu = fam.linkinv(eta)
        dmu = fam.mu_eta(eta)
        a = W[:, k] * trials * dmu**2 / fam.variance(mu)
        z = eta - off + (y - mu) / dmu
        np.testing.assert_allclose(grams[k], (X.T * a) @ X, rtol=1e-11)
        np.testing.assert_allclose(rhs[k], X.T @ (a * z), rtol=1e-10, atol=1e-9)
        plain = np.dot(W[:, k], fam.loglik(y, mu, scale[k], trials))
        assert obj[k] == pytest.approx(plain, rel=1e-12)
    ll = kernels.weighted_loglik(X, y, off, trials, const, fam, W, coef, scale)
    np.testing.assert_allclose(ll, obj, rtol=1e-13)


@pytest.mark.parametrize("concomitant", [False, True])
def test_posterior_pass_equals_logsumexp_of_plain_densities(concomitant: bool) -> None:
    fam = get_family("poisson")
    X, y, off, trials, _, coef = _problem("poisson")
    n = y.size
    rng = np.random.default_rng(4)
    weights = rng.integers(1, 4, size=n).astype(float)
    Z = np.column_stack([np.ones(n), rng.normal(size=n)]) if concomitant else np.ones((n, 1))
    gamma = np.array([[0.0, 0.3, -0.2], [0.0, 0.5, 1.0]])[: Z.shape[1]]
    data = MixtureData(y, X, off, trials, weights, Z)
    params = glm_params(coef, np.ones(3), gamma)
    llf, post = em.e_step(data, glm_model(fam, data), params)
    prior = Z @ gamma
    prior = prior - logsumexp(prior, axis=1, keepdims=True)
    joint = fam.loglik(y[:, None], np.exp(X @ coef.T + off[:, None]), 1.0, trials[:, None]) + prior
    norm = logsumexp(joint, axis=1)
    assert llf == pytest.approx(float(weights @ norm), rel=1e-13)
    np.testing.assert_allclose(post, np.exp(joint - norm[:, None]), rtol=1e-11, atol=1e-15)


def test_posterior_of_a_row_impossible_under_every_component_is_not_nan() -> None:
    fam = get_family("poisson")
    X = np.ones((3, 1))
    y = np.array([0.0, 1.0, 2.0])
    const = fam.loglik_constant(y, np.ones(3))
    log_prior = np.log(np.full((3, 2), 0.5))
    log_prior[1] = -np.inf  # row 1 has prior probability 0 everywhere
    coef = np.array([[0.0], [1.0]])
    llf, post = kernels.posterior_pass(
        X, y, np.zeros(3), np.ones(3), const, np.ones(3), fam, coef, np.ones(2), log_prior
    )
    assert llf == -np.inf
    np.testing.assert_array_equal(post[1], [0.5, 0.5])
    # The other rows are untouched by row 1.
    joint = fam.loglik(y[[0, 2], None], np.exp(coef.T), 1.0, 1.0) + np.log(0.5)
    np.testing.assert_allclose(post[[0, 2]], np.exp(joint - logsumexp(joint, axis=1)[:, None]))


def test_poisson_density_at_extreme_eta_is_the_clipped_plain_density() -> None:
    """eta is clipped where linkinv clips it, in the same pass: finite, and equal to the
    plain formula at the clipped mean."""
    fam = get_family("poisson")
    y = np.array([0.0, 1.0, 2.0])
    eta = np.array([-800.0, 800.0, 3.0])
    out = fam.loglik_eta(y, eta, 1.0, np.ones(3), fam.loglik_constant(y, np.ones(3)))
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(out, fam.loglik(y, fam.linkinv(eta), 1.0, np.ones(3)), rtol=1e-14)


@pytest.mark.parametrize("name", ["poisson", "binomial", "gaussian", "gaussian_log"])
def test_m_step_to_convergence_matches_statsmodels_glm(name: str) -> None:
    fam = get_family(FAMILIES[name])
    X, y, off, trials, W, coef = _problem(_data_kind(name))
    data = irls.ComponentData(y, X, off, trials)
    scale = np.ones(3)
    cold, cold_scale = irls.m_step_components(data, fam, W, None, scale, 1)
    warm, _ = irls.m_step_components(data, fam, W, cold + 0.05, cold_scale, 100)
    for k in range(3):
        kw = {"var_weights": trials} if _data_kind(name) == "binomial" else {}
        ref = sm.GLM(y, X, family=FAMILIES[name], offset=off, freq_weights=W[:, k], **kw).fit(
            tol=1e-12
        )
        # IRLS stops on a relative gain of 1e-10 in the objective: coefficients to ~1e-5.
        np.testing.assert_allclose(cold[k], ref.params, rtol=2e-5, atol=1e-6)
        np.testing.assert_allclose(warm[k], ref.params, rtol=2e-5, atol=1e-6)
        if fam.has_scale:
            resid = y - fam.linkinv(X @ ref.params + off)
            ml_scale = np.dot(W[:, k], resid**2) / W[:, k].sum()
            assert cold_scale[k] == pytest.approx(ml_scale, rel=1e-6)


def test_binomial_logit_density_and_mean_at_every_eta() -> None:
    """The one-exp form of the binomial/logit density and mean equals scipy's log_expit
    form (with eta clamped as linkinv clamps it) from moderate to extreme eta; where the
    mean is not near 0 or 1 it also equals the plain density at the mean."""
    from scipy import special

    fam = get_family("binomial")
    eta = np.r_[-800.0, -40.0, -27.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 27.0, 40.0, 800.0]
    trials = np.full(eta.size, 7.0)
    y = np.array([0, 1, 2, 3, 7, 4, 0, 7, 6, 7, 7]) / 7.0
    const = fam.loglik_constant(y, trials)
    ll, mu = fam.loglik_and_mean(y, eta, 1.0, trials, const)
    np.testing.assert_allclose(mu, fam.linkinv(eta), rtol=1e-15)
    np.testing.assert_array_equal(fam.loglik_eta(y, eta, 1.0, trials, const), ll)
    limit = float(np.log1p(-1e-12) - np.log(1e-12))  # logit(1 - 1e-12), where mu is clamped
    e = np.clip(eta, -limit, limit)
    s = y * trials
    ref = s * special.log_expit(e) + (trials - s) * special.log_expit(-e) + const
    np.testing.assert_allclose(ll, ref, rtol=1e-12)
    moderate = np.abs(eta) <= 5
    plain = fam.loglik(y, fam.linkinv(eta), 1.0, trials)
    np.testing.assert_allclose(ll[moderate], plain[moderate], rtol=1e-12)


@pytest.mark.parametrize("name", ["poisson", "binomial"])
def test_m_step_and_e_step_share_the_last_pass(name: str) -> None:
    """The E-step the M-step's last check pass gives equals a separate E-step at the new
    parameters (with concomitant priors and case weights), and the parameters equal
    em.m_step's."""
    X, y, off, trials, W, coef = _problem(name)
    n = y.size
    rng = np.random.default_rng(8)
    Z = np.column_stack([np.ones(n), rng.normal(size=n)])
    data = MixtureData(y, X, off, trials, rng.integers(1, 3, size=n).astype(float), Z)
    fam = get_family(name)
    # Near an optimum (a cold M-step from W), as in EM after the first iterations: one
    # full IRLS step per component, none halved.
    start = em.m_step(data, glm_model(fam, data), W / W.sum(axis=1, keepdims=True))
    _, post = em.e_step(data, glm_model(fam, data), start)
    params, fused = em.m_step_and_e_step(data, glm_model(fam, data), post, start, 1)
    ref = em.m_step(data, glm_model(fam, data), post, start, 1)
    np.testing.assert_array_equal(params.components.coef, ref.components.coef)
    np.testing.assert_array_equal(params.gamma, ref.gamma)
    assert fused is not None and fused.linearisation is not None
    llf, post_new = em.e_step(data, glm_model(fam, data), params)
    assert fused.llf == pytest.approx(llf, rel=1e-14)
    np.testing.assert_allclose(fused.posterior, post_new, rtol=1e-13, atol=1e-300)
    # ... with the first IRLS linearisation of the next M-step, from the new posteriors.
    const = fam.loglik_constant(y, trials)
    wtau = post_new * data.weights[:, None]
    ref_lin = kernels.irls_normal_equations(
        X, y, off, trials, const, fam, wtau, params.components.coef, params.components.scale
    )
    for got, want in zip(fused.linearisation, ref_lin, strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-11)
    # ... which the next M-step uses in place of its own first pass: same result.
    again, _ = em.m_step_and_e_step(data, glm_model(fam, data), fused.posterior, params, 1, fused)
    ref_again = em.m_step(data, glm_model(fam, data), fused.posterior, params, 1)
    np.testing.assert_allclose(again.components.coef, ref_again.components.coef, rtol=1e-10)


def test_no_shared_e_step_when_a_step_is_halved_or_the_family_has_a_dispersion(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    X, y, off, trials, W, coef = _problem("gaussian")
    data = MixtureData(y, X, off, trials, np.ones_like(y), np.ones((y.size, 1)))
    start = glm_params(coef, np.ones(3), np.zeros((1, 3)))
    _, post = em.e_step(data, glm_model(get_family("gaussian"), data), start)
    assert em.m_step_and_e_step(data, glm_model("gaussian", data), post, start, 1)[1] is None
    # A check pass that finds every full step worse: the steps are halved, nothing is shared.
    fam = get_family("poisson")
    X, y, off, trials, W, coef = _problem("poisson")
    data = MixtureData(y, X, off, trials, np.ones_like(y), np.ones((y.size, 1)))
    start = glm_params(coef * 0.2, np.ones(3), np.zeros((1, 3)))
    _, post = em.e_step(data, glm_model(fam, data), start)
    real = kernels.e_step_pass

    def worse(*args, **kwargs):  # type: ignore[no-untyped-def]
        out = real(*args, **kwargs)
        return dataclasses.replace(out, check=out.check - 1e6)

    monkeypatch.setattr(kernels, "e_step_pass", worse)
    params, fused = em.m_step_and_e_step(data, glm_model(fam, data), post, start, 1)
    assert fused is None
    before = kernels.weighted_loglik(X, y, off, trials, None, fam, post, start.components.coef, np.ones(3))
    after = kernels.weighted_loglik(X, y, off, trials, None, fam, post, params.components.coef, np.ones(3))
    assert np.all(after >= before)
