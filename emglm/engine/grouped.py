"""The E-step of grouped observations (flexmix's ``groupPosteriors``).

With groups (:attr:`emglm.data.arrays.MixtureData.groups`) the log-densities of a group's
rows are summed before the posteriors are normalised, so all rows of a group share one
latent class: ``tau_gk ∝ pi_k(z_g) prod_{i in g} f_k(y_i)`` and
``llf = sum_g w_g log sum_k pi_k(z_g) prod_{i in g} f_k(y_i)``. This works for every
component model through its ``log_densities``; the fused pass of a driver is for
ungrouped rows only.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.components.base import normalise
from emglm.data.arrays import MixtureData

Array = NDArray[np.float64]


@dataclass(frozen=True)
class GroupedEStep:
    """The E-step of grouped data: llf and the posteriors repeated on each group's rows."""

    llf: float
    posterior: Array


def grouped_e_step(data: MixtureData, log_dens: Array, log_prior: Array) -> GroupedEStep:
    """The E-step from each row's component log-densities (n, K) and each group's log
    prior probabilities (G, K) or (1, K)."""
    norm, post = normalise(data.unit_sum(log_dens) + log_prior)
    llf = float(np.dot(data.unit_case_weights, norm))
    return GroupedEStep(llf, data.unit_rows(post))
