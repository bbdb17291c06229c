"""What the Dask test files check alike: a fit on partitions equals the in-memory fit from
the same start, within the tolerances the partitions' summation order allows."""

from __future__ import annotations

import numpy as np
import pytest

from emglm.components.glm import GLMParams
from emglm.engine.em import MixtureParams

LLF_RTOL = 1e-8
PARAM_ATOL = 1e-6
BSE_RTOL = 1e-5


def glm_start(coef, gamma, scale=None) -> MixtureParams:
    """Start of GLM components: coefficients (K, p), mixing logits, dispersions (default 1)."""
    coef = np.asarray(coef, dtype=float)
    scale = np.ones(coef.shape[0]) if scale is None else np.asarray(scale, dtype=float)
    return MixtureParams(GLMParams(coef, scale), np.asarray(gamma, dtype=float))


def assert_same_estimates(mem, dist) -> None:
    """llf, coefficients, mixing coefficients, dispersions and the counts of both fits."""
    assert abs(dist.llf - mem.llf) <= LLF_RTOL * abs(mem.llf)
    np.testing.assert_allclose(dist.params.to_numpy(), mem.params.to_numpy(), atol=PARAM_ATOL)
    np.testing.assert_allclose(
        dist.mixing_params.to_numpy(), mem.mixing_params.to_numpy(), atol=PARAM_ATOL
    )
    np.testing.assert_allclose(dist.scale.to_numpy(), mem.scale.to_numpy(), rtol=PARAM_ATOL)
    assert dist.nobs == mem.nobs and dist.k_params == mem.k_params


def assert_same_criteria(mem, dist, names: tuple[str, ...]) -> None:
    """The information criteria ``names`` of both fits, to 1e-8."""
    for name in names:
        assert getattr(dist, name) == pytest.approx(getattr(mem, name), rel=1e-8), name


def summary_labels(res) -> list[str]:
    """The first word of every line of the summary: its rows and tables, in order."""
    return [line.split()[0] for line in str(res.summary()).splitlines() if line.split()]
