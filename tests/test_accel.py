"""SQUAREM acceleration: same optimum as plain EM, fewer iterations, never a lower llf."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import glm_model, glm_params, poisson_regressions, two_gaussian_lines
from emglm.engine import accel, em
from emglm.exceptions import InputError
from emglm.data.arrays import MixtureData
from emglm.families import get_family


def _poisson_mixture(seed: int = 5, n: int = 1500):
    coef = [[1.0, 0.4, -0.3], [1.6, -0.3, 0.2], [0.3, 0.2, 0.5]]
    return poisson_regressions(n, seed, coef, keep=0.6)


def _gaussian_mixture(seed: int = 6, n: int = 1200):
    return two_gaussian_lines(n, seed, [[0.0, 1.0], [1.0, -1.0]], [0.5, 1.0])


@pytest.mark.parametrize(
    ("make", "family"), [(_poisson_mixture, "poisson"), (_gaussian_mixture, "gaussian")]
)
def test_acceleration_reaches_the_same_llf_in_fewer_iterations(make, family: str) -> None:
    data, tau0 = make()
    fam = get_family(family)
    fits = {
        a: em.run_em(data, glm_model(fam, data), tau0, em.EMOptions(tol=1e-12, accel=a, max_iter=5000))
        for a in ("squarem", None)
    }
    on, off = fits["squarem"], fits[None]
    assert on.converged and off.converged
    assert on.llf == pytest.approx(off.llf, rel=1e-8)
    np.testing.assert_allclose(on.params.components.coef, off.params.components.coef, rtol=1e-4, atol=1e-4)
    # SQUAREM also waits for the parameters to settle (plain EM stops on the llf alone):
    # plain EM needs more M-steps to come as close to the optimum.
    model = glm_model(fam, data)
    best = em.run_em(data, model, tau0, em.EMOptions(tol=1e-15, accel=None, max_iter=20000))
    # Plain EM at tol=1e-15 still stops within ~5e-7 of the fixed point (its llf changes are
    # rounding noise by then, so where it stops depends on the rounding of the passes'
    # sums): continue it until its llf no longer changes, the optimum to compare with.
    best = em.run_em(data, model, best.params, em.EMOptions(tol=1e-300, accel=None, max_iter=5000))
    closer = em.run_em(data, model, tau0, em.EMOptions(tol=1e-14, accel=None, max_iter=20000))

    def error(fit: em.EMFit) -> float:
        return float(np.abs(fit.params.components.coef - best.params.components.coef).max())

    assert error(on) <= error(closer) and on.n_iter < closer.n_iter
    # Monotone: every recorded llf is at least the previous one, to rounding.
    assert np.all(np.diff(on.llf_history) >= -1e-12 * abs(on.llf))
    assert on.llf == on.llf_history[-1]


def test_more_irls_steps_per_m_step_reach_the_same_optimum() -> None:
    data, tau0 = _poisson_mixture()
    fam = get_family("poisson")
    one = em.run_em(data, glm_model(fam, data), tau0, em.EMOptions(tol=1e-12, m_step_iter=1))
    full = em.run_em(data, glm_model(fam, data), tau0, em.EMOptions(tol=1e-12, m_step_iter=25))
    assert one.llf == pytest.approx(full.llf, rel=1e-9)


def test_max_iter_counts_m_steps_with_acceleration() -> None:
    data, tau0 = _poisson_mixture()
    fit = em.run_em(data, glm_model(get_family("poisson"), data), tau0, em.EMOptions(max_iter=7))
    assert fit.n_iter == 7 and not fit.converged


def test_rejected_jump_falls_back_to_plain_em() -> None:
    """With an E-step that scores every extrapolated point as worse, SQUAREM is plain EM."""
    data, tau0 = _poisson_mixture(n=600)
    fam = get_family("poisson")
    start = em.m_step(data, glm_model(fam, data), tau0)
    plain_points: list[em.MixtureParams] = []

    def m_step(post: np.ndarray, params: em.MixtureParams) -> em.MixtureParams:
        new = em.m_step(data, glm_model(fam, data), post, params, 1)
        plain_points.append(new)
        return new

    def e_step(params: em.MixtureParams) -> tuple[float, np.ndarray]:
        llf, post = em.e_step(data, glm_model(fam, data), params)
        is_em_point = any(params is q for q in [start, *plain_points])
        return (llf if is_em_point else -np.inf), post

    model = glm_model(fam, data)
    out, n_jumps = accel.squarem(
        start, e_step, m_step, 1e-10, 40, model.pack, lambda v, like: model.unpack(data, v, like)
    )
    ref = em.run_em(data, glm_model(fam, data), start, em.EMOptions(tol=1e-10, max_iter=40, accel=None))
    assert n_jumps == 0
    np.testing.assert_allclose(out.llf_history, ref.llf_history, rtol=1e-14)


def test_pack_unpack_round_trip_keeps_dispersions_positive() -> None:
    params = glm_params(
        np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, 2.0]), np.array([[0.0, 0.7]])
    )
    n = 3
    data = MixtureData(np.r_[0.0, 1.0, 5.0], np.ones((n, 2)), np.zeros(n), np.ones(n), np.ones(n),
                       np.ones((n, 1)))
    model = glm_model("gaussian", data)
    back = model.unpack(data, model.pack(params), params)
    np.testing.assert_allclose(back.components.coef, params.components.coef)
    np.testing.assert_allclose(back.components.scale, params.components.scale)
    np.testing.assert_allclose(back.gamma, params.gamma)
    vec = model.pack(params)
    vec[[2, 5]] = -500.0  # an extrapolation far below the floor
    floor = model.components.scale_floor(data)
    assert floor > 0
    assert np.all(model.unpack(data, vec, params).components.scale == floor)
    poisson = glm_model("poisson", data)
    back = poisson.unpack(data, poisson.pack(params), params)
    assert np.all(back.components.scale == 1.0)


@pytest.mark.parametrize(("field", "value"), [("accel", "squarm"), ("m_step_iter", 0)])
def test_bad_options_name_the_value_and_the_choices(field: str, value: object) -> None:
    with pytest.raises(InputError, match=repr(value) if field == "accel" else "positive"):
        em.EMOptions(**{field: value})
    if field == "accel":
        with pytest.raises(InputError, match="'squarem', None"):
            em.EMOptions(accel=value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("csv", "formula", "family", "ref"),
    [
        ("pois_mix.csv", "y ~ x1 + x2 + offset(np.log(expo))", "poisson", "pois_offset"),
        ("binom_mix.csv", "cbind(succ, fail) ~ x", "binomial", "binom"),
    ],
)
def test_em_glm_accel_option_reaches_flexmix_optimum_either_way(
    csv: str, formula: str, family: str, ref: str
) -> None:
    """em_glm(accel="squarem") and em_glm(accel=None) both reach R flexmix's maximum
    (tests/reference). (Their iterations are not compared: from the true labels plain EM
    meets the llf criterion in a few M-steps, where SQUAREM also waits for the parameters.)"""
    import json
    from pathlib import Path

    import pandas as pd

    import emglm

    ref_dir = Path(__file__).parent / "reference"
    mle = json.loads((ref_dir / "flexmix_reference.json").read_text())["fits"][ref]["mle"]
    df = pd.read_csv(ref_dir / "data" / csv)
    fits = {
        a: emglm.em_glm(formula, df, family, K=2, start=df.label - 1, tol=1e-13, se=None, accel=a)
        for a in ("squarem", None)
    }
    for res in fits.values():
        assert res.converged
        assert res.llf == pytest.approx(mle["logLik"], rel=1e-9)
    on, off = fits["squarem"], fits[None]
    np.testing.assert_allclose(on.params, off.params, rtol=1e-6)


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [("SQUAREM", InputError, r"accel='SQUAREM'.*'squarem', None"), (True, TypeError, "accel")],
)
def test_em_glm_bad_accel(value: object, error: type, match: str) -> None:
    import emglm
    from emglm.datasets import load_sim2

    with pytest.raises(error, match=match):
        emglm.em_glm("y ~ V1", load_sim2(), "poisson", K=2, accel=value)  # type: ignore[arg-type]


def _count_passes(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count the compiled passes over the design (each reads X once)."""
    from emglm.components import compiled

    counts = {"passes": 0}
    for name in ("e_step", "irls_equations", "least_squares", "gaussian_rss", "log_densities"):
        fn = getattr(compiled, name)

        def counted(*args, _fn=fn, **kwargs):  # type: ignore[no-untyped-def]
            counts["passes"] += 1
            return _fn(*args, **kwargs)

        monkeypatch.setattr(compiled, name, counted)
    return counts


@pytest.mark.parametrize("family", ["poisson", "binomial", "gaussian"])
def test_proposals_read_the_data_about_once_per_m_step(monkeypatch, family: str) -> None:
    """The second EM step of a cycle is made from the pass that made the posteriors (one
    unchecked IRLS step, or the least-squares M-step; no E-step there): fewer passes per
    M-step than when every M-step is scored, the same optimum, and one llf per M-step,
    never decreasing."""
    rng = np.random.default_rng(11)
    n = 4000
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    coef = np.array([[0.5, 0.8, -0.4], [1.5, -0.6, 0.3], [-0.2, 0.2, 0.9]])
    lab = rng.integers(0, 3, size=n)
    eta = np.einsum("ij,ij->i", X, coef[lab])
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        y = rng.binomial(1, 1 / (1 + np.exp(-eta))).astype(float)
    else:
        y = 2 * eta + np.array([0.3, 0.6, 1.0])[lab] * rng.normal(size=n)
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    tau0 = np.eye(3)[np.where(rng.random(n) < 0.7, lab, rng.integers(0, 3, size=n))]
    fam = get_family(family)
    options = em.EMOptions(tol=1e-10, newton=False)  # the passes of SQUAREM's cycles alone
    counts = _count_passes(monkeypatch)
    start = em.m_step(data, glm_model(fam, data), tau0)
    counts["passes"] = 0
    new = em.run_em(data, glm_model(fam, data), start, options)
    per_new = counts["passes"] / new.n_iter
    with monkeypatch.context() as m:
        m.setattr(em, "propose_step", lambda *args: None)  # every second step checked
        counts["passes"] = 0
        old = em.run_em(data, glm_model(fam, data), start, options)
        per_old = counts["passes"] / old.n_iter
    assert new.converged and old.converged
    assert new.llf == pytest.approx(old.llf, rel=1e-10)
    assert per_new < 0.9 * per_old and per_new <= 1.25, (per_new, per_old)
    assert new.llf_history.size == new.n_iter + 1
    assert np.all(np.diff(new.llf_history) >= -1e-12 * abs(new.llf))


@pytest.mark.parametrize(("shortfall", "kept"), [(1e-15, True), (1e-11, False)])
def test_a_jump_short_of_the_last_llf_by_rounding_is_kept(shortfall: float, kept: bool) -> None:
    """An extrapolated point scored below the last recorded llf by rounding (1e-15
    relative) is still taken; one scored 1e-11 below is refused, as a worse point."""
    data, tau0 = _poisson_mixture(n=600)
    fam = get_family("poisson")
    model = glm_model(fam, data)
    start = em.m_step(data, model, tau0)
    em_points: list[em.MixtureParams] = [start]
    last = [np.nan]  # the llf of the last EM point scored

    def m_step(post: np.ndarray, params: em.MixtureParams) -> em.MixtureParams:
        em_points.append(em.m_step(data, model, post, params, 1))
        return em_points[-1]

    def e_step(params: em.MixtureParams) -> tuple[float, np.ndarray]:
        llf, post = em.e_step(data, model, params)
        if any(params is q for q in em_points):
            last[0] = llf
            return llf, post
        return last[0] - shortfall * abs(last[0]), post  # a jump, `shortfall` below

    _, n_jumps = accel.squarem(
        start, e_step, m_step, 1e-10, 40, model.pack, lambda v, like: model.unpack(data, v, like)
    )
    assert (n_jumps > 0) is kept
