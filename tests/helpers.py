"""Small constructors for tests that drive the engine directly (below the formula level)."""

from __future__ import annotations

import numpy as np

from emglm.components.glm import GLMComponents, GLMParams
from emglm.data.arrays import MixtureData
from emglm.engine.em import MixtureModel, MixtureParams
from emglm.families import get_family


def glm_model(family, data: MixtureData, names=None) -> MixtureModel:
    """The GLM mixture model of ``data`` (design columns named x0, x1, ... by default)."""
    fam = get_family(family)
    if names is None:
        names = [f"x{j}" for j in range(data.X.shape[1])]
    return MixtureModel.for_data(GLMComponents(fam, tuple(names)), data)


def glm_params(coef, scale, gamma) -> MixtureParams:
    """Mixture parameters of GLM components."""
    return MixtureParams(
        GLMParams(np.asarray(coef, dtype=float), np.asarray(scale, dtype=float)),
        np.asarray(gamma, dtype=float),
    )


def poisson_regressions(n: int, seed: int, coef, x_scale: float = 1.0, keep: float = 0.7):
    """Data of a mixture of Poisson regressions on an intercept and normal covariates
    (times ``x_scale``), rows drawn to the components equally, and starting posteriors
    from the true labels with a share ``1 - keep`` of them drawn again at random."""
    coef = np.asarray(coef, dtype=float)
    n_comp, p = coef.shape
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), x_scale * rng.normal(size=(n, p - 1))])
    lab = rng.integers(0, n_comp, size=n)
    y = rng.poisson(np.exp(np.einsum("ij,ij->i", X, coef[lab]))).astype(float)
    start = np.where(rng.random(n) < keep, lab, rng.integers(0, n_comp, size=n))
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    return data, np.eye(n_comp)[start]


def two_gaussian_lines(n: int, seed: int, coef, sd, keep: float = 0.7):
    """Data of two Gaussian regression lines (intercept and one normal covariate) with
    standard deviations ``sd``, and starting posteriors from the true labels with a share
    ``1 - keep`` of them switched to the other line."""
    coef, sd = np.asarray(coef, dtype=float), np.asarray(sd, dtype=float)
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    lab = rng.integers(0, 2, size=n)
    y = np.einsum("ij,ij->i", X, coef[lab]) + sd[lab] * rng.normal(size=n)
    start = np.where(rng.random(n) < keep, lab, 1 - lab)
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    return data, np.eye(2)[start]
