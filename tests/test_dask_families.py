"""Every family on a Dask DataFrame (issue 16): the dispersion M-step of gamma, inverse
Gaussian, negative binomial and generic statsmodels families from sums over partitions
(emglm/cluster/dispersion.py) gives the in-memory dispersions, and whole fits on a real
``distributed.LocalCluster`` with two worker processes equal the in-memory fits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from dask_checks import assert_same_estimates  # noqa: E402

import emglm  # noqa: E402
from emglm.cluster import dispersion  # noqa: E402
from emglm.cluster.jobs import Source, combine, run_jobs, split  # noqa: E402
from emglm.components import irls  # noqa: E402
from emglm.components.glm import GLMParams  # noqa: E402
from emglm.components.shared import SharedParams  # noqa: E402
from emglm.engine.em import MixtureParams  # noqa: E402
from emglm.families import Family, get_family  # noqa: E402
from emglm.families.base import DispersionSums  # noqa: E402
from emglm.model import EMGLM  # noqa: E402

LOG = sm.families.links.Log()


class GammaSubclass(sm.families.Gamma):
    """A statsmodels family emglm has no class of its own for: it gets the generic
    :class:`Family`, its density from ``loglike_obs``, and no dispersion sums."""


def _frame(n: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Two components with a concomitant z: gamma, inverse Gaussian and NB2 responses."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    lab = rng.random(n) < 1 / (1 + np.exp(-1.5 * z))
    off = 0.2 * rng.normal(size=n)
    mu = np.exp(np.where(lab, 2.5 + 0.5 * x, -0.4 * x) + off)
    shape, lam, r = np.where(lab, 8.0, 3.0), np.where(lab, 30.0, 3.0), np.where(lab, 8.0, 2.0)
    return pd.DataFrame(
        {
            "yg": rng.gamma(shape, mu / shape),
            "yi": rng.wald(mu, lam),
            "yn": rng.negative_binomial(r, r / (r + mu)).astype(float),
            "x": x,
            "z": z,
            "off": off,
            "w": rng.integers(1, 4, n).astype(float),
        }
    )


def _start(scale: list[float]) -> dict:
    return {"params": [[2.0, 0.3], [0.3, -0.2]], "mixing": [0.5, 0.5], "scale": scale}


def _same_fit(mem, dist) -> None:
    assert_same_estimates(mem, dist)


# --- the dispersion M-step, its passes run in process on row blocks -----------------------


def _in_process(model: EMGLM, n_parts: int):
    """A ``run`` over ``n_parts`` row blocks of the model's data, in this process (the
    jobs and sums of the cluster's passes), and the list of passes it ran."""
    data, mixture = model.data, model.mixture
    bounds = np.linspace(0, data.n_rows, n_parts + 1).astype(int)
    parts = [data.take(slice(a, b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    passes: list[int] = []

    def run(jobs):
        passes.append(len(jobs))
        pieces = [run_jobs(part, mixture, tuple(jobs)) for part in parts]
        return split(combine(*pieces), len(jobs))

    return run, passes


def _params(scale) -> MixtureParams:
    coef = np.array([[2.4, 0.45], [0.05, -0.35]])
    return MixtureParams(GLMParams(coef, np.asarray(scale, dtype=float)), np.array([[0.0, 0.3]]))


def _nfev(family: Family, y, mu, w, trials, current: float) -> int:
    """Evaluations of the in-memory search (:meth:`Family.update_dispersion`)."""
    count = 0

    def negll(log_s: float) -> float:
        nonlocal count
        count += 1
        return -float(np.dot(w, family.loglik(y, mu, np.exp(log_s), trials)))

    family.search_dispersion(negll, current)
    return count


@pytest.mark.parametrize(
    ("response", "family", "with_sums", "rtol"),
    [
        ("yg", sm.families.Gamma(LOG), True, 1e-10),
        ("yi", sm.families.InverseGaussian(LOG), True, 1e-10),
        # alpha's search runs to xatol=1e-10, where the objective is flat to rounding: the
        # sums over row blocks (another order of additions) move it by ~1e-8.
        ("yn", "negbin", False, 1e-6),
        ("yg", GammaSubclass(LOG), False, 1e-10),
    ],
)
def test_dispersion_update_is_the_in_memory_one(response, family, with_sums, rtol) -> None:
    df = _frame(n=600, seed=1)
    model = EMGLM.from_formula(f"{response} ~ x", df, family, 2, offset="off", weights="w")
    fam = model.mixture.components.family
    assert isinstance(fam, DispersionSums) == with_sums
    params = _params([0.3, 0.2])
    coef, scale = params.components.coef, params.components.scale
    data = model.data
    W = data.weighted(Source(params).posterior(data, model.mixture)[1])
    cd = model.mixture.components.component_data(data)
    for active in (np.array([True, True]), np.array([False, True])):
        expected = irls._update_scale(cd, fam, W, coef, scale, active)
        run, passes = _in_process(model, n_parts=5)
        got = dispersion.update_scales(run, fam, Source(params), coef, scale, active)
        np.testing.assert_allclose(got, expected, rtol=rtol)
        assert (got[0] == scale[0]) != active[0]  # an empty component keeps its dispersion
        assert abs(got[1] / scale[1] - 1) > 1e-3
        # The sums in one pass (the search on the client), or one pass per trial point of
        # every component's search at once.
        assert len(passes) == 1 if with_sums else 10 < len(passes) < 40


def test_lockstep_runs_each_search_as_alone() -> None:
    # Exact objectives (the in-memory ones): the searches run together take the steps each
    # takes alone, to the last bit, in as many rounds as the longest has evaluations.
    df = _frame(n=600, seed=1)
    model = EMGLM.from_formula("yn ~ x", df, "negbin", 2, offset="off")
    fam = model.mixture.components.family
    params = _params([0.3, 0.2])
    cd = model.mixture.components.component_data(model.data)
    W = model.data.weighted(Source(params).posterior(model.data, model.mixture)[1])
    mu = fam.linkinv(cd.X @ params.components.coef.T + cd.offset[:, None])
    currents = [0.3, 0.2, 5.0]
    cols = [0, 1, 1]

    def negll(j: int, log_s: float) -> float:
        k = cols[j]
        return -float(np.dot(W[:, k], fam.loglik(cd.y, mu[:, k], np.exp(log_s), cd.trials)))

    rounds: list[dict[int, float]] = []

    def evaluate(points: dict[int, float]) -> dict[int, float]:
        rounds.append(dict(points))
        return {j: negll(j, x) for j, x in points.items()}

    got = dispersion.lockstep(fam, currents, evaluate)
    alone = [fam.update_dispersion(cd.y, mu[:, cols[j]], W[:, cols[j]], cd.trials, currents[j])
             for j in range(3)]  # fmt: skip
    assert got == alone
    evals = [_nfev(fam, cd.y, mu[:, cols[j]], W[:, cols[j]], cd.trials, currents[j])
             for j in range(3)]  # fmt: skip
    assert len(rounds) == max(evals) and min(evals) < max(evals)
    assert [sum(j in r for r in rounds) for j in range(3)] == evals
    assert len(rounds[0]) == 3 and len(rounds[-1]) < 3


@pytest.mark.parametrize(
    ("response", "family", "rtol"),
    [
        ("yg", sm.families.Gamma(LOG), 1e-10),
        ("yn", "negbin", 1e-6),
        ("yg", GammaSubclass(LOG), 1e-10),
    ],
)
def test_common_dispersion_is_the_in_memory_equal_scale(response, family, rtol) -> None:
    df = _frame(n=600, seed=2)
    shared = EMGLM.from_formula(f"{response} ~ x", df, family, 2, equal_scale=True)
    plain = EMGLM.from_formula(f"{response} ~ x", df, family, 2)
    params = _params([0.25, 0.25])
    coef, scale = params.components.coef, params.components.scale
    tau = Source(params).posterior(plain.data, plain.mixture)[1]
    active = np.array([True, True])
    expected = shared.mixture.components._update_scale(
        shared.data, plain.data.weighted(tau), coef, scale, active
    )
    run, passes = _in_process(plain, n_parts=4)
    got = dispersion.update_scales(
        run, plain.mixture.components.family, Source(params), coef, scale, active, common=True
    )
    assert got[0] == got[1] and expected[0] == expected[1] and got[0] != scale[0]
    np.testing.assert_allclose(got, expected, rtol=rtol)
    assert len(passes) == 1 if isinstance(plain.family, DispersionSums) else len(passes) > 10


def test_dispersion_sums_give_the_weighted_log_likelihood() -> None:
    rng = np.random.default_rng(4)
    y = rng.gamma(2.0, 1.0, 300)
    mu = np.exp(0.3 * rng.normal(size=(300, 2)))
    w = rng.random((300, 2))
    trials = np.ones(300)
    for name in ("gamma", "inverse_gaussian"):
        fam = get_family(name)
        assert isinstance(fam, DispersionSums)
        sums = fam.dispersion_sums(y, mu, w, trials)
        assert sums.shape == (2, 3)
        for s in (0.01, 0.4, 30.0):
            for k in range(2):
                direct = float(w[:, k] @ fam.loglik(y, mu[:, k], s, trials))
                assert fam.loglik_from_sums(sums[k], s) == pytest.approx(direct, rel=1e-13)
    for name in ("negbin", "gaussian", "poisson"):
        assert not isinstance(get_family(name), DispersionSums)


# --- whole fits on the cluster ----------------------------------------------------------


def test_gamma_offset_weights_and_louis(client) -> None:
    df = _frame()
    kw = dict(offset="off", weights="w", tol=1e-10, start=_start([0.3, 0.3]))
    fam = sm.families.Gamma(LOG)
    mem = emglm.em_glm("yg ~ x", df, fam, 2, **kw)
    dist = emglm.em_glm("yg ~ x", dd.from_pandas(df, npartitions=4), fam, 2, **kw)
    assert mem.converged and dist.converged
    _same_fit(mem, dist)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(dist.mixing_bse.to_numpy(), mem.mixing_bse.to_numpy(), rtol=1e-5)
    labels = [line.split()[0] for line in str(dist.summary()).splitlines() if line.split()]
    assert labels == [line.split()[0] for line in str(mem.summary()).splitlines() if line.split()]


def test_inverse_gaussian_concomitant(client) -> None:
    df = _frame(seed=3)
    kw = dict(concomitant="~ z", tol=1e-10, se=None, start=_start([0.1, 0.1]))
    fam = sm.families.InverseGaussian(LOG)
    mem = emglm.em_glm("yi ~ x", df, fam, 2, **kw)
    dist = emglm.em_glm("yi ~ x", dd.from_pandas(df, npartitions=5), fam, 2, **kw)
    assert mem.converged and dist.converged
    _same_fit(mem, dist)


@pytest.mark.filterwarnings("ignore::emglm.ConvergenceWarning")
@pytest.mark.parametrize(
    ("response", "family", "extra"),
    [
        ("yn", "negbin", {"offset": "off", "se": "louis"}),
        ("yg", GammaSubclass(LOG), {"weights": "w", "se": None}),
    ],
)
def test_lockstep_families_take_the_in_memory_iterates(client, response, family, extra) -> None:
    # Each M-step's dispersion update takes a pass per trial point here (about 20 for
    # NB2), so the fits stop after a few EM iterations: both the same iterates.
    df = _frame(seed=5)
    kw = dict(max_iter=5, start=_start([0.3, 0.3]), **extra)
    formula = f"{response} ~ x"
    mem = emglm.em_glm(formula, df, family, 2, **kw)
    dist = emglm.em_glm(formula, dd.from_pandas(df, npartitions=4), family, 2, **kw)
    assert mem.n_iter == dist.n_iter == 5
    _same_fit(mem, dist)
    if extra["se"] == "louis":
        np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=1e-5)


def _shared_start() -> MixtureParams:
    """Coefficients of (Intercept, x, z), z's shared; equal mixing; dispersions 0.3."""
    coef = np.array([[2.0, 0.3, 0.05], [0.3, -0.2, 0.05]])
    group = np.zeros(2, dtype=np.intp)
    return MixtureParams(SharedParams(coef, np.array([0.3, 0.3]), group), np.zeros((1, 2)))


def test_gamma_fixed_and_equal_scale(client) -> None:
    # Shared coefficients: the common dispersion from the summed sums of all components.
    df = _frame(seed=6)
    start = _shared_start()
    kw = dict(fixed="~ z", equal_scale=True, weights="w", tol=1e-10, start=start)
    fam = sm.families.Gamma(LOG)
    mem = emglm.em_glm("yg ~ x", df, fam, 2, **kw)
    dist = emglm.em_glm("yg ~ x", dd.from_pandas(df, npartitions=4), fam, 2, **kw)
    assert mem.converged and dist.converged
    assert dist.scale.iloc[0] == dist.scale.iloc[1]
    _same_fit(mem, dist)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=1e-5)


@pytest.mark.filterwarnings("ignore::emglm.ConvergenceWarning")
def test_negbin_fixed_each_its_own_alpha(client) -> None:
    df = _frame(seed=7)
    start = _shared_start()
    kw = dict(fixed="~ z", offset="off", max_iter=4, se=None, start=start)
    mem = emglm.em_glm("yn ~ x", df, "negbin", 2, **kw)
    dist = emglm.em_glm("yn ~ x", dd.from_pandas(df, npartitions=4), "negbin", 2, **kw)
    assert mem.n_iter == dist.n_iter == 4
    assert abs(dist.scale.iloc[0] / dist.scale.iloc[1] - 1) > 0.1
    _same_fit(mem, dist)


def test_gamma_grouped_observations(client) -> None:
    # y ~ x | id: each group's rows share one component; partitions hold whole groups.
    rng = np.random.default_rng(8)
    n_groups, size = 300, 5
    lab = np.repeat(rng.random(n_groups) < 0.4, size)
    x = rng.normal(size=n_groups * size)
    mu = np.exp(np.where(lab, 2.0 + 0.5 * x, 0.2 - 0.4 * x))
    shape = np.where(lab, 6.0, 2.0)
    df = pd.DataFrame({"y": rng.gamma(shape, mu / shape), "x": x,
                       "id": np.repeat(np.arange(n_groups), size)})  # fmt: skip
    ddf = dd.from_pandas(df, npartitions=4)  # 1500 rows: 375 each, whole groups of 5
    kw = dict(tol=1e-10, se=None, start=_start([0.3, 0.3]))
    fam = sm.families.Gamma(LOG)
    mem = emglm.em_glm("y ~ x | id", df, fam, 2, **kw)
    dist = emglm.em_glm("y ~ x | id", ddf, fam, 2, **kw)
    assert mem.converged and dist.converged
    _same_fit(mem, dist)
