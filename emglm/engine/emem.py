"""em-EM: long EM runs from the best distinct short runs of a warm-up, and the best of them.

The best short run is not always in the best basin: after ``WARMUP_ITER`` iterations the
runs are still climbing, and a run that climbs fast early can end lower. So the default
fit runs EM to convergence from the ``n_long`` best short runs that classify the rows
differently (:func:`emglm.engine.warmup.distinct_runs`) and keeps the highest optimum
that has all K components (Biernacki, Celeux & Govaert 2003, "Choosing starting values for
the EM algorithm", the em-EM strategy). Measured on the warm-up suite in
``docs/warmup.md``.

A long run that loses a component (the minprior rule) gives its place to the best short
run not yet started, once for each: its short run may have ended on a component too small
to keep while a run skipped as its twin (alike in classes) leads to the best optimum. When
every long run loses a component, the remaining short runs, by decreasing llf, start it
again until one keeps all components; only when none does is a fit with fewer components
returned (the first one).
"""

from __future__ import annotations

import numpy as np

from emglm.data.arrays import MixtureData
from emglm.engine import em
from emglm.engine.em import EMFit, MixtureModel
from emglm.engine.warmup import LongRun, StartRun, distinct_runs


def best_long_run(
    data: MixtureData,
    model: MixtureModel,
    runs: tuple[StartRun, ...],
    n_comp: int,
    n_long: int,
    options: em.EMOptions,
    rng: np.random.Generator,
) -> tuple[EMFit, tuple[LongRun, ...]]:
    """Long runs from the ``n_long`` best distinct successful ``runs``; the best fit that
    keeps all ``n_comp`` components, and every long run made.

    At least one run must have succeeded (:meth:`~emglm.engine.warmup.Warmup.best_run`
    raises :class:`~emglm.exceptions.FitError` otherwise; callers call it first).
    """
    ok = sorted((r for r in runs if r.status == "ok"), key=lambda r: -r.llf)
    first = distinct_runs(data, model, ok, n_long)
    fits: list[tuple[StartRun, EMFit]] = []
    for i in first:
        fits.append((ok[i], _long(data, model, ok[i], options, rng)))
    untried = iter([i for i in range(len(ok)) if i not in first])
    # A long run that lost a component leaves its basin unexplored (its short run sat on a
    # component too small to keep, while a run of the same classes skipped as its twin may
    # not): the best untried short run takes its place, once for each.
    for _ in range(sum(f.params.n_components < n_comp for _, f in fits)):
        nxt = next(untried, None)
        if nxt is None:
            break
        fits.append((ok[nxt], _long(data, model, ok[nxt], options, rng)))
    if not any(f.params.n_components == n_comp for _, f in fits):
        # Every long run lost a component: the other runs start it again, best first.
        for i in untried:
            fit = _long(data, model, ok[i], options, rng)
            fits.append((ok[i], fit))
            if fit.params.n_components == n_comp:
                break
    full = [k for k, (_, f) in enumerate(fits) if f.params.n_components == n_comp]
    pick = max(full, key=lambda k: fits[k][1].llf) if full else 0
    table = tuple(
        LongRun(r.run, f.n_iter, f.llf, f.params.n_components, k == pick)
        for k, (r, f) in enumerate(fits)
    )
    return fits[pick][1], table


def _long(
    data: MixtureData,
    model: MixtureModel,
    run: StartRun,
    options: em.EMOptions,
    rng: np.random.Generator,
) -> EMFit:
    assert run.params is not None  # only successful runs are started
    return em.run_em(data, model, run.params, options, rng)
