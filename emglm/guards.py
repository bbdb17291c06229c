"""Guards against degenerate mixtures: checks before fitting and diagnoses after it.

Before fitting, :func:`check_enough_data` refuses a K that the data cannot support: every
component must keep at least as much weight as its GLM has parameters (the drop rule of
:func:`emglm.em._drop_degenerate`), so ``nobs >= K * need``.

After fitting, two unbounded-likelihood situations are diagnosed (the fit is kept, and the
model warns):

* :func:`collapsed_variances`: a Gaussian (or other dispersion) component whose variance
  reached the floor :func:`emglm.em.scale_floor` -- it sits on a few (nearly) equal
  responses, where the likelihood is unbounded, so the fit is a spurious maximum;
* :func:`separated_components`: a binomial component with fitted probabilities numerically
  0 or 1 at rows it holds (R's ``glm.fit`` rule) -- it separates its rows perfectly, its
  coefficients have no finite maximum-likelihood estimate and stop where EM stopped.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from emglm import em
from emglm.families import Family

Array = NDArray[np.float64]

#: Fitted probabilities closer than this to 0 or 1 count as numerically 0 or 1.
SEPARATION_EPS = 1e-10
#: A variance within this relative distance of the floor sits on it.
_FLOOR_RTOL = 1e-6


def params_per_component(family: Family, p: int) -> int:
    """What one component GLM needs: its ``p`` coefficients, plus one for a dispersion."""
    return p + (1 if family.has_scale else 0)


def check_enough_data(nobs: float, p: int, family: Family, n_comp: int) -> str | None:
    """Why ``n_comp`` components cannot be fitted to ``nobs`` observations, or ``None``.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> print(check_enough_data(5.0, 3, get_family("poisson"), 2))
    K=2 components need at least K x 3 = 6 observations (each component's GLM has 3
    coefficients); the data have nobs=5
    >>> check_enough_data(6.0, 3, get_family("poisson"), 2) is None
    True
    """
    need = params_per_component(family, p)
    if nobs >= n_comp * need:
        return None
    what = f"{p} coefficient{'s' if p != 1 else ''}" + (
        " and a dispersion" if family.has_scale else ""
    )
    return (
        f"K={n_comp} components need at least K x {need} = {n_comp * need} observations "
        f"(each component's GLM has {what}); the data have nobs={nobs:g}"
    )


def collapsed_variances(
    data: em.MixtureData, family: Family, params: em.MixtureParams
) -> NDArray[np.intp]:
    """Indices of the components whose dispersion sits on :func:`emglm.em.scale_floor`."""
    floor = em.scale_floor(data, family)
    if not family.has_scale or not family.dispersion_can_collapse or floor <= 0:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(params.scale <= floor * (1.0 + _FLOOR_RTOL))


def separated_components(
    data: em.MixtureData, family: Family, params: em.MixtureParams, posterior: Array
) -> list[tuple[int, int]]:
    """Components of a family whose means can reach their bounds (binomial) with fitted
    probabilities numerically 0 or 1 at rows they hold.

    A row is held by component k when its posterior for k is at least 1/2 and its case
    weight is positive. Returns ``(k, number of such rows)`` for every flagged component.
    """
    if not family.can_separate:
        return []
    mu = family.linkinv(data.X @ params.coef.T + data.offset[:, None])
    extreme = (mu <= SEPARATION_EPS) | (mu >= 1.0 - SEPARATION_EPS)
    held = (posterior >= 0.5) & (data.weights[:, None] > 0)
    counts = np.sum(extreme & held, axis=0)
    return [(int(k), int(counts[k])) for k in np.flatnonzero(counts)]
