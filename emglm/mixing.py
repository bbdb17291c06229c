"""Mixing proportions: constant, or a multinomial-logit model on concomitant covariates.

Both are the same model, ``pi_ik = softmax_k(z_i' gamma_k)``: the constant model is the one
whose concomitant design ``Z`` is a single column of ones, and then the M-step is the closed
form ``pi_k = sum_i w_i tau_ik / sum_i w_i``. ``gamma`` has shape (q, K); column 0 (comp1) is
the reference and is held at zero.

Separation. The mixing M-step is solved to convergence, by Newton with step-halving on the
weighted multinomial log-likelihood (as ``nnet::multinom`` does for flexmix's
``FLXPmultinom``), with no bound on the logits: a maximum whose log-odds are large at a
row with an extreme ``z`` is still an interior maximum and is reached. Prior probabilities
come from log-sum-exp and are floored at ``1e-300``, so they stay finite and positive
however far the logits go. When the concomitant covariates really separate the components,
the likelihood keeps rising as ``gamma`` grows without bound and EM follows it until the
likelihood no longer changes; :meth:`MultinomialMixing.separates` recognises such a fit by
exactly that (the log-likelihood does not fall as the fitted log-odds grow further), and the
model reports it with a :class:`~emglm.exceptions.SeparationWarning`.

The engine sees a mixing model as an object chosen once per data set by
:func:`mixing_model`: :class:`ConstantMixing` or :class:`MultinomialMixing`, with the same
methods (prior, M-step, start, drop/permute, packing, parameter count and names, and the
pieces of Louis' observed information).

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import column_sums

Array = NDArray[np.float64]

# Smallest mixing proportion represented: keeps log(pi) finite for an emptied component.
_LOG_PI_MIN = np.log(1e-300)

#: Prior probability below which a concomitant fit is checked for separation
#: (:meth:`MultinomialMixing.separates`): separated components have priors near 0 or 1.
SEPARATION_PRIOR = 1e-10

# Growth factors of the fitted log-odds at which a separated fit's log-likelihood must not
# fall: twice and ten times the fitted ones.
_GROWTH = (1.0, 9.0)

#: Share of uniform probability mixed into starting posteriors before the first mixing fit.
START_SHRINK = 0.1


def is_constant(Z: Array) -> bool:
    """Whether ``Z`` is the constant model's single column of ones."""
    return Z.shape[1] == 1 and bool(np.all(Z[:, 0] == 1.0))


def log_prior(Z: Array, gamma: Array) -> Array:
    """Log prior class probabilities, shape (n, K), or (1, K) for the constant model
    (:meth:`ConstantMixing.log_prior` of :func:`mixing_model` ``(Z)``)."""
    return mixing_model(Z).log_prior(Z, gamma)


def gamma_from_proportions(pi: Array) -> Array:
    """Logits (1, K) of the constant model, comp1 the reference."""
    with np.errstate(divide="ignore"):  # an empty component: log 0 = -inf, floored below
        log_pi = np.maximum(np.log(np.maximum(pi, 0.0)), _LOG_PI_MIN)
    return (log_pi - log_pi[0])[None, :]


def proportions(Z: Array, gamma: Array, w: Array) -> Array:
    """Average prior class probabilities (weighted by case weights ``w``), shape (K,)."""
    return mixing_model(Z).proportions(Z, gamma, w)


def m_step_mixing(Z: Array, wtau: Array, gamma: Array, max_iter: int = 100) -> Array:
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
    return mixing_model(Z).m_step(Z, wtau, gamma, max_iter)


def initial_gamma(Z: Array, wtau: Array) -> Array:
    """Starting logits (q, K) fitted to posteriors shrunk towards uniform.

    The first M-step from user posteriors or labels fits the mixing model to
    ``(1 - START_SHRINK) tau + START_SHRINK / K`` (flexmix starts labels at 0.9 / 0.1 the
    same way), so one-hot labels that happen to be separated by z do not send ``gamma`` far
    out before EM has begun. The constant model gets the exact proportions.
    """
    return mixing_model(Z).initial(Z, wtau)


def _log_softmax(eta: Array) -> Array:
    """``log softmax`` of each row of logits, by log-sum-exp (no overflow at any finite
    logit), floored at the smallest represented log proportion: a prior probability is
    then never 0, nor its logarithm infinite, however far the logits go."""
    out = eta - eta.max(axis=1, keepdims=True)
    out -= np.log(np.exp(out).sum(axis=1, keepdims=True))
    return np.maximum(out, _LOG_PI_MIN, out=out)


def mixing_objective(Z: Array, wtau: Array, gamma: Array) -> float:
    """``sum_ik wtau_ik log pi_ik(gamma)``: the mixing part of the EM objective."""
    return float(np.sum(wtau * log_prior(Z, gamma)))


def _newton_multinomial(Z: Array, wtau: Array, gamma: Array, max_iter: int) -> Array:
    """Weighted multinomial logit with fractional outcomes, by Newton with step-halving,
    solved to convergence: until a step gains less than 1e-12 of the objective, or
    cannot move.
    """
    q, n_comp = gamma.shape
    gamma = gamma - gamma[:, :1]
    row_w = wtau.sum(axis=1)
    log_pi = _log_softmax(Z @ gamma)
    objective = float(np.sum(wtau * log_pi))
    for _ in range(max_iter):
        pi = np.exp(log_pi)
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
        for _halving in range(30):
            cand = gamma + step
            cand_log_pi = _log_softmax(Z @ cand)
            obj = float(np.sum(wtau * cand_log_pi))
            if np.isfinite(obj) and obj >= objective:
                break
            step *= 0.5
        else:
            return gamma
        gain = obj - objective
        gamma, objective, log_pi = cand, obj, cand_log_pi
        if gain <= 1e-12 * (abs(objective) + 1.0):
            break
    return gamma


@dataclass(frozen=True)
class ConstantMixing:
    """Constant mixing proportions ``pi_k``: ``K - 1`` free logits (comp1 the reference).

    Examples
    --------
    >>> mix = mixing_model(np.ones((3, 1)))
    >>> type(mix).__name__, mix.n_params(1, 3)
    ('ConstantMixing', 2)
    """

    #: Whether the prior probabilities differ between rows.
    varies_by_row = False

    def n_params(self, q: int, n_comp: int) -> int:
        """Free parameters: ``(K - 1) q``."""
        return (n_comp - 1) * q

    def param_names(self, z_names: list[str], n_comp: int) -> list[tuple[str, str]]:
        """``(component, term)`` labels of :meth:`pack`'s vector."""
        return [(f"comp{k + 1}", f"mixing:{t}") for k in range(1, n_comp) for t in z_names]

    def log_prior(self, Z: Array, gamma: Array) -> Array:
        """Log prior probabilities, (1, K): the same for every row."""
        return _log_softmax(gamma[:1])

    def prior(self, Z: Array, gamma: Array) -> Array:
        """Prior probabilities broadcast to every row, (n, K)."""
        pi = np.exp(self.log_prior(Z, gamma))
        return np.broadcast_to(pi, (Z.shape[0], gamma.shape[1]))

    def m_step(self, Z: Array, wtau: Array, gamma: Array, max_iter: int = 100) -> Array:
        """The weighted share of each component (closed form: ``max_iter`` is unused)."""
        mass = column_sums(wtau)
        return gamma_from_proportions(mass / mass.sum())

    def initial(self, Z: Array, wtau: Array) -> Array:
        """Logits from posteriors alone: the exact proportions."""
        return self.m_step(Z, wtau, np.zeros((Z.shape[1], wtau.shape[1])))

    def proportions(self, Z: Array, gamma: Array, w: Array) -> Array:
        """Mixing proportions (K,)."""
        return np.asarray(np.exp(self.log_prior(Z, gamma))[0])

    def separates(self, Z: Array, gamma: Array, llf_at: Callable[[Array], float]) -> bool:
        """Whether the concomitant covariates separate the components: never for constant
        proportions."""
        return False

    def take(self, gamma: Array, keep: NDArray[np.bool_] | NDArray[np.intp]) -> Array:
        """The logits of the kept (or reordered) components, comp1 the reference again."""
        out = gamma[:, keep]
        return np.asarray(out - out[:, :1])

    def pack(self, gamma: Array) -> Array:
        """The free logits as one vector: for each component k >= 2, its q logits."""
        return np.asarray((gamma[:, 1:] - gamma[:, :1]).T.ravel())

    def unpack(self, vec: Array, q: int, n_comp: int) -> Array:
        """Inverse of :meth:`pack`."""
        gamma = np.zeros((q, n_comp))
        gamma[:, 1:] = np.asarray(vec).reshape(n_comp - 1, q).T
        return gamma

    def start(self, q: int, n_comp: int) -> Array:
        """Logits of equal proportions, (q, K)."""
        gamma = gamma_from_proportions(np.full(n_comp, 1.0 / n_comp))
        return np.vstack([gamma, np.zeros((q - 1, n_comp))])

    def louis_pieces(self, Z: Array, gamma: Array, w: Array) -> tuple[Array, Array]:
        """Complete-data scores of the packed logits under every label, (K, n, (K-1) q),
        and minus their weighted Hessian, which does not depend on the label (the
        posteriors sum to one): ``sum_i w_i z_i z_i' pi_ij (delta_jl - pi_il)``."""
        n_comp, q = gamma.shape[1], Z.shape[1]
        pi = self.prior(Z, gamma)
        size = (n_comp - 1) * q
        scores = np.zeros((n_comp, Z.shape[0], size))
        neg_hess = np.zeros((size, size))
        for j in range(1, n_comp):
            sj = slice((j - 1) * q, j * q)
            for k in range(n_comp):
                scores[k, :, sj] = Z * ((k == j) - pi[:, j])[:, None]
            for m in range(j, n_comp):
                sm = slice((m - 1) * q, m * q)
                block = (Z.T * (w * pi[:, j] * ((j == m) - pi[:, m]))) @ Z
                neg_hess[sj, sm] = block
                neg_hess[sm, sj] = block.T
        return scores, neg_hess

    def proportions_jacobian(self, Z: Array, gamma: Array, w: Array) -> Array:
        """Jacobian (K, (K-1) q) of the average proportions ``sum_i w_i pi_ik / sum_i w_i``
        in the packed logits, for the delta method."""
        n_comp, q = gamma.shape[1], Z.shape[1]
        pi = self.prior(Z, gamma)
        wn = w / w.sum()
        jac = np.zeros((n_comp, (n_comp - 1) * q))
        for k in range(n_comp):
            for j in range(1, n_comp):
                # d pi_ik / d gamma_j = pi_ik (delta_kj - pi_ij) z_i
                jac[k, (j - 1) * q : j * q] = (wn * pi[:, k] * ((k == j) - pi[:, j])) @ Z
        return jac


@dataclass(frozen=True)
class MultinomialMixing(ConstantMixing):
    """Mixing proportions from a multinomial logit on concomitant covariates:
    ``pi_ik = softmax_k(z_i' gamma_k)``.

    Examples
    --------
    >>> Z = np.c_[np.ones(4), np.arange(4.0)]
    >>> mix = mixing_model(Z)
    >>> type(mix).__name__, mix.n_params(2, 3)
    ('MultinomialMixing', 4)
    """

    varies_by_row = True

    def log_prior(self, Z: Array, gamma: Array) -> Array:
        """Log prior probabilities of every row, (n, K)."""
        return _log_softmax(Z @ gamma)

    def prior(self, Z: Array, gamma: Array) -> Array:
        """Prior probabilities of every row, (n, K)."""
        return np.exp(self.log_prior(Z, gamma))

    def m_step(self, Z: Array, wtau: Array, gamma: Array, max_iter: int = 100) -> Array:
        """Weighted multinomial logit by at most ``max_iter`` Newton steps, warm-started at
        ``gamma``."""
        return _newton_multinomial(Z, wtau, gamma, max_iter)

    def initial(self, Z: Array, wtau: Array) -> Array:
        """Logits fitted to posteriors shrunk towards uniform (see :func:`initial_gamma`)."""
        n_comp = wtau.shape[1]
        row_w = wtau.sum(axis=1, keepdims=True)
        shrunk = (1.0 - START_SHRINK) * wtau + START_SHRINK * row_w / n_comp
        return self.m_step(Z, shrunk, np.zeros((Z.shape[1], n_comp)))

    def proportions(self, Z: Array, gamma: Array, w: Array) -> Array:
        """Average prior probabilities weighted by the case weights, (K,)."""
        return np.asarray((w @ self.prior(Z, gamma)) / w.sum())

    def separates(self, Z: Array, gamma: Array, llf_at: Callable[[Array], float]) -> bool:
        """Whether the concomitant covariates separate the components at the fitted logits
        ``gamma``: the log-likelihood ``llf_at(gamma)`` still does not fall when the fitted
        log-odds grow further without bound.

        Only a fit with a prior probability below :data:`SEPARATION_PRIOR` is checked.
        The directions tried are the log-odds of every component against every other (all
        of ``gamma``) and, with three or more components, each component's log-odds against
        the others' average: the directions along which a separated fit keeps its
        classification while its prior probabilities approach 0 and 1. An interior
        maximum loses likelihood along each of them, however large its log-odds are at a
        row with an extreme ``z``.

        Examples
        --------
        Labels split at z = 0 (separation) and labels that z does not separate:

        >>> Z = np.c_[np.ones(6), np.arange(6.0) - 2.5]
        >>> mix = mixing_model(Z)
        >>> def llf_for(wtau):
        ...     return lambda g: mixing_objective(Z, wtau, g)
        >>> split = np.eye(2)[[0, 0, 0, 1, 1, 1]]
        >>> mix.separates(Z, mix.m_step(Z, split, np.zeros((2, 2))), llf_for(split))
        True
        >>> mixed = np.eye(2)[[0, 1, 0, 1, 0, 1]]
        >>> mix.separates(Z, mix.m_step(Z, mixed, np.zeros((2, 2))), llf_for(mixed))
        False
        """
        if np.exp(self.log_prior(Z, gamma)).min(initial=1.0) >= SEPARATION_PRIOR:
            return False
        return grows_without_bound(gamma, llf_at)


def grows_without_bound(gamma: Array, llf_at: Callable[[Array], float]) -> bool:
    """Whether ``llf_at`` does not fall (beyond rounding) along any direction that makes the
    fitted log-odds ``gamma`` grow: the likelihood half of
    :meth:`MultinomialMixing.separates`, for callers that have checked the smallest prior
    probability themselves (a fit on partitions)."""
    llf = llf_at(gamma)
    slack = 1e-9 * (abs(llf) + 1.0)
    return any(
        all(llf_at(gamma + t * d) >= llf - slack for t in _GROWTH)
        for d in _growth_directions(gamma)
    )


def _growth_directions(gamma: Array) -> list[Array]:
    """Directions (q, K), comp1 the reference, that make the fitted log-odds grow: all of
    them together, and (K >= 3) each component's against the mean of the others'."""
    directions = [gamma - gamma[:, :1]]
    n_comp = gamma.shape[1]
    if n_comp >= 3:
        for k in range(n_comp):
            d = np.zeros_like(gamma)
            d[:, k] = gamma[:, k] - np.delete(gamma, k, axis=1).mean(axis=1)
            directions.append(d - d[:, :1])
    return directions


def mixing_model(Z: Array) -> ConstantMixing:
    """The mixing model of a concomitant design: constant proportions for a single column
    of ones, else the multinomial logit. Chosen once per data set."""
    return ConstantMixing() if is_constant(Z) else MultinomialMixing()
