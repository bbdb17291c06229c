"""Observed information of a mixture of GLMs by Louis' method.

The free parameters are packed into one vector ``theta`` in flexmix's order:

* for each component k = 1..K: its ``p`` coefficients, then (families with a dispersion)
  ``log(sigma_k)`` with ``sigma_k = sqrt(scale_k)``;
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

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import MixtureData
from emglm.engine.em import MixtureModel, MixtureParams, e_step
from emglm.engine.newton import information_pieces
from emglm.exceptions import SingularInformationWarning, emit

Array = NDArray[np.float64]

# Eigenvalues of the correlation-scaled information below this (relative to the largest)
# count as zero.
_RCOND = 1e-10
# Diagonal entries below this (relative to the largest) are zero up to rounding.
_DIAG_FLOOR = 1e-13


def param_names(
    model: MixtureModel, z_names: list[str], n_components: int
) -> list[tuple[str, str]]:
    """``(component, term)`` labels of the packed parameters
    (:meth:`~emglm.engine.em.MixtureModel.pack`): the component model's, then the mixing
    logits ``mixing:<term>`` of components 2..K.

    Examples
    --------
    >>> from emglm.components.glm import GLMComponents
    >>> from emglm.engine.em import MixtureModel
    >>> from emglm.families import get_family
    >>> from emglm.mixing import ConstantMixing
    >>> model = MixtureModel(GLMComponents(get_family("gaussian"), ["x"]), ConstantMixing())
    >>> param_names(model, ["Intercept"], 2)  # doctest: +NORMALIZE_WHITESPACE
    [('comp1', 'x'), ('comp1', 'log(sigma)'), ('comp2', 'x'), ('comp2', 'log(sigma)'),
     ('comp2', 'mixing:Intercept')]
    """
    return model.components.param_names(n_components) + model.mixing.param_names(
        z_names, n_components
    )


def observed_loglike(
    theta: Array, data: MixtureData, model: MixtureModel, like: MixtureParams
) -> float:
    """Observed-data log-likelihood as a function of the packed parameters (for checks)."""
    return e_step(data, model, model.unpack(data, np.asarray(theta, dtype=float), like))[0]


def louis_information(data: MixtureData, model: MixtureModel, params: MixtureParams) -> Array:
    """Observed information of all free parameters, in packing order.

    Parameters
    ----------
    data : MixtureData
        Solver inputs (offsets, binomial trials and case weights are honoured).
    model : MixtureModel
        The component and mixing models.
    params : MixtureParams
        Where to evaluate it, normally the maximum-likelihood estimate.

    Returns
    -------
    ndarray, shape (P, P)
        ``I_obs = sum_i w_i (E[-H_i | y_i] - Cov[s_i | y_i])``: minus the Hessian of the
        observed-data log-likelihood at ``params``
        (:func:`~emglm.engine.newton.information_pieces`).
    """
    complete, missing = information_pieces(data, model, params)
    return complete - missing


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
    emit(
        f"the observed information matrix is not positive definite ({cause}). Standard "
        f"errors use its pseudo-inverse over the well-determined directions, so those of "
        f"{involved} are too small and not to be trusted",
        SingularInformationWarning,
    )
    return cov


def _involved(null_vecs: Array, bad_diag: Array, names: list[tuple[str, str]] | None) -> str:
    weight = np.sum(null_vecs**2, axis=1) if null_vecs.size else np.zeros(bad_diag.shape)
    idx = np.flatnonzero(np.logical_or(weight > 0.05, bad_diag))
    if names is None:
        return "parameters " + ", ".join(str(i) for i in idx[:6])
    shown = ", ".join(f"{c}:{t}" for c, t in (names[i] for i in idx[:6]))
    return "the parameters " + shown + (", ..." if idx.size > 6 else "")


def mixing_jacobian(data: MixtureData, model: MixtureModel, params: MixtureParams) -> Array:
    """Jacobian (K, P) of the average mixing proportions ``sum_i w_i pi_ik / sum_i w_i``
    in the packed parameters (only the mixing logits enter), for the delta method."""
    pc = model.components.pack(params.components).shape[0]
    jac_mix = model.mixing.proportions_jacobian(data.Z, params.gamma, data.weights)
    return np.concatenate([np.zeros((params.n_components, pc)), jac_mix], axis=1)


@dataclass(frozen=True)
class Covariance:
    """The covariance of the packed free parameters and how it was obtained.

    Attributes
    ----------
    cov_type : {"louis", "bootstrap"}
    cov : (P, P) covariance of the packed parameters
        (:meth:`~emglm.engine.em.MixtureModel.pack`).
    replicates : (B, P) aligned packed estimates of the successful bootstrap replicates.
    mixing_replicates : (B, K) their average mixing proportions.
    n_boot : bootstrap replicates asked for.
    n_failed : replicates that failed and were left out.
    kind : ``"nonparametric"`` or ``"parametric"`` for the bootstrap.
    start : where the bootstrap's refits started: ``"fit"`` or ``"random"``.
    """

    cov_type: str
    cov: Array
    replicates: Array | None = None
    mixing_replicates: Array | None = None
    n_boot: int = 0
    n_failed: int = 0
    kind: str = ""
    start: str = ""


def louis_covariance(
    data: MixtureData,
    model: MixtureModel,
    params: MixtureParams,
    names: list[tuple[str, str]],
) -> Covariance:
    """Louis observed information, inverted (with a warning when it is singular, naming
    the component model's reason when it knows one)."""
    info = louis_information(data, model, params)
    cause = model.components.why_singular(params.components)
    return Covariance("louis", invert_information(info, names, cause))
