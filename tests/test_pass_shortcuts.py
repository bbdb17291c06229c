"""The shortcuts of the passes over X give what the general passes give: a column of ones
whose Gram entries come from the right-hand-side product, ``None`` for no offset and one
trial per row, and IRLS steps checked by the next step's linearisation."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from helpers import glm_model, glm_params
from emglm.components import irls, kernels
from emglm.engine import em
from emglm.data.arrays import MixtureData
from emglm.families import get_family


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """512-row blocks, so that a few thousand rows span several blocks and a ragged end."""
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 4096)


def _design(n: int, p: int, ones_at: int | None, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    if ones_at is not None:
        X[:, ones_at] = 1.0
    return X


@pytest.mark.parametrize("ones_at", [0, 2, 4, None])
@pytest.mark.parametrize("order", ["C", "F"])
def test_grams_with_a_column_of_ones_anywhere_equal_the_textbook_product(
    ones_at: int | None, order: str
) -> None:
    X = np.asarray(_design(1300, 5, ones_at), order=order)
    assert kernels.ones_column(X) == ones_at
    W = np.random.default_rng(1).random((1300, 3))
    got = kernels.weighted_grams(X, W, kernels.ones_column(X))
    y = np.random.default_rng(2).normal(size=1300)
    grams, rhs = kernels.least_squares_equations(X, y, None, None, W, kernels.ones_column(X))
    for k in range(3):
        want = (X.T * W[:, k]) @ X
        np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(grams[k], want, rtol=1e-12, atol=1e-10)
        np.testing.assert_allclose(rhs[k], X.T @ (W[:, k] * y), rtol=1e-12, atol=1e-10)


@pytest.mark.parametrize("name", ["poisson", "binomial", "gaussian"])
def test_none_for_no_offset_and_one_trial_equals_the_arrays(name: str) -> None:
    fam = get_family(name)
    n = 1700
    X = _design(n, 4, 0)
    rng = np.random.default_rng(3)
    coef = rng.normal(scale=0.3, size=(3, 4))
    eta = X @ coef[0]
    if name == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif name == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = eta + rng.normal(size=n)
    zeros, ones = np.zeros(n), np.ones(n)
    const = fam.loglik_constant(y, ones)
    W = rng.dirichlet(np.ones(3), size=n)
    scale = np.array([0.5, 1.0, 2.0]) if fam.has_scale else np.ones(3)
    full = kernels.irls_normal_equations(X, y, zeros, ones, const, fam, W, coef, scale)
    short = kernels.irls_normal_equations(X, y, None, None, const, fam, W, coef, scale, ones_col=0)
    for a, b in zip(full, short, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-10)
    np.testing.assert_allclose(
        kernels.weighted_loglik(X, y, None, None, const, fam, W, coef, scale),
        kernels.weighted_loglik(X, y, zeros, ones, const, fam, W, coef, scale),
        rtol=1e-13,
    )
    log_prior = np.log(np.array([[0.2, 0.3, 0.5]]))
    a = kernels.e_step_pass(
        X, y, zeros, ones, const, ones, fam, coef, scale, log_prior, W, linearise=True
    )
    b = kernels.e_step_pass(
        X, y, None, None, const, None, fam, coef, scale, log_prior, W, linearise=True, ones_col=0
    )
    assert b.llf == pytest.approx(a.llf, rel=1e-13)
    np.testing.assert_allclose(b.posterior, a.posterior, rtol=1e-13)
    np.testing.assert_allclose(b.check, a.check, rtol=1e-13)
    assert a.linearisation is not None and b.linearisation is not None
    for u, v in zip(a.linearisation, b.linearisation, strict=True):
        np.testing.assert_allclose(v, u, rtol=1e-12, atol=1e-10)


def test_component_data_finds_its_shortcuts_once() -> None:
    X = _design(600, 3, 1)
    y = np.ones(600)
    plain = irls.ComponentData(y, X, np.zeros(600), np.ones(600))
    assert plain.pass_offset is None and plain.pass_trials is None and plain.ones_col == 1
    off, trials = np.full(600, 0.5), np.full(600, 3.0)
    other = irls.ComponentData(y, X[:, [0, 2]], off, trials)
    assert other.pass_offset is off and other.pass_trials is trials and other.ones_col is None


def _count_passes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    counts = {"irls_normal_equations": 0, "weighted_loglik": 0}
    for name in counts:
        real = getattr(kernels, name)

        def counted(*args, _real=real, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            counts[_name] += 1
            return _real(*args, **kwargs)

        monkeypatch.setattr(kernels, name, counted)
    return counts


def _two_glms(name: str, trials: int = 1) -> tuple[MixtureData, np.ndarray]:
    """Two GLMs of family ``name`` on 4000 rows (binomial: proportions of ``trials``), and
    the true labels."""
    rng = np.random.default_rng(5)
    n = 4000
    X = _design(n, 4, 0, seed=5)
    labels = rng.integers(0, 2, size=n)
    coef = np.array([[0.5, 0.3, -0.2, 0.1], [1.5, -0.3, 0.2, 0.0]])
    eta = np.einsum("ij,ij->i", X, coef[labels])
    if name == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    else:
        y = rng.binomial(trials, 1 / (1 + np.exp(-eta))) / trials
    t = np.full(n, float(trials))
    return MixtureData(y, X, np.zeros(n), t, np.ones(n), np.ones((n, 1))), labels


def _assert_statsmodels_fits(data: MixtureData, labels: np.ndarray, name: str, coef) -> None:  # type: ignore[no-untyped-def]
    """Each component's coefficients are statsmodels' GLM on its rows."""
    for k in range(2):
        rows = labels == k
        fam = get_family(name).sm_family
        ref = sm.GLM(data.y[rows], data.X[rows], family=fam, var_weights=data.trials[rows])
        np.testing.assert_allclose(coef[k], ref.fit(tol=1e-12).params, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", ["poisson", "binomial"])
def test_a_cold_m_step_reads_x_once_per_irls_step(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each step is checked by the linearisation at its proposals, which is the next step's
    first pass; a converged component's failing check (rounding) is not halved 30 times."""
    data, labels = _two_glms(name)
    fam = get_family(name)
    counts = _count_passes(monkeypatch)
    params = em.m_step(data, glm_model(fam, data), np.eye(2)[labels])
    # One cold pass from the starting means, then Newton steps (quadratic convergence).
    assert counts["weighted_loglik"] == 0
    assert 3 <= counts["irls_normal_equations"] <= 9
    # ... to the same fit as IRLS with separate check passes: statsmodels' GLM.
    _assert_statsmodels_fits(data, labels, name, params.components.coef)


@pytest.mark.parametrize(("name", "trials"), [("poisson", 1), ("binomial", 10)])
def test_a_cold_m_step_stops_without_the_pass_of_a_settled_step(
    name: str, trials: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the linearisation at a step's result shows that the next step would gain only
    rounding, the component stops there: a pass fewer than taking that step, and the same
    fit (statsmodels' GLM on each component's rows)."""
    data, labels = _two_glms(name, trials)
    fam = get_family(name)
    counts = _count_passes(monkeypatch)
    params = em.m_step(data, glm_model(fam, data), np.eye(2)[labels])
    saved = counts["irls_normal_equations"]
    counts["irls_normal_equations"] = 0
    with monkeypatch.context() as m:  # the rule off: every step taken until it gains < 1e-10
        m.setattr(irls, "next_step_settled", lambda lin, coef: np.zeros(coef.shape[0], bool))
        taken = em.m_step(data, glm_model(fam, data), np.eye(2)[labels])
    assert saved < counts["irls_normal_equations"]
    _assert_statsmodels_fits(data, labels, name, params.components.coef)
    # The step not taken gains at most 1e-12 of the objective: the coefficients it would
    # move lie within about its square root of the optimum.
    np.testing.assert_allclose(params.components.coef, taken.components.coef, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("extras", [False, True])
def test_gaussian_m_step_from_the_e_step_pass_reads_no_rows(monkeypatch, extras: bool) -> None:
    """The least-squares M-step from a linearising E-step pass (its normal equations and
    residual sums of squares) equals the M-step that reads the rows for both, with no pass."""
    from emglm.components import compiled

    rng = np.random.default_rng(4)
    n = 2500
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    lab = rng.integers(0, 2, size=n)
    coef = np.array([[0.0, 1.0, -1.0], [3.0, -0.5, 0.5]])
    y = np.einsum("ij,ij->i", X, coef[lab]) + np.array([0.5, 1.5])[lab] * rng.normal(size=n)
    off = rng.normal(scale=0.2, size=n) if extras else np.zeros(n)
    weights = rng.integers(1, 4, size=n).astype(float) if extras else np.ones(n)
    trials = rng.integers(1, 3, size=n).astype(float) if extras else np.ones(n)
    data = MixtureData(y, X, off, trials, weights, np.ones((n, 1)))
    model = glm_model("gaussian", data)
    params = glm_params(coef * 0.9, np.array([0.4, 2.0]), np.array([[0.0, 0.3]]))
    out = em.e_step_pass(data, model, params, linearise=True)
    assert out.rss is not None
    wtau = data.weighted(out.posterior)
    expected = irls.m_step_components(
        model.components.component_data(data), model.components.family, wtau,
        params.components.coef, params.components.scale, 1,
    )  # fmt: skip
    calls = {"n": 0}
    for name in ("least_squares", "gaussian_rss", "e_step", "irls_equations"):
        fn = getattr(compiled, name)

        def counted(*args, _fn=fn, **kwargs):  # type: ignore[no-untyped-def]
            calls["n"] += 1
            return _fn(*args, **kwargs)

        monkeypatch.setattr(compiled, name, counted)
    got, fused = model.components.m_step(data, wtau, params.components, None, out, 1)
    assert calls["n"] == 0 and fused is None
    np.testing.assert_allclose(got.coef, expected[0], rtol=1e-11)
    np.testing.assert_allclose(got.scale, expected[1], rtol=1e-11)
    # Without the pass's work the M-step reads the rows, and agrees.
    again, _ = model.components.m_step(data, wtau, params.components, None, None, 1)
    assert calls["n"] == 2
    np.testing.assert_allclose(again.scale, got.scale, rtol=1e-11)


def test_least_squares_update_that_would_cancel_reads_the_rows_instead() -> None:
    X = np.c_[np.ones(4), [0.0, 1.0, 2.0, 3.0]]
    y = np.array([1.0, 2.0, 3.0, 4.0]) * 1e6  # on a line: RSS 0 at the solution
    lin = ((X.T @ X)[None], (X.T @ y)[None], np.zeros(1))
    rss0 = np.array([float(y @ y)])
    assert irls.least_squares_from_pass(lin, rss0, np.zeros((1, 2)), np.array([4.0])) is None
    assert irls.least_squares_from_pass(lin, rss0, np.zeros((1, 2)), np.array([0.0])) is None
