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
