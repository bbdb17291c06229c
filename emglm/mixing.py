"""Mixing proportions: constant, or a multinomial-logit model on concomitant covariates.

Both are the same model, ``pi_ik = softmax_k(z_i' gamma_k)``: the constant model is the one
whose concomitant design ``Z`` is a single column of ones, and then the M-step is the closed
form ``pi_k = sum_i w_i tau_ik / sum_i w_i``. ``gamma`` has shape (q, K); column 0 (comp1) is
the reference and is held at zero.

Separation. When the concomitant covariates separate the components (the posteriors of a
component are ~0 on one side of a hyperplane in z and ~1 on the other), the likelihood
keeps rising as ``gamma`` grows without bound. The mixing M-step is therefore maximised
over the bounded set ``|z_i' gamma_k| <= MAX_LOGODDS`` for every fitted row i and component
k >= 2 (log-odds against comp1): a convex set, so each M-step still never lowers the
objective, every prior probability stays above about ``exp(-MAX_LOGODDS) / K`` and the
log-likelihood stays finite. :func:`at_logodds_bound` tells whether a fit ended on that
bound, which the model reports with a :class:`~emglm.exceptions.SeparationWarning`.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from emglm import kernels

Array = NDArray[np.float64]

# Smallest mixing proportion represented: keeps log(pi) finite for an emptied component.
_LOG_PI_MIN = np.log(1e-300)

#: Largest fitted log-odds ``|z_i' gamma_k|`` (component k against comp1) allowed: priors
#: stay in about [1e-13, 1 - 1e-13], where 1 - pi is still exact enough in double
#: precision. Reached when z separates components (or at a row with an extreme z).
MAX_LOGODDS = 30.0

#: Share of uniform probability mixed into starting posteriors before the first mixing fit.
START_SHRINK = 0.1


def is_constant(Z: Array) -> bool:
    """Whether ``Z`` is the constant model's single column of ones."""
    return Z.shape[1] == 1 and bool(np.all(Z[:, 0] == 1.0))


def log_prior(Z: Array, gamma: Array) -> Array:
    """Log prior class probabilities, shape (n, K), or (1, K) for the constant model."""
    if is_constant(Z):
        eta = gamma[:1]
    else:
        eta = Z @ gamma
    return eta - logsumexp(eta, axis=1, keepdims=True)


def gamma_from_proportions(pi: Array) -> Array:
    """Logits (1, K) of the constant model, comp1 the reference."""
    log_pi = np.maximum(np.log(np.maximum(pi, 0.0)), _LOG_PI_MIN)
    return (log_pi - log_pi[0])[None, :]


def proportions(Z: Array, gamma: Array, w: Array) -> Array:
    """Average prior class probabilities (weighted by case weights ``w``), shape (K,)."""
    prior = np.exp(log_prior(Z, gamma))
    if prior.shape[0] == 1:
        return prior[0]
    return np.asarray((w @ prior) / w.sum())


def m_step_mixing(Z: Array, wtau: Array, gamma: Array, max_iter: int = 25) -> Array:
    """Maximise ``sum_ik wtau_ik log pi_ik(gamma)`` over ``gamma``.

    Parameters
    ----------
    Z : ndarray, shape (n, q)
        Concomitant design (a column of ones for constant proportions).
    wtau : ndarray, shape (n, K)
        Case weights times posteriors.
    gamma : ndarray, shape (q, K)
        Current logits (warm start for the multinomial-logit model).
    max_iter : int
        Most Newton steps for the multinomial-logit model.

    Returns
    -------
    ndarray, shape (q, K)
        New logits with column 0 at zero.

    Examples
    --------
    >>> import numpy as np
    >>> Z = np.ones((4, 1))
    >>> wtau = np.array([[1, 0], [1, 0], [1, 0], [0, 1.0]])
    >>> np.exp(log_prior(Z, m_step_mixing(Z, wtau, np.zeros((1, 2))))).round(2)
    array([[0.75, 0.25]])
    """
    if is_constant(Z):
        mass = kernels.column_sums(wtau)
        return gamma_from_proportions(mass / mass.sum())
    return _newton_multinomial(Z, wtau, gamma, max_iter)


def initial_gamma(Z: Array, wtau: Array) -> Array:
    """Starting logits (q, K) fitted to posteriors shrunk towards uniform.

    The first M-step from user posteriors or labels fits the mixing model to
    ``(1 - START_SHRINK) tau + START_SHRINK / K`` (flexmix starts labels at 0.9 / 0.1 the
    same way), so one-hot labels that happen to be separated by z do not send ``gamma`` to
    the bound before EM has begun. The constant model gets the exact proportions.
    """
    n_comp = wtau.shape[1]
    gamma0 = np.zeros((Z.shape[1], n_comp))
    if is_constant(Z):
        return m_step_mixing(Z, wtau, gamma0)
    row_w = wtau.sum(axis=1, keepdims=True)
    shrunk = (1.0 - START_SHRINK) * wtau + START_SHRINK * row_w / n_comp
    return m_step_mixing(Z, shrunk, gamma0)


def max_logodds(Z: Array, gamma: Array) -> float:
    """Largest fitted ``|z_i' gamma_k|`` over rows i and components k >= 2."""
    if gamma.shape[1] < 2:
        return 0.0
    return float(np.max(np.abs(Z @ gamma[:, 1:]), initial=0.0))


def at_logodds_bound(Z: Array, gamma: Array) -> bool:
    """Whether a concomitant fit ended on the log-odds bound (separation)."""
    return not is_constant(Z) and max_logodds(Z, gamma) >= MAX_LOGODDS * (1.0 - 1e-6)


def within_bound(Z: Array, gamma: Array) -> bool:
    """Whether ``gamma`` satisfies the log-odds bound: where the mixing M-step may start.

    The M-step maximises over that bounded set, so from a start outside it (an
    extrapolated point, say) it cannot promise a higher objective than at the start. The
    constant model's M-step is closed form and any ``gamma`` will do.
    """
    return is_constant(Z) or max_logodds(Z, gamma) <= MAX_LOGODDS


def _into_bound(Z: Array, gamma: Array) -> Array:
    """Shrink ``gamma`` towards zero until it satisfies the log-odds bound."""
    largest = max_logodds(Z, gamma)
    if largest <= MAX_LOGODDS:
        return gamma
    return gamma * (MAX_LOGODDS / largest)


def _step_limit(eta: Array, eta_step: Array) -> float:
    """Largest t in [0, 1] keeping ``|eta + t eta_step| <= MAX_LOGODDS`` entrywise."""
    limit = 1.0
    up = eta_step > 0
    if np.any(up):
        limit = min(limit, float(np.min((MAX_LOGODDS - eta[up]) / eta_step[up])))
    down = eta_step < 0
    if np.any(down):
        limit = min(limit, float(np.min((-MAX_LOGODDS - eta[down]) / eta_step[down])))
    return max(limit, 0.0)


def mixing_objective(Z: Array, wtau: Array, gamma: Array) -> float:
    """``sum_ik wtau_ik log pi_ik(gamma)``: the mixing part of the EM objective."""
    return float(np.sum(wtau * log_prior(Z, gamma)))


def _newton_multinomial(Z: Array, wtau: Array, gamma: Array, max_iter: int) -> Array:
    """Weighted multinomial logit with fractional outcomes, by Newton with step-halving.

    Steps are cut back to stay within the log-odds bound (see the module notes); Newton
    stops when a step gains less than 1e-12 of the objective, or cannot move.
    """
    q, n_comp = gamma.shape
    gamma = _into_bound(Z, gamma - gamma[:, :1])
    row_w = wtau.sum(axis=1)
    objective = mixing_objective(Z, wtau, gamma)
    for _ in range(max_iter):
        pi = np.exp(log_prior(Z, gamma))
        grad = Z.T @ (wtau[:, 1:] - row_w[:, None] * pi[:, 1:])  # (q, K-1)
        hess = np.empty((q * (n_comp - 1), q * (n_comp - 1)))
        for a in range(1, n_comp):
            for b in range(a, n_comp):
                d = row_w * pi[:, a] * ((a == b) - pi[:, b])
                block = (Z.T * d) @ Z
                hess[(a - 1) * q : a * q, (b - 1) * q : b * q] = block
                hess[(b - 1) * q : b * q, (a - 1) * q : a * q] = block
        # Column-major flattening keeps each component's q coefficients together.
        step_vec = np.linalg.lstsq(hess, grad.T.ravel(), rcond=None)[0]
        step = np.zeros_like(gamma)
        step[:, 1:] = step_vec.reshape(n_comp - 1, q).T
        step *= _step_limit(Z @ gamma[:, 1:], Z @ step[:, 1:])
        for _halving in range(30):
            cand = gamma + step
            obj = mixing_objective(Z, wtau, cand)
            if np.isfinite(obj) and obj >= objective:
                break
            step *= 0.5
        else:
            return gamma
        gain = obj - objective
        gamma, objective = cand, obj
        if gain <= 1e-12 * (abs(objective) + 1.0):
            break
    return gamma
