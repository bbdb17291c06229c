"""A fit from random starts: the default route of :meth:`emglm.EMGLM.fit` without ``start``.

The warm-up's short runs (:func:`emglm.engine.warmup.run_starts`), then em-EM
(:func:`emglm.engine.emem.best_long_run`): long EM runs from the best distinct short runs,
the best that keeps all components kept (and, when every one loses a component, the other
short runs until one keeps them). The fit itself, the random-start bootstrap and the bootstrap likelihood-ratio
test all fit this way, so that a replicate is fitted as the data were.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from emglm.data.arrays import MixtureData
from emglm.engine import em, emem, starts, warmup
from emglm.engine.em import MixtureModel


@dataclass(frozen=True)
class StartPlan:
    """How a fit without a start begins: ``n_starts`` short runs of ``init`` starts with the
    settings ``warmup``, then long runs from the ``n_long`` best distinct ones (one start,
    and no warm-up, when ``n_starts`` is 1)."""

    n_starts: int
    init: str
    warmup: em.EMOptions
    n_long: int = 1


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
    """The fit (em-EM's best long run) and the warm-up with its long runs (``None`` when a
    single start was drawn).

    ``seed`` draws the starts, ``em_rng`` the long runs' SEM labels.
    """
    if plan.n_starts == 1 or n_comp == 1:
        start = starts.make_start(plan.init, data, model, n_comp, np.random.default_rng(seed))
        return em.run_em(data, model, start, options, em_rng), None
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
    warm.best_run()  # raises FitError when every run failed
    fit, long_runs = emem.best_long_run(
        data, model, warm.runs, n_comp, plan.n_long, options, em_rng
    )
    return fit, dataclasses.replace(warm, long=long_runs)
