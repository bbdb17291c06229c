"""Newton steps at the end of a SQUAREM run: same optimum, fewer M-steps, a history that
never falls, and the subsample's informations used only while they help."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import glm_model, poisson_regressions, two_gaussian_lines
from emglm.data.arrays import Grouping, MixtureData
from emglm.engine import em, newton
from emglm.exceptions import InputError
from emglm.families import get_family
from emglm.inference import louis
from statsmodels.tools.numdiff import approx_hess


def _overlapping_poisson(n: int = 4000, seed: int = 3):
    """Three Poisson regressions that overlap: EM's rate is close to 1."""
    coef = [[1.0, 0.5, -0.5], [2.0, -0.4, 0.3], [0.0, 0.2, 0.2]]
    return poisson_regressions(n, seed, coef, x_scale=0.5, keep=0.7)


def _gaussian(n: int = 3000, seed: int = 4):
    return two_gaussian_lines(n, seed, [[0.0, 1.0], [1.0, -0.5]], [0.6, 1.2])


@pytest.fixture
def whole_data(monkeypatch):
    """Newton steps on these small data sets, with the informations of all the rows."""
    monkeypatch.setattr(newton, "SAMPLE_RATIO", 0)
    monkeypatch.setattr(newton, "SAMPLE_UNITS", 10**9)


def _concomitant_binomial(n: int = 3000, seed: int = 5):
    """Two binomial regressions whose proportions follow a covariate (a concomitant
    model: multinomial-logit mixing, fitted by its own Newton iterations)."""
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    Z = np.column_stack([np.ones(n), rng.normal(size=n)])
    lab = (rng.random(n) < 1 / (1 + np.exp(-0.8 * Z[:, 1]))).astype(int)
    coef = np.array([[-0.5, 1.0], [0.8, -0.7]])
    trials = np.full(n, 8.0)
    p = 1 / (1 + np.exp(-np.einsum("ij,ij->i", X, coef[lab])))
    y = rng.binomial(8, p) / 8.0
    start = np.where(rng.random(n) < 0.7, lab, 1 - lab)
    data = MixtureData(y, X, np.zeros(n), trials, np.ones(n), Z)
    return data, np.eye(2)[start]


def _fit(data, family, tau0, newton_steps: bool, tol: float = 1e-10):
    model = glm_model(get_family(family), data)
    opts = em.EMOptions(tol=tol, max_iter=5000, newton=newton_steps)
    return model, em.run_em(data, model, tau0, opts)


def _optimum(data, family, tau0):
    """SQUAREM alone to a far smaller tolerance: the optimum to compare with (plain EM is
    too slow here to get as close: its rate is near 1)."""
    model, best = _fit(data, family, tau0, False, tol=1e-14)
    return model.pack(best.params), best.llf


@pytest.mark.parametrize(
    ("make", "family"),
    [(_overlapping_poisson, "poisson"), (_gaussian, "gaussian"), (_concomitant_binomial, "binomial")],
)
def test_newton_steps_reach_the_optimum_in_fewer_m_steps(whole_data, make, family: str) -> None:
    data, tau0 = make()
    x_best, llf_best = _optimum(data, family, tau0)
    model, with_newton = _fit(data, family, tau0, True)
    _, without = _fit(data, family, tau0, False)
    assert with_newton.converged and without.converged
    for fit in (with_newton, without):
        np.testing.assert_allclose(model.pack(fit.params), x_best, rtol=1e-6, atol=1e-6)
        assert fit.llf == pytest.approx(llf_best, rel=1e-12)
    assert with_newton.n_iter <= 0.6 * without.n_iter, (with_newton.n_iter, without.n_iter)
    # Every recorded llf is at least the one before, to the rounding of a sum over rows.
    steps = np.diff(with_newton.llf_history)
    assert np.all(steps >= -1e-12 * np.abs(with_newton.llf_history[1:])), steps.min()


@pytest.mark.parametrize("units", [1500, 500])
def test_newton_from_a_subsample_lands_where_the_whole_data_do(monkeypatch, units: int) -> None:
    """With at least four times ``SAMPLE_UNITS`` rows, Newton steps are made with the
    informations of every ``n // SAMPLE_UNITS``-th row: a step is then only approximate
    (Broyden's update from the steps taken improves it), and the run still ends at the
    optimum. From a quarter of the rows it takes a third of the M-steps. From a twelfth,
    the first information is not even positive definite: the next one takes more rows, as
    far as the passes already made allow (a quarter of them, at 40 passes per row)."""
    data, tau0 = _overlapping_poisson(n=6000)
    x_best, _ = _optimum(data, "poisson", tau0)
    monkeypatch.setattr(newton, "SAMPLE_UNITS", units)
    assert newton.worthwhile(data.n_units) and newton.subsample(data).n_rows == units
    sizes = []
    real = newton.information_pieces
    monkeypatch.setattr(
        newton, "information_pieces", lambda sample, *a: sizes.append(sample.n_rows) or real(sample, *a)
    )
    model, fit = _fit(data, "poisson", tau0, True)
    _, without = _fit(data, "poisson", tau0, False)
    np.testing.assert_allclose(model.pack(fit.params), x_best, rtol=1e-6, atol=1e-6)
    steps = np.diff(fit.llf_history)
    assert np.all(steps >= -1e-12 * np.abs(fit.llf_history[1:]))
    if units == 1500:
        assert set(sizes) == {1500}
        assert fit.n_iter < 0.5 * without.n_iter, (fit.n_iter, without.n_iter)
    else:
        assert sizes[0] == 500 and max(sizes) > 500
        # Never more than the share of the passes: 40 passes per row, a quarter of them.
        assert max(sizes) <= 0.25 * fit.n_iter * data.n_rows / 40
        assert fit.n_iter < without.n_iter, (fit.n_iter, without.n_iter)


def test_no_newton_steps_on_small_data() -> None:
    """Below four times ``SAMPLE_UNITS`` rows the informations would cost more passes than
    Newton saves: the run is SQUAREM's alone."""
    data, tau0 = _overlapping_poisson(n=4000)
    assert not newton.worthwhile(data.n_units)
    _, on = _fit(data, "poisson", tau0, True)
    _, off = _fit(data, "poisson", tau0, False)
    np.testing.assert_array_equal(on.llf_history, off.llf_history)


def test_subsample_takes_evenly_spaced_units_and_whole_groups(monkeypatch) -> None:
    n = 1000
    rng = np.random.default_rng(0)
    data = MixtureData(
        rng.normal(size=n), np.ones((n, 1)), np.zeros(n), np.ones(n), np.ones(n),
        np.ones((n, 1)), Grouping.of(np.repeat(np.arange(200), 5)),
    )
    monkeypatch.setattr(newton, "SAMPLE_UNITS", 101)
    assert newton.subsample(data) is data  # fewer than twice the units asked
    monkeypatch.setattr(newton, "SAMPLE_UNITS", 40)
    sub = newton.subsample(data)
    assert sub.n_units == 40 and sub.n_rows == 200
    np.testing.assert_array_equal(sub.y, data.y.reshape(200, 5)[::5].ravel())
    plain = MixtureData(data.y, data.X, data.offset, data.trials, data.weights, data.Z)
    monkeypatch.setattr(newton, "SAMPLE_UNITS", 100)
    np.testing.assert_array_equal(newton.subsample(plain).y, data.y[::10])
    assert newton.worthwhile(plain.n_units) and not newton.worthwhile(data.n_units)


def test_information_pieces_give_the_hessian_of_the_observed_llf() -> None:
    data, tau0 = _gaussian(n=400)
    model, fit = _fit(data, "gaussian", tau0, True)
    complete, missing = newton.information_pieces(data, model, fit.params)
    hess = approx_hess(model.pack(fit.params), louis.observed_loglike, args=(data, model, fit.params))
    np.testing.assert_allclose(complete - missing, -hess, rtol=1e-4, atol=1e-4 * np.abs(hess).max())
    # The complete-data information is the larger one: the missing part is a covariance.
    assert np.all(np.linalg.eigvalsh(missing) > -1e-8 * np.abs(missing).max())
    assert np.all(np.linalg.eigvalsh(complete - missing) > 0)


def test_informations_are_used_again_after_a_short_step_only(monkeypatch, whole_data) -> None:
    data, tau0 = _overlapping_poisson(n=1500)
    model, fit = _fit(data, "poisson", tau0, False, tol=1e-6)
    calls = []
    real = newton.information_pieces
    monkeypatch.setattr(
        newton, "information_pieces", lambda *a: calls.append(1) or real(*a)
    )

    def em_map(params):
        return em.m_step(data, model, em.e_step(data, model, params)[1], params)

    here = fit.params
    steps = newton.NewtonSteps(model, data)
    point, dist = steps.point(here, lambda: em_map(here))
    assert dist < newton.REUSE_BELOW and len(calls) == 1
    again, dist2 = steps.point(point, lambda: em_map(point))  # from where the short step led: reused
    assert len(calls) == 1 and dist2 < newton.MIN_GAIN * dist
    # A short step that was not taken (the next call is from elsewhere): no more steps.
    assert steps.point(here, lambda: em_map(here)) is None and len(calls) == 1
    assert steps.point(again, lambda: em_map(again)) is None
    # After a long step, from its point or from elsewhere: computed again.
    steps = newton.NewtonSteps(model, data)
    far = model.unpack(data, model.pack(here) + 0.05, here)
    assert steps.point(far, lambda: em_map(far))[1] > newton.REUSE_BELOW and len(calls) == 2
    point, dist = steps.point(far, lambda: em_map(far))  # the long step not taken: computed again
    assert dist > newton.REUSE_BELOW and len(calls) == 3
    assert steps.point(point, lambda: em_map(point)) is not None and len(calls) == 4


def test_no_newton_step_where_the_information_is_singular(whole_data) -> None:
    """Two equal components: the observed information is singular, so no Newton step;
    the run goes on with SQUAREM alone and ends as it does without Newton steps."""
    data, _ = _gaussian(n=600)
    model = glm_model(get_family("gaussian"), data)
    start = em.m_step(data, model, np.full((data.n_rows, 2), 0.5))
    proposal = em.m_step(data, model, em.e_step(data, model, start)[1], start)
    assert newton.NewtonSteps(model, data).point(start, lambda: proposal) is None
    on = em.run_em(data, model, start, em.EMOptions(tol=1e-10, newton=True))
    off = em.run_em(data, model, start, em.EMOptions(tol=1e-10, newton=False))
    np.testing.assert_array_equal(on.llf_history, off.llf_history)


def test_newton_option_must_be_a_bool() -> None:
    with pytest.raises(InputError, match="newton must be True or False; got 'yes'"):
        em.EMOptions(newton="yes")  # type: ignore[arg-type]


def test_steps_that_stop_shrinking_near_the_optimum_end_newton_steps(monkeypatch, whole_data) -> None:
    """A gain no better than EM's own (the identity: the step is the EM map's move) makes
    steps that shrink at EM's slow rate, not by half: near the optimum Newton steps then
    end for the run."""
    data, tau0 = _overlapping_poisson(n=1500)
    model, fit = _fit(data, "poisson", tau0, False, tol=1e-6)
    size = model.pack(fit.params).size
    monkeypatch.setattr(newton.NewtonSteps, "_fresh_gain", lambda self, *a: np.eye(size))
    monkeypatch.setattr(newton, "REUSE_BELOW", 0.0)  # a fresh (identity) gain every step
    monkeypatch.setattr(newton, "NEAR", 1.0)

    def em_map(params):
        return em.m_step(data, model, em.e_step(data, model, params)[1], params)

    steps = newton.NewtonSteps(model, data)
    point, dist = steps.point(fit.params, lambda: em_map(fit.params))
    np.testing.assert_allclose(model.pack(point), model.pack(em_map(fit.params)))
    proposals = []

    def propose():
        proposals.append(1)
        return em_map(point)

    assert steps.point(point, propose) is None and len(proposals) == 1
    # And for the rest of the run, without asking for the EM map's move (a pass on Dask).
    assert steps.point(point, propose) is None and len(proposals) == 1
