"""Shared coefficients (fixed=, nested=, equal_scale=True) on a Dask DataFrame equal the
in-memory fits, on a real ``distributed.LocalCluster`` with two worker processes started
and stopped here."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

import statsmodels.api as sm  # noqa: E402
from dask_checks import (  # noqa: E402
    BSE_RTOL,
    LLF_RTOL,
    PARAM_ATOL,
    assert_same_criteria,
    assert_same_estimates,
    summary_labels,
)

import emglm  # noqa: E402
from emglm.cluster import shared_steps  # noqa: E402
from emglm.components.shared import SharedParams  # noqa: E402
from emglm.engine.em import MixtureParams  # noqa: E402
from emglm.exceptions import InputError  # noqa: E402


def _frame(n: int = 2000, seed: int = 3) -> pd.DataFrame:
    """Two latent classes (prior depending on ``c``) for the count and binomial responses,
    three for ``yg`` (the first two share the coefficient of ``x1``); ``z`` acts alike in
    every class."""
    rng = np.random.default_rng(seed)
    x, z, x1, c = rng.normal(size=(4, n))
    two = rng.random(n) < 1 / (1 + np.exp(-1.2 * c))
    three = rng.integers(0, 3, n)
    expo = rng.uniform(0.5, 2.0, n)
    eta = np.where(two, 2.0 + 0.5 * x, -0.3 - 0.5 * x) + 0.3 * z + np.log(expo)
    trials = rng.integers(2, 9, n)
    p = 1 / (1 + np.exp(-(np.where(two, 1.0 + x, -1.0 - 0.5 * x) + 0.4 * z)))
    succ = rng.binomial(trials, p)
    mean3 = np.choose(three, [2.0 + x, -1.0 - x, 0.5 * x]) + 0.8 * x1 * (three < 2) + 0.5 * z
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(eta)),
            "yg": mean3 + rng.normal(0, 0.7, n),
            "ypos": np.abs(
                np.exp(np.where(two, 1.5 + 0.3 * x, 0.5 - 0.2 * x) + 0.2 * z)
                + rng.normal(0, 0.3, n)
            ),
            "succ": succ,
            "fail": trials - succ,
            "x": x,
            "z": z,
            "x1": x1,
            "c": c,
            "expo": expo,
            "w": rng.integers(1, 4, n).astype(float),
        }
    )


def _start(coef, gamma, scale=None, group=None) -> MixtureParams:
    coef = np.asarray(coef, dtype=float)
    n_comp = coef.shape[0]
    scale = np.ones(n_comp) if scale is None else np.asarray(scale, dtype=float)
    group = np.zeros(n_comp, dtype=np.intp) if group is None else np.asarray(group, np.intp)
    return MixtureParams(SharedParams(coef, scale, group), np.asarray(gamma, dtype=float))


def _groups(res) -> np.ndarray:
    """The nested group of each fitted component."""
    return res.record.mixture.components.groups_of(res.em.params.components)


def _same_fit(mem, dist) -> None:
    assert_same_estimates(mem, dist)
    assert_same_criteria(mem, dist, ("aic", "bic", "icl", "clogl"))
    np.testing.assert_allclose(dist.mixing.to_numpy(), mem.mixing.to_numpy(), atol=PARAM_ATOL)
    # The shared parameters are counted and named once, by their owner.
    model = dist.record.mixture
    names = model.components.param_names(dist.K)
    assert names == mem.record.mixture.components.param_names(mem.K)
    assert summary_labels(dist) == summary_labels(mem)


def test_poisson_fixed_exposure_weights_concomitant(client) -> None:
    df = _frame()
    kw = dict(
        fixed="~ z", exposure="expo", weights="w", concomitant="~ c", tol=1e-10,
        start=_start([[1.9, 0.4, 0.25], [-0.2, -0.4, 0.25]], [[0.0, 0.0], [0.0, -1.0]]),
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x", dd.from_pandas(df, npartitions=4), "poisson", 2, **kw)
    _same_fit(mem, dist)
    assert dist.params.loc["z", "comp1"] == dist.params.loc["z", "comp2"]
    assert dist.k_params == 2 * 2 + 1 + 2  # own coefficients, z once, the mixing logits
    # Louis' standard errors: the driver's chain rule, summed over partitions.
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
    np.testing.assert_allclose(dist.mixing_bse.to_numpy(), mem.mixing_bse.to_numpy(), rtol=BSE_RTOL)
    tidy, ref = dist.estimates(), mem.estimates()
    pd.testing.assert_frame_equal(tidy, ref, rtol=BSE_RTOL)
    shared = tidy[(tidy.component == "shared") & (tidy.term == "z")]
    assert len(shared) == 1 and shared.std_err.iloc[0] > 0
    text = str(dist.summary())
    assert "Shared by all components" in text
    comp_table = text.split("Component comp1")[1].split("Component comp2")[0]
    assert "\nIntercept " in comp_table and "\nz " not in comp_table
    # Per-row outputs are the in-memory ones.
    pd.testing.assert_frame_equal(dist.posterior.compute(), mem.posterior, atol=1e-6)


def test_gaussian_nested_and_one_variance(client) -> None:
    # Closed-form least squares on the joint normal equations, then the common variance:
    # the residual sums of squares of every component over the total weight.
    df = _frame(seed=4)
    kw = dict(
        fixed="~ z", nested=[(2, "~ x1"), (1, "~ 0")], equal_scale=True, weights="w",
        tol=1e-10,
        start=_start([[1.8, 0.9, 0.4, 0.7], [-0.8, -0.9, 0.4, 0.7], [0.1, 0.4, 0.4, 0.0]],
                     [[0.0, 0.0, 0.0]], np.full(3, 0.8), [0, 0, 1]),
    )  # fmt: skip
    mem = emglm.em_glm("yg ~ x", df, "gaussian", 3, **kw)
    dist = emglm.em_glm("yg ~ x", dd.from_pandas(df, npartitions=5), "gaussian", 3, **kw)
    _same_fit(mem, dist)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
    scale = dist.scale.to_numpy()
    assert np.all(scale == scale[0]) and scale[0] == pytest.approx(0.49, rel=0.1)
    groups = _groups(dist)
    assert groups.tolist() == _groups(mem).tolist()
    members = [f"comp{k + 1}" for k in np.flatnonzero(groups == 0)]
    text = str(dist.summary())
    assert f"Shared by nested group 1 ({', '.join(members)})" in text
    lone = dist.component_names[int(np.flatnonzero(groups == 1)[0])]
    assert dist.params.loc["x1", lone] == 0.0
    disp = text.split("Dispersion (sigma = sqrt(scale))")[1]
    assert "\nshared " in disp and "\ncomp1 " not in disp


def test_binomial_fixed(client) -> None:
    # No dispersion: the last IRLS check pass is also the next E-step (the fused pass).
    df = _frame(seed=5)
    kw = dict(
        fixed="~ z", tol=1e-10, se=None,
        start=_start([[0.8, 0.8, 0.3], [-0.8, -0.4, 0.3]], [[0.0, 0.0]]),
    )  # fmt: skip
    formula = "cbind(succ, fail) ~ x"
    mem = emglm.em_glm(formula, df, "binomial", 2, **kw)
    dist = emglm.em_glm(formula, dd.from_pandas(df, npartitions=4), "binomial", 2, **kw)
    _same_fit(mem, dist)
    # About two passes per EM iteration (the E-step pass forms the first linearisation,
    # the check pass the next E-step), not three.
    assert dist.n_passes <= 3 * dist.n_iter


def test_gaussian_log_link_own_variances(client) -> None:
    # IRLS with a dispersion: the joint equations weigh each component by 1 / sigma_k^2,
    # then every component's own variance from its residual sum of squares.
    df = _frame(seed=6)
    family = sm.families.Gaussian(sm.families.links.Log())
    kw = dict(
        fixed="~ z", tol=1e-10, se=None,
        start=_start([[1.4, 0.3, 0.2], [0.6, -0.2, 0.2]], [[0.0, 0.0]], [0.1, 0.1]),
    )  # fmt: skip
    mem = emglm.em_glm("ypos ~ x", df, family, 2, **kw)
    dist = emglm.em_glm("ypos ~ x", dd.from_pandas(df, npartitions=4), family, 2, **kw)
    _same_fit(mem, dist)
    assert dist.scale.iloc[0] != dist.scale.iloc[1]


def test_start_from_the_warm_up_and_a_drop(client) -> None:
    df = _frame(n=1200, seed=7)
    ddf = dd.from_pandas(df, npartitions=4)
    # No start: the warm-up runs in memory on the sample (here every partition) and makes
    # shared parameters; the long run on the partitions reaches the in-memory optimum.
    kw = dict(fixed="~ z", nested=[(1, "~ x1"), (1, "~ 0")], tol=1e-10, se=None,
              random_state=0, n_starts=3)  # fmt: skip
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x", ddf, "poisson", 2, **kw)
    assert dist.warmup is not None and isinstance(dist.em.params.components, SharedParams)
    assert abs(dist.llf - mem.llf) <= LLF_RTOL * abs(mem.llf)
    np.testing.assert_allclose(dist.params.to_numpy(), mem.params.to_numpy(), atol=1e-5)
    # A component without weight is dropped at the first iteration (minprior), with its
    # nested group; the others keep theirs.
    start = _start([[1.9, 0.5, 0.3, 0.1], [-0.3, -0.5, 0.3, 0.0], [5.0, 0.0, 0.3, 0.0]],
                   [[0.0, 0.0, -12.0]], group=[0, 1, 1])  # fmt: skip
    kw = dict(fixed="~ z", nested=[(1, "~ x1"), (2, "~ 0")], tol=1e-10, se=None, start=start)
    with pytest.warns(emglm.DegenerateComponentWarning, match="1 of 3 components were dropped"):
        mem = emglm.em_glm("y ~ x", df, "poisson", 3, **kw)
    with pytest.warns(emglm.DegenerateComponentWarning, match="1 of 3 components were dropped"):
        dist = emglm.em_glm("y ~ x", ddf, "poisson", 3, **kw)
    _same_fit(mem, dist)
    assert dist.drops.component.tolist() == mem.drops.component.tolist() == [3]
    pd.testing.assert_frame_equal(dist.drops, mem.drops, rtol=1e-8)
    assert _groups(dist).tolist() == _groups(mem).tolist() == [1, 0]  # canonical order


def test_bad_sharing_is_refused(client) -> None:
    df = _frame(n=300)
    ddf = dd.from_pandas(df, npartitions=2)
    # Bad sharing is refused before any data are read, with the in-memory message.
    with pytest.raises(InputError, match="the poisson family has no dispersion"):
        emglm.em_glm("y ~ x", ddf, "poisson", 2, equal_scale=True)
    with pytest.raises(InputError, match="the fixed term 'x' is also in the main formula"):
        emglm.em_glm("y ~ x", ddf, "poisson", 2, fixed="~ x")
    plain = emglm.EMGLM.from_formula("y ~ x", df, "poisson", 2)
    assert shared_steps.driver_of(plain.mixture) is None
