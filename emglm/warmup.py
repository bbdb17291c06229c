"""Warm-up: many short EM runs from different starts, and the best of them as a start.

EM climbs to the nearest local optimum, so where it ends depends on where it starts. The
em.glm workflow makes this explicit: :func:`small_em` runs ``repeats`` short EM runs from
random starts, :func:`select_best` picks the best, and ``em_glm(..., start=best)`` runs
one long EM from there. ``em_glm`` without ``start`` does the same internally
(``n_starts``).

Every run draws from its own random stream, a child of one
:class:`numpy.random.SeedSequence` (``SeedSequence.spawn``), so a run's outcome does not
depend on the other runs, on their order or on ``n_jobs``.
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from emglm import em, guards
from emglm import init as starts
from emglm.blas_threads import single_blas_thread
from emglm.exceptions import FitError, InputError, InputTypeError
from emglm.families import Family
from emglm.parallel import worker_pool
from emglm.results import count_params

CRITERIA = ("llf", "bic")

# Options of small_em passed on to the model (the rest go to EM).
_MODEL_OPTIONS = ("offset", "exposure", "weights", "concomitant", "safe_formula")
_EM_OPTIONS = ("method", "m_step_iter")

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


@dataclass(frozen=True, eq=False)
class SmallEMResult:
    """The short runs of a warm-up (see :func:`small_em`).

    Prints as a table; :attr:`table` (or :meth:`to_frame`) gives it as a DataFrame and
    :attr:`params` each run's parameters (``None`` for a failed run).
    """

    runs: tuple[StartRun, ...]
    K: int
    method: str
    sample_size: int | None

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per run: init, n_iter, llf, bic, converged, status, reason."""
        rows = [
            {
                "run": r.run,
                "init": r.init,
                "n_iter": r.n_iter,
                "llf": r.llf,
                "bic": r.bic,
                "converged": r.converged,
                "status": r.status,
                "reason": r.reason,
            }
            for r in self.runs
        ]
        return pd.DataFrame(rows).set_index("run")

    def to_frame(self) -> pd.DataFrame:
        """The table as a new DataFrame."""
        return self.table.copy()

    @property
    def params(self) -> list[em.MixtureParams | None]:
        """Each run's parameters, in run order (``None`` where the run failed)."""
        return [r.params for r in self.runs]

    @property
    def n_failed(self) -> int:
        """Number of runs that failed."""
        return sum(r.status != "ok" for r in self.runs)

    def best_run(self, criterion: str = "llf") -> int:
        """Number (1-based, as in :attr:`table`) of the best successful run."""
        check_criterion(criterion)
        ok = [r for r in self.runs if r.status == "ok"]
        if not ok:
            reasons = "; ".join(f"run {r.run}: {r.reason}" for r in self.runs[:3])
            raise FitError(
                f"all {len(self.runs)} starts failed ({reasons}); try fewer components, "
                "another init or more repeats"
            )
        best = max(ok, key=lambda r: r.llf) if criterion == "llf" else min(ok, key=lambda r: r.bic)
        return best.run

    def __str__(self) -> str:
        head = (
            f"Warm-up: {len(self.runs)} short {self.method.upper()} runs, K={self.K}"
            + ("" if self.sample_size is None else f", subsamples of {self.sample_size} rows")
            + f", {self.n_failed} failed; llf and BIC on the full data"
        )
        shown = self.table.drop(columns="reason" if self.n_failed == 0 else [])
        return head + "\n" + shown.to_string(float_format=lambda v: f"{v:.4f}")

    def __repr__(self) -> str:
        return str(self)


def check_criterion(criterion: str) -> None:
    """Raise :class:`InputError` unless ``criterion`` is one of :data:`CRITERIA`."""
    from emglm.model import check_choice  # model imports this module

    check_choice("criterion", criterion, CRITERIA)


def select_best(result: SmallEMResult, criterion: str = "llf") -> em.MixtureParams:
    """Starting values of the best short run, for ``em_glm(..., start=...)``.

    Parameters
    ----------
    result : SmallEMResult
        The output of :func:`small_em`.
    criterion : {"llf", "bic"}
        Highest full-data log-likelihood, or lowest BIC. All runs have the same K, so the
        two pick the same run; ``"bic"`` is there for em.glm users.

    Returns
    -------
    emglm.em.MixtureParams
        Coefficients, dispersions and mixing logits of that run.

    Raises
    ------
    FitError
        When every run failed.
    """
    if not isinstance(result, SmallEMResult):
        raise InputTypeError(
            f"select_best needs the output of small_em, not {type(result).__name__}"
        )
    best = result.runs[result.best_run(criterion) - 1].params
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


def check_n_jobs(n_jobs: Any) -> int:
    """Number of worker processes: a positive integer, or -1 for one per CPU."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise InputTypeError(f"n_jobs must be a positive integer or -1, not {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise InputError(f"n_jobs must be a positive integer or -1; got {n_jobs}")
    return int(n_jobs)


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
    data: em.MixtureData
    family: Family
    n_comp: int
    init: str
    options: em.EMOptions
    sample_size: int | None
    seed: np.random.SeedSequence


@single_blas_thread  # also for small_em; see emglm.blas_threads
def run_starts(
    data: em.MixtureData,
    family: Family,
    n_comp: int,
    *,
    repeats: int,
    options: em.EMOptions,
    init: str = "random",
    sample_size: int | None = None,
    seed: np.random.SeedSequence,
    n_jobs: int = 1,
    progress: bool | None = None,
) -> SmallEMResult:
    """Run ``repeats`` short EM runs on arrays; the engine of :func:`small_em`.

    Run ``r`` draws its start (and subsample, and SEM labels) from ``seed.spawn(repeats)[r]``.
    """
    tasks = [
        _Task(r + 1, data, family, n_comp, init, options, sample_size, child)
        for r, child in enumerate(seed.spawn(repeats))
    ]
    bar = progress_wrapper(progress, repeats, "warm-up")
    if n_jobs == 1 or repeats == 1:
        runs = list(bar(map(_one_run, tasks)))
    else:
        with worker_pool(min(n_jobs, repeats)) as pool:
            runs = list(bar(pool.map(_one_run, tasks)))
    return SmallEMResult(runs=tuple(runs), K=n_comp, method=options.method, sample_size=sample_size)


def _one_run(task: _Task) -> StartRun:
    """One short EM run; failures become a failed row, never an exception."""
    rng = np.random.default_rng(task.seed)
    data = task.data
    n_obs = data.y.shape[0]
    k_params = count_params(task.n_comp, data.X.shape[1], data.Z.shape[1], task.family.has_scale)
    fit_data = data
    if task.sample_size is not None:
        rows = np.sort(rng.choice(n_obs, size=task.sample_size, replace=False))
        fit_data = em.MixtureData(
            data.y[rows], data.X[rows], data.offset[rows], data.trials[rows],
            data.weights[rows], data.Z[rows],
        )  # fmt: skip
    try:
        start = starts.make_start(task.init, fit_data, task.family, task.n_comp, rng)
        fit = em.run_em(fit_data, task.family, start, task.options, rng)
        llf = fit.llf if task.sample_size is None else em.e_step(data, task.family, fit.params)[0]
    except _RUN_ERRORS as err:
        return _failed(task, f"{type(err).__name__}: {err}")
    if fit.params.n_components < task.n_comp:
        reason = "a component emptied" + (": " + fit.notes[0] if fit.notes else "")
        return _failed(task, reason, fit.n_iter)
    if not np.isfinite(llf) or not np.all(np.isfinite(fit.params.coef)):
        return _failed(task, "non-finite log-likelihood or coefficients", fit.n_iter)
    collapsed = guards.collapsed_variances(fit_data, task.family, fit.params)
    if collapsed.size:  # a spurious maximum of an unbounded likelihood: never the best start
        return _failed(task, f"the variance of component {collapsed[0] + 1} collapsed", fit.n_iter)
    bic = -2.0 * llf + np.log(data.nobs) * k_params
    return StartRun(task.run, task.init, fit.n_iter, llf, bic, fit.converged, "ok", "", fit.params)


def _failed(task: _Task, reason: str, n_iter: int = 0) -> StartRun:
    return StartRun(task.run, task.init, n_iter, np.nan, np.nan, False, "failed", reason, None)


def small_em(
    formula_: str,
    data: pd.DataFrame,
    family: Any = "poisson",
    K: int = 2,
    *,
    repeats: int = 20,
    max_iter: int = 20,
    tol: float = 1e-4,
    init: str = "random",
    sample_size: int | None = None,
    random_state: Any = None,
    n_jobs: int = 1,
    progress: bool | None = None,
    **em_options: Any,
) -> SmallEMResult:
    """Many short EM runs from different random starts (em.glm's ``small.em``).

    Parameters
    ----------
    formula_, data, family, K
        As for :func:`emglm.em_glm`.
    repeats : int, default 20
        Number of short runs.
    max_iter : int, default 20
        EM iterations per run.
    tol : float, default 1e-4
        A run stops early when the relative change of its objective is below ``tol``.
    init : {"random", "fit", "quantile", "cem"}
        How each run starts; see :mod:`emglm.init`.
    sample_size : int, optional
        Fit each run on its own random subsample of this many rows (drawn without
        replacement from the run's stream); its llf and BIC are still computed on all rows.
    random_state : int, numpy Generator or SeedSequence, optional
        Makes the warm-up reproducible; run ``r`` uses the ``r``-th spawned child stream.
    n_jobs : int, default 1
        Worker processes (``-1``: one per CPU). Results do not depend on it.
    progress : bool, optional
        Show a tqdm progress bar (needs tqdm).
    **em_options
        ``offset``, ``exposure``, ``weights``, ``concomitant``, ``safe_formula`` (the
        model) and ``method``
        ({"em", "cem", "sem"}), ``m_step_iter`` (IRLS steps per M-step; default as
        :class:`emglm.em.EMOptions`, the same as the warm-up inside :func:`emglm.em_glm`).

    Returns
    -------
    SmallEMResult
        Prints as a table of runs; pass it to :func:`select_best`.

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> warm = emglm.small_em("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                       repeats=4, random_state=1)
    >>> warm.table.shape, warm.n_failed
    ((4, 7), 0)
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=emglm.select_best(warm))
    """
    from emglm import formula as formula_mod
    from emglm.model import EMGLM, check_choice, check_positive_int, check_tol

    unknown = sorted(set(em_options) - set(_MODEL_OPTIONS) - set(_EM_OPTIONS))
    if unknown:
        raise InputTypeError(
            f"small_em got unknown option(s) {unknown}; allowed: "
            + ", ".join(_MODEL_OPTIONS + _EM_OPTIONS)
        )
    model_kw = {k: em_options[k] for k in _MODEL_OPTIONS if k in em_options}
    model = EMGLM.from_formula(
        formula_, data, family, K, eval_env=formula_mod.capture_env(1), **model_kw
    )
    repeats = check_positive_int("repeats", repeats)
    max_iter = check_positive_int("max_iter", max_iter)
    method = em_options.get("method", "em")
    check_choice("method", method, em.EM_METHODS)
    check_choice("init", init, starts.INIT_METHODS)
    m_step_iter = check_positive_int(
        "m_step_iter", em_options.get("m_step_iter", em.EMOptions.m_step_iter)
    )
    n_rows = model.data.y.shape[0]
    if sample_size is not None:
        sample_size = check_positive_int("sample_size", sample_size, upper=n_rows)
    options = em.EMOptions(
        max_iter=max_iter, tol=check_tol(tol), method=method, m_step_iter=m_step_iter
    )
    return run_starts(
        model.data,
        model.family,
        model.K,
        repeats=repeats,
        options=options,
        init=init,
        sample_size=sample_size,
        seed=seed_sequence(random_state),
        n_jobs=check_n_jobs(n_jobs),
        progress=progress,
    )
