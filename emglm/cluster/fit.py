"""One fit on a Dask DataFrame: sample, warm-up, long run, standard errors, results.

1. The data's columns are checked on their metadata (categorical columns need known
   categories, :func:`check_frame`); a sample of whole partitions, chosen at random, of
   at least :data:`SAMPLE_ROWS` rows (or all of them) comes to the client.
2. The model is built on the sample (:meth:`emglm.EMGLM.from_formula`): every check of
   the in-memory front end runs there, and the design information is learned from it.
3. The warm-up and em-EM's long runs run on the sample in memory
   (:func:`emglm.engine.multistart.fit_from_starts`); the best fit there starts the long
   run on all partitions. A given start is resolved on the sample too.
4. Every partition is turned into its design block on the workers
   (:mod:`emglm.cluster.partition`); the blocks are kept in the workers' memory when they
   take less than :data:`PERSIST_SHARE` of it, else every pass reads the data again.
   With grouped observations, one pass first checks that no group spans two partitions
   (:mod:`emglm.cluster.group_spans`), before the warm-up.
5. The long EM run (:mod:`emglm.cluster.loop`) and Louis' information are map-reduces
   over the partitions; the results (:mod:`emglm.cluster.results`) keep the sums over rows
   the summary needs.

It runs on the current ``distributed`` client, or on a local cluster started for the fit
(and closed after it) when there is none.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import dask
import numpy as np
import pandas as pd
from distributed import Client, LocalCluster, default_client

from emglm.blas_threads import single_blas_thread
from emglm.cluster import group_spans, loop, steps
from emglm.cluster.jobs import CensusJob, FitStatsJob, LouisJob, glm_driver, glm_params
from emglm.cluster.mapreduce import PassRunner
from emglm.cluster.partition import PartitionSpec, build_partition, model_frame
from emglm.cluster.results import DaskEMGLMResults, RowSums
from emglm.data import formula as formula_mod
from emglm.data import sharing
from emglm.data.groups import split_groups
from emglm.engine import em, multistart, warmup
from emglm.engine import starts as engine_starts
from emglm.engine.em import MixtureParams
from emglm.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    InputError,
    InputTypeError,
    SeparationWarning,
    emit,
)
from emglm.families import get_family
from emglm.inference import louis
from emglm.mixing import SEPARATION_PRIOR, grows_without_bound
from emglm.model import CONCOMITANT_SEPARATION, EMGLM, without_point_mass
from emglm.options import FitOptions
from emglm.report.record import FitRecord
from emglm.report.warmup import SmallEMResult

#: Least rows of the sample of whole partitions the warm-up runs on and the design
#: information is learned from.
SAMPLE_ROWS = 50_000
#: Design blocks are kept in the workers' memory when they take less than this share of
#: the cluster's memory limit.
PERSIST_SHARE = 0.5


def check_frame(data: Any, formula: str, concomitant: str | None) -> None:
    """Refuse columns whose levels cannot be known without reading every row: categorical
    columns with unknown categories and string columns the formulas use."""
    meta = data._meta
    text = formula + " " + (concomitant or "")
    for name in meta.columns:
        col = meta[name]
        if not _mentioned(str(name), text):
            continue
        if isinstance(col.dtype, pd.CategoricalDtype) and not data[name].cat.known:
            raise InputError(
                f"column {name!r} is categorical with unknown categories, so its levels "
                f"cannot be known without reading every partition; set them first with "
                f"data = data.categorize(columns=[{name!r}]) (or "
                f"data[{name!r}].cat.set_categories([...]))"
            )
        if col.dtype == object or pd.api.types.is_string_dtype(col.dtype):
            raise InputError(
                f"column {name!r} holds strings, whose levels cannot be known without reading "
                f"every partition; make it categorical with known categories first: "
                f"data = data.categorize(columns=[{name!r}])"
            )


def _mentioned(name: str, text: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(name)}(?!\w)", text) is not None


def _refuse_unsupported(options: FitOptions, named: dict[str, Any], several: bool) -> None:
    """What the Dask backend does not do yet: a clear error before any data are read."""
    if several:
        raise InputError("several responses are not supported on a Dask DataFrame yet")
    for name in ("offset", "exposure", "weights", "groups"):
        if named[name] is not None and not isinstance(named[name], str):
            raise InputTypeError(
                f"{name}= must be a column name of a Dask DataFrame (arrays cannot be "
                "matched with its partitions)"
            )
    if options.method != "em":
        raise InputError(f"method={options.method!r} is not supported on Dask yet; use 'em'")
    if options.se == "bootstrap":
        raise InputError("se='bootstrap' is not supported on Dask yet; use 'louis' or None")


@contextlib.contextmanager
def cluster_client() -> Iterator[Client]:
    """The current ``distributed`` client, or one on a local cluster for this fit."""
    try:
        current = default_client()
    except ValueError:  # no client: a local cluster for this fit
        current = None
    if current is not None:
        yield current
        return
    with (
        LocalCluster(processes=True, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        yield client


def sample_partitions(data: Any, rows: int, rng: np.random.Generator) -> tuple[pd.DataFrame, int]:
    """Whole partitions in random order until at least ``rows`` rows (or all), and how
    many partitions that took."""
    order = rng.permutation(data.npartitions)
    pieces: list[pd.DataFrame] = []
    have = 0
    n_sampled = 0
    for start in range(0, order.size, 4):
        batch = [data.partitions[int(i)] for i in order[start : start + 4]]
        for piece in dask.compute(*batch):
            pieces.append(piece)
            have += len(piece)
        n_sampled += len(batch)
        if have >= rows:
            break
    return pd.concat(pieces), n_sampled


def _fits_in_memory(
    client: Client, model: EMGLM, sample: pd.DataFrame, n_parts: int, n_sampled: int
) -> bool:
    """Whether the design blocks of every partition, estimated from the sample's, take
    less than :data:`PERSIST_SHARE` of the workers' memory limits (then they are kept in
    memory between passes; else every pass reads and builds the partitions again)."""
    d = model.data
    sample_bytes = sum(a.nbytes for a in (d.y, d.X, d.offset, d.trials, d.weights, d.Z))
    estimate = sample_bytes * n_parts / max(n_sampled, 1)
    workers = client.scheduler_info()["workers"].values()
    memory = sum(w.get("memory_limit", 0) or 0 for w in workers)
    return bool(memory) and estimate < PERSIST_SHARE * memory


def fit_distributed(
    formula: str,
    data: Any,
    family: Any,
    K: int,
    *,
    named: dict[str, Any],
    safe_formula: bool,
    eval_env: Any,
    options: FitOptions,
    start: Any,
    random_state: Any,
) -> DaskEMGLMResults:
    """:func:`emglm.em_glm` on a Dask DataFrame (see the module notes). ``named`` holds
    em_glm's model keywords (offset, exposure, weights, concomitant, groups, fixed,
    nested, equal_scale, zero_inflated)."""
    if not isinstance(formula, str):
        _refuse_unsupported(options, named, several=True)
    fam = get_family(family)
    _refuse_unsupported(options, named, several=False)
    # The columns the shared terms use are checked with the formula's.
    spec = sharing.check_sharing(named["fixed"], named["nested"], named["equal_scale"], fam)
    # The grouping column is never a factor: its labels are only compared.
    plain = split_groups(formula)[0]
    text = plain if spec.is_plain else sharing.extend_formula(plain, spec)
    check_frame(data, text, named["concomitant"])
    with cluster_client() as client:
        return _fit(client, formula, data, family, K, named, safe_formula, eval_env, options,
                    start, random_state)  # fmt: skip


@single_blas_thread
def _fit(
    client: Client,
    formula: str,
    data: Any,
    family: Any,
    K: int,
    named: dict[str, Any],
    safe_formula: bool,
    eval_env: Any,
    options: FitOptions,
    start: Any,
    random_state: Any,
) -> DaskEMGLMResults:
    start_seed, em_seed, sample_seed = warmup.seed_sequence(random_state).spawn(3)
    sample, n_sampled = sample_partitions(data, SAMPLE_ROWS, np.random.default_rng(sample_seed))
    group, in_index = _grouping(formula, named["groups"], data)
    # The sample holds whole partitions, so whole groups when no group spans partitions.
    local = model_frame(sample, in_index)
    cols = {k: named[k] for k in ("offset", "exposure", "weights")}
    model = EMGLM.from_formula(
        formula, local, family, K, concomitant=named["concomitant"], groups=named["groups"],
        eval_env=eval_env, safe_formula=safe_formula, fixed=named["fixed"],
        nested=named["nested"], equal_scale=named["equal_scale"],
        zero_inflated=named["zero_inflated"], **cols,
    )  # fmt: skip
    design = model.design
    infos = formula_mod.learned_infos(
        design.formula, local, concomitant=design.concomitant, eval_env=design.eval_env,
        used=[v for v in (*cols.values(), group) if v is not None],
    )  # fmt: skip
    # The sample passed the family's checks about every row; a partition need not.
    reference = formula_mod.reference_rows(model.data.y, model.data.trials)
    spec = PartitionSpec(design.formula, infos, design, model.family, cols["offset"],
                         cols["exposure"], cols["weights"], named["concomitant"], group,
                         in_index, reference)  # fmt: skip
    options = options.check_for(model.n_total)
    mixture = model.mixture

    parts = [dask.delayed(build_partition, pure=True)(p, spec) for p in data.to_delayed()]
    persisted = _fits_in_memory(client, model, sample, data.npartitions, n_sampled)
    if persisted:
        parts = client.persist(parts)
    run = PassRunner(client, parts, mixture, persisted)
    if group is not None:  # before anything is fitted, the warm-up too
        group_spans.check_within_partitions(run, data, spec)
    start_value, warm = _start(model, options, start, start_seed, em_seed)
    # The census and the first E-step share one pass.
    census = run([CensusJob(), *steps.estep_jobs(mixture, start_value)])[0]
    if census.get("rows", 0) == 0:
        raise InputError("every partition is empty or has a missing value in every row")
    nobs, n_rows = float(census["nobs"]), int(census["rows"])
    glm = glm_driver(mixture)
    floor = 0.0
    if glm.family.has_scale:
        mean = census["y1"] / n_rows
        floor = 1e-10 * max(census["y2"] / n_rows - mean * mean, 1e-300)
    unit_nobs = None if group is None else float(census["unit_nobs"])
    facts = steps.DataFacts(nobs, model.data.n_columns, floor, unit_nobs)
    fit = loop.run_em(run, mixture, start_value, facts, options.em_options(), model.data, n_rows)

    stats = run([FitStatsJob(fit.params)])[0]
    order = em.canonical_order(mixture, fit.params, stats["prior_sum"] / nobs)
    params = mixture.take(fit.params, order)
    fit = em.EMFit(params, None, fit.llf, fit.llf_history, fit.n_iter, fit.converged,  # type: ignore[arg-type]
                   fit.last_change, fit.notes, fit.drops)  # fmt: skip
    if not np.array_equal(order, np.arange(order.size)):
        stats = run([FitStatsJob(params)])[0]
    _warn(mixture, fit, stats, model.n_total, options, floor, run)
    # A dropped point mass leaves a plain GLM mixture (as in memory); the workers keep the
    # zero-inflated model, whose passes at these parameters are the plain model's.
    at = params
    mixture, fit = without_point_mass(mixture, fit, glm_driver(mixture))
    params = fit.params
    covariance = None
    if options.se == "louis":
        info = run([LouisJob(at)])[0]["info"]
        names = louis.param_names(mixture, design.z_names, params.n_components)
        cause = mixture.components.why_singular(params.components)
        covariance = louis.Covariance("louis", louis.invert_information(info, names, cause))
    record = FitRecord(
        data=model.data,
        mixture=mixture,
        design=design,
        row_index=model.arrays.row_index,
        n_dropped=int(census.get("n_dropped", 0)),
        n_requested=model.n_total,
        designs=(design,),
        em_options=options.em_options(),
    )
    sums = RowSums(
        nobs=nobs,
        n_rows=n_rows,
        n_dropped=int(census.get("n_dropped", 0)),
        mixing=np.asarray(stats["prior_sum"]) / nobs,
        mixing_jacobian=np.asarray(stats["jac_sum"]) / nobs,
        log_best=float(stats["log_best"]),
        entropy=float(stats["entropy"]),
        size=np.asarray(stats["size"], dtype=float),
        positive=np.asarray(stats["positive"], dtype=float),
        n_groups=None if group is None else int(census["units"]),
    )
    return DaskEMGLMResults(
        record=record,
        em=fit,
        method=options.method,
        init=options.init if start is None else "start",
        warmup=warm,
        covariance=covariance,
        frame=data,
        spec=spec,
        sums=sums,
        head=sample.iloc[:5],
        n_passes=run.n_passes,
        pass_seconds=tuple(run.seconds),
        sample_rows=len(sample),
    )


def _grouping(formula: str, groups: Any, data: Any) -> tuple[str | None, bool]:
    """The grouping column (``y ~ x | id`` or ``groups="id"``; both given is the front
    end's error) and whether it is the frame's index (after ``data.set_index("id")``)."""
    term = split_groups(formula)[1]
    name = term if term is not None else groups
    if name is None:
        return None, False
    return name, name not in data.columns and data.index.name == name


def _start(
    model: EMGLM,
    options: FitOptions,
    start: Any,
    seed: np.random.SeedSequence,
    em_seed: np.random.SeedSequence,
) -> tuple[MixtureParams, SmallEMResult | None]:
    """The long run's start: a given start resolved on the sample, or the fit from starts
    on it (the warm-up and em-EM's long runs, as :meth:`EMGLM.fit_with` does on all rows;
    the same seeds, so on a sample of every row it is the in-memory fit)."""
    data, mixture = model.data, model.mixture
    if start is not None:
        value = model._resolve_start(start)
        if not isinstance(value, MixtureParams):
            raise InputError(
                "on a Dask DataFrame, start must be parameters (coefficients, a dict with "
                "'params', 'mixing' and 'scale', a previous fit or select_best's output); "
                "posteriors and labels of rows are not supported"
            )
        return value, None
    if options.n_starts == 1 or model.n_total == 1:
        rng = np.random.default_rng(seed)
        value = engine_starts.make_start(options.init, data, mixture, model.n_total, rng)
        if not isinstance(value, MixtureParams):
            value = em.m_step(data, mixture, value)
        return value, None
    fit, warm_runs = multistart.fit_from_starts(
        data, mixture, model.n_total, options.start_plan(), options.em_options(),
        seed=seed, em_rng=np.random.default_rng(em_seed), n_jobs=options.n_jobs,
        progress=options.progress,
    )  # fmt: skip
    return fit.params, None if warm_runs is None else SmallEMResult.of(warm_runs)


def _warn(
    mixture: em.MixtureModel,
    fit: em.EMFit,
    stats: dict[str, Any],
    K: int,
    options: FitOptions,
    floor: float,
    run: steps.Run,
) -> None:
    """The in-memory fit's warnings (``emglm.model``), from sums over partitions."""
    if fit.params.n_components < K:
        emit(
            f"{K - fit.params.n_components} of {K} components were dropped and the fit has "
            f"K={fit.params.n_components}: " + "; ".join(fit.notes) + ". Fit a smaller K, or "
            "set minprior=0 to keep small components that still have enough weight for "
            "their GLM.",
            DegenerateComponentWarning,
        )
    glm = glm_driver(mixture)
    comp, n_zero = glm_params(fit.params.components)
    if glm.family.has_scale and glm.family.dispersion_can_collapse and floor > 0:
        collapsed = np.flatnonzero(comp.scale <= floor * (1.0 + 1e-6))
        if collapsed.size:
            emit(
                f"the variance of comp{collapsed[0] + n_zero + 1} collapsed onto its floor: a spurious "
                "maximum; refit with more starts (n_starts), a larger minprior, or fewer "
                "components.",
                DegenerateComponentWarning,
            )
    if not fit.converged:
        emit(
            f"EM did not converge in max_iter={options.max_iter} iterations: the last relative "
            f"change of the log-likelihood was {fit.last_change:.3g} (tol={options.tol:g}); "
            "raise max_iter or start from better values (select_best)",
            ConvergenceWarning,
        )
    if mixture.mixing.varies_by_row and float(stats["min:prior"]) < SEPARATION_PRIOR:

        def llf_at(gamma: np.ndarray) -> float:
            return steps.e_step(run, mixture, replace(fit.params, gamma=gamma)).llf

        if grows_without_bound(fit.params.gamma, llf_at):
            emit(CONCOMITANT_SEPARATION, SeparationWarning)
    separated = np.flatnonzero(stats["separated"])
    if separated.size:
        comps = ", ".join(f"comp{k + 1} ({int(stats['separated'][k])} rows)" for k in separated)
        emit(
            f"fitted probabilities numerically 0 or 1 occurred in {comps}: the covariates "
            "separate that component's responses, so its coefficients have no finite "
            "maximum-likelihood estimate; drop or coarsen the separating terms, or fit "
            "fewer components.",
            SeparationWarning,
        )
