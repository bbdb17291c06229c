"""The EM loop, generic over the component model.

Given the data (:class:`~emglm.data.arrays.MixtureData`), a :class:`MixtureModel` (a
component-model driver and a mixing model) and a start, :func:`run_em` alternates

* E-step: posteriors ``tau_ik`` in log space and the observed-data log-likelihood
  ``llf = sum_i w_i log sum_k pi_ik f_k(y_i)``, from the driver's pass over the rows;
* M-step: the mixing model's update, then the driver's M-step with weights ``w_i tau_ik``
  (which may hand back the next E-step from its last pass: the fused pass),

until the relative change of the log-likelihood falls below ``tol``. Each M-step never
lowers its part of the expected complete-data log-likelihood, so ``llf`` never decreases.

Variants (``EMOptions.method``, see :func:`m_step_weights`): ``"em"`` weights the M-step by
the posteriors; ``"cem"`` (classification EM) by hard labels, the most probable component,
and stops when the classification log-likelihood settles; ``"sem"`` (stochastic EM) by
labels drawn from the posteriors, and returns the best iterate it visited. A component whose
M-step weight falls below ``max(minprior * nobs, what its GLM needs)`` is dropped
(flexmix's ``minprior`` rule) and the drop is recorded in :attr:`EMFit.drops` (with the llf
before it and after the M-step that follows: the only place the history may fall) and
:attr:`EMFit.notes`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from emglm.components.base import EStep, NextEStep
from emglm.data.arrays import MixtureData
from emglm.engine import accel, newton
from emglm.engine.mixture import MixtureModel, e_step, e_step_pass
from emglm.engine.state import (
    ACCEL_METHODS,
    EM_METHODS,
    Drop,
    DropLog,
    EMFit,
    EMOptions,
    MixtureParams,
)

__all__ = [
    "ACCEL_METHODS",
    "EM_METHODS",
    "EMFit",
    "EMOptions",
    "MixtureModel",
    "MixtureParams",
    "e_step",
    "e_step_pass",
    "run_em",
]

Array = NDArray[np.float64]

# SEM never settles: it stops after this many iterations without a better log-likelihood.
SEM_PATIENCE = 20


def m_step(
    data: MixtureData,
    model: MixtureModel,
    posterior: Array,
    params: MixtureParams | None = None,
    m_step_iter: int = 1,
) -> MixtureParams:
    """One M-step from posteriors (or labels) ``(n, K)``: from the weights alone when
    ``params`` is ``None``, else warm-started at ``params`` (the mixing model first, as in
    :func:`m_step_and_e_step`, but without a fused E-step)."""
    wtau = data.weighted(posterior)
    if params is None:
        gamma = model.mixing.initial(data.unit_Z, data.unit_first(wtau))
        return MixtureParams(model.components.m_step_cold(data, wtau), gamma)
    gamma = model.mixing.m_step(data.unit_Z, data.unit_first(wtau), params.gamma)
    comp, _ = model.components.m_step(data, wtau, params.components, None, None, m_step_iter)
    return MixtureParams(comp, gamma)


def m_step_and_e_step(
    data: MixtureData,
    model: MixtureModel,
    posterior: Array,
    params: MixtureParams,
    m_step_iter: int,
    first: EStep | None = None,
    linearise: bool = True,
) -> tuple[MixtureParams, EStep | None]:
    """One M-step from ``params``, and the E-step at the new parameters when the component
    model's last pass gave it (else ``None``: then call :func:`e_step_pass`).

    first : the E-step pass that made ``posterior``, when the M-step weights are exactly
        those posteriors (the driver may reuse work of that pass).
    linearise : whether the E-step made here also prepares the next M-step (EM only;
        CEM and SEM weight the M-step by labels, not posteriors).
    """
    wtau = data.weighted(posterior)
    # The mixing model first (fitted to units: rows, or groups): the fused E-step needs the
    # new prior probabilities. Grouped data have no fused pass.
    gamma = model.mixing.m_step(data.unit_Z, data.unit_first(wtau), params.gamma)
    next_estep = None
    if data.groups is None:
        next_estep = NextEStep(data.pass_weights, model.mixing.log_prior(data.Z, gamma), linearise)
    else:
        first = None  # the grouped E-step carries no work for the driver
    comp, fused = model.components.m_step(
        data, wtau, params.components, next_estep, first, m_step_iter
    )
    return MixtureParams(comp, gamma), fused


def run_em(
    data: MixtureData,
    model: MixtureModel,
    start: MixtureParams | Array,
    options: EMOptions,
    rng: np.random.Generator | None = None,
) -> EMFit:
    """Run EM from a full parameter set or from initial posteriors ``(n, K)``.

    ``rng`` draws the labels of ``method="sem"`` (default: a fresh unseeded generator).

    Examples
    --------
    >>> import numpy as np
    >>> from emglm.components.glm import GLMComponents
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(1)
    >>> n = 400
    >>> X = np.ones((n, 1))
    >>> y = np.r_[rng.poisson(2, n // 2), rng.poisson(12, n // 2)].astype(float)
    >>> data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    >>> model = MixtureModel.for_data(GLMComponents(get_family("poisson"), ["Intercept"]), data)
    >>> tau0 = np.c_[y < 6, y >= 6].astype(float)
    >>> fit = run_em(data, model, tau0, EMOptions(tol=1e-10))
    >>> np.exp(fit.params.components.coef[:, 0]).round(1), fit.converged
    (array([ 1.8, 12. ]), True)
    """
    method = options.method
    rng = np.random.default_rng() if rng is None else rng
    log = DropLog()
    if isinstance(start, MixtureParams):
        params = start
    else:
        _, start = _drop_degenerate(data, model, None, start, options, 0, log)
        params = m_step(data, model, start)
    if options.accel == "squarem" and options.method == "em":
        return _run_squarem(data, model, params, options, log)
    history: list[float] = []
    converged = False
    change = np.inf
    linearise = method == "em"
    out = e_step_pass(data, model, params, linearise)
    llf, posterior = out.llf, out.posterior
    history.append(llf)
    log.seen(llf)
    objective = _objective(data, method, llf, posterior)
    # SEM returns the best iterate it visited; the other methods keep no old posteriors.
    best = (llf, params, posterior) if method == "sem" else None
    stall = 0
    n_iter = 0
    for n_iter in range(1, options.max_iter + 1):
        weights = m_step_weights(posterior, method, rng, data)
        kept, weights = _drop_degenerate(data, model, params, weights, options, n_iter, log)
        if kept is not None:
            params = kept
        first = out if weights is posterior else None  # no component dropped
        del posterior, out
        params, fused = m_step_and_e_step(
            data, model, weights, params, options.m_step_iter, first, linearise
        )
        del weights, first
        out = e_step_pass(data, model, params, linearise) if fused is None else fused
        llf, posterior = out.llf, out.posterior
        del fused
        history.append(llf)
        log.seen(llf)
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
    notes, drops = log.finished()
    return EMFit(
        params=params,
        posterior=posterior,
        llf=llf,
        llf_history=np.asarray(history),
        n_iter=n_iter,
        converged=converged,
        last_change=float(change),
        notes=notes,
        drops=drops,
    )


def _run_squarem(
    data: MixtureData,
    model: MixtureModel,
    params: MixtureParams,
    options: EMOptions,
    log: DropLog,
) -> EMFit:
    """EM accelerated by SQUAREM (:mod:`emglm.engine.accel`), from full parameters. The EM
    map is the plain loop's: drop degenerate components, then one M-step."""
    n_maps = 0
    # Work shared between passes (see m_step_and_e_step): the E-step an EM map made at its
    # output, and the last E-step passes (the M-step from a pass's posteriors reuses its
    # work; after a jump that is not taken, the M-step from the pass before it).
    ready: list[tuple[MixtureParams, EStep]] = []
    made: list[EStep] = []

    def made_for(posterior: Array) -> EStep | None:
        return next((out for out in made if out.posterior is posterior), None)

    def em_map(posterior: Array, current: MixtureParams, linearise: bool = True) -> MixtureParams:
        nonlocal n_maps
        n_maps += 1
        source = made_for(posterior)
        if source is not None:
            log.last_llf = source.llf  # the llf of the posteriors this M-step uses
        kept, weights = _drop_degenerate(data, model, current, posterior, options, n_maps, log)
        current = current if kept is None else kept
        first = source if weights is posterior else None
        made.clear()
        new, fused = m_step_and_e_step(
            data, model, weights, current, options.m_step_iter, first, linearise
        )
        ready.clear()
        if fused is not None:
            ready.append((new, fused))
        return new

    def e_step_at(p: MixtureParams) -> tuple[float, Array]:
        # The pass before this one stays until the next M-step; older ones go before this
        # one is made, so that at most two are alive beside the one being made.
        del made[:-1]
        out = ready.pop()[1] if ready and ready[0][0] is p else e_step_pass(data, model, p, True)
        ready.clear()
        made.append(out)
        log.seen(out.llf)
        return out.llf, out.posterior

    def propose(posterior: Array, current: MixtureParams) -> MixtureParams | None:
        if options.m_step_iter != 1:
            return None
        return propose_step(data, model, posterior, current, made_for(posterior), options)

    proposals = hasattr(model.components, "propose")
    newton_point = None
    if options.newton and proposals and newton.worthwhile(data.n_units):
        steps = newton.NewtonSteps(model, data)

        def newton_point(
            posterior: Array, current: MixtureParams
        ) -> tuple[MixtureParams, float] | None:
            return steps.point(
                current, lambda: propose(posterior, current), rows_read=n_maps * data.n_units
            )

    fit, _ = accel.squarem(
        params,
        e_step_at,
        em_map,
        options.tol,
        options.max_iter,
        model.pack,
        lambda vec, like: model.unpack(data, vec, like),
        # The M-step from p2 mostly gives way to a jump: linearising there is wasted.
        lambda posterior, current: em_map(posterior, current, linearise=False),
        propose if proposals else None,
        newton_point,
    )
    notes, drops = log.finished()
    return replace(fit, notes=notes, drops=drops)


def propose_step(
    data: MixtureData,
    model: MixtureModel,
    posterior: Array,
    params: MixtureParams,
    first: EStep | None,
    options: EMOptions,
) -> MixtureParams | None:
    """The EM map for SQUAREM to extrapolate from, without reading the data: the mixing
    model's M-step and the component model's optional ``propose`` (an M-step from the work
    of ``first``, the pass that made ``posterior``). ``None`` when the driver cannot, the
    data are grouped, or the minprior rule would drop a component (the regular EM map
    then records the drop)."""
    propose = getattr(model.components, "propose", None)
    if propose is None or first is None or data.groups is not None:
        return None
    _, weights = _drop_degenerate(data, model, params, posterior, options, 0, DropLog())
    if weights is not posterior:
        return None
    wtau = data.weighted(posterior)
    comp = propose(data, wtau, params.components, first)
    if comp is None:
        return None
    gamma = model.mixing.m_step(data.unit_Z, data.unit_first(wtau), params.gamma)
    return MixtureParams(comp, gamma)


def m_step_weights(
    posterior: Array, method: str, rng: np.random.Generator, data: MixtureData | None = None
) -> Array:
    """The weights ``(n, K)`` the M-step uses, from the posteriors.

    ``"em"``: the posteriors themselves. ``"cem"``: one-hot rows at the most probable
    component (ties to the lower index). ``"sem"``: one-hot rows at a component drawn from
    each unit's posteriors (with grouped ``data``, one draw per group for all its rows).

    Examples
    --------
    >>> tau = np.array([[0.7, 0.3], [0.2, 0.8]])
    >>> m_step_weights(tau, "cem", np.random.default_rng(0))
    array([[1., 0.],
           [0., 1.]])
    """
    if method == "em":
        return posterior
    n_comp = posterior.shape[1]
    labels: NDArray[np.intp]
    if method == "cem":
        labels = posterior.argmax(axis=1)
        return np.eye(n_comp)[labels]
    unit_post = posterior if data is None else data.unit_first(posterior)
    u = rng.random((unit_post.shape[0], 1))
    labels = np.minimum((np.cumsum(unit_post, axis=1) < u).sum(axis=1), n_comp - 1)
    one_hot = np.eye(n_comp)[labels]
    return one_hot if data is None else data.unit_rows(one_hot)


def classification_llf(data: MixtureData, llf: float, posterior: Array) -> float:
    """Classification log-likelihood ``sum_u w_u max_k log(pi_uk f_k(y_u))`` over units
    (rows, or groups) from the observed ``llf`` and the posteriors (``log max_k tau_uk``
    is at least ``-log K``)."""
    best = data.unit_first(posterior).max(axis=1)
    return llf + float(np.dot(data.unit_case_weights, np.log(best)))


def _objective(data: MixtureData, method: str, llf: float, posterior: Array) -> float:
    """What a method climbs: the classification log-likelihood for CEM, else ``llf``."""
    return classification_llf(data, llf, posterior) if method == "cem" else llf


def _drop_degenerate(
    data: MixtureData,
    model: MixtureModel,
    params: MixtureParams | None,
    weights: Array,
    options: EMOptions,
    n_iter: int,
    log: DropLog,
) -> tuple[MixtureParams | None, Array]:
    """Drop components whose M-step weight is below ``max(minprior * nobs, need)``.

    ``need`` is what a component needs (:meth:`ComponentModel.min_weight`: its number of
    parameters). At least the heaviest component is always kept. Returns the remaining
    parameters (``None`` when ``params`` is ``None``) and weights, renormalised by row.
    """
    mass = data.weighted_sum(weights)
    need = model.components.min_weight(data)
    threshold = max(options.minprior * data.nobs, need)
    keep = mass >= threshold
    if data.groups is not None:
        # minprior counts groups, as flexmix does; the rows must still carry the component.
        unit_mass = data.unit_case_weights @ data.unit_first(weights)
        threshold = max(options.minprior * data.unit_nobs, need)
        keep = (unit_mass >= options.minprior * data.unit_nobs) & (mass >= need)
        mass = unit_mass
    kept = record_drops(keep, mass, threshold, need, data.unit_nobs, options, n_iter, log)
    if kept is None:
        return params, weights
    keep = kept
    weights = weights[:, keep]
    total = weights.sum(axis=1, keepdims=True)
    # A row whose weight sat only on dropped components is spread evenly.
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), 1.0 / keep.sum())
    if params is None:
        return None, weights
    return model.take(params, keep), weights


def record_drops(
    keep: NDArray[np.bool_],
    mass: Array,
    threshold: float,
    need: float,
    unit_nobs: float,
    options: EMOptions,
    n_iter: int,
    log: DropLog,
) -> NDArray[np.bool_] | None:
    """The minprior rule's verdict from the components' M-step weights ``mass``: ``None``
    when every component stays, else the mask of those kept (at least the heaviest), each
    drop recorded in ``log``. Shared by every data backend (the weights may be sums over
    partitions)."""
    if keep.all():
        return None
    keep = keep.copy()
    if not keep.any():
        keep[np.argmax(mass)] = True
    for k in np.flatnonzero(~keep):
        prior = float(mass[k] / unit_nobs)
        log.dropped(
            Drop(n_iter, int(k) + 1, len(keep), float(mass[k]), prior, np.nan, np.nan),
            f"iteration {n_iter}: dropped component {k + 1} of {len(keep)}: its weight "
            f"{mass[k]:.3g} (prior {prior:.3g}) fell below {threshold:.3g} "
            f"= max(minprior={options.minprior:g} x nobs, {need:g} parameters)",
        )
    return keep


def canonical_order(model: MixtureModel, params: MixtureParams, proportions: Array) -> Array:
    """Permutation putting components in canonical order.

    Components are sorted by decreasing mixing proportion; ties (to 1e-8) are broken by
    the component model's keys (the coefficients, compared in order, for GLMs). Reruns
    and restarts therefore line up. Components the model pins (its optional ``pinned``:
    a boolean mask, e.g. a point mass) keep their places; only the others are sorted.
    """
    keys = model.components.sort_keys(params.components)
    rounded = np.round(proportions, 8)
    pinned = getattr(model.components, "pinned", None)
    fixed = np.zeros(params.n_components, bool) if pinned is None else pinned(params.components)
    order = np.arange(params.n_components)
    free = np.flatnonzero(~fixed)
    order[free] = sorted(free, key=lambda k: (-rounded[k], keys[k]))
    return np.asarray(order, dtype=int)


def permute(model: MixtureModel, fit: EMFit, perm: Array) -> EMFit:
    """Reorder a fit's components by ``perm`` (comp1 stays the mixing reference)."""
    return replace(fit, params=model.take(fit.params, perm), posterior=fit.posterior[:, perm])
