"""Observed information of a mixture of GLMs by Louis' method.

The free parameters are packed into one vector ``theta`` in flexmix's order:

* for each component k = 1..K: its ``p`` coefficients, then (families with a dispersion)
  the family's free dispersion (:meth:`Family.free_dispersion`): ``log(sigma_k)`` with
  ``sigma_k = sqrt(scale_k)``, or ``log(alpha_k)`` for the negative binomial;
* then the mixing logits: for each component k = 2..K the ``q`` coefficients
  ``gamma[:, k]`` of the multinomial-logit model ``pi_ik = softmax_k(z_i' gamma_k)``
  (comp1 the reference; constant proportions are ``q = 1``, ``Z`` a column of ones).

Louis (1982): with complete-data score ``s_i`` and Hessian ``H_i`` of observation i,

    I_obs = sum_i w_i ( E[-H_i | y_i] - Cov[s_i | y_i] ),

the expectations over the component label with the posteriors ``tau_ik``. The identity holds
at every ``theta`` and equals minus the Hessian of the observed-data log-likelihood
``sum_i w_i log sum_k pi_ik f_k(y_i)``. ``H_i`` is the *observed* complete-data Hessian
(it uses the link's second derivative), so non-canonical links are right; case weights
``w_i`` act as frequency weights.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm import mixing
from emglm.em import MixtureData, MixtureParams, e_step
from emglm.exceptions import SingularInformationWarning, user_stacklevel
from emglm.families import Family
from emglm.families.base import log_sigma, scale_from_log_sigma

Array = NDArray[np.float64]

SCALE_TERM = "log(sigma)"
# Rows per block when accumulating the information, to bound memory on large data.
_CHUNK = 20_000
# Eigenvalues of the correlation-scaled information below this (relative to the largest)
# count as zero.
_RCOND = 1e-10
# Diagonal entries below this (relative to the largest) are zero up to rounding.
_DIAG_FLOOR = 1e-13


@dataclass(frozen=True)
class Layout:
    """Where each block of parameters sits in the packed vector ``theta``."""

    n_components: int
    p: int
    q: int
    has_scale: bool
    #: The family whose free dispersion the layout holds (``None``: ``log(sigma)``).
    family: Family | None = None

    @property
    def per_component(self) -> int:
        """Parameters of one component: coefficients plus ``log(sigma)`` when estimated."""
        return self.p + int(self.has_scale)

    @property
    def mixing_start(self) -> int:
        """Index of the first mixing logit."""
        return self.n_components * self.per_component

    @property
    def size(self) -> int:
        """Number of free parameters."""
        return self.mixing_start + (self.n_components - 1) * self.q

    def coef_slice(self, k: int) -> slice:
        """Coefficients of component ``k`` (0-based)."""
        start = k * self.per_component
        return slice(start, start + self.p)

    def scale_index(self, k: int) -> int:
        """Index of ``log(sigma_k)``; only when ``has_scale``."""
        return k * self.per_component + self.p

    def mixing_slice(self, k: int) -> slice:
        """Logits ``gamma[:, k]`` of component ``k`` >= 1."""
        start = self.mixing_start + (k - 1) * self.q
        return slice(start, start + self.q)


def layout_of(data: MixtureData, family: Family, n_components: int) -> Layout:
    """The parameter layout of a model."""
    return Layout(n_components, data.X.shape[1], data.Z.shape[1], family.has_scale, family)


def param_names(
    x_names: list[str],
    z_names: list[str],
    n_components: int,
    has_scale: bool,
    scale_term: str = SCALE_TERM,
) -> list[tuple[str, str]]:
    """``(component, term)`` labels of ``theta``, in packing order; ``scale_term`` names
    the free dispersion (:attr:`Family.free_dispersion_name`).

    Examples
    --------
    >>> param_names(["x"], ["Intercept"], 2, True)  # doctest: +NORMALIZE_WHITESPACE
    [('comp1', 'x'), ('comp1', 'log(sigma)'), ('comp2', 'x'), ('comp2', 'log(sigma)'),
     ('comp2', 'mixing:Intercept')]
    """
    names: list[tuple[str, str]] = []
    for k in range(n_components):
        names += [(f"comp{k + 1}", t) for t in x_names]
        if has_scale:
            names.append((f"comp{k + 1}", scale_term))
    for k in range(1, n_components):
        names += [(f"comp{k + 1}", f"mixing:{t}") for t in z_names]
    return names


def pack(params: MixtureParams, layout: Layout) -> Array:
    """The free parameters as one vector ``theta``."""
    theta = np.empty(layout.size)
    for k in range(layout.n_components):
        theta[layout.coef_slice(k)] = params.coef[k]
        if layout.has_scale:
            theta[layout.scale_index(k)] = _free(layout, params.scale[k])
        if k >= 1:
            theta[layout.mixing_slice(k)] = params.gamma[:, k] - params.gamma[:, 0]
    return theta


def unpack(theta: Array, layout: Layout) -> MixtureParams:
    """Inverse of :func:`pack` (comp1's logits at zero)."""
    n_comp = layout.n_components
    coef = np.stack([theta[layout.coef_slice(k)] for k in range(n_comp)])
    if layout.has_scale:
        free = np.array([theta[layout.scale_index(k)] for k in range(n_comp)])
        scale = _from_free(layout, free)
    else:
        scale = np.ones(n_comp)
    gamma = np.zeros((layout.q, n_comp))
    for k in range(1, n_comp):
        gamma[:, k] = theta[layout.mixing_slice(k)]
    return MixtureParams(coef=coef, scale=scale, gamma=gamma)


def _free(layout: Layout, scale: Array | float) -> Array:
    """The free dispersion of the layout's family (``log(sigma)`` without one)."""
    fam = layout.family
    return log_sigma(scale) if fam is None else fam.free_dispersion(scale)


def _from_free(layout: Layout, theta: Array) -> Array:
    """Inverse of :func:`_free`."""
    fam = layout.family
    return scale_from_log_sigma(theta) if fam is None else fam.dispersion_from_free(theta)


def observed_loglike(theta: Array, data: MixtureData, family: Family, layout: Layout) -> float:
    """Observed-data log-likelihood as a function of the packed parameters (for checks)."""
    return e_step(data, family, unpack(np.asarray(theta, dtype=float), layout))[0]


def louis_information(data: MixtureData, family: Family, params: MixtureParams) -> Array:
    """Observed information of all free parameters, in :func:`pack` order.

    Parameters
    ----------
    data : MixtureData
        Solver inputs (offsets, binomial trials and case weights are honoured).
    family : Family
        Component family and link.
    params : MixtureParams
        Where to evaluate it, normally the maximum-likelihood estimate.

    Returns
    -------
    ndarray, shape (P, P)
        ``I_obs = sum_i w_i (E[-H_i | y_i] - Cov[s_i | y_i])``: minus the Hessian of the
        observed-data log-likelihood at ``params``.
    """
    layout = layout_of(data, family, params.n_components)
    info = np.zeros((layout.size, layout.size))
    n = data.y.shape[0]
    for start in range(0, n, _CHUNK):
        rows = slice(start, min(start + _CHUNK, n))
        info += _louis_chunk(data, family, params, layout, rows)
    return 0.5 * (info + info.T)


def _louis_chunk(
    data: MixtureData, family: Family, params: MixtureParams, layout: Layout, rows: slice
) -> Array:
    n_comp = layout.n_components
    y, X, Z = data.y[rows], data.X[rows], data.Z[rows]
    w, trials = data.weights[rows], data.trials[rows]
    eta = X @ params.coef.T + data.offset[rows, None]
    scale = params.scale[None, :]
    _, tau = e_step(_subset(data, rows), family, params)
    d1, d2 = family.eta_derivatives(y[:, None], eta, trials[:, None], scale)
    pi = np.broadcast_to(np.exp(mixing.log_prior(Z, params.gamma)), tau.shape)

    size = layout.size
    neg_hess = np.zeros((size, size))
    # Complete-data scores a_ik of every observation under every label k, (K, n, P).
    scores = np.zeros((n_comp, y.shape[0], size))
    if layout.has_scale:
        s1, s2, s12 = family.dispersion_derivatives(y[:, None], eta, trials[:, None], scale)
    for k in range(n_comp):
        cs = layout.coef_slice(k)
        wt = w * tau[:, k]
        scores[k, :, cs] = d1[:, k, None] * X
        neg_hess[cs, cs] = -(X.T * (wt * d2[:, k])) @ X
        if layout.has_scale:
            j = layout.scale_index(k)
            scores[k, :, j] = s1[:, k]
            # s12 = d2 l / d eta d(free dispersion); -s12 = 2 dl/deta for log(sigma).
            cross = X.T @ (wt * -s12[:, k])
            neg_hess[cs, j] = cross
            neg_hess[j, cs] = cross
            neg_hess[j, j] = -float(wt @ s2[:, k])
        for j in range(1, n_comp):
            scores[k, :, layout.mixing_slice(j)] = Z * ((k == j) - pi[:, j])[:, None]
    # The mixing Hessian does not depend on the label: -d2 log pi_ik / d gamma_j d gamma_l
    # = z z' pi_ij (delta_jl - pi_il), and the posteriors sum to one.
    for j in range(1, n_comp):
        for m in range(j, n_comp):
            d = w * pi[:, j] * ((j == m) - pi[:, m])
            block = (Z.T * d) @ Z
            neg_hess[layout.mixing_slice(j), layout.mixing_slice(m)] = block
            neg_hess[layout.mixing_slice(m), layout.mixing_slice(j)] = block.T
    mean_score = np.einsum("nk,knp->np", tau, scores)
    second = np.einsum("knp,nk,knr->pr", scores, tau * w[:, None], scores)
    cov_score = second - (mean_score.T * w) @ mean_score
    return neg_hess - cov_score


def _subset(data: MixtureData, rows: slice) -> MixtureData:
    return MixtureData(
        y=data.y[rows],
        X=data.X[rows],
        offset=data.offset[rows],
        trials=data.trials[rows],
        weights=data.weights[rows],
        Z=data.Z[rows],
    )


def invert_information(
    info: Array, names: list[tuple[str, str]] | None = None, known_cause: str | None = None
) -> Array:
    """Covariance matrix from the observed information, with a warning when it is singular
    or indefinite.

    The information is scaled to unit diagonal first, so that the check does not depend on
    the units of the covariates. Directions with zero or negative curvature are left out of
    a pseudo-inverse; the warning says so, naming ``known_cause`` when the caller knows
    why (e.g. two equal components).
    """
    diag = np.diag(info).copy()
    # A parameter without curvature of its own (e.g. the mixing logit of two identical
    # components) would look regular after scaling to unit diagonal, so catch it first.
    bad_diag = ~(diag > _DIAG_FLOOR * max(float(diag.max()), 0.0))
    d = 1.0 / np.sqrt(np.where(bad_diag, 1.0, diag))
    corr = info * d[:, None] * d[None, :]
    evals, evecs = np.linalg.eigh(corr)
    top = max(float(evals.max()), 1e-300)
    keep = evals > _RCOND * top
    inv = (evecs[:, keep] / evals[keep]) @ evecs[:, keep].T
    cov = inv * d[:, None] * d[None, :]
    if keep.all() and not bad_diag.any():
        return cov
    negative = bool((evals < -_RCOND * top).any()) or bool((diag < 0).any())
    involved = _involved(evecs[:, ~keep], bad_diag, names)
    if known_cause is not None:
        cause = known_cause
    elif negative:
        cause = (
            "it is indefinite: the fit is not at a maximum of the log-likelihood (EM stopped "
            "early, or at a saddle point); refit with a smaller tol or better starts"
        )
    else:
        cause = (
            "it is singular: some parameters are not identified, most often because there "
            "are too many components (two components nearly equal, or one nearly empty) or "
            "because covariates are collinear"
        )
    warnings.warn(
        f"the observed information matrix is not positive definite ({cause}). Standard "
        f"errors use its pseudo-inverse over the well-determined directions, so those of "
        f"{involved} are too small and not to be trusted",
        SingularInformationWarning,
        stacklevel=user_stacklevel(),
    )
    return cov


def _involved(null_vecs: Array, bad_diag: Array, names: list[tuple[str, str]] | None) -> str:
    weight = np.sum(null_vecs**2, axis=1) if null_vecs.size else np.zeros(bad_diag.shape)
    idx = np.flatnonzero(np.logical_or(weight > 0.05, bad_diag))
    if names is None:
        return "parameters " + ", ".join(str(i) for i in idx[:6])
    shown = ", ".join(f"{c}:{t}" for c, t in (names[i] for i in idx[:6]))
    return "the parameters " + shown + (", ..." if idx.size > 6 else "")


def mixing_jacobian(Z: Array, w: Array, gamma: Array, layout: Layout) -> Array:
    """Jacobian (K, P) of the average mixing proportions ``sum_i w_i pi_ik / sum_i w_i`` with
    respect to ``theta`` (only the mixing logits enter), for the delta method."""
    n_comp = layout.n_components
    pi = np.exp(mixing.log_prior(Z, gamma))
    if pi.shape[0] == 1:
        pi = np.broadcast_to(pi, (Z.shape[0], n_comp))
    wn = w / w.sum()
    jac = np.zeros((n_comp, layout.size))
    for k in range(n_comp):
        for j in range(1, n_comp):
            # d pi_ik / d gamma_j = pi_ik (delta_kj - pi_ij) z_i
            jac[k, layout.mixing_slice(j)] = (wn * pi[:, k] * ((k == j) - pi[:, j])) @ Z
    return jac


@dataclass(frozen=True)
class Covariance:
    """The covariance of the packed free parameters and how it was obtained.

    Attributes
    ----------
    cov_type : {"louis", "bootstrap"}
    cov : (P, P) covariance of ``theta`` (see :func:`pack`).
    replicates : (B, P) aligned packed estimates of the successful bootstrap replicates.
    mixing_replicates : (B, K) their average mixing proportions.
    n_boot : bootstrap replicates asked for.
    n_failed : replicates that failed and were left out.
    kind : ``"nonparametric"`` or ``"parametric"`` for the bootstrap.
    """

    cov_type: str
    cov: Array
    replicates: Array | None = None
    mixing_replicates: Array | None = None
    n_boot: int = 0
    n_failed: int = 0
    kind: str = ""


def louis_covariance(
    data: MixtureData, family: Family, params: MixtureParams, names: list[tuple[str, str]]
) -> Covariance:
    """Louis observed information, inverted (with a warning when it is singular)."""
    info = louis_information(data, family, params)
    return Covariance("louis", invert_information(info, names, _equal_components(params)))


def _equal_components(params: MixtureParams, rtol: float = 0.05) -> str | None:
    """Name two components with nearly the same coefficients and dispersion (within
    ``rtol``): the likely reason an information matrix is singular or indefinite, as when
    a one-process sample is fitted with K=2 and the components collapse."""
    coef, scale = params.coef, params.scale
    for a in range(params.n_components):
        for b in range(a + 1, params.n_components):
            close = np.all(np.abs(coef[a] - coef[b]) <= rtol * (1.0 + np.abs(coef[a])))
            if close and abs(np.log(scale[a] / scale[b])) <= rtol:
                return (
                    f"too many components: comp{a + 1} and comp{b + 1} have nearly the same "
                    f"coefficients (within {rtol:.0%}), so the mixture is not identified; fit "
                    "a smaller K (compare BIC with select_k)"
                )
    return None
