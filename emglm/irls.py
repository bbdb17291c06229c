"""Weighted IRLS for the component GLMs of one M-step.

Each component k is a GLM fitted with case weights ``w * tau[:, k]``. The fit is warm-started
from the previous coefficients and every accepted step is checked, with step-halving, so that
the component's weighted log-likelihood never decreases: that keeps EM monotone even when
only a few IRLS steps are taken per M-step (a generalised EM step). Gaussian components with
the identity link are solved in closed form by weighted least squares.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import linalg

from emglm.families import Family

Array = NDArray[np.float64]

_MAX_HALVINGS = 30
_TINY = 1e-300


@dataclass(frozen=True)
class ComponentData:
    """The solver inputs shared by every component: never modified."""

    y: Array
    X: Array
    offset: Array
    trials: Array


def weighted_gram(X: Array, wts: Array) -> Array:
    """``X' diag(wts) X`` through BLAS."""
    return (X.T * wts) @ X


def solve_normal(gram: Array, rhs: Array) -> Array:
    """Solve ``gram @ b = rhs``; least squares where ``gram`` is singular."""
    try:
        factor = linalg.cho_factor(gram, check_finite=False)
        return np.asarray(linalg.cho_solve(factor, rhs, check_finite=False))
    except (linalg.LinAlgError, ValueError):
        return np.asarray(np.linalg.lstsq(gram, rhs, rcond=None)[0])


def component_objective(
    data: ComponentData, family: Family, eta: Array, w: Array, scale: float
) -> float:
    """Weighted log-likelihood of one component at linear predictor ``eta``."""
    mu = family.linkinv(eta)
    return float(np.dot(w, family.loglik(data.y, mu, scale, data.trials)))


def fit_component(
    data: ComponentData,
    family: Family,
    w: Array,
    coef: Array | None,
    scale: float,
    max_iter: int,
    tol: float = 1e-10,
) -> tuple[Array, int]:
    """Weighted IRLS for one component GLM.

    Parameters
    ----------
    data : ComponentData
        Response, design, offset and binomial trials.
    family : Family
        The component family and link.
    w : ndarray, shape (n,)
        Case weights times posterior probabilities.
    coef : ndarray, shape (p,), or None
        Warm start; ``None`` starts from the family's starting means.
    scale : float
        The component's current dispersion (enters only the step-halving check).
    max_iter : int
        Most IRLS steps to take.
    tol : float
        Stop when the relative gain of the weighted log-likelihood is below ``tol``.

    Returns
    -------
    coef : ndarray, shape (p,)
    n_steps : int
        IRLS steps taken.

    Examples
    --------
    >>> import numpy as np
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
    >>> data = ComponentData(y, X, np.zeros(200), np.ones(200))
    >>> coef, _ = fit_component(data, get_family("poisson"), np.ones(200), None, 1.0, 50)
    >>> coef.round(2)
    array([0.56, 0.28])
    """
    X, y, off = data.X, data.y, data.offset
    if family.is_gaussian_identity:
        wt = w * data.trials
        return solve_normal(weighted_gram(X, wt), X.T @ (wt * (y - off))), 1

    if coef is None:
        mu = family.start_mu(y)
        eta = family.link(mu)
        objective = -np.inf
    else:
        eta = X @ coef + off
        objective = component_objective(data, family, eta, w, scale)
    steps = 0
    for steps in range(1, max_iter + 1):  # noqa: B007 (used after the loop)
        mu = family.linkinv(eta)
        dmu = family.mu_eta(eta)
        dmu = np.where(np.abs(dmu) < _TINY, _TINY, dmu)
        var = np.maximum(family.variance(mu), _TINY)
        work_w = w * data.trials * dmu**2 / var
        z = (eta - off) + (y - mu) / dmu
        proposal = solve_normal(weighted_gram(X, work_w), X.T @ (work_w * z))
        new_coef, new_obj = _halve_until_better(data, family, w, scale, coef, proposal, objective)
        if new_coef is None:  # no step improves the objective: at the optimum
            break
        gain = new_obj - objective
        coef, objective = new_coef, new_obj
        eta = X @ coef + off
        if np.isfinite(gain) and gain <= tol * (abs(objective) + 1.0):
            break
    if coef is None:  # max_iter == 0 from a cold start
        coef = solve_normal(weighted_gram(X, w), X.T @ (w * (eta - off)))
    return coef, steps


def _halve_until_better(
    data: ComponentData,
    family: Family,
    w: Array,
    scale: float,
    coef: Array | None,
    proposal: Array,
    objective: float,
) -> tuple[Array | None, float]:
    """Return the first of proposal, half-step, quarter-step ... that does not lower the
    objective, or ``(None, objective)`` when none does."""
    if coef is None:
        eta = data.X @ proposal + data.offset
        return proposal, component_objective(data, family, eta, w, scale)
    step = proposal - coef
    for _ in range(_MAX_HALVINGS):
        cand = coef + step
        obj = component_objective(data, family, data.X @ cand + data.offset, w, scale)
        if np.isfinite(obj) and obj >= objective:
            return cand, obj
        step = step * 0.5
    return None, objective


def m_step_components(
    data: ComponentData,
    family: Family,
    weights: Array,
    coef: Array | None,
    scale: Array,
    max_iter: int,
) -> tuple[Array, Array]:
    """Fit every component's GLM and dispersion for one M-step.

    Parameters
    ----------
    weights : ndarray, shape (n, K)
        Case weights times posteriors, one column per component.
    coef : ndarray, shape (K, p), or None
        Previous coefficients (warm start), or ``None`` for a cold start.
    scale : ndarray, shape (K,)
        Previous dispersions.

    Returns
    -------
    coef : ndarray, shape (K, p)
    scale : ndarray, shape (K,)
    """
    n_comp = weights.shape[1]
    new_coef = np.empty((n_comp, data.X.shape[1]))
    new_scale = np.array(scale, dtype=float, copy=True)
    for k in range(n_comp):
        wk = weights[:, k]
        start = None if coef is None else coef[k]
        if wk.sum() <= 0 and start is not None:
            new_coef[k] = start  # an empty component keeps its coefficients
            continue
        new_coef[k], _ = fit_component(
            data, family, wk, start, float(new_scale[k]), max_iter if start is not None else 50
        )
        if family.has_scale:
            mu = family.linkinv(data.X @ new_coef[k] + data.offset)
            new_scale[k] = family.estimate_scale(data.y, mu, wk, data.trials, float(scale[k]))
    return new_coef, new_scale


def aliased_columns(X: Array, tol: float = 1e-9) -> list[int]:
    """Columns of ``X`` that are (numerically) linear combinations of earlier columns.

    Works on the correlation-scaled Gram matrix, one pass over ``X``; a column of zeros is
    aliased too.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5.0)
    >>> aliased_columns(np.column_stack([np.ones(5), x, 2 * x + 1, x**2]))
    [2]
    """
    gram = X.T @ X
    d = np.sqrt(np.diag(gram))
    aliased = [j for j in range(X.shape[1]) if d[j] == 0]
    kept: list[int] = []
    for j in range(X.shape[1]):
        if d[j] == 0:
            continue
        idx = [*kept, j]
        sub = gram[np.ix_(idx, idx)] / np.outer(d[idx], d[idx])
        if np.linalg.eigvalsh(sub)[0] < tol:
            aliased.append(j)
        else:
            kept.append(j)
    return sorted(aliased)
