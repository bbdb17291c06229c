"""What is fitted, and its E-step: a component-model driver and a mixing model
(:class:`MixtureModel`), and the pass over the rows that gives the posteriors and the
observed-data log-likelihood. Kept apart from the EM loop (:mod:`emglm.engine.em`) so that
the loop's helpers (:mod:`emglm.engine.newton`) build on it without importing the loop.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from emglm.components.base import ComponentModel, EStep, e_step_from_log_densities
from emglm.data.arrays import MixtureData
from emglm.engine.state import MixtureParams
from emglm.mixing import ConstantMixing, mixing_model

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MixtureModel:
    """What is fitted: a component model (a driver of
    :class:`~emglm.components.base.ComponentModel`) and a mixing model, chosen once."""

    components: ComponentModel
    mixing: ConstantMixing

    @classmethod
    def for_data(cls, components: ComponentModel, data: MixtureData) -> MixtureModel:
        """The model with the mixing model that ``data``'s concomitant design calls for."""
        return cls(components, mixing_model(data.Z))

    def n_params(self, n_comp: int, q: int) -> int:
        """Free parameters of a fit with ``n_comp`` components (flexmix's ``df``): the
        component model's and the mixing model's, each counted by its own model."""
        return self.components.n_params(n_comp) + self.mixing.n_params(q, n_comp)

    def pack(self, params: MixtureParams) -> Array:
        """All free parameters as one vector: the components', then the mixing logits."""
        return np.concatenate(
            [self.components.pack(params.components), self.mixing.pack(params.gamma)]
        )

    def unpack(self, data: MixtureData, vec: Array, like: MixtureParams) -> MixtureParams:
        """Inverse of :meth:`pack`, shaped like ``like``."""
        size = self.components.pack(like.components).shape[0]
        comp = self.components.unpack(data, vec[:size], like.components)
        gamma = self.mixing.unpack(vec[size:], like.gamma.shape[0], like.n_components)
        return MixtureParams(comp, gamma)

    def take(self, params: MixtureParams, keep: Any) -> MixtureParams:
        """The parameters of some components (a mask drops, indices reorder)."""
        return MixtureParams(
            self.components.take(params.components, keep), self.mixing.take(params.gamma, keep)
        )

    def log_prior(self, data: MixtureData, params: MixtureParams) -> Array:
        """Log prior probabilities of every unit (row, or group), (units, K) or (1, K)."""
        return self.mixing.log_prior(data.unit_Z, params.gamma)


def e_step(data: MixtureData, model: MixtureModel, params: MixtureParams) -> tuple[float, Array]:
    """Observed-data log-likelihood and posterior probabilities (n, K), in one pass."""
    out = e_step_pass(data, model, params, linearise=False)
    return out.llf, out.posterior


def e_step_pass(
    data: MixtureData, model: MixtureModel, params: MixtureParams, linearise: bool
) -> EStep:
    """The component model's E-step pass at ``params``; with ``linearise`` the driver may
    also prepare the next M-step from the same pass (the fused pass). With groups, the
    log-densities of a group's rows are summed first
    (:func:`~emglm.components.base.e_step_from_log_densities`)."""
    log_prior = model.log_prior(data, params)
    if data.groups is not None:
        log_dens = model.components.log_densities(data, params.components)
        return e_step_from_log_densities(data, log_dens, log_prior)
    return model.components.e_step(data, params.components, log_prior, linearise)
