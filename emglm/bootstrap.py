"""Bootstrap standard errors and percentile intervals for a fitted mixture.

Each replicate draws a new data set, reruns EM from the fitted parameters and matches its
components to the fitted ones by optimal assignment (``linear_sum_assignment`` on the
distance between component coefficient vectors), so that label switching does not inflate
the spread. A replicate *fails* when EM raises, does not converge, gives non-finite
estimates or empties a component (mixing proportion below ``1e-6``); failures are counted
and left out.

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

import warnings
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import linear_sum_assignment

from emglm import em, mixing
from emglm.exceptions import BootstrapWarning, InputError, user_stacklevel
from emglm.families import Family
from emglm.inference import Covariance, Layout, pack
from emglm.parallel import worker_pool

Array = NDArray[np.float64]

BOOTSTRAP_KINDS = ("nonparametric", "parametric")
# A replicate whose smallest component holds less than this share failed.
_MIN_PROPORTION = 1e-6
# Warn when more than this share of the replicates failed.
_WARN_FAILED = 0.1


def check_bootstrap(kind: str, data: em.MixtureData) -> None:
    """Raise :class:`InputError` for an unknown ``kind`` or weights it cannot honour."""
    if kind not in BOOTSTRAP_KINDS:
        raise InputError(
            f"bootstrap={kind!r} is not allowed; choose one of "
            f"{', '.join(map(repr, BOOTSTRAP_KINDS))}"
        )
    w = data.weights
    if kind == "parametric" and np.any(w != np.round(w)):
        raise InputError(
            "bootstrap='parametric' needs integer (frequency) case weights, which are "
            "expanded to independent observations; use bootstrap='nonparametric'"
        )


def _expand(data: em.MixtureData) -> em.MixtureData:
    """Integer frequency weights as repeated rows of weight one."""
    if np.all(data.weights == 1.0):
        return data
    reps = data.weights.astype(np.int64)
    return em.MixtureData(
        y=np.repeat(data.y, reps),
        X=np.repeat(data.X, reps, axis=0),
        offset=np.repeat(data.offset, reps),
        trials=np.repeat(data.trials, reps),
        weights=np.ones(int(reps.sum())),
        Z=np.repeat(data.Z, reps, axis=0),
    )


def draw(
    data: em.MixtureData,
    family: Family,
    params: em.MixtureParams,
    kind: str,
    rng: np.random.Generator,
) -> em.MixtureData:
    """One bootstrap data set (for ``"parametric"``, ``data`` must have unit weights)."""
    if kind == "nonparametric":
        w = data.weights
        total = max(int(round(w.sum())), 1)
        counts = rng.multinomial(total, w / w.sum()).astype(float)
        return replace(data, weights=counts)
    n = data.y.shape[0]
    log_prior = mixing.log_prior(data.Z, params.gamma)
    cum = np.cumsum(np.broadcast_to(np.exp(log_prior), (n, params.n_components)), axis=1)
    labels = np.minimum((rng.random((n, 1)) > cum).sum(axis=1), params.n_components - 1)
    eta = np.einsum("ij,ij->i", data.X, params.coef[labels]) + data.offset
    mu = family.linkinv(eta)
    scale = np.asarray(params.scale)[labels]
    y = family.simulate(mu, scale, data.trials, rng)
    return replace(data, y=np.asarray(y, dtype=float))


def align(fitted: em.MixtureParams, replicate: em.MixtureParams) -> Array:
    """Permutation of the replicate's components that best matches the fitted ones.

    The cost of matching replicate component ``k`` to fitted component ``j`` is the squared
    distance between their coefficient vectors, each coordinate scaled by the spread of the
    fitted coefficients across components (so no covariate dominates by its units).
    """
    spread = np.std(fitted.coef, axis=0)
    spread = np.where(spread > 0, spread, 1.0)
    diff = (fitted.coef[:, None, :] - replicate.coef[None, :, :]) / spread
    cost = np.sum(diff**2, axis=2)
    if fitted.scale.size and np.any(fitted.scale != 1.0):
        cost += (0.5 * np.log(fitted.scale[:, None] / replicate.scale[None, :])) ** 2
    _, cols = linear_sum_assignment(cost)
    return np.asarray(cols, dtype=int)


def _one_replicate(
    seed: np.random.SeedSequence,
    data: em.MixtureData,
    family: Family,
    params: em.MixtureParams,
    kind: str,
    options: em.EMOptions,
    layout: Layout,
) -> tuple[Array, Array] | None:
    """Packed estimates and mixing proportions of one replicate, or None when it failed."""
    rng = np.random.default_rng(seed)
    boot = draw(data, family, params, kind, rng)
    try:
        with np.errstate(all="ignore"):
            fit = em.run_em(boot, family, params, options)
    except (ArithmeticError, ValueError, np.linalg.LinAlgError):
        return None
    if not fit.converged:
        return None
    fit = em.permute(fit, align(params, fit.params))
    props = mixing.proportions(boot.Z, fit.params.gamma, boot.weights)
    theta = pack(fit.params, layout)
    if not (np.all(np.isfinite(theta)) and props.min() >= _MIN_PROPORTION):
        return None
    return theta, props


def _run_chunk(
    seeds: list[np.random.SeedSequence],
    data: em.MixtureData,
    family: Family,
    params: em.MixtureParams,
    kind: str,
    options: em.EMOptions,
    layout: Layout,
) -> list[tuple[Array, Array] | None]:
    return [_one_replicate(s, data, family, params, kind, options, layout) for s in seeds]


def bootstrap(
    data: em.MixtureData,
    family: Family,
    params: em.MixtureParams,
    layout: Layout,
    options: em.EMOptions,
    *,
    kind: str = "nonparametric",
    n_boot: int = 200,
    random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> Covariance:
    """Bootstrap the fitted mixture.

    Parameters
    ----------
    data : MixtureData
        The fitted data.
    family : Family
        Component family.
    params : MixtureParams
        The fitted parameters; every replicate's EM starts here.
    layout : Layout
        Packing of the free parameters.
    options : EMOptions
        EM settings of the replicates (the fit's own).
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

    Returns
    -------
    Covariance
        ``cov_type="bootstrap"``, the covariance of the successful replicates and the
        replicates themselves (for percentile intervals).
    """
    check_bootstrap(kind, data)
    source = data if kind == "nonparametric" else _expand(data)
    seeds = _seed_sequence(random_state).spawn(n_boot)
    bar = _progress_bar(n_boot) if progress else None
    results: list[tuple[Array, Array] | None] = []
    args = (source, family, params, kind, options, layout)
    if n_jobs == 1:
        for s in seeds:
            results.append(_one_replicate(s, *args))
            if bar is not None:
                bar.update(1)
    else:
        chunks = [seeds[i : i + 4] for i in range(0, n_boot, 4)]
        with worker_pool(n_jobs) as pool:
            futures = [pool.submit(_run_chunk, c, *args) for c in chunks]
            for fut, chunk in zip(futures, chunks, strict=True):
                results.extend(fut.result())
                if bar is not None:
                    bar.update(len(chunk))
    if bar is not None:
        bar.close()
    good = [r for r in results if r is not None]
    n_failed = n_boot - len(good)
    if len(good) < 2:
        raise InputError(
            f"only {len(good)} of {n_boot} bootstrap replicates succeeded; the fit is too "
            "unstable to bootstrap (check the number of components), or use se='louis'"
        )
    if n_failed > _WARN_FAILED * n_boot:
        warnings.warn(
            f"{n_failed} of {n_boot} bootstrap replicates failed (EM did not converge or a "
            "component emptied) and were left out; the bootstrap standard errors may be too "
            "small. Check the number of components, or raise max_iter",
            BootstrapWarning,
            stacklevel=user_stacklevel(),
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


def _progress_bar(total: int):  # type: ignore[no-untyped-def]
    require_tqdm()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="bootstrap", unit="rep")
