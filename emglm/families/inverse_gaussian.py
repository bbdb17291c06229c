"""Inverse Gaussian components: the generic density of statsmodels, a positive response."""

from __future__ import annotations

import statsmodels.genmod.families as smf

from emglm.families.base import Array, Family, check_spread, register_family
from emglm.families.gamma import check_positive


class InverseGaussianFamily(Family):
    """Inverse Gaussian responses; ``scale`` is the dispersion ``lambda**-1``."""

    sm_class = smf.InverseGaussian

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_positive(y, label, self.name)
        check_spread(y, label, self.name)


register_family(InverseGaussianFamily, ("inverse_gaussian", "inversegaussian"))
