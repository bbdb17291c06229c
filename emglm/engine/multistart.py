"""A fit from random starts: the default route of :meth:`emglm.EMGLM.fit` without ``start``.

The warm-up's short runs (:func:`emglm.engine.warmup.run_starts`), one long EM run from the
best of them, and, when that run loses a component, the next best runs that kept all of them
until one does. The fit itself, the random-start bootstrap and the bootstrap likelihood-ratio
test all fit this way, so that a replicate is fitted as the data were.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from emglm.data.arrays import MixtureData
from emglm.engine import em, starts, warmup
from emglm.engine.em import MixtureModel, MixtureParams


@dataclass(frozen=True)
class StartPlan:
    """How a fit without a start begins: ``n_starts`` short runs of ``init`` starts with the
    settings ``warmup`` (one start, and no warm-up, when ``n_starts`` is 1)."""

    n_starts: int
    init: str
    warmup: em.EMOptions


def fit_from_starts(
    data: MixtureData,
    model: MixtureModel,
    n_comp: int,
    plan: StartPlan,
    options: em.EMOptions,
    *,
    seed: np.random.SeedSequence,
    em_rng: np.random.Generator,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> tuple[em.EMFit, warmup.Warmup | None]:
    """The long EM run from the best of the warm-up's runs, and the warm-up (``None`` when
    a single start was drawn).

    ``seed`` draws the starts, ``em_rng`` the long run's SEM labels.
    """
    warm = None
    start: MixtureParams | np.ndarray
    if plan.n_starts == 1 or n_comp == 1:
        start = starts.make_start(plan.init, data, model, n_comp, np.random.default_rng(seed))
    else:
        warm = warmup.run_starts(
            data,
            model,
            n_comp,
            repeats=plan.n_starts,
            options=plan.warmup,
            init=plan.init,
            seed=seed,
            n_jobs=n_jobs,
            progress=progress,
        )
        start = warm.best_params()
    fit = em.run_em(data, model, start, options, em_rng)
    if warm is not None and fit.params.n_components < n_comp:
        # The long run lost a component: the next best warm-up runs that kept all of
        # them start it again, until one keeps them.
        for run in next_starts(warm):
            retry = em.run_em(data, model, run, options, em_rng)
            if retry.params.n_components == n_comp:
                return retry, warm
    return fit, warm


def next_starts(warm: warmup.Warmup) -> list[MixtureParams]:
    """The warm-up's successful runs after the best, by decreasing llf (each run kept all
    its components: a run that lost one failed)."""
    ok = sorted((r for r in warm.runs if r.status == "ok"), key=lambda r: -r.llf)
    return [r.params for r in ok[1:] if r.params is not None]
