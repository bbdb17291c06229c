"""The compiled passes give what the NumPy passes (tests/numpy_kernels.py, the oracle) give,
for every family with a compiled kernel, with and without offsets, case weights, trials
and a concomitant prior; whatever the number of threads; and reuse their buffers safely."""

from __future__ import annotations

import numba
import numpy as np
import numpy_kernels as oracle
import pytest
import statsmodels.api as sm

from emglm.components import compiled, kernels, vecmath
from emglm.data.arrays import column_sums, record_column_sums
from emglm.families import get_family

RTOL = 1e-12


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """512-row blocks, so that a few thousand rows span several blocks and a ragged end."""
    monkeypatch.setattr(kernels, "_BLOCK_BYTES", 4096)
    monkeypatch.setattr(oracle, "_BLOCK_BYTES", 4096)


def _close(got: np.ndarray, want: np.ndarray) -> None:
    """Equal to ``RTOL`` relative to the largest entry (sums of terms of both signs)."""
    want = np.asarray(want)
    scale = float(np.max(np.abs(want))) if want.size else 1.0
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * scale)


def _problem(family: str, n: int = 1900, p: int = 4, seed: int = 0, order: str = "F"):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 1))])
    X = np.asarray(X, order=order)
    off = rng.normal(scale=0.1, size=n)
    trials = rng.integers(1, 6, size=n).astype(float)
    eta = X @ np.linspace(0.5, -0.3, p) + off
    if family == "poisson":
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "binomial":
        y = rng.binomial(trials.astype(int), 1 / (1 + np.exp(-eta))) / trials
    else:
        y = eta + rng.normal(size=n)
    W = rng.dirichlet(np.ones(3), size=n)
    coef = rng.normal(scale=0.3, size=(3, p))
    weights = rng.integers(1, 4, size=n).astype(float)
    return X, y, off, trials, W, coef, weights


FAMILIES = ["poisson", "binomial", "gaussian"]
CASES = [
    pytest.param(off, wts, tr, id=f"off={off}-weights={wts}-trials={tr}")
    for off in (False, True)
    for wts in (False, True)
    for tr in (False, True)
]


def _inputs(name: str, off: bool, wts: bool, tr: bool, order: str = "F"):
    fam = get_family(name)
    X, y, offset, trials, W, coef, weights = _problem(name, order=order)
    if not tr:
        trials = np.ones_like(y)
        if name == "binomial":
            y = np.round(y)  # 0/1 responses with one trial each
    const = fam.loglik_constant(y, trials)
    scale = np.array([0.5, 1.0, 2.0]) if fam.has_scale else np.ones(3)
    return dict(
        fam=fam,
        X=X,
        y=y,
        offset=offset if off else None,
        trials=trials if tr else None,
        const=const,
        weights=weights if wts else None,
        W=W,
        coef=coef,
        scale=scale,
    )


def test_every_compiled_family_names_a_kernel() -> None:
    assert get_family("poisson").fast_path == "poisson_log"
    assert get_family("binomial").fast_path == "binomial_logit"
    assert get_family("gaussian").fast_path == "gaussian_identity"
    assert get_family(sm.families.Binomial(link=sm.families.links.Probit())).fast_path is None
    assert get_family(sm.families.Poisson(link=sm.families.links.Sqrt())).fast_path is None
    assert get_family("gamma").fast_path is None
    assert get_family("negbin").fast_path is None
    assert set(compiled.FAMILY_CODES) == {"poisson_log", "binomial_logit", "gaussian_identity"}


@pytest.mark.parametrize(("off", "wts", "tr"), CASES)
@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("concomitant", [False, True])
def test_e_step_pass_equals_the_numpy_pass(
    name: str, off: bool, wts: bool, tr: bool, concomitant: bool
) -> None:
    d = _inputs(name, off, wts, tr)
    n = d["y"].size
    rng = np.random.default_rng(3)
    if concomitant:
        prior = rng.normal(size=(n, 3))
        prior -= np.log(np.exp(prior).sum(axis=1, keepdims=True))
    else:
        prior = np.log(np.array([[0.2, 0.3, 0.5]]))
    args = (d["X"], d["y"], d["offset"], d["trials"], d["const"], d["weights"], d["fam"])
    rest = (d["coef"], d["scale"], prior)
    for extra in ({}, {"check_weights": d["W"]}, {"linearise": True, "ones_col": 0}):
        want = oracle.e_step_pass(*args, *rest, **extra)
        got = kernels.e_step_pass(*args, *rest, **extra)
        assert got.llf == pytest.approx(want.llf, rel=RTOL)
        np.testing.assert_allclose(got.posterior, want.posterior, rtol=RTOL, atol=1e-15)
        assert got.posterior.flags.f_contiguous and not got.posterior.flags.writeable
        wsum = (
            want.posterior if d["weights"] is None else want.posterior * d["weights"][:, None]
        ).sum(0)
        _close(got.weight_sums, wsum)
        if "check_weights" in extra:
            _close(got.check, want.check)
        if "linearise" in extra:
            for g, w in zip(got.linearisation, want.linearisation, strict=True):
                _close(g, w)
            if name == "gaussian":  # the least-squares M-step's residual sums come along
                mw = want.posterior if d["weights"] is None else want.posterior * d["weights"][:, None]
                rss = oracle.weighted_rss(
                    d["X"], d["y"], d["offset"], d["trials"], d["fam"], mw, d["coef"]
                )
                _close(got.rss, rss)
            else:
                assert got.rss is None
        else:
            assert got.linearisation is None and got.rss is None
    llf, post = kernels.posterior_pass(*args, *rest)
    assert llf == pytest.approx(want.llf, rel=RTOL)
    np.testing.assert_allclose(post, want.posterior, rtol=RTOL, atol=1e-15)


@pytest.mark.parametrize(("off", "wts", "tr"), CASES)
@pytest.mark.parametrize("name", FAMILIES)
def test_other_passes_equal_the_numpy_passes(name: str, off: bool, wts: bool, tr: bool) -> None:
    d = _inputs(name, off, wts, tr)
    X, y, o, t, c, fam, W = d["X"], d["y"], d["offset"], d["trials"], d["const"], d["fam"], d["W"]
    coef, scale = d["coef"], d["scale"]
    for got, want in zip(
        kernels.irls_normal_equations(X, y, o, t, c, fam, W, coef, scale),
        oracle.irls_normal_equations(X, y, o, t, c, fam, W, coef, scale),
        strict=True,
    ):
        _close(got, want)
    # A cold start from the family's starting means (the objective is the same density).
    eta0 = fam.link(fam.start_mu(y))
    for got, want in zip(
        kernels.irls_normal_equations(X, y, o, t, c, fam, W, coef, scale, eta0=eta0),
        oracle.irls_normal_equations(X, y, o, t, c, fam, W, coef, scale, eta0=eta0),
        strict=True,
    ):
        _close(got, want)
    _close(
        kernels.weighted_loglik(X, y, o, t, c, fam, W, coef, scale),
        oracle.weighted_loglik(X, y, o, t, c, fam, W, coef, scale),
    )
    np.testing.assert_allclose(
        kernels.log_densities(X, y, o, t, c, fam, coef, scale),
        oracle.log_densities(X, y, o, t, c, fam, coef, scale),
        rtol=RTOL,
    )
    for got, want in zip(
        kernels.least_squares_equations(X, y, o, t, W),
        oracle.least_squares_equations(X, y, o, t, W),
        strict=True,
    ):
        _close(got, want)
    _close(kernels.weighted_grams(X, W), oracle.weighted_grams(X, W))
    if name == "gaussian":
        _close(
            kernels.weighted_rss(X, y, o, t, fam, W, coef),
            oracle.weighted_rss(X, y, o, t, fam, W, coef),
        )


def test_passes_without_the_data_constant_compute_it() -> None:
    d = _inputs("poisson", True, False, False)
    X, y, fam, W, coef, scale = d["X"], d["y"], d["fam"], d["W"], d["coef"], d["scale"]
    got = kernels.weighted_loglik(X, y, None, None, None, fam, W, coef, scale)
    _close(got, oracle.weighted_loglik(X, y, None, None, None, fam, W, coef, scale))


@pytest.mark.parametrize("p", [3, 20])
def test_c_ordered_and_strided_designs_give_the_same_passes(p: int) -> None:
    X, y, off, trials, W, coef, _ = _problem("poisson", p=p)
    fam = get_family("poisson")
    const = fam.loglik_constant(y, trials)
    ref = kernels.irls_normal_equations(X, y, off, None, const, fam, W, coef, np.ones(3))
    wide = np.column_stack([X, np.ones(y.size)])[:, :p]  # C-ordered
    strided = np.asfortranarray(np.repeat(X, 2, axis=1))[:, ::2]  # neither order
    for other in (np.ascontiguousarray(X), wide, strided):
        got = kernels.irls_normal_equations(other, y, off, None, const, fam, W, coef, np.ones(3))
        for g, r in zip(got, ref, strict=True):
            _close(g, r)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs two threads")
@pytest.mark.parametrize("name", FAMILIES)
def test_results_do_not_depend_on_the_number_of_threads(name: str) -> None:
    fam = get_family(name)
    X, y, off, trials, W, coef, weights = _problem(name, n=40_000, p=5, seed=2)
    const = fam.loglik_constant(y, trials)
    scale = np.array([0.5, 1.0, 2.0])
    prior = np.log(np.array([[0.2, 0.3, 0.5]]))
    runs = []
    before = numba.get_num_threads()
    try:
        for threads in (1, 2, 1):
            numba.set_num_threads(threads)
            e = kernels.e_step_pass(
                X, y, off, trials, const, weights, fam, coef, scale, prior, W, True
            )
            irls = kernels.irls_normal_equations(X, y, off, trials, const, fam, W, coef, scale)
            runs.append((e.llf, e.posterior.copy(), e.check, *e.linearisation, *irls))
    finally:
        numba.set_num_threads(before)
    assert kernels._rows(X.shape[1]) * compiled._CHUNKS < y.size  # several blocks per chunk
    for other in runs[1:]:
        for a, b in zip(runs[0], other, strict=True):
            np.testing.assert_array_equal(a, b)


def test_exp_and_log_are_within_two_ulp_of_numpy() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate(
        [rng.uniform(-708, 709, 20_000), rng.normal(size=5000), [-708.0, 0.0, 1e-300, 709.0]]
    )
    a = x.reshape(1, -1).copy()
    vecmath.exp_rows(a, np.empty(a.shape, dtype=np.int64), x.size)
    np.testing.assert_allclose(a[0], np.exp(x), rtol=4.5e-16)
    a = np.array([[-np.inf, -800.0, -709.0]])
    vecmath.exp_rows(a, np.empty(a.shape, dtype=np.int64), 3)
    assert a.tolist() == [[0.0, 0.0, 0.0]]
    pos = np.concatenate([np.exp(rng.uniform(-700, 700, 20_000)), [1.0, 2.0, 3.0, 1e-300]])
    out = np.empty_like(pos)
    vecmath.log_vec(pos, out, np.empty(pos.size, dtype=np.int64), pos.size)
    np.testing.assert_allclose(out, np.log(pos), rtol=4.5e-16, atol=1e-300)
    u = np.concatenate([rng.uniform(0, 1, 20_000), np.exp(-rng.uniform(0, 700, 5000)), [0.0, 1.0]])
    u = u.reshape(1, -1)
    got = np.empty_like(u)
    vecmath.log1p_rows(u, got, u.size)
    np.testing.assert_allclose(got, np.log1p(u), rtol=4.5e-16)


def test_posterior_buffers_are_reused_only_when_released() -> None:
    d = _inputs("poisson", False, False, False)
    args = (d["X"], d["y"], None, None, d["const"], None, d["fam"], d["coef"], d["scale"])
    prior = np.log(np.full((1, 3), 1 / 3))
    first = kernels.e_step_pass(*args, prior)
    held = first.posterior
    address = held.__array_interface__["data"][0]
    values = held.copy()
    second = kernels.e_step_pass(*args, prior + np.array([[0.0, 0.1, -0.1]]))
    # The first posteriors are still referred to: a new buffer, the old values intact.
    assert second.posterior.__array_interface__["data"][0] != address
    np.testing.assert_array_equal(held, values)
    del first, held
    third = kernels.e_step_pass(*args, prior)
    assert third.posterior.__array_interface__["data"][0] == address  # released: reused
    np.testing.assert_array_equal(third.posterior, values)
    with pytest.raises(ValueError, match="read-only"):
        third.posterior[0, 0] = 1.0


def test_column_sums_of_posteriors_come_from_the_pass() -> None:
    d = _inputs("binomial", True, False, True)
    prior = np.log(np.array([[0.2, 0.3, 0.5]]))
    out = kernels.e_step_pass(
        d["X"], d["y"], d["offset"], d["trials"], d["const"], None, d["fam"], d["coef"],
        d["scale"], prior,
    )  # fmt: skip
    np.testing.assert_allclose(column_sums(out.posterior), out.posterior.sum(axis=0), rtol=1e-12)
    assert column_sums(out.posterior) is not out.weight_sums  # a copy each time
    a = np.ones((4, 2))
    with pytest.raises(ValueError, match="read-only"):
        record_column_sums(a, np.zeros(2))
    a.flags.writeable = False
    record_column_sums(a, np.array([7.0, 8.0]))
    assert column_sums(a).tolist() == [7.0, 8.0]
    b = a.copy()  # another array: read
    assert column_sums(b).tolist() == [4.0, 4.0]


_PASSES = (
    "e_step_pass",
    "posterior_pass",
    "irls_normal_equations",
    "weighted_loglik",
    "log_densities",
    "least_squares_equations",
    "weighted_rss",
    "weighted_grams",
)


@pytest.mark.parametrize("accel", ["squarem", None])
@pytest.mark.parametrize("name", FAMILIES)
def test_fits_reach_the_same_llf_as_with_the_numpy_passes(
    monkeypatch: pytest.MonkeyPatch, name: str, accel: str | None
) -> None:
    from helpers import glm_model

    from emglm.data.arrays import MixtureData
    from emglm.engine import em

    X, y, off, trials, _, _, weights = _problem(name, n=3000, p=3, seed=7)
    rng = np.random.default_rng(8)
    if name == "poisson":
        # Poisson's density has no trials (the formula layer gives it ones: with others the
        # IRLS weights, which multiply by them, would not linearise its objective), and a
        # response from three components (K=3 fitted to one GLM's draws has no settled
        # optimum to compare).
        trials = np.ones_like(y)
        coef = np.array([[0.8, 0.3, -0.3], [1.8, -0.4, 0.2], [0.0, 0.3, 0.4]])
        labels = rng.integers(0, 3, size=y.size)
        y = rng.poisson(np.exp(np.einsum("ij,ij->i", X, coef[labels]) + off)).astype(float)
    tau0 = rng.dirichlet(np.ones(3) * 0.3, size=y.size)
    data = MixtureData(y, X, off, trials, weights, np.ones((y.size, 1)))
    # Plain EM from this start is slow: 300 M-steps (its llf there compared) are enough.
    options = em.EMOptions(tol=1e-10, accel=accel, max_iter=2000 if accel else 300)
    fam = get_family(name)
    fast = em.run_em(data, glm_model(fam, data), tau0, options)
    with monkeypatch.context() as m:
        for fn in _PASSES:
            m.setattr(kernels, fn, getattr(oracle, fn))
        data = MixtureData(y, X, off, trials, weights, np.ones((y.size, 1)))
        slow = em.run_em(data, glm_model(fam, data), tau0, options)
    assert fast.llf == pytest.approx(slow.llf, rel=1e-10)
    if accel is None:
        assert fast.n_iter == slow.n_iter
    else:
        # SQUAREM's jumps amplify rounding (its path moves with the row order too), so the
        # M-steps it takes to settle differ; both stop at the same optimum.
        assert fast.converged and slow.converged
        np.testing.assert_allclose(
            fast.params.components.coef, slow.params.components.coef, atol=1e-5
        )


def test_read_only_inputs_do_not_compile_another_variant() -> None:
    """numba compiles once per combination of writeable and read-only arguments (12 s for
    the E-step pass): the passes hand it read-only views of every input, so a read-only
    posterior or a user's read-only column reuses the one variant."""
    d = _inputs("poisson", True, True, False)
    args = [d["X"], d["y"], d["offset"], None, d["const"], d["weights"], d["fam"]]
    prior = np.log(np.array([[0.2, 0.3, 0.5]]))
    kernels.e_step_pass(*args, d["coef"], d["scale"], prior, check_weights=d["W"])
    before = len(compiled._e_chunk.signatures)
    frozen = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    for a in frozen:
        if isinstance(a, np.ndarray):
            a.flags.writeable = False
    W = d["W"].copy()
    W.flags.writeable = False
    kernels.e_step_pass(*frozen, d["coef"], d["scale"], prior, check_weights=W)
    assert len(compiled._e_chunk.signatures) == before
