"""Zero inflation (a point mass at zero beside the GLM components, ``zero_inflated=True``)
on a Dask DataFrame equals the in-memory zero-inflated fit from the same start, on a real
``distributed.LocalCluster`` with two worker processes: Poisson with exposure, case
weights and a concomitant model, binomial, negative binomial (its dispersion search over
partitions), grouped observations and shared coefficients; a dropped point mass leaves the
in-memory plain GLM mixture."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from dask_checks import (  # noqa: E402
    BSE_RTOL,
    PARAM_ATOL,
    assert_same_criteria,
    assert_same_estimates,
    glm_start,
    summary_labels,
)

import emglm  # noqa: E402
from emglm.components.shared import SharedParams  # noqa: E402
from emglm.components.zero_inflated import ZIParams  # noqa: E402
from emglm.engine.em import MixtureParams  # noqa: E402
from emglm.exceptions import DegenerateComponentWarning, InputError, InputTypeError  # noqa: E402


def _frame(n: int = 1200, seed: int = 0) -> pd.DataFrame:
    """Structural zeros (their share driven by ``z``) beside two Poisson / NB2 classes;
    an exposure, integer case weights, binomial successes of 4 trials, groups of 3 rows."""
    rng = np.random.default_rng(seed)
    x, z = rng.normal(size=n), rng.normal(size=n)
    expo = rng.uniform(0.5, 2.0, n)
    zero = rng.random(n) < 1 / (1 + np.exp(1.0 - 0.8 * z))
    lab = rng.random(n) < 0.5
    mu = expo * np.exp(np.where(lab, 1.5 + 0.4 * x, 0.2 - 0.5 * x))
    p = 1 / (1 + np.exp(-np.where(lab, 1.0 + 0.8 * x, -0.8 - 0.4 * x)))
    gid = np.arange(n) // 3
    gzero = (rng.random(gid.max() + 1) < 0.3)[gid]
    return pd.DataFrame(
        {
            "y": np.where(zero, 0, rng.poisson(mu)),
            "yn": np.where(zero, 0, rng.poisson(rng.gamma(2.0, mu / 2.0))),
            "succ": np.where(zero, 0, rng.binomial(4, p)),
            "fail": 0,
            "yg": np.where(gzero, 0, rng.poisson(np.exp(np.where(lab, 1.2, 0.1) + 0.3 * x))),
            "x": x,
            "z": z,
            "expo": expo,
            "w": rng.integers(1, 4, n).astype(float),
            "id": gid,
        }
    ).assign(fail=lambda d: 4 - d.succ)


def _start(coef, gamma, scale=None) -> MixtureParams:
    """The point mass and the GLM components' coefficients (K, p) and dispersions."""
    glm = glm_start(coef, gamma, scale)
    return MixtureParams(ZIParams(glm.components, True), glm.gamma)


def _same_fit(mem, dist) -> None:
    assert_same_estimates(mem, dist)
    assert dist.component_names == mem.component_names
    assert list(dist.params.columns) == list(mem.params.columns)
    pd.testing.assert_series_equal(dist.mixing, mem.mixing, atol=PARAM_ATOL)
    assert_same_criteria(mem, dist, ("aic", "bic", "icl", "clogl"))
    pd.testing.assert_frame_equal(dist.cluster_table(), mem.cluster_table(), atol=1e-6)
    assert summary_labels(dist) == summary_labels(mem)


def test_poisson_exposure_weights_concomitant_and_louis(client) -> None:
    df = _frame()
    kw = dict(
        exposure="expo", weights="w", concomitant="~ z", tol=1e-10,
        start=_start([[1.4, 0.3], [0.3, -0.4]], [[0.0, 0.5, 0.5], [0.0, -0.5, -0.5]]),
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, zero_inflated=True, **kw)
    ddf = dd.from_pandas(df, npartitions=4)
    dist = emglm.em_glm("y ~ x", ddf, "poisson", 2, zero_inflated=True, **kw)
    assert mem.converged and dist.converged
    assert dist.component_names == ["zero", "comp2", "comp3"]
    assert list(dist.mixing.index) == ["zero", "comp2", "comp3"]
    assert 0.2 < dist.mixing["zero"] < 0.5
    _same_fit(mem, dist)
    # Louis' standard errors over partitions: the point mass has no parameters.
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
    np.testing.assert_allclose(dist.mixing_bse.to_numpy(), mem.mixing_bse.to_numpy(), rtol=BSE_RTOL)
    assert dist.k_params == 2 * 2 + 2 * 2  # GLM coefficients, the mixing logits
    # Per-row outputs, with the point mass's column, are the in-memory ones.
    post = dist.posterior.compute()
    assert list(post.columns) == ["zero", "comp2", "comp3"]
    pd.testing.assert_frame_equal(post, mem.posterior, atol=1e-6)
    assert (post.loc[df.y > 0, "zero"] == 0).all()
    pd.testing.assert_series_equal(dist.classes.compute(), mem.classes)


def test_binomial_with_a_partition_of_zeros(client) -> None:
    # Sorted by the response, the first partition holds only zeros (and the results'
    # probe rows too): a partition is checked beside rows of the sample, not alone.
    df = _frame(seed=1).sort_values("succ", kind="stable").reset_index(drop=True)
    kw = dict(tol=1e-10, se=None,
              start=_start([[0.9, 0.7], [-0.7, -0.3]], [[0.0, 0.3, 0.3]]))  # fmt: skip
    formula = "cbind(succ, fail) ~ x"
    mem = emglm.em_glm(formula, df, "binomial", 2, zero_inflated=True, **kw)
    ddf = dd.from_pandas(df, npartitions=3)
    assert (ddf.partitions[0].compute().succ == 0).all()
    dist = emglm.em_glm(formula, ddf, "binomial", 2, zero_inflated=True, **kw)
    assert mem.converged and dist.converged
    _same_fit(mem, dist)
    pd.testing.assert_frame_equal(dist.posterior.compute(), mem.posterior, atol=1e-6)


@pytest.mark.filterwarnings("ignore::emglm.ConvergenceWarning")
def test_negbin_dispersion_over_partitions(client) -> None:
    # Each M-step's alpha search takes a pass per trial point: a few EM iterations only.
    df = _frame(seed=2)
    kw = dict(exposure="expo", max_iter=4, se=None,
              start=_start([[1.4, 0.3], [0.3, -0.4]], [[0.0, 0.3, 0.3]], [0.4, 0.4]))  # fmt: skip
    mem = emglm.em_glm("yn ~ x", df, "negbin", 2, zero_inflated=True, **kw)
    dist = emglm.em_glm("yn ~ x", dd.from_pandas(df, npartitions=4), "negbin", 2,
                        zero_inflated=True, **kw)  # fmt: skip
    assert mem.n_iter == dist.n_iter == 4
    assert abs(dist.scale.iloc[0] / 0.4 - 1) > 1e-3  # the dispersions moved
    _same_fit(mem, dist)


def test_grouped_observations(client) -> None:
    df = _frame(seed=3)
    kw = dict(tol=1e-10, start=_start([[1.2, 0.3], [0.1, 0.3]], [[0.0, 0.5, 0.5]]))
    mem = emglm.em_glm("yg ~ x | id", df, "poisson", 2, zero_inflated=True, **kw)
    cuts = np.array_split(df["id"].unique(), 3)
    ddf = dd.concat([dd.from_pandas(df[df["id"].isin(c)], npartitions=1) for c in cuts])
    dist = emglm.em_glm("yg ~ x | id", ddf, "poisson", 2, zero_inflated=True, **kw)
    _same_fit(mem, dist)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
    pd.testing.assert_frame_equal(dist.posterior.compute(), mem.posterior, atol=1e-6)


def test_shared_coefficients(client) -> None:
    df = _frame(seed=4)
    group = np.zeros(2, dtype=np.intp)
    comp = SharedParams(np.array([[1.4, 0.3, 0.1], [0.3, -0.4, 0.1]]), np.ones(2), group)
    start = MixtureParams(ZIParams(comp, True), np.array([[0.0, 0.3, 0.3]]))
    kw = dict(fixed="~ z", exposure="expo", tol=1e-10, se=None, start=start)
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, zero_inflated=True, **kw)
    dist = emglm.em_glm("y ~ x", dd.from_pandas(df, npartitions=4), "poisson", 2,
                        zero_inflated=True, **kw)  # fmt: skip
    _same_fit(mem, dist)
    assert dist.params.loc["z", "comp2"] == dist.params.loc["z", "comp3"]


def test_dropped_point_mass_leaves_the_plain_glm_mixture(client) -> None:
    # Poisson data without inflation and a point mass that starts tiny: minprior drops it
    # at the first iteration, and the fit goes on as a plain Poisson GLM.
    rng = np.random.default_rng(4)
    x = rng.normal(size=600)
    df = pd.DataFrame({"y": rng.poisson(np.exp(1.5 + 0.3 * x)), "x": x})
    assert (df.y == 0).sum() > 0
    kw = dict(minprior=0.05, tol=1e-10, start=_start([[1.5, 0.3]], [[0.0, 6.0]]))
    fits = []
    for data in (df, dd.from_pandas(df, npartitions=3)):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fits.append(emglm.em_glm("y ~ x", data, "poisson", 1, zero_inflated=True, **kw))
        messages = [str(w.message) for w in caught if w.category is DegenerateComponentWarning]
        assert len(messages) == 1 and "dropped component 1 of 2" in messages[0]
    mem, dist = fits
    assert dist.component_names == mem.component_names == ["comp1"]
    assert dist.k_params == mem.k_params == 2
    _same_fit(mem, dist)
    assert dist.drops.component.tolist() == mem.drops.component.tolist() == [1]
    pd.testing.assert_frame_equal(dist.drops, mem.drops, rtol=1e-8)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
    plain = emglm.em_glm("y ~ x", df, "poisson", 1, tol=1e-10)
    assert dist.llf == pytest.approx(plain.llf, rel=1e-8)
    pd.testing.assert_frame_equal(dist.posterior.compute(), mem.posterior, atol=1e-6)


def test_bad_zero_inflation_is_refused_as_in_memory(client) -> None:
    df = _frame(n=300)
    ddf = dd.from_pandas(df.assign(yc=df.x + 5.0, y1=df.y + 1), npartitions=2)
    with pytest.raises(InputError, match="the gaussian family has none.*poisson, binomial, negbin"):
        emglm.em_glm("yc ~ x", ddf, "gaussian", 2, zero_inflated=True)
    with pytest.raises(InputError, match="zero_inflated=True but the response has no zeros"):
        emglm.em_glm("y1 ~ x", ddf, "poisson", 2, zero_inflated=True)
    with pytest.raises(InputTypeError, match="zero_inflated must be True or False; got str"):
        emglm.em_glm("y ~ x", ddf, "poisson", 2, zero_inflated="yes")
