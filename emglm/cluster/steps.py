"""The E- and M-steps of a GLM mixture from sums over partitions, on the client.

The in-memory engine holds the (n, K) posteriors between steps; here they exist only on
the workers. What the EM loop holds instead is a :class:`Posterior`: the parameters that
make the posteriors, their log-likelihood and the column sums of the M-step weights. Every
quantity the in-memory M-step reads from the rows (IRLS normal equations, step-halving
checks, residual sums of squares, the multinomial mixing model's gradient, Hessian and
objective) is one job of a pass (:mod:`emglm.cluster.jobs`), and the
decisions taken from them follow :mod:`emglm.components.irls` and :mod:`emglm.mixing` step
for step (the same constants, the same order), so the iterates are the in-memory ones to
rounding. A pass also computes, speculatively, what the next step will ask for (the E-step
at the proposals the step-halving check tests: the in-memory fused pass); the runner keeps
results by job, so a request already answered costs no pass.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.cluster import dispersion, shared_steps
from emglm.cluster.jobs import (
    CheckJob,
    EStepJob,
    Job,
    LeastSquaresJob,
    LinJob,
    MixingJob,
    RSSJob,
    Source,
    Stats,
    glm_driver,
    glm_params,
    with_glm,
)
from emglm.components import irls
from emglm.components.glm import GLMParams
from emglm.engine.em import MixtureModel, MixtureParams, record_drops
from emglm.engine.state import DropLog, EMOptions
from emglm.mixing import gamma_from_proportions

Array = NDArray[np.float64]
Run = Callable[[Sequence[Job]], list[Stats]]
#: The jobs of the next E-step at given GLM components' parameters (and the next mixing
#: logits): what a fused check pass runs too.
NextJobs = Callable[[GLMParams], list[Job]]

# The in-memory IRLS's constants (emglm.components.irls): the same decisions here.
_MAX_HALVINGS = irls._MAX_HALVINGS
_ROUNDING = irls._ROUNDING
_COLD_ITER = irls._COLD_ITER
_FAR_GAIN = irls._FAR_GAIN
# Newton steps of the multinomial mixing M-step (emglm.mixing.MultinomialMixing.m_step).
_MIXING_ITER = 100


@dataclass(frozen=True)
class DataFacts:
    """What the steps need to know of the whole data set: observations (sum of case
    weights), design columns, the dispersion floor and, with groups, the sum of the
    groups' case weights (``None`` when every row is its own unit)."""

    nobs: float
    n_columns: int
    floor: float
    unit_nobs: float | None = None


@dataclass(frozen=True)
class Posterior:
    """Posteriors by reference: their source (parameters), llf, ``sum_i w_i tau_ik`` and,
    with groups, ``sum_g w_g tau_gk``."""

    src: Source
    llf: float
    mass: Array
    unit_mass: Array | None = None


def estep_jobs(model: MixtureModel, params: MixtureParams) -> list[Job]:
    """The E-step at ``params`` and what the M-step from its posteriors asks first (its
    first IRLS linearisation or least-squares equations, the mixing model's Newton pieces
    ): all from one pass."""
    src = Source(params)
    glm = glm_driver(model)
    comp, _ = glm_params(params.components)
    cols = tuple(range(comp.coef.shape[0]))
    jobs: list[Job] = [EStepJob(src)]
    if glm.family.least_squares:
        jobs.append(LeastSquaresJob(src, cols))
    else:
        jobs.append(LinJob(src, cols, comp.coef, comp.scale))
    if model.mixing.varies_by_row:
        gamma = params.gamma - params.gamma[:, :1]
        jobs.append(MixingJob(src, gamma))
    return jobs


def e_step(run: Run, model: MixtureModel, params: MixtureParams) -> Posterior:
    """The E-step at ``params`` (llf and weight sums; the posteriors stay on the workers)."""
    src = Source(params)
    first = run(estep_jobs(model, params))[0]
    unit_mass = first.get("unit_mass")
    return Posterior(
        src, float(first["llf"]), np.asarray(first["mass"], dtype=float),
        None if unit_mass is None else np.asarray(unit_mass, dtype=float),
    )  # fmt: skip


def drop_degenerate(
    run: Run,
    model: MixtureModel,
    params: MixtureParams,
    post: Posterior,
    nobs: float,
    n_columns: int,
    options: EMOptions,
    n_iter: int,
    log: DropLog,
    unit_nobs: float | None = None,
) -> tuple[MixtureParams, Source, Array]:
    """The minprior rule (:func:`emglm.engine.em.record_drops`) on the posteriors' weight
    sums; returns the kept parameters, the source of the M-step weights and their sums.
    With groups (``unit_nobs``) minprior counts groups, and the rows must still carry a
    component's parameters, as in memory (:func:`emglm.engine.em._drop_degenerate`)."""
    shared = shared_steps.driver_of(model)
    need = (
        float(glm_driver(model).per_component(n_columns))
        if shared is None
        else shared.needed_weight()
    )
    threshold = max(options.minprior * nobs, need)
    ok, mass, units = post.mass >= threshold, post.mass, nobs
    if unit_nobs is not None and post.unit_mass is not None:
        threshold = max(options.minprior * unit_nobs, need)
        ok = (post.unit_mass >= options.minprior * unit_nobs) & (post.mass >= need)
        mass, units = post.unit_mass, unit_nobs
    keep = record_drops(ok, mass, threshold, need, units, options, n_iter, log)
    if keep is None:
        return params, post.src, post.mass
    src = Source(post.src.params, keep)
    mass = np.asarray(run([EStepJob(src)])[0]["mass"], dtype=float)
    return model.take(params, keep), src, mass


def m_step(
    run: Run,
    model: MixtureModel,
    src: Source,
    mass: Array,
    params: MixtureParams,
    m_step_iter: int,
    facts: DataFacts,
) -> MixtureParams:
    """One M-step from the weights of ``src`` (sums ``mass``), warm-started at ``params``:
    the mixing model first, then the components (as
    :func:`emglm.engine.em.m_step_and_e_step`). The mixing model is fitted to units:
    with groups, constant proportions are the groups' shares. Beside a point mass at zero
    the GLM components are fitted from their own weight columns
    (:meth:`ZeroInflatedComponents.m_step`)."""
    share = mass
    if facts.unit_nobs is not None and not model.mixing.varies_by_row:
        # The E-step (or the minprior rule) computed these sums: no further pass.
        share = np.asarray(run([EStepJob(src)])[0]["unit_mass"], dtype=float)
    gamma = mixing_m_step(run, model, src, share, params.gamma)
    glm, n_zero = glm_params(params.components)

    def next_jobs(comp: GLMParams) -> list[Job]:
        return estep_jobs(model, MixtureParams(with_glm(params.components, comp), gamma))

    comp = glm_m_step(run, model, src, mass[n_zero:], glm, m_step_iter, facts.floor, next_jobs)
    return MixtureParams(with_glm(params.components, comp), gamma)


def propose(
    run: Run,
    model: MixtureModel,
    post: Posterior,
    params: MixtureParams,
    facts: DataFacts,
    options: EMOptions,
) -> MixtureParams | None:
    """:func:`emglm.engine.em.propose_step` on partition sums: the EM map SQUAREM
    extrapolates from, with the mixing model's M-step and one unchecked IRLS step from the
    linearisation the E-step pass computed (no further pass over the design for constant
    proportions); for least squares the M-step itself. ``None`` where the in-memory engine has none (a driver without
    ``propose``, groups, a family whose M-step needs passes of its own, a component
    without weight or one the minprior rule would drop)."""
    if not hasattr(model.components, "propose") or facts.unit_nobs is not None:
        return None
    family = glm_driver(model).family
    if not (irls.shares_passes(family) or family.least_squares) or not np.all(post.mass > 0):
        return None
    args = (facts.nobs, facts.n_columns, options, 0, DropLog(), facts.unit_nobs)
    _, src, _ = drop_degenerate(run, model, params, post, *args)
    if src is not post.src:
        return None
    if family.least_squares:  # the exact M-step (its equations came with the E-step)
        return m_step(run, model, src, post.mass, params, 1, facts)
    gamma = mixing_m_step(run, model, src, post.mass, params.gamma)
    comp = params.components
    cols = tuple(range(comp.coef.shape[0]))
    got = run([LinJob(src, cols, comp.coef, comp.scale)])[0]
    coef = irls.solve_normals(got["grams"], got["rhs"])
    return MixtureParams(GLMParams(coef, np.array(comp.scale, dtype=float, copy=True)), gamma)


def mixing_m_step(run: Run, model: MixtureModel, src: Source, mass: Array, gamma: Array) -> Array:
    """The mixing model's M-step: closed form for constant proportions, else the Newton
    steps with step-halving of :func:`emglm.mixing._newton_multinomial` on partition sums,
    to convergence (no bound on the log-odds, as in memory)."""
    if not model.mixing.varies_by_row:
        return gamma_from_proportions(mass / mass.sum())
    q, n_comp = gamma.shape
    gamma = gamma - gamma[:, :1]
    now = run([MixingJob(src, gamma)])[0]
    objective = float(now["obj"])
    for _ in range(_MIXING_ITER):
        step_vec = np.linalg.lstsq(now["hess"], now["grad"].T.ravel(), rcond=None)[0]
        step = np.zeros_like(gamma)
        step[:, 1:] = step_vec.reshape(n_comp - 1, q).T
        for _halving in range(30):
            cand = gamma + step
            tried = run([MixingJob(src, cand)])[0]
            obj = float(tried["obj"])
            if np.isfinite(obj) and obj >= objective:
                break
            step *= 0.5
        else:
            return gamma
        gain = obj - objective
        gamma, objective, now = cand, obj, tried
        if gain <= 1e-12 * (abs(objective) + 1.0):
            break
    return gamma


def glm_m_step(
    run: Run,
    model: MixtureModel,
    src: Source,
    mass: Array,
    params: GLMParams,
    max_iter: int,
    floor: float,
    next_jobs: NextJobs,
) -> GLMParams:
    """The GLM components' M-step (:func:`irls.m_step_components_and_e_step`) from their
    weight columns (sums ``mass``): the E-step at the proposals (``next_jobs``) is computed
    with their check when it may be the next E-step. Shared coefficients:
    :func:`emglm.cluster.shared_steps.m_step`."""
    shared = shared_steps.driver_of(model)
    if shared is not None:
        return shared_steps.m_step(run, shared, src, mass, params, max_iter, floor, next_jobs)
    family = glm_driver(model).family
    active = mass > 0
    scale = np.array(params.scale, dtype=float, copy=True)
    coef = np.array(params.coef, dtype=float, copy=True)
    cols = np.arange(coef.shape[0])
    if irls.shares_passes(family) and active.all():
        coef = _warm_coef(run, model, src, cols, coef, scale, max_iter, next_jobs)
        return GLMParams(coef, np.maximum(scale, floor))
    if active.any():
        coef[active] = _warm_coef(
            run, model, src, cols[active], coef[active], scale[active], max_iter
        )
    if family.has_scale and family.dispersion_is_mean_square:
        rss = run([RSSJob(src, coef)])[0]["rss"]
        scale = np.where(active, rss / np.where(active, mass, 1.0), scale)
    elif family.has_scale:
        scale = dispersion.update_scales(run, family, src, coef, scale, active)
    return GLMParams(coef, np.maximum(scale, floor))


def _warm_coef(
    run: Run,
    model: MixtureModel,
    src: Source,
    cols: NDArray[np.intp],
    coef: Array,
    scale: Array,
    max_iter: int,
    next_jobs: NextJobs | None = None,
) -> Array:
    """:func:`irls._warm_coef` on partition sums: monotone IRLS steps of components
    ``cols`` (closed form for least squares)."""
    family = glm_driver(model).family
    if family.least_squares:
        eqs = run([LeastSquaresJob(src, tuple(int(c) for c in cols))])[0]
        return irls.solve_normals(eqs["grams"], eqs["rhs"])
    moving = np.ones(coef.shape[0], dtype=bool)
    lin: tuple[Array, Array, Array] | None = None
    for step in range(1, max(max_iter, _COLD_ITER) + 1):
        idx = np.flatnonzero(moving)
        if lin is None:
            got = run([LinJob(src, tuple(int(c) for c in cols[idx]), coef[idx], scale[idx])])[0]
            lin = (got["grams"], got["rhs"], got["obj"])
        grams, rhs, objective = lin
        proposal = irls.solve_normals(grams, rhs)
        fuse = next_jobs if (moving.all() and step >= max_iter) else None
        ahead = fuse is None and step < max_iter
        settled = irls.step_settled(grams, objective, proposal - coef[idx])
        accepted, gained, lin_ahead = _halve_all(
            run, model, src, cols[idx], scale[idx], coef[idx], proposal, objective, fuse, ahead,
            settled,
        )  # fmt: skip
        coef[idx] = accepted
        size = np.abs(objective) + 1.0
        still = gained > (1e-10 if step < max_iter else _FAR_GAIN) * size
        if lin_ahead is not None:
            still &= ~irls.next_step_settled(lin_ahead, accepted)
        moving[idx] = still
        if not moving.any():
            break
        lin = None
        if lin_ahead is not None:
            lin = (lin_ahead[0][still], lin_ahead[1][still], lin_ahead[2][still])
    return coef


def _halve_all(
    run: Run,
    model: MixtureModel,
    src: Source,
    cols: NDArray[np.intp],
    scale: Array,
    coef: Array,
    proposal: Array,
    objective: Array,
    next_jobs: NextJobs | None,
    ahead: bool,
    settled: NDArray[np.bool_],
) -> tuple[Array, Array, tuple[Array, Array, Array] | None]:
    """:func:`irls._halve_all` on partition sums. With ``next_jobs`` the full steps'
    check pass also computes the E-step there (kept by the runner for the next E-step)."""
    step = proposal - coef
    accepted = coef.copy()
    gained = np.zeros(coef.shape[0])
    todo = np.arange(coef.shape[0])
    lin: tuple[Array, Array, Array] | None = None
    for halving in range(_MAX_HALVINGS):
        cand = coef[todo] + step[todo]
        ctodo = tuple(int(c) for c in cols[todo])
        if halving == 0 and next_jobs is not None:
            jobs: list[Job] = [CheckJob(src, ctodo, cand, scale[todo])]
            obj = run(jobs + next_jobs(GLMParams(cand, scale)))[0]["obj"]
        elif halving == 0 and ahead:
            got = run([LinJob(src, ctodo, cand, scale)])[0]
            lin = (got["grams"], got["rhs"], got["obj"])
            obj = lin[2]
        else:
            obj = run([CheckJob(src, ctodo, cand, scale[todo])])[0]["obj"]
        good = np.isfinite(obj) & (obj >= objective[todo])
        if halving == 0:
            slack = _ROUNDING * (np.abs(objective[todo]) + 1.0)
            good |= settled[todo] & np.isfinite(obj) & (obj >= objective[todo] - slack)
        if not good.all():
            lin = None
        accepted[todo[good]] = cand[good]
        gained[todo[good]] = obj[good] - objective[todo[good]]
        retry = ~good if halving > 0 else ~good & ~settled[todo]
        todo = todo[retry]
        if todo.size == 0:
            break
        step[todo] *= 0.5
    return accepted, gained, lin
