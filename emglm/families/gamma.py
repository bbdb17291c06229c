"""Gamma components: the generic density of statsmodels, a positive response, a simulator."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf
from scipy import special

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

    def dispersion_sums(self, y: Array, mu: Array, w: Array, trials: Array) -> Array:
        """``sum w``, ``sum w (log c - c)`` and ``sum w log y`` with ``c = y / mu`` (kept
        above machine epsilon as statsmodels' density does), per column of ``w``. The rows
        of a gamma response are single observations (``trials`` are 1)."""
        c = self.sm_family._clean(y[:, None] / mu)
        return np.column_stack(
            [w.sum(axis=0), np.sum(w * (np.log(c) - c), axis=0), w.T @ np.log(y)]
        )

    def loglik_from_sums(self, sums: Array, scale: float) -> float:
        """With shape ``a = 1 / scale``: ``W (a log a - lgamma(a)) + a A - B`` for the sums
        ``(W, A, B)`` of :meth:`dispersion_sums` (statsmodels' density, summed)."""
        a = 1.0 / scale
        total, resid, log_y = sums
        return float(total * (a * np.log(a) - special.gammaln(a)) + a * resid - log_y)

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        shape = 1.0 / np.asarray(scale)
        return rng.gamma(shape, mu / shape)

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_positive(y, label, self.name)
        check_spread(y, label, self.name)


register_family(GammaFamily, ("gamma",))
