"""Warm-up: many short EM runs from different starts, and the best of them as a start.

EM climbs to the nearest local optimum, so where it ends depends on where it starts. The
em.glm workflow makes this explicit: :func:`emglm.small_em` runs ``repeats`` short EM runs
from random starts (:func:`run_starts` here), :func:`emglm.select_best` picks the best, and
``em_glm(..., start=best)`` runs one long EM from there. ``em_glm`` without ``start`` does
the same internally (``n_starts``).

Every run draws from its own random stream, a child of one
:class:`numpy.random.SeedSequence` (``SeedSequence.spawn``), so a run's outcome does not
depend on the other runs, on their order or on ``n_jobs``.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

from emglm.blas_threads import single_blas_thread
from emglm.checks import check_choice
from emglm.data.arrays import MixtureData
from emglm.engine import em, starts
from emglm.engine.em import MixtureModel
from emglm.exceptions import FitError, InputError, InputTypeError
from emglm.parallel import worker_pool

CRITERIA = ("llf", "bic")

#: Two warm-up runs are the same start when their hard classifications agree (after the
#: best matching of components) on at least this share of the rows' weight.
SAME_CLASSES = 0.95

# Failures a start may meet; anything else is a bug and propagates.
_RUN_ERRORS = (np.linalg.LinAlgError, FloatingPointError, ValueError, ZeroDivisionError)


@dataclass(frozen=True)
class StartRun:
    """One short EM run of a warm-up.

    ``params`` is ``None`` and ``reason`` says why when the run failed (``status`` is
    ``"failed"``). ``llf`` and ``bic`` are on the full data.
    """

    run: int
    init: str
    n_iter: int
    llf: float
    bic: float
    converged: bool
    status: str
    reason: str
    params: em.MixtureParams | None


@dataclass(frozen=True)
class LongRun:
    """A long EM run from a warm-up run (em-EM, :mod:`emglm.engine.emem`): the warm-up
    run it started from, its iterations, llf, number of components at the end, and
    whether it is the reported fit."""

    run: int
    n_iter: int
    llf: float
    n_components: int
    chosen: bool


@dataclass(frozen=True, eq=False)
class Warmup:
    """The short runs of a warm-up; :class:`emglm.report.warmup.SmallEMResult` adds the
    printed table."""

    runs: tuple[StartRun, ...]
    K: int
    method: str
    sample_size: int | None
    # The long runs em_glm made from the best distinct runs (empty for small_em).
    long: tuple[LongRun, ...] = ()

    @property
    def params(self) -> list[em.MixtureParams | None]:
        """Each run's parameters, in run order (``None`` where the run failed)."""
        return [r.params for r in self.runs]

    @property
    def n_failed(self) -> int:
        """Number of runs that failed."""
        return sum(r.status != "ok" for r in self.runs)

    def best_run(self, criterion: str = "llf") -> int:
        """Number (1-based) of the best successful run."""
        check_choice("criterion", criterion, CRITERIA)
        ok = [r for r in self.runs if r.status == "ok"]
        if not ok:
            reasons = "; ".join(f"run {r.run}: {r.reason}" for r in self.runs[:3])
            raise FitError(
                f"all {len(self.runs)} starts failed ({reasons}); try fewer components, "
                "another init or more repeats"
            )
        best = max(ok, key=lambda r: r.llf) if criterion == "llf" else min(ok, key=lambda r: r.bic)
        return best.run

    def best_params(self, criterion: str = "llf") -> em.MixtureParams:
        """Parameters of the best successful run (:meth:`best_run`)."""
        best = self.runs[self.best_run(criterion) - 1].params
        assert best is not None  # best_run only returns successful runs
        return best


def seed_sequence(random_state: Any) -> np.random.SeedSequence:
    """A :class:`~numpy.random.SeedSequence` from ``None``, an integer, a Generator or a
    SeedSequence (a Generator is advanced, so two calls with it differ)."""
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(random_state.integers(0, 2**63 - 1, size=4).tolist())
    if random_state is None:
        return np.random.SeedSequence()
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        if random_state < 0:
            raise InputError(f"random_state must be a non-negative integer; got {random_state}")
        return np.random.SeedSequence(int(random_state))
    raise InputTypeError(
        "random_state must be None, a non-negative integer or a numpy Generator; got "
        f"{type(random_state).__name__}"
    )


def progress_wrapper(progress: Any, total: int, desc: str) -> Callable[[Iterable[Any]], Any]:
    """Wrap an iterable in a tqdm bar when ``progress`` is true."""
    if progress is not None and not isinstance(progress, bool):
        raise InputTypeError(f"progress must be True, False or None, not {progress!r}")
    if not progress:
        return lambda it: it
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ImportError(
            "progress=True needs the optional package tqdm: pip install tqdm "
            "(or pip install 'emglm[progress]')"
        ) from None
    return lambda it: tqdm(it, total=total, desc=desc)


@dataclass(frozen=True)
class _Task:
    """What one short run needs; pickled to a worker process when ``n_jobs > 1``."""

    run: int
    data: MixtureData
    model: MixtureModel
    n_comp: int
    init: str
    options: em.EMOptions
    sample_size: int | None
    seed: np.random.SeedSequence


@single_blas_thread  # also for small_em; see emglm.blas_threads
def run_starts(
    data: MixtureData,
    model: MixtureModel,
    n_comp: int,
    *,
    repeats: int,
    options: em.EMOptions,
    init: str = "random",
    sample_size: int | None = None,
    seed: np.random.SeedSequence,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> Warmup:
    """Run ``repeats`` short EM runs; the engine of :func:`emglm.small_em`.

    Run ``r`` draws its start (and subsample, and SEM labels) from ``seed.spawn(repeats)[r]``.
    """
    tasks = [
        _Task(r + 1, data, model, n_comp, starts.run_init(init, r), options, sample_size, child)
        for r, child in enumerate(seed.spawn(repeats))
    ]
    bar = progress_wrapper(progress, repeats, "warm-up")
    if n_jobs == 1 or repeats == 1:
        runs = list(bar(map(_one_run, tasks)))
    else:
        with worker_pool(min(n_jobs, repeats)) as pool:
            runs = list(bar(pool.map(_one_run, tasks)))
    return Warmup(runs=tuple(runs), K=n_comp, method=options.method, sample_size=sample_size)


def _one_run(task: _Task) -> StartRun:
    """One short EM run; failures become a failed row, never an exception."""
    rng = np.random.default_rng(task.seed)
    data, model = task.data, task.model
    k_params = model.n_params(task.n_comp, data.n_mixing_columns)
    fit_data = data
    if task.sample_size is not None:
        # A subsample of units: rows, or whole groups.
        units = np.sort(rng.choice(data.n_units, size=task.sample_size, replace=False))
        fit_data = data.take_units(units)
    try:
        start = starts.make_start(task.init, fit_data, model, task.n_comp, rng)
        fit = em.run_em(fit_data, model, start, task.options, rng)
        llf = fit.llf if task.sample_size is None else em.e_step(data, model, fit.params)[0]
    except _RUN_ERRORS as err:
        return _failed(task, f"{type(err).__name__}: {err}")
    if fit.params.n_components < task.n_comp:
        reason = "a component emptied" + (": " + fit.notes[0] if fit.notes else "")
        return _failed(task, reason, fit.n_iter)
    if not np.isfinite(llf) or not np.all(np.isfinite(model.pack(fit.params))):
        return _failed(task, "non-finite log-likelihood or parameters", fit.n_iter)
    spurious = model.components.spurious(fit_data, fit.params.components)
    if spurious is not None:  # a spurious maximum of an unbounded likelihood: never the best start
        return _failed(task, spurious, fit.n_iter)
    bic = -2.0 * llf + np.log(data.nobs) * k_params
    return StartRun(task.run, task.init, fit.n_iter, llf, bic, fit.converged, "ok", "", fit.params)


def _failed(task: _Task, reason: str, n_iter: int = 0) -> StartRun:
    return StartRun(task.run, task.init, n_iter, np.nan, np.nan, False, "failed", reason, None)


def distinct_runs(
    data: MixtureData, model: MixtureModel, runs: list[StartRun], n: int
) -> list[int]:
    """Positions in ``runs`` (successful runs, best first) of the first ``n`` whose hard
    classifications differ from those of every run chosen before them.

    Two short runs that classify the rows alike (:data:`SAME_CLASSES` of the weight, after
    matching components) are in one basin and would lead a long run to one optimum, so only
    the better is kept; the long runs of em-EM then start from different basins.
    """
    chosen: list[int] = []
    labels: list[np.ndarray] = []
    weights = data.weights / data.weights.sum()
    for i, run in enumerate(runs):
        if len(chosen) >= n:
            break
        assert run.params is not None  # only successful runs are passed
        lab = np.argmax(em.e_step(data, model, run.params)[1], axis=1)
        if all(_agreement(lab, other, weights, run.params.n_components) < SAME_CLASSES
               for other in labels):  # fmt: skip
            chosen.append(i)
            labels.append(lab)
    return chosen


def _agreement(a: np.ndarray, b: np.ndarray, weights: np.ndarray, n_comp: int) -> float:
    """Weighted share of rows with the same label in ``a`` and ``b`` under the best
    one-to-one matching of their components."""
    table = np.zeros((n_comp, n_comp))
    np.add.at(table, (a, b), weights)
    rows, cols = linear_sum_assignment(-table)
    return float(table[rows, cols].sum())
