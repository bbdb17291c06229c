"""The EM loop over partitioned data: parameters on the client, sums from the workers.

The EM map is the in-memory one (:func:`emglm.engine.em.run_em`): drop degenerate
components (minprior), the mixing M-step, the components' M-step; SQUAREM is the engine's
own :func:`emglm.engine.accel.squarem`, handed the E-step and M-step of
:mod:`emglm.cluster.steps` (it never looks inside the posteriors it passes along, so a
:class:`~emglm.cluster.steps.Posterior` stands in for them). The stopping rule is the same.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from emglm.cluster import shared_steps, steps
from emglm.cluster.jobs import glm_driver, glm_params, with_glm
from emglm.cluster.steps import DataFacts, Posterior, Run
from emglm.data.arrays import MixtureData
from emglm.engine import accel, newton
from emglm.engine.em import MixtureModel, MixtureParams
from emglm.engine.state import DropLog, EMFit, EMOptions


def run_em(
    run: Run,
    model: MixtureModel,
    start: MixtureParams,
    facts: DataFacts,
    options: EMOptions,
    sample: MixtureData | None = None,
    n_units: int = 0,
) -> EMFit:
    """EM (``options.method == "em"``) from full parameters; ``EMFit.posterior`` holds the
    final :class:`~emglm.cluster.steps.Posterior` (by reference).

    With ``sample`` (rows in memory, e.g. the warm-up's sample of whole partitions) and
    ``n_units`` units in all, SQUAREM ends with the in-memory engine's Newton steps
    (:mod:`emglm.engine.newton`) where they pay: their informations come from the sample,
    the EM map's move from the partitions' sums, their points' E-steps from a pass."""
    log = DropLog()
    n_maps = 0

    def em_map(post: Posterior, current: MixtureParams) -> MixtureParams:
        nonlocal n_maps
        n_maps += 1
        log.last_llf = post.llf
        current, src, mass = steps.drop_degenerate(
            run, model, current, post, facts.nobs, facts.n_columns, options, n_maps, log,
            facts.unit_nobs,
        )  # fmt: skip
        return steps.m_step(run, model, src, mass, current, options.m_step_iter, facts)

    def e_step_at(p: MixtureParams) -> tuple[float, Posterior]:
        post = steps.e_step(run, model, p)
        log.seen(post.llf)
        return post.llf, post

    def propose(post: Posterior, current: MixtureParams) -> MixtureParams | None:
        if options.m_step_iter != 1:
            return None
        return steps.propose(run, model, post, current, facts, options)

    def unpack(vec: np.ndarray, like: MixtureParams) -> MixtureParams:
        return _unpack(model, vec, like, facts.floor)

    newton_point = None
    if options.newton and sample is not None and newton.worthwhile(n_units):
        newton_steps = newton.NewtonSteps(model, sample, unpack)

        def newton_point(post: Posterior, current: MixtureParams):  # type: ignore[no-untyped-def]
            return newton_steps.point(
                current, lambda: propose(post, current), rows_read=n_maps * n_units
            )

    if options.accel == "squarem":
        fit, _ = accel.squarem(
            start,
            e_step_at,  # type: ignore[arg-type]  # posteriors by reference
            em_map,  # type: ignore[arg-type]
            options.tol,
            options.max_iter,
            model.pack,
            unpack,
            propose=propose,  # type: ignore[arg-type]
            newton=newton_point,  # type: ignore[arg-type]
        )
    else:
        fit = _plain(start, e_step_at, em_map, options)
    notes, drops = log.finished()
    return replace(fit, notes=notes, drops=drops)


def _plain(start: MixtureParams, e_step_at, em_map, options: EMOptions) -> EMFit:  # type: ignore[no-untyped-def]
    """Plain EM, as the in-memory loop without acceleration."""
    params = start
    llf, post = e_step_at(params)
    history = [llf]
    converged, change, n_iter = False, np.inf, 0
    for step in range(1, options.max_iter + 1):
        n_iter = step
        params = em_map(post, params)
        new_llf, post = e_step_at(params)
        history.append(new_llf)
        change = (new_llf - llf) / max(abs(llf), 1e-300)
        llf = new_llf
        if abs(change) < options.tol:
            converged = True
            break
    return EMFit(params, post, llf, np.asarray(history), n_iter, converged, float(change))  # type: ignore[arg-type]


def _unpack(
    model: MixtureModel, vec: np.ndarray, like: MixtureParams, floor: float
) -> MixtureParams:
    """:meth:`MixtureModel.unpack` without the data: dispersions kept above ``floor``."""
    shared = shared_steps.driver_of(model)
    if shared is not None:
        return shared_steps.unpack(shared, model, vec, like, floor)
    glm = glm_driver(model)
    glm_like, _ = glm_params(like.components)
    size = glm.pack(glm_like).shape[0]
    n_comp, p = glm_like.coef.shape
    block = np.asarray(vec[:size], dtype=float).reshape(n_comp, glm.per_component(p))
    if glm.family.has_scale:
        scale = np.maximum(glm.family.dispersion_from_free(block[:, p]), floor)
    else:
        scale = np.ones(n_comp)
    comp = type(glm_like)(block[:, :p].copy(), np.asarray(scale, dtype=float))
    comp = with_glm(like.components, comp)
    gamma = model.mixing.unpack(vec[size:], like.gamma.shape[0], like.n_components)
    return MixtureParams(comp, gamma)
