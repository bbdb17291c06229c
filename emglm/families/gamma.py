"""Gamma components: the generic density of statsmodels, a positive response, a simulator."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf

from emglm.exceptions import InputError
from emglm.families.base import Array, Family, check_spread, register_family, show_values


def check_positive(y: Array, label: str, name: str) -> None:
    """Refuse a response that is not positive in every row."""
    if (y <= 0).any():
        raise InputError(
            f"{name} response {label!r} must be positive; found {show_values(y[y <= 0])}"
        )


class GammaFamily(Family):
    """Gamma responses; ``scale`` is the dispersion (squared coefficient of variation)."""

    sm_class = smf.Gamma

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        shape = 1.0 / np.asarray(scale)
        return rng.gamma(shape, mu / shape)

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_positive(y, label, self.name)
        check_spread(y, label, self.name)


register_family(GammaFamily, ("gamma",))
