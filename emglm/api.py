"""The formula-level front ends: :func:`em_glm`, :func:`small_em` and :func:`select_best`.

Each builds the model from a formula (:meth:`emglm.EMGLM.from_formula`) and forwards one
validated :class:`~emglm.options.FitOptions`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import statsmodels.genmod.families as smf

from emglm.checks import check_positive_int, check_tol
from emglm.data import formula as formula_mod
from emglm.engine import warmup
from emglm.engine.em import EMOptions, MixtureParams
from emglm.exceptions import InputTypeError
from emglm.model import EMGLM
from emglm.options import FitOptions
from emglm.report.results import EMGLMResults
from emglm.report.warmup import SmallEMResult


def em_glm(
    formula: str,
    data: pd.DataFrame,
    family: str | smf.Family = "poisson",
    K: int = 2,
    *,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    groups: Any = None,
    fixed: str | None = None,
    nested: Any = None,
    equal_scale: bool = False,
    zero_inflated: bool = False,
    safe_formula: bool = False,
    start: Any = None,
    init: str = FitOptions.init,
    method: str = FitOptions.method,
    max_iter: int = FitOptions.max_iter,
    tol: float = FitOptions.tol,
    se: str | None = FitOptions.se,
    n_boot: int = FitOptions.n_boot,
    bootstrap: str = FitOptions.bootstrap,
    bootstrap_start: str = FitOptions.bootstrap_start,
    random_state: int | np.random.Generator | None = None,
    n_starts: int | None = FitOptions.n_starts,
    n_long: int | None = FitOptions.n_long,
    minprior: float | None = FitOptions.minprior,
    n_jobs: int = FitOptions.n_jobs,
    progress: bool | None = FitOptions.progress,
    accel: str | None = FitOptions.accel,
    m_step_iter: int = FitOptions.m_step_iter,
) -> EMGLMResults:
    """Fit a finite mixture of ``K`` GLMs by EM from an R-like formula.

    A thin front end over ``EMGLM.from_formula(...).fit(...)``; see those for the
    parameters (``fixed``, ``nested`` and ``equal_scale`` share coefficients and the
    dispersion across components, as flexmix's ``FLXMRglmfix``). ``safe_formula=True``
    evaluates formulas from untrusted text safely (``docs/security.md``).

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=(df.index >= 2500).astype(int), tol=1e-10)
    >>> round(res.llf, 1) < 0, res.k_params
    (True, 11)
    """
    options = FitOptions(
        init=init,
        method=method,
        max_iter=max_iter,
        tol=tol,
        se=se,
        n_boot=n_boot,
        bootstrap=bootstrap,
        bootstrap_start=bootstrap_start,
        n_starts=n_starts,
        n_long=n_long,
        minprior=minprior,
        n_jobs=n_jobs,
        progress=progress,
        accel=accel,
        m_step_iter=m_step_iter,
    )
    if _is_dask_frame(data):  # a partitioned data set: fitted on a Dask cluster
        from emglm.cluster.fit import fit_distributed

        named = dict(
            offset=offset, exposure=exposure, weights=weights, concomitant=concomitant,
            groups=groups, fixed=fixed, nested=nested, equal_scale=equal_scale,
            zero_inflated=zero_inflated,
        )  # fmt: skip
        return fit_distributed(
            formula, data, family, K, named=named, safe_formula=safe_formula,
            eval_env=formula_mod.capture_env(1), options=options, start=start,
            random_state=random_state,
        )  # fmt: skip
    model = EMGLM.from_formula(
        formula,
        data,
        family,
        K,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        groups=groups,
        fixed=fixed,
        nested=nested,
        equal_scale=equal_scale,
        zero_inflated=zero_inflated,
        eval_env=formula_mod.capture_env(1),
        safe_formula=safe_formula,
    )
    return model.fit_with(options, start=start, random_state=random_state)


def _is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (told without importing Dask)."""
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "to_delayed")


def small_em(
    formula: str,
    data: pd.DataFrame,
    family: Any = "poisson",
    K: int = 2,
    *,
    repeats: int = 20,
    max_iter: int = 20,
    tol: float = 1e-4,
    init: str = FitOptions.init,
    sample_size: int | None = None,
    random_state: Any = None,
    n_jobs: int = FitOptions.n_jobs,
    progress: bool | None = FitOptions.progress,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    groups: Any = None,
    fixed: str | None = None,
    nested: Any = None,
    equal_scale: bool = False,
    zero_inflated: bool = False,
    safe_formula: bool = False,
    method: str = FitOptions.method,
    m_step_iter: int = FitOptions.m_step_iter,
    accel: str | None = FitOptions.accel,
) -> SmallEMResult:
    """Many short EM runs from different random starts (em.glm's ``small.em``).

    Parameters
    ----------
    formula, data, family, K
        As for :func:`emglm.em_glm`.
    repeats : int, default 20
        Number of short runs.
    max_iter : int, default 20
        EM iterations per run.
    tol : float, default 1e-4
        A run stops early when the relative change of its objective is below ``tol``.
    init : {"mixed", "random", "fit", "quantile", "tail", "cem"}
        How each run starts (``"mixed"``, as in :func:`em_glm`: ``"quantile"``, ``"fit"``
        and ``"random"`` in turn); see :mod:`emglm.engine.starts`.
    sample_size : int, optional
        Fit each run on its own random subsample of this many rows (drawn without
        replacement from the run's stream); its llf and BIC are still computed on all rows.
    random_state : int, numpy Generator or SeedSequence, optional
        Makes the warm-up reproducible; run ``r`` uses the ``r``-th spawned child stream.
    n_jobs : int, default 1
        Worker processes (``-1``: one per CPU). Results do not depend on it.
    progress : bool, optional
        Show a tqdm progress bar (needs tqdm).
    offset, exposure, weights, concomitant, groups, fixed, nested, equal_scale, zero_inflated, safe_formula
        The model, as for :func:`emglm.em_glm`. With groups, ``sample_size`` counts
        groups.
    method, m_step_iter, accel
        How each run climbs, as for :meth:`emglm.EMGLM.fit` (the defaults are those of the
        warm-up inside :func:`emglm.em_glm`).

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
    fit_options = FitOptions(
        init=init, method=method, n_jobs=n_jobs, progress=progress, accel=accel,
        m_step_iter=m_step_iter,
    )  # fmt: skip
    model = EMGLM.from_formula(
        formula,
        data,
        family,
        K,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        groups=groups,
        fixed=fixed,
        nested=nested,
        equal_scale=equal_scale,
        zero_inflated=zero_inflated,
        eval_env=formula_mod.capture_env(1),
        safe_formula=safe_formula,
    )
    repeats = check_positive_int("repeats", repeats)
    max_iter = check_positive_int("max_iter", max_iter)
    if sample_size is not None:
        # With groups, subsamples are of whole groups.
        what = "rows" if model.data.groups is None else "groups"
        sample_size = check_positive_int(
            "sample_size", sample_size, upper=model.data.n_units, what=what
        )
    options = EMOptions(
        max_iter=max_iter,
        tol=check_tol(tol),
        method=fit_options.method,
        m_step_iter=fit_options.m_step_iter,
        accel=fit_options.accel,
        newton=False,  # short runs, as the default warm-up's
    )
    warm = warmup.run_starts(
        model.data,
        model.mixture,
        model.n_total,
        repeats=repeats,
        options=options,
        init=fit_options.init,
        sample_size=sample_size,
        seed=warmup.seed_sequence(random_state),
        n_jobs=fit_options.n_jobs,
        progress=fit_options.progress,
    )
    return SmallEMResult.of(warm)


def select_best(result: SmallEMResult, criterion: str = "llf") -> MixtureParams:
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
    emglm.engine.em.MixtureParams
        Component parameters and mixing logits of that run.

    Raises
    ------
    FitError
        When every run failed.
    """
    if not isinstance(result, SmallEMResult):
        raise InputTypeError(
            f"select_best needs the output of small_em, not {type(result).__name__}"
        )
    return result.best_params(criterion)
