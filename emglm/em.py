"""The EM loop on NumPy arrays.

Given solver inputs (:class:`MixtureData`) and a start, :func:`run_em` alternates

* E-step: posteriors ``tau_ik`` in log space (log-sum-exp), and the observed-data
  log-likelihood ``llf = sum_i w_i log sum_k pi_ik f_k(y_i)``;
* M-step: weighted IRLS for every component with weights ``w_i tau_ik``
  (:mod:`emglm.irls`), then the mixing model (:mod:`emglm.mixing`),

until the relative change of the log-likelihood falls below ``tol``. Each M-step never
lowers its part of the expected complete-data log-likelihood, so ``llf`` never decreases.

Variants (``EMOptions.method``, see :func:`m_step_weights`): ``"em"`` weights the M-step by
the posteriors; ``"cem"`` (classification EM) by hard labels, the most probable component,
and stops when the classification log-likelihood settles; ``"sem"`` (stochastic EM) by
labels drawn from the posteriors, and returns the best iterate it visited. A component whose
M-step weight falls below ``max(minprior * nobs, what its GLM needs)`` is dropped
(flexmix's ``minprior`` rule) and the drop is recorded in :attr:`EMFit.notes`.
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

EM_METHODS = ("em", "cem", "sem")
ACCEL_METHODS = ("squarem", None)

# SEM never settles: it stops after this many iterations without a better log-likelihood.
SEM_PATIENCE = 20


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
    def pass_weights(self) -> Array | None:
        """The case weights as the E-step pass takes them: ``None`` when all are 1."""
        return None if self.unit_weights else self.weights

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
        Stop when the relative change of the log-likelihood is below ``tol`` (SQUAREM: and
        the parameters' estimated distance to the fixed point, :mod:`emglm.accel`).
    method : str
        The EM variant.
    m_step_iter : int
        IRLS steps per M-step for each component (warm-started, step-halving, so each is a
        generalised EM step). One step was fastest in ``benchmarks/bench_em.py`` and reached
        the same optimum; see ``docs/performance.md``.
    accel : {"squarem", None}
        EM acceleration (:mod:`emglm.accel`), for ``method="em"``; ``None`` is plain EM.
    minprior : float
        Components whose M-step weight falls below ``minprior * nobs`` are dropped.
    """

    max_iter: int = 1000
    tol: float = 1e-8
    method: str = "em"
    m_step_iter: int = 1
    accel: str | None = "squarem"
    minprior: float = 0.0

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


def e_step(data: MixtureData, family: Family, params: MixtureParams) -> tuple[float, Array]:
    """Observed-data log-likelihood and posterior probabilities (n, K), in one blocked pass
    over the design (:func:`emglm.kernels.e_step_pass`)."""
    out = e_step_pass(data, family, params, linearise=False)
    return out.llf, out.posterior


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


def m_step_and_e_step(
    data: MixtureData,
    family: Family,
    posterior: Array,
    params: MixtureParams,
    m_step_iter: int,
    scale_floor: float,
    first: tuple[Array, Array, Array] | None = None,
    linearise: bool = True,
) -> tuple[MixtureParams, kernels.EStepPass | None]:
    """:func:`m_step` from ``params``, and the E-step at the new parameters when the M-step's
    last pass over ``X`` gave it (:func:`emglm.irls.m_step_components_and_e_step`), else
    ``None``: then call :func:`e_step_pass`. Same parameters as :func:`m_step`, and

    first : the first IRLS linearisation at ``params`` with weights ``posterior``, when the
        E-step pass that made ``posterior`` gave it (``EStepPass.linearisation``).
    linearise : whether the E-step made here also linearises the next M-step (EM only;
        CEM and SEM weight the M-step by labels, not posteriors).
    """
    wtau = posterior if data.unit_weights else posterior * data.weights[:, None]
    # The mixing model first: the fused E-step needs the new prior probabilities.
    gamma = mixing.m_step_mixing(data.Z, wtau, params.gamma)
    coef, scale, fused = irls.m_step_components_and_e_step(
        data.components,
        family,
        wtau,
        params.coef,
        params.scale,
        m_step_iter,
        irls.EStepInputs(data.pass_weights, mixing.log_prior(data.Z, gamma), linearise),
        first,
    )
    new = MixtureParams(coef=coef, scale=np.maximum(scale, scale_floor), gamma=gamma)
    return new, fused


def e_step_pass(
    data: MixtureData, family: Family, params: MixtureParams, linearise: bool
) -> kernels.EStepPass:
    """:func:`e_step`; with ``linearise``, for families whose M-step can use it
    (:func:`emglm.irls.shares_passes`), the same pass also forms the first IRLS
    linearisation of the next M-step (weights: the posteriors times the case weights)."""
    return kernels.e_step_pass(
        data.X,
        data.y,
        data.components.pass_offset,
        data.components.pass_trials,
        data.components.loglik_constant(family),
        data.pass_weights,
        family,
        params.coef,
        params.scale,
        mixing.log_prior(data.Z, params.gamma),
        linearise=linearise and irls.shares_passes(family),
        ones_col=data.components.ones_col,
    )


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
    rng: np.random.Generator | None = None,
) -> EMFit:
    """Run EM from a full parameter set or from initial posteriors ``(n, K)``.

    ``rng`` draws the labels of ``method="sem"`` (default: a fresh unseeded generator).

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
    method = options.method
    rng = np.random.default_rng() if rng is None else rng
    notes: list[str] = []
    if isinstance(start, MixtureParams):
        params = start
    else:
        _, start = _drop_degenerate(data, family, None, start, options, 0, notes)
        params = m_step(data, family, start, None, options.m_step_iter, floor)
    if options.accel == "squarem" and options.method == "em":
        return _run_squarem(data, family, params, options, floor, notes)
    history: list[float] = []
    converged = False
    change = np.inf
    linearise = method == "em"
    out = e_step_pass(data, family, params, linearise)
    llf, posterior, lin = out.llf, out.posterior, out.linearisation
    del out
    history.append(llf)
    objective = _objective(data, method, llf, posterior)
    # SEM returns the best iterate it visited; the other methods keep no old posteriors.
    best = (llf, params, posterior) if method == "sem" else None
    stall = 0
    n_iter = 0
    for n_iter in range(1, options.max_iter + 1):
        weights = m_step_weights(posterior, method, rng)
        kept, weights = _drop_degenerate(data, family, params, weights, options, n_iter, notes)
        if kept is not None:
            params = kept
        first = lin if weights is posterior else None  # no component dropped
        del posterior
        params, fused = m_step_and_e_step(
            data, family, weights, params, options.m_step_iter, floor, first, linearise
        )
        del weights
        out = e_step_pass(data, family, params, linearise) if fused is None else fused
        llf, posterior, lin = out.llf, out.posterior, out.linearisation
        del out, fused
        history.append(llf)
        if best is not None:  # SEM: keep the best iterate; stop once it stops improving
            shrunk = best[1].n_components != params.n_components
            if shrunk or llf > best[0] + options.tol * abs(best[0]):
                change = (llf - best[0]) / max(abs(best[0]), 1e-300)
                best, stall = (llf, params, posterior), 0
            else:
                stall += 1
            if stall >= SEM_PATIENCE:
                converged = True
                break
            continue
        new_objective = _objective(data, method, llf, posterior)
        change = (new_objective - objective) / max(abs(objective), 1e-300)
        objective = new_objective
        if abs(change) < options.tol:
            converged = True
            break
    if best is not None:
        llf, params, posterior = best
    return EMFit(
        params=params,
        posterior=posterior,
        llf=llf,
        llf_history=np.asarray(history),
        n_iter=n_iter,
        converged=converged,
        last_change=float(change),
        notes=tuple(notes),
    )


def _run_squarem(
    data: MixtureData,
    family: Family,
    params: MixtureParams,
    options: EMOptions,
    floor: float,
    notes: list[str],
) -> EMFit:
    """EM accelerated by SQUAREM (:mod:`emglm.accel`), from full parameters. The EM map is
    the plain loop's: drop degenerate components, then one M-step."""
    from emglm import accel  # accel builds on this module's MixtureParams

    n_maps = 0
    # Work shared between passes (see m_step_and_e_step): the E-step an EM map made at its
    # output, and the linearisation the last E-step made for the M-step from its posteriors.
    ready: list[tuple[MixtureParams, kernels.EStepPass]] = []
    linearised: list[tuple[Array, tuple[Array, Array, Array]]] = []

    def em_map(posterior: Array, current: MixtureParams, linearise: bool = True) -> MixtureParams:
        nonlocal n_maps
        n_maps += 1
        kept, weights = _drop_degenerate(data, family, current, posterior, options, n_maps, notes)
        current = current if kept is None else kept
        first = None
        if linearised and linearised[0][0] is posterior and weights is posterior:
            first = linearised[0][1]
        linearised.clear()
        new, fused = m_step_and_e_step(
            data, family, weights, current, options.m_step_iter, floor, first, linearise
        )
        ready.clear()
        if fused is not None:
            ready.append((new, fused))
        return new

    def e_step_at(p: MixtureParams) -> tuple[float, Array]:
        out = ready.pop()[1] if ready and ready[0][0] is p else e_step_pass(data, family, p, True)
        ready.clear()
        linearised.clear()
        if out.linearisation is not None:
            linearised.append((out.posterior, out.linearisation))
        return out.llf, out.posterior

    fit, _ = accel.squarem(
        params,
        e_step_at,
        em_map,
        options.tol,
        options.max_iter,
        floor if family.has_scale else None,
        # The M-step from p2 mostly gives way to a jump: linearising there is wasted.
        lambda posterior, current: em_map(posterior, current, linearise=False),
        feasible=lambda p: mixing.within_bound(data.Z, p.gamma),
    )
    return replace(fit, notes=tuple(notes))


def m_step_weights(posterior: Array, method: str, rng: np.random.Generator) -> Array:
    """The weights ``(n, K)`` the M-step uses, from the posteriors.

    ``"em"``: the posteriors themselves. ``"cem"``: one-hot rows at the most probable
    component (ties to the lower index). ``"sem"``: one-hot rows at a component drawn from
    each row's posteriors.

    Examples
    --------
    >>> tau = np.array([[0.7, 0.3], [0.2, 0.8]])
    >>> m_step_weights(tau, "cem", np.random.default_rng(0))
    array([[1., 0.],
           [0., 1.]])
    """
    if method == "em":
        return posterior
    n, n_comp = posterior.shape
    labels: NDArray[np.intp]
    if method == "cem":
        labels = posterior.argmax(axis=1)
    else:
        u = rng.random((n, 1))
        labels = np.minimum((np.cumsum(posterior, axis=1) < u).sum(axis=1), n_comp - 1)
    return np.eye(n_comp)[labels]


def classification_llf(data: MixtureData, llf: float, posterior: Array) -> float:
    """Classification log-likelihood ``sum_i w_i max_k log(pi_ik f_k(y_i))`` from the
    observed ``llf`` and the posteriors (``log max_k tau_ik`` is at least ``-log K``)."""
    return llf + float(np.dot(data.weights, np.log(posterior.max(axis=1))))


def _objective(data: MixtureData, method: str, llf: float, posterior: Array) -> float:
    """What a method climbs: the classification log-likelihood for CEM, else ``llf``."""
    return classification_llf(data, llf, posterior) if method == "cem" else llf


def _drop_degenerate(
    data: MixtureData,
    family: Family,
    params: MixtureParams | None,
    weights: Array,
    options: EMOptions,
    n_iter: int,
    notes: list[str],
) -> tuple[MixtureParams | None, Array]:
    """Drop components whose M-step weight is below ``max(minprior * nobs, need)``.

    ``need`` is what a component GLM needs: its number of coefficients, plus one when it
    has a dispersion. At least the heaviest component is always kept. Returns the remaining
    parameters (``None`` when ``params`` is ``None``) and weights, renormalised by row.
    """
    mass = np.asarray(data.weights @ weights)
    need = data.X.shape[1] + (1 if family.has_scale else 0)
    threshold = max(options.minprior * data.nobs, float(need))
    keep = mass >= threshold
    if keep.all():
        return params, weights
    if not keep.any():
        keep[np.argmax(mass)] = True
    for k in np.flatnonzero(~keep):
        notes.append(
            f"iteration {n_iter}: dropped component {k + 1} of {len(keep)}: its weight "
            f"{mass[k]:.3g} (prior {mass[k] / data.nobs:.3g}) fell below {threshold:.3g} "
            f"= max(minprior={options.minprior:g} x nobs, {need} parameters)"
        )
    weights = weights[:, keep]
    total = weights.sum(axis=1, keepdims=True)
    # A row whose weight sat only on dropped components is spread evenly.
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / keep.sum())
    if params is None:
        return None, weights
    gamma = params.gamma[:, keep]
    kept = MixtureParams(
        coef=params.coef[keep], scale=params.scale[keep], gamma=gamma - gamma[:, :1]
    )
    return kept, weights


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
