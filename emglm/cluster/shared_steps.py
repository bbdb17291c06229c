"""The M-step of GLMs with shared coefficients (flexmix's ``FLXMRglmfix``) from sums over
partitions, on the client.

The in-memory driver (:class:`~emglm.components.shared.SharedGLMComponents`) fits the
free coefficients by joint IRLS steps on the normal equations it adds up from every
component's Gram matrix and right-hand side. Here those sums come from passes over the
partitions (:class:`~emglm.cluster.jobs.LinJob` and :class:`~emglm.cluster.jobs.CheckJob`
over all K components give what :func:`~emglm.components.kernels.irls_normal_equations`
and :func:`~emglm.components.kernels.weighted_loglik` give in memory), and the decisions
are the driver's own code (:meth:`SharedGLMComponents._coef_steps` with its
step-halving, :meth:`SharedGLMComponents._solve`, :meth:`~SharedGLMComponents.
mean_square_scale`), handed :class:`PartitionPasses` in place of the rows. Where the
in-memory M-step fuses its last check with the next E-step, the check pass here also
computes that E-step (kept by the runner for the loop's next E-step).

Dispersions: a mean-square family's (Gaussian) from the residual sums of squares
(:class:`~emglm.cluster.jobs.RSSJob`), per component or common; other families' by the
in-memory search on partition sums (:func:`emglm.cluster.dispersion.update_scales`), per
component or common.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.cluster import dispersion
from emglm.cluster.jobs import (
    CheckJob,
    Job,
    LeastSquaresJob,
    LinJob,
    RSSJob,
    Source,
    Stats,
    glm_driver,
    glm_params,
    with_glm,
)
from emglm.components import irls
from emglm.components.glm import GLMParams
from emglm.components.shared import Linearisation, SharedGLMComponents, SharedParams
from emglm.engine.em import MixtureModel, MixtureParams

Array = NDArray[np.float64]
Run = Callable[[Sequence[Job]], list[Stats]]
#: The jobs of the E-step at given component parameters (and the next mixing logits).
NextJobs = Callable[[SharedParams], list[Job]]


@dataclass(frozen=True)
class PartitionPasses:
    """:class:`~emglm.components.shared.JointPasses` from passes over the partitions: the
    weights of ``src`` (all K components), the dispersions ``scale`` held fixed; with
    ``next_jobs`` a fused check also runs the next E-step's jobs in its pass."""

    run: Run
    src: Source
    scale: Array
    group: NDArray[np.intp]
    next_jobs: NextJobs | None = None

    @property
    def cols(self) -> tuple[int, ...]:
        return tuple(range(self.scale.shape[0]))

    def linearise(self, coef: Array) -> Linearisation:
        got = self.run([LinJob(self.src, self.cols, coef, self.scale)])[0]
        return got["grams"], got["rhs"], got["obj"]

    def objective(self, coef: Array) -> Array:
        return np.asarray(self.run([CheckJob(self.src, self.cols, coef, self.scale)])[0]["obj"])

    def objective_and_e_step(self, coef: Array) -> tuple[Array, None]:
        assert self.next_jobs is not None
        check = CheckJob(self.src, self.cols, coef, self.scale)
        nxt = self.next_jobs(SharedParams(coef, self.scale, self.group))
        return np.asarray(self.run([check, *nxt])[0]["obj"]), None


def driver_of(model: MixtureModel) -> SharedGLMComponents | None:
    """The model's shared-coefficient driver (beside a point mass at zero too), or ``None``
    for plain GLM components."""
    comps = glm_driver(model)
    return comps if isinstance(comps, SharedGLMComponents) else None


def m_step(
    run: Run,
    driver: SharedGLMComponents,
    src: Source,
    mass: Array,
    params: GLMParams,
    m_step_iter: int,
    floor: float,
    next_jobs: NextJobs,
) -> SharedParams:
    """:meth:`SharedGLMComponents.m_step` from the weights of ``src`` (sums ``mass``):
    the joint coefficients (closed form for least squares, else monotone joint IRLS
    steps), then the dispersions, at least ``floor``. ``next_jobs`` gives the next
    E-step's jobs, which a fused check pass runs too."""
    fam = driver.family
    shared = (
        params
        if isinstance(params, SharedParams)
        else SharedParams(params.coef, params.scale, driver.groups_of(params))
    )
    n_comp = shared.coef.shape[0]
    active = mass > 0
    fuse = irls.shares_passes(fam) and bool(active.all())
    if fam.least_squares:
        eqs = run([LeastSquaresJob(src, tuple(range(n_comp)))])[0]
        coef = driver._solve(eqs["grams"], eqs["rhs"], shared, active)
    else:
        passes = PartitionPasses(run, src, shared.scale, shared.group, next_jobs if fuse else None)
        coef, _ = driver._coef_steps(passes, shared, active, m_step_iter, fuse, None)
    scale = shared.scale
    if fam.has_scale and fam.dispersion_is_mean_square:
        rss = np.asarray(run([RSSJob(src, coef)])[0]["rss"])
        scale = driver.mean_square_scale(rss, mass, float(mass.sum()), shared.scale, active)
    elif fam.has_scale:
        common = driver.sharing.equal_scale
        scale = dispersion.update_scales(run, fam, src, coef, shared.scale, active, common=common)
    scale = np.maximum(scale, floor)
    return SharedParams(coef, np.asarray(scale, dtype=float), shared.group)


def unpack(
    driver: SharedGLMComponents, model: MixtureModel, vec: Array, like: MixtureParams, floor: float
) -> MixtureParams:
    """:meth:`MixtureModel.unpack` without the data: dispersions kept above ``floor``."""
    glm, _ = glm_params(like.components)
    size = driver.n_params(glm.coef.shape[0])
    comp = with_glm(like.components, driver.unpack_above(vec[:size], glm, floor))
    gamma = model.mixing.unpack(vec[size:], like.gamma.shape[0], like.n_components)
    return MixtureParams(comp, gamma)
