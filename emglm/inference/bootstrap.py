"""Bootstrap standard errors and percentile intervals for a fitted mixture.

Each replicate draws a new data set, refits it and matches its
components to the fitted ones by optimal assignment (``linear_sum_assignment`` on the
distance between component coefficient vectors), so that label switching does not inflate
the spread. A replicate *fails* when EM raises, does not converge, gives non-finite
estimates, drops a component (the ``minprior`` rule) or empties one (mixing proportion
below ``1e-6``); failures are counted and left out.

Where a replicate's EM starts (``start``):

* ``"fit"``: from the fitted parameters (fast; sees only the fit's own mode);
* ``"random"``: from the default warm-up of random starts, as the fit itself
  (:func:`emglm.engine.multistart.fit_from_starts`; flexmix's ``boot`` restarts each
  replicate from ``nrep`` random starts), so that replicates whose best optimum is another
  mode land there and the spread shows it.

* ``"nonparametric"``: resample the observations with replacement. Case weights are
  frequency weights, so ``round(sum w)`` observations are drawn with probabilities
  ``w_i / sum w`` and each row's new weight is the number of times it was drawn.
* ``"parametric"``: simulate a new response for every observation from the fitted mixture
  (label from ``pi_i``, response from that component). Integer case weights are expanded to
  that many independent observations; other weights are refused.

Replicate ``b`` uses its own random stream spawned from ``random_state``, so results do
not depend on ``n_jobs``. Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from emglm.data.arrays import MixtureData
from emglm.engine import em, multistart
from emglm.engine.em import MixtureModel
from emglm.engine.multistart import StartPlan
from emglm.exceptions import BootstrapWarning, FitError, InputError, emit
from emglm.inference.louis import Covariance
from emglm.parallel import worker_pool

Array = NDArray[np.float64]
_R = TypeVar("_R")

BOOTSTRAP_KINDS = ("nonparametric", "parametric")
BOOTSTRAP_STARTS = ("fit", "random")
# A replicate whose smallest component holds less than this share failed.
_MIN_PROPORTION = 1e-6
# Warn when more than this share of the replicates failed.
_WARN_FAILED = 0.1


def check_bootstrap(kind: str, data: MixtureData) -> None:
    """Raise :class:`InputError` for weights ``kind`` cannot honour."""
    w = data.weights
    if kind == "parametric" and np.any(w != np.round(w)):
        raise InputError(
            "bootstrap='parametric' needs integer (frequency) case weights, which are "
            "expanded to independent observations; use bootstrap='nonparametric'"
        )


def draw(
    data: MixtureData,
    model: MixtureModel,
    params: em.MixtureParams,
    kind: str,
    rng: np.random.Generator,
) -> MixtureData:
    """One bootstrap data set (for ``"parametric"``, ``data`` must have unit weights).

    Units are resampled: rows, or whole groups for grouped data; a parametric draw labels
    each unit (all rows of a group) with one component.
    """
    if kind == "nonparametric":
        w = data.unit_case_weights
        total = max(int(round(w.sum())), 1)
        counts = rng.multinomial(total, w / w.sum()).astype(float)
        return data.with_unit_weights(counts)
    n_comp, n_units = params.n_components, data.n_units
    prior = np.broadcast_to(np.exp(model.log_prior(data, params)), (n_units, n_comp))
    cum = np.cumsum(prior, axis=1)
    labels = np.minimum((rng.random((n_units, 1)) > cum).sum(axis=1), n_comp - 1)
    if data.groups is not None:
        labels = labels[data.groups.codes]
    return model.components.resimulated(data, params.components, labels, rng)


def align(model: MixtureModel, fitted: em.MixtureParams, replicate: em.MixtureParams) -> Array:
    """Permutation of the replicate's components that best matches the fitted ones (the
    component model's matching cost, minimised by the Hungarian algorithm)."""
    cost = model.components.match_cost(fitted.components, replicate.components)
    _, cols = linear_sum_assignment(cost)
    return np.asarray(cols, dtype=int)


@dataclass(frozen=True)
class Refit:
    """How a replicate is refitted: EM with ``options``, from the fitted parameters
    (``start="fit"``) or from random starts drawn as ``plan`` says (``start="random"``)."""

    options: em.EMOptions
    start: str = "fit"
    plan: StartPlan | None = None

    def __post_init__(self) -> None:
        if self.start not in BOOTSTRAP_STARTS:
            raise InputError(
                f"start={self.start!r} is not allowed; choose one of "
                + ", ".join(map(repr, BOOTSTRAP_STARTS))
            )
        if self.start == "random" and self.plan is None:
            raise InputError("start='random' needs the warm-up's plan (StartPlan)")

    def run(
        self,
        data: MixtureData,
        model: MixtureModel,
        params: em.MixtureParams,
        seed: np.random.SeedSequence,
    ) -> em.EMFit:
        """Refit ``data`` with ``params.n_components`` components; ``seed`` draws the random
        starts (unused from the fit)."""
        if self.start == "fit":
            return em.run_em(data, model, params, self.options)
        assert self.plan is not None  # checked in __post_init__
        start_seed, em_seed = seed.spawn(2)
        fit, _ = multistart.fit_from_starts(
            data,
            model,
            params.n_components,
            self.plan,
            self.options,
            seed=start_seed,
            em_rng=np.random.default_rng(em_seed),
        )
        return fit


# What a refit may meet on a replicate; anything else is a bug and propagates.
REFIT_ERRORS = (ArithmeticError, ValueError, np.linalg.LinAlgError, FitError)


def _one_replicate(
    seed: np.random.SeedSequence,
    data: MixtureData,
    model: MixtureModel,
    params: em.MixtureParams,
    kind: str,
    refit: Refit,
) -> tuple[Array, Array] | None:
    """Packed estimates and mixing proportions of one replicate, or None when it failed."""
    rng = np.random.default_rng(seed)
    boot = draw(data, model, params, kind, rng)
    try:
        with np.errstate(all="ignore"):
            fit = refit.run(boot, model, params, seed)
    except REFIT_ERRORS:
        return None
    if not fit.converged or fit.params.n_components < params.n_components:
        return None  # a replicate that dropped a component (minprior rule) failed
    fit = em.permute(model, fit, align(model, params, fit.params))
    props = model.mixing.proportions(boot.Z, fit.params.gamma, boot.weights)
    theta = model.pack(fit.params)
    if not (np.all(np.isfinite(theta)) and props.min() >= _MIN_PROPORTION):
        return None
    return theta, props


def _run_chunk(
    one: Callable[..., _R], seeds: list[np.random.SeedSequence], args: tuple[Any, ...]
) -> list[_R]:
    return [one(s, *args) for s in seeds]


def run_replicates(
    one: Callable[..., _R],
    seeds: list[np.random.SeedSequence],
    args: tuple[Any, ...],
    n_jobs: int,
    progress: bool,
    desc: str = "bootstrap",
) -> list[_R]:
    """``[one(seed, *args) for seed in seeds]``, in ``n_jobs`` worker processes (chunks
    of four replicates, so that little is pickled) and with a tqdm bar when ``progress``.
    ``one`` must be a module-level function; the results do not depend on ``n_jobs``."""
    bar = _progress_bar(len(seeds), desc) if progress else None
    results: list[_R] = []
    if n_jobs == 1:
        for s in seeds:
            results.append(one(s, *args))
            if bar is not None:
                bar.update(1)
    else:
        chunks = [seeds[i : i + 4] for i in range(0, len(seeds), 4)]
        with worker_pool(n_jobs) as pool:
            futures = [pool.submit(_run_chunk, one, c, args) for c in chunks]
            for fut, chunk in zip(futures, chunks, strict=True):
                results.extend(fut.result())
                if bar is not None:
                    bar.update(len(chunk))
    if bar is not None:
        bar.close()
    return results


def bootstrap(
    data: MixtureData,
    model: MixtureModel,
    params: em.MixtureParams,
    options: em.EMOptions,
    *,
    kind: str = "nonparametric",
    n_boot: int = 200,
    random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    n_jobs: int = 1,
    progress: bool = False,
    start: str = "fit",
    plan: StartPlan | None = None,
) -> Covariance:
    """Bootstrap the fitted mixture.

    Parameters
    ----------
    data : MixtureData
        The fitted data.
    model : MixtureModel
        The component and mixing models.
    params : MixtureParams
        The fitted parameters (parametric draws come from them).
    options : EMOptions
        EM settings of the replicates' long runs (the fit's own).
    kind : {"nonparametric", "parametric"}
        Resample rows, or simulate responses from the fit.
    n_boot : int
        Replicates.
    random_state : int, Generator or SeedSequence, optional
        Makes the replicates reproducible, whatever ``n_jobs``.
    n_jobs : int
        Worker processes (1 runs in this process).
    progress : bool
        Show a ``tqdm`` progress bar.
    start : {"fit", "random"}
        Each replicate's EM starts from ``params``, or from random starts drawn as
        ``plan`` says (the fit's warm-up), as flexmix's ``boot``.
    plan : StartPlan, optional
        The warm-up of ``start="random"``.

    Returns
    -------
    Covariance
        ``cov_type="bootstrap"``, the covariance of the successful replicates and the
        replicates themselves (for percentile intervals).
    """
    check_bootstrap(kind, data)
    refit = Refit(options, start, plan)
    source = data if kind == "nonparametric" or data.unit_weights else data.expanded()
    seeds = _seed_sequence(random_state).spawn(n_boot)
    results = run_replicates(
        _one_replicate, seeds, (source, model, params, kind, refit), n_jobs, progress
    )
    good = [r for r in results if r is not None]
    n_failed = n_boot - len(good)
    if len(good) < 2:
        raise InputError(
            f"only {len(good)} of {n_boot} bootstrap replicates succeeded; the fit is too "
            "unstable to bootstrap (check the number of components), or use se='louis'"
        )
    if n_failed > _WARN_FAILED * n_boot:
        emit(
            f"{n_failed} of {n_boot} bootstrap replicates failed (EM did not converge, or a "
            "component was dropped or emptied) and were left out; the bootstrap standard "
            "errors may be too small. Check the number of components, or raise max_iter",
            BootstrapWarning,
        )
    reps = np.stack([r[0] for r in good])
    props = np.stack([r[1] for r in good])
    return Covariance(
        cov_type="bootstrap",
        cov=np.atleast_2d(np.cov(reps, rowvar=False)),
        replicates=reps,
        mixing_replicates=props,
        n_boot=n_boot,
        n_failed=n_failed,
        kind=kind,
        start=start,
    )


def _seed_sequence(
    random_state: int | np.random.Generator | np.random.SeedSequence | None,
) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    return np.random.SeedSequence(random_state)


def require_tqdm() -> None:
    """Raise :class:`InputError` when ``progress=True`` cannot be honoured."""
    try:
        import tqdm  # noqa: F401
    except ImportError:  # pragma: no cover - tqdm is an optional dependency
        raise InputError(
            "progress=True needs the tqdm package: pip install tqdm (or emglm[progress])"
        ) from None


def _progress_bar(total: int, desc: str):  # type: ignore[no-untyped-def]
    require_tqdm()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="rep")
