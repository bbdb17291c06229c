"""The EM loop on NumPy arrays.

Given solver inputs (:class:`MixtureData`) and a start, :func:`run_em` alternates

* E-step: posteriors ``tau_ik`` in log space (log-sum-exp), and the observed-data
  log-likelihood ``llf = sum_i w_i log sum_k pi_ik f_k(y_i)``;
* M-step: weighted IRLS for every component with weights ``w_i tau_ik``
  (:mod:`emglm.irls`), then the mixing model (:mod:`emglm.mixing`),

until the relative change of the log-likelihood falls below ``tol``. Each M-step never
lowers its part of the expected complete-data log-likelihood, so ``llf`` never decreases.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from emglm import irls, kernels, mixing
from emglm.exceptions import InputError
from emglm.families import Family

Array = NDArray[np.float64]

EM_METHODS = ("em",)
ACCEL_METHODS = ("squarem", None)


@dataclass(frozen=True)
class MixtureData:
    """Solver inputs: the model's arrays, never modified by fitting.

    Attributes
    ----------
    y : (n,) response (binomial: proportion of ``trials``).
    X : (n, p) component design.
    offset : (n,) offset on the linear predictor.
    trials : (n,) binomial trials (ones for other families).
    weights : (n,) case (frequency) weights.
    Z : (n, q) concomitant design; a single column of ones for constant proportions.
    """

    y: Array
    X: Array
    offset: Array
    trials: Array
    weights: Array
    Z: Array

    @cached_property
    def components(self) -> irls.ComponentData:
        """The part of the inputs the component GLMs see (one object per data set, so that
        its cached normalising constants are computed once)."""
        return irls.ComponentData(self.y, self.X, self.offset, self.trials)

    @cached_property
    def unit_weights(self) -> bool:
        """Whether every case weight is 1 (the M-step then skips weighting)."""
        return bool(np.all(self.weights == 1.0))

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of the case weights."""
        return float(self.weights.sum())


@dataclass(frozen=True)
class MixtureParams:
    """All free parameters of a mixture: the solver state between iterations.

    Attributes
    ----------
    coef : (K, p) component coefficients.
    scale : (K,) component dispersions (1 for families without one).
    gamma : (q, K) mixing logits; column 0 (comp1) is the reference.
    """

    coef: Array
    scale: Array
    gamma: Array

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.coef.shape[0])


@dataclass(frozen=True)
class EMOptions:
    """Settings of one EM run (inputs, kept apart from the solver state).

    Attributes
    ----------
    max_iter : int
        Most M-steps.
    tol : float
        Stop when the relative change of the log-likelihood is below ``tol``.
    method : str
        The EM variant.
    m_step_iter : int
        IRLS steps per M-step for each component (warm-started, step-halving, so each is a
        generalised EM step). One step was fastest in ``benchmarks/bench_em.py`` and reached
        the same optimum; see ``docs/performance.md``.
    accel : {"squarem", None}
        EM acceleration (:mod:`emglm.accel`), for ``method="em"``; ``None`` is plain EM.
    """

    max_iter: int = 1000
    tol: float = 1e-8
    method: str = "em"
    m_step_iter: int = 1
    accel: str | None = "squarem"

    def __post_init__(self) -> None:
        if self.accel not in ACCEL_METHODS:
            allowed = ", ".join(repr(a) for a in ACCEL_METHODS)
            raise InputError(f"accel={self.accel!r} is not allowed; choose one of {allowed}")
        if (
            isinstance(self.m_step_iter, bool)
            or not isinstance(self.m_step_iter, int)
            or (self.m_step_iter < 1)
        ):
            raise InputError(f"m_step_iter must be a positive integer; got {self.m_step_iter!r}")


@dataclass(frozen=True)
class EMFit:
    """Outcome of one EM run."""

    params: MixtureParams
    posterior: Array
    llf: float
    llf_history: Array
    n_iter: int
    converged: bool
    last_change: float
    notes: tuple[str, ...] = field(default_factory=tuple)


def component_logdens(data: MixtureData, family: Family, params: MixtureParams) -> Array:
    """Log-density of every observation under every component, shape (n, K)."""
    eta = data.X @ params.coef.T + data.offset[:, None]
    const = data.components.loglik_constant(family)
    return family.loglik_eta(
        data.y[:, None],
        eta,
        params.scale,
        data.trials[:, None],
        None if const is None else const[:, None],
    )


def e_step(data: MixtureData, family: Family, params: MixtureParams) -> tuple[float, Array]:
    """Observed-data log-likelihood and posterior probabilities (n, K), in one blocked pass
    over the design (:func:`emglm.kernels.posterior_pass`)."""
    return kernels.posterior_pass(
        data.X,
        data.y,
        data.offset,
        data.trials,
        data.components.loglik_constant(family),
        data.weights,
        family,
        params.coef,
        params.scale,
        mixing.log_prior(data.Z, params.gamma),
    )


def m_step(
    data: MixtureData,
    family: Family,
    posterior: Array,
    params: MixtureParams | None,
    m_step_iter: int,
    scale_floor: float,
) -> MixtureParams:
    """Update every component GLM and the mixing model from posteriors ``(n, K)``."""
    n_comp = posterior.shape[1]
    wtau = posterior if data.unit_weights else posterior * data.weights[:, None]
    scale = np.ones(n_comp) if params is None else params.scale
    coef, scale = irls.m_step_components(
        data.components,
        family,
        wtau,
        None if params is None else params.coef,
        scale,
        m_step_iter,
    )
    scale = np.maximum(scale, scale_floor)
    if params is None:
        gamma = mixing.initial_gamma(data.Z, wtau)
    else:
        gamma = mixing.m_step_mixing(data.Z, wtau, params.gamma)
    return MixtureParams(coef=coef, scale=scale, gamma=gamma)


def scale_floor(data: MixtureData, family: Family) -> float:
    """Smallest dispersion allowed: a Gaussian variance collapsing onto a few points would
    make the likelihood unbounded, so variances stay above 1e-10 of the response's."""
    if not family.has_scale:
        return 0.0
    spread = float(np.var(data.y)) if data.y.size > 1 else 1.0
    return 1e-10 * max(spread, 1e-300)


def run_em(
    data: MixtureData,
    family: Family,
    start: MixtureParams | Array,
    options: EMOptions,
) -> EMFit:
    """Run EM from a full parameter set or from initial posteriors ``(n, K)``.

    Examples
    --------
    >>> import numpy as np
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> X = np.ones((n, 1))
    >>> y = np.r_[rng.poisson(2, n // 2), rng.poisson(12, n // 2)].astype(float)
    >>> data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    >>> tau0 = np.c_[y < 6, y >= 6].astype(float)
    >>> fit = run_em(data, get_family("poisson"), tau0, EMOptions(tol=1e-10))
    >>> np.exp(fit.params.coef[:, 0]).round(1), fit.converged
    (array([ 1.8, 12. ]), True)
    """
    floor = scale_floor(data, family)
    if isinstance(start, MixtureParams):
        params = start
    else:
        params = m_step(data, family, start, None, options.m_step_iter, floor)
    if options.accel == "squarem" and options.method == "em":
        return _run_squarem(data, family, params, options, floor)
    history: list[float] = []
    converged = False
    change = np.inf
    llf, posterior = e_step(data, family, params)
    history.append(llf)
    n_iter = 0
    for n_iter in range(1, options.max_iter + 1):  # noqa: B007 (used after the loop)
        params = m_step(data, family, posterior, params, options.m_step_iter, floor)
        llf, posterior = e_step(data, family, params)
        change = (llf - history[-1]) / max(abs(history[-1]), 1e-300)
        history.append(llf)
        if abs(change) < options.tol:
            converged = True
            break
    return EMFit(
        params=params,
        posterior=posterior,
        llf=llf,
        llf_history=np.asarray(history),
        n_iter=n_iter,
        converged=converged,
        last_change=float(change),
    )


def _run_squarem(
    data: MixtureData, family: Family, params: MixtureParams, options: EMOptions, floor: float
) -> EMFit:
    """EM accelerated by SQUAREM (:mod:`emglm.accel`), from full parameters."""
    from emglm import accel  # accel builds on this module's MixtureParams

    out = accel.squarem(
        params,
        lambda p: e_step(data, family, p),
        lambda post, p: m_step(data, family, post, p, options.m_step_iter, floor),
        options.tol,
        options.max_iter,
        floor if family.has_scale else None,
    )
    return EMFit(
        params=out.params,
        posterior=out.posterior,
        llf=out.llf,
        llf_history=out.llf_history,
        n_iter=out.n_iter,
        converged=out.converged,
        last_change=out.last_change,
    )


def canonical_order(params: MixtureParams, proportions: Array) -> Array:
    """Permutation putting components in canonical order.

    Components are sorted by decreasing mixing proportion; ties (to 1e-8) are broken by
    the coefficients, compared in order. Reruns and restarts therefore line up.
    """
    keys = [tuple(np.round(params.coef[k], 10)) for k in range(params.n_components)]
    rounded = np.round(proportions, 8)
    return np.array(
        sorted(range(params.n_components), key=lambda k: (-rounded[k], keys[k])), dtype=int
    )


def permute(fit: EMFit, perm: Array) -> EMFit:
    """Reorder a fit's components by ``perm`` (comp1 stays the mixing reference)."""
    p = fit.params
    gamma = p.gamma[:, perm]
    gamma = gamma - gamma[:, :1]
    params = MixtureParams(coef=p.coef[perm], scale=p.scale[perm], gamma=gamma)
    return replace(fit, params=params, posterior=fit.posterior[:, perm])
