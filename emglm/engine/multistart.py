"""A fit from random starts: the default route of :meth:`emglm.EMGLM.fit` without ``start``.

The warm-up's short runs (:func:`emglm.engine.warmup.run_starts`), then em-EM
(:func:`emglm.engine.emem.best_long_run`): long EM runs from the best distinct short runs,
the best that keeps all components kept (and, when every one loses a component, the other
short runs until one keeps them). The fit itself, the random-start bootstrap and the bootstrap likelihood-ratio
test all fit this way, so that a replicate is fitted as the data were.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from emglm.data.arrays import MixtureData
from emglm.engine import em, emem, starts, warmup
from emglm.engine.em import MixtureModel
from emglm.exceptions import InputError


@dataclass(frozen=True)
class WarmupBudget:
    """The default size of the warm-up: how many short and long runs a fit without a start
    makes when the caller gives neither ``n_starts`` nor ``n_long``.

    On small, over-parametrised models the best optimum is a basin that few starts enter
    (``docs/warmup.md``), so the number of short runs grows with the parameters per unit:
    ``need = min_starts * (n_params / n_units) / (reference_params / reference_units)``,
    ``min_starts`` at the reference (``load_sim2()``: 5000 rows, K=2, 11 parameters).
    Its cost is kept in bounds: a short run costs about ``overhead`` plus
    ``n_units * n_params`` unit-parameters, and the short runs together may cost at most
    ``max_cost`` times ``min_starts`` short runs on the reference (``afford``). ``n_starts``
    is the smaller, rounded down and kept in ``[min_starts, max_starts]``;
    ``n_long = max(min_long, n_starts // starts_per_long)``: em-EM's long runs from the
    best distinct short runs grow with them (one long run per 5 short runs: with one per
    15, RecreationDemand reached its best optimum in 9 of 20 seeds, with one per 5 in 20
    of 20; ``docs/warmup.md``).

    Examples
    --------
    >>> b = WarmupBudget()
    >>> b.n_starts(5000, 11), b.n_starts(10**6, 11), b.n_starts(272, 7), b.n_starts(4406, 29)
    (15, 15, 150, 44)
    >>> b.n_starts(5000, 101)  # many parameters on many rows: the cost bound decides
    15
    >>> b.n_long(15), b.n_long(150)
    (3, 30)
    """

    min_starts: int = 15
    max_starts: int = 150
    reference_units: int = 5000
    reference_params: int = 11
    # A short run's fixed cost, in unit-parameters: measured, a short run on 82 rows and
    # 8 parameters (galaxies) takes 0.55 of one on the reference (sim2, 55,000).
    overhead: int = 30_000
    max_cost: float = 6.0
    min_long: int = 3
    starts_per_long: int = 5

    def __post_init__(self) -> None:
        if not 1 <= self.min_starts <= self.max_starts:
            raise InputError(
                f"WarmupBudget needs 1 <= min_starts <= max_starts; got {self.min_starts}, "
                f"{self.max_starts}"
            )
        sizes = (self.reference_units, self.reference_params, self.min_long,
                 self.starts_per_long, self.overhead, self.max_cost)  # fmt: skip
        if min(sizes) <= 0:
            raise InputError(f"WarmupBudget's sizes must be positive; got {sizes}")

    def n_starts(self, n_units: int, n_params: int) -> int:
        """The default number of short runs for ``n_units`` units and ``n_params`` free
        parameters."""
        need = (self.min_starts * n_params * self.reference_units
                / (self.reference_params * n_units))  # fmt: skip
        reference = self.overhead + self.reference_units * self.reference_params
        afford = self.max_cost * self.min_starts * reference / (self.overhead + n_units * n_params)
        return int(min(self.max_starts, max(self.min_starts, math.floor(min(need, afford)))))

    def n_long(self, n_starts: int) -> int:
        """The default number of long runs after ``n_starts`` short runs."""
        return max(self.min_long, n_starts // self.starts_per_long)


@dataclass(frozen=True)
class StartPlan:
    """How a fit without a start begins: ``n_starts`` short runs of ``init`` starts with the
    settings ``warmup``, then long runs from the ``n_long`` best distinct ones (one start,
    and no warm-up, when ``n_starts`` is 1). ``None`` means the ``budget``'s default for
    the data (:meth:`sizes`); given numbers are used as they are."""

    n_starts: int | None
    init: str
    warmup: em.EMOptions
    n_long: int | None = None
    budget: WarmupBudget = WarmupBudget()

    def sizes(self, n_units: int, n_params: int) -> tuple[int, int]:
        """``(n_starts, n_long)`` for data of ``n_units`` units and a model of ``n_params``
        free parameters.

        >>> plan = StartPlan(None, "mixed", em.EMOptions())
        >>> plan.sizes(5000, 11), plan.sizes(146, 23)
        ((15, 3), (150, 30))
        >>> StartPlan(4, "mixed", em.EMOptions()).sizes(146, 23)
        (4, 3)
        >>> StartPlan(None, "mixed", em.EMOptions(), n_long=1).sizes(146, 23)
        (150, 1)
        """
        n_starts = self.n_starts
        if n_starts is None:
            n_starts = self.budget.n_starts(n_units, n_params)
        n_long = self.budget.n_long(n_starts) if self.n_long is None else self.n_long
        return n_starts, n_long


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
    n_starts, n_long = plan.sizes(data.n_units, model.n_params(n_comp, data.n_mixing_columns))
    if n_starts == 1 or n_comp == 1:
        start = starts.make_start(plan.init, data, model, n_comp, np.random.default_rng(seed))
        return em.run_em(data, model, start, options, em_rng), None
    warm = warmup.run_starts(
        data,
        model,
        n_comp,
        repeats=n_starts,
        options=plan.warmup,
        init=plan.init,
        seed=seed,
        n_jobs=n_jobs,
        progress=progress,
    )
    warm.best_run()  # raises FitError when every run failed
    fit, long_runs = emem.best_long_run(data, model, warm.runs, n_comp, n_long, options, em_rng)
    return fit, dataclasses.replace(warm, long=long_runs)
