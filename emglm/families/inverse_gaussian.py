"""Inverse Gaussian components: the generic density of statsmodels, a positive response."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf

from emglm.families.base import Array, Family, check_spread, register_family
from emglm.families.gamma import check_positive


class InverseGaussianFamily(Family):
    """Inverse Gaussian responses; ``scale`` is the dispersion ``lambda**-1``."""

    sm_class = smf.InverseGaussian

    def dispersion_sums(self, y: Array, mu: Array, w: Array, trials: Array) -> Array:
        """``sum w``, ``sum w t (y - mu)**2 / (y mu**2)`` and ``sum w (log(y**3 / t) +
        log(2 pi))``, per column of ``w``."""
        y1, t1 = y[:, None], trials[:, None]
        dev = t1 * (y1 - mu) ** 2 / (y1 * mu**2)
        const = np.log(y**3 / trials) + np.log(2 * np.pi)
        return np.column_stack([w.sum(axis=0), np.sum(w * dev, axis=0), w.T @ const])

    def loglik_from_sums(self, sums: Array, scale: float) -> float:
        """``-(D / scale + W log(scale) + C) / 2`` for the sums ``(W, D, C)`` of
        :meth:`dispersion_sums` (statsmodels' density, summed)."""
        total, dev, const = sums
        return float(-0.5 * (dev / scale + total * np.log(scale) + const))

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_positive(y, label, self.name)
        check_spread(y, label, self.name)


register_family(InverseGaussianFamily, ("inverse_gaussian", "inversegaussian"))
