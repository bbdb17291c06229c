"""Starting values: user-given parameters, posteriors or labels, and random starts.

A start is turned into what :func:`emglm.em.run_em` takes: either a full
:class:`~emglm.em.MixtureParams` (EM begins with an E-step) or an ``(n, K)`` matrix of
posterior probabilities (EM begins with an M-step).

Random starts (:func:`make_start`, ``init=``):

* ``"random"``: a random partition of the rows (flexmix's default start);
* ``"fit"``: one GLM on all rows, its coefficients multiplied by independent
  ``N(1, FIT_NOISE^2)`` factors per component (em.glm's ``b.init = "fit"``);
* ``"quantile"``: one GLM on all rows, its Pearson residuals sorted and cut into K blocks
  at random proportions (each at least half of 1/K): components start below, around and
  above the pooled fit instead of all at the pooled fit, which breaks the symmetry that
  slows EM from a random partition (e.g. a one-dimensional Gaussian mixture, ``y ~ 1``);
* ``"cem"``: a random partition refined by classification EM until its objective settles
  (at most ``CEM_INIT_ITER`` iterations), as flexmix's ``initMethod = "cem.em"``; when hard labels empty a component, the random partition itself is the start.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm import em, guards, irls, mixing
from emglm.em import MixtureData, MixtureParams
from emglm.exceptions import InputError, InputTypeError
from emglm.families import Family

Array = NDArray[np.float64]

INIT_METHODS = ("random", "fit", "quantile", "cem")

# Spread of the multiplicative noise of init="fit" (em.glm uses 1 in em.glm, 0.2 in small.em).
FIT_NOISE = 0.5
# Most classification-EM iterations of init="cem".
CEM_INIT_ITER = 50


def random_partition(n: int, n_comp: int, rng: np.random.Generator, min_rows: int = 1) -> Array:
    """One-hot posteriors of a random partition in which every component has rows.

    Every component gets at least ``min(min_rows, n // n_comp)`` rows: a component with
    fewer rows than its GLM has parameters would be dropped before EM begins. Rows are
    moved one at a time from the largest component, so for large ``n`` the draw is the
    plain uniform one.

    Examples
    --------
    >>> tau = random_partition(6, 3, np.random.default_rng(0))
    >>> bool(tau.sum(axis=0).min() >= 1), tau.sum(axis=1).tolist() == [1.0] * 6
    (True, True)
    >>> random_partition(30, 15, np.random.default_rng(0), min_rows=2).sum(axis=0).min()
    np.float64(2.0)
    """
    labels = rng.integers(0, n_comp, size=n)
    if n >= n_comp:  # make sure no component starts empty
        labels[rng.choice(n, size=n_comp, replace=False)] = np.arange(n_comp)
    need = min(min_rows, n // n_comp)
    counts = np.bincount(labels, minlength=n_comp)
    while counts.min() < need:
        short, largest = int(np.argmin(counts)), int(np.argmax(counts))
        row = rng.choice(np.flatnonzero(labels == largest))
        labels[row] = short
        counts[short] += 1
        counts[largest] -= 1
    return np.eye(n_comp)[labels]


def pooled_fit(data: MixtureData, family: Family) -> Array:
    """Coefficients (p,) of one GLM fitted to all rows (with their case weights)."""
    return irls.fit_glm(data.components, family, data.weights)


def perturbed_fit(
    data: MixtureData, family: Family, n_comp: int, rng: np.random.Generator
) -> MixtureParams:
    """One GLM on all rows; component k starts at its coefficients times ``N(1, FIT_NOISE^2)``
    factors (em.glm's ``init.fit``)."""
    coef = pooled_fit(data, family)
    factors = rng.normal(1.0, FIT_NOISE, size=(n_comp, coef.shape[0]))
    return params_from_coef(data, family, coef[None, :] * factors)


def residual_partition(
    data: MixtureData, family: Family, n_comp: int, rng: np.random.Generator
) -> Array:
    """One-hot posteriors from cutting the sorted Pearson residuals of one pooled GLM into
    ``n_comp`` blocks of random size (each at least ``1 / (2 n_comp)`` of the rows).

    Examples
    --------
    >>> from emglm.families import get_family
    >>> y = np.r_[np.zeros(5), np.full(5, 10.0)]
    >>> data = MixtureData(y, np.ones((10, 1)), np.zeros(10), np.ones(10), np.ones(10),
    ...                    np.ones((10, 1)))
    >>> tau = residual_partition(data, get_family("gaussian"), 2, np.random.default_rng(0))
    >>> tau[:, 0].tolist() == [1.0] * 5 + [0.0] * 5  # the low rows start together
    True
    """
    coef = pooled_fit(data, family)
    mu = family.linkinv(data.X @ coef + data.offset)
    var = np.maximum(family.variance(mu) / data.trials, 1e-300)
    resid = (data.y - mu) / np.sqrt(var)
    n = resid.shape[0]
    # Random block sizes, none below half of an equal share.
    shares = 0.5 / n_comp + 0.5 * rng.dirichlet(np.ones(n_comp))
    bounds = np.cumsum(shares)[:-1] * n
    labels = np.empty(n, dtype=int)
    # Ties (e.g. many zero counts) are broken at random so blocks can split them.
    order = np.lexsort(np.vstack([rng.random(n), resid]))
    labels[order] = np.searchsorted(bounds, np.arange(n), side="right")
    return np.eye(n_comp)[labels]


def make_start(
    method: str, data: MixtureData, family: Family, n_comp: int, rng: np.random.Generator
) -> MixtureParams | Array:
    """A random start by ``method`` (one of :data:`INIT_METHODS`), drawn from ``rng``.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> n = 50
    >>> data = MixtureData(np.arange(n, dtype=float), np.ones((n, 1)), np.zeros(n),
    ...                    np.ones(n), np.ones(n), np.ones((n, 1)))
    >>> make_start("random", data, get_family("poisson"), 2, np.random.default_rng(0)).shape
    (50, 2)
    >>> make_start("fit", data, get_family("poisson"), 3, np.random.default_rng(0)).coef.shape
    (3, 1)
    """
    if method == "fit":
        return perturbed_fit(data, family, n_comp, rng)
    if method == "quantile":
        return residual_partition(data, family, n_comp, rng)
    need = guards.params_per_component(family, data.X.shape[1])
    tau = random_partition(data.y.shape[0], n_comp, rng, min_rows=need)
    if method == "random" or n_comp == 1:
        return tau
    options = em.EMOptions(max_iter=CEM_INIT_ITER, tol=1e-8, method="cem")
    fit = em.run_em(data, family, tau, options, rng)
    if fit.params.n_components < n_comp:
        # Hard labels can empty a component; the random partition is the better start then.
        return tau
    return fit.params


def params_from_coef(data: MixtureData, family: Family, coef: Array) -> MixtureParams:
    """Complete bare coefficients (K, p) into a parameter set.

    Mixing proportions start equal: ``gamma`` is (q, K) zeros, so with a concomitant model
    the first E-step uses equal priors and the first M-step fits ``gamma`` to the posteriors
    these coefficients imply. Dispersions (Gaussian variances) start from each row's
    nearest component mean, so that no component starts absurdly wide or narrow.
    """
    n_comp = coef.shape[0]
    scale = np.ones(n_comp)
    if family.has_scale:
        mu = family.linkinv(data.X @ coef.T + data.offset[:, None])
        nearest = np.argmin(np.abs(data.y[:, None] - mu), axis=1)
        overall = max(float(np.var(data.y)), 1e-12)
        for k in range(n_comp):
            rows = nearest == k
            if rows.sum() > data.X.shape[1]:
                scale[k] = max(float(np.mean((data.y[rows] - mu[rows, k]) ** 2)), 1e-6 * overall)
            else:
                scale[k] = overall
    gamma = mixing.gamma_from_proportions(np.full(n_comp, 1.0 / n_comp))
    gamma = np.vstack([gamma, np.zeros((data.Z.shape[1] - 1, n_comp))])
    return MixtureParams(coef=np.array(coef, dtype=float), scale=scale, gamma=gamma)


def resolve_start(
    start: Any,
    data: MixtureData,
    family: Family,
    n_comp: int,
    x_names: list[str],
) -> MixtureParams | Array:
    """Validate a user's ``start`` and turn it into parameters or posteriors.

    ``start`` may be a :class:`MixtureParams`; coefficients as a (K, p) array, a list of K
    vectors, or a ``params`` DataFrame (rows = design columns, K columns); posteriors as an
    (n, K) array; or labels 0..K-1 of length n.
    """
    n, p = data.X.shape
    if isinstance(start, MixtureParams):
        q = data.Z.shape[1]
        expected = {"coef": (n_comp, p), "scale": (n_comp,), "gamma": (q, n_comp)}
        for name, shape in expected.items():
            value = getattr(start, name)
            if value.shape != shape:
                raise InputError(
                    f"start.{name} has shape {value.shape}; expected {shape} "
                    f"(K = {n_comp}, p = {p} design columns, q = {q} concomitant columns)"
                )
            if not np.all(np.isfinite(value)):
                raise InputError(f"start.{name} holds non-finite values")
        return start
    if isinstance(start, pd.DataFrame):
        if list(map(str, start.index)) != x_names or start.shape[1] != n_comp:
            raise InputError(
                f"start DataFrame must have rows {x_names} and {n_comp} columns (one per "
                f"component); got rows {list(start.index)} and {start.shape[1]} columns"
            )
        return params_from_coef(data, family, start.to_numpy(dtype=float).T)
    try:
        arr = np.asarray(start, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError(
            "start must be parameters (K x p), posteriors (n x K), labels (length n) or "
            f"the output of select_best; got {type(start).__name__}"
        ) from None
    if not np.all(np.isfinite(arr)):
        raise InputError("start holds non-finite values")
    if arr.ndim == 2 and arr.shape == (n_comp, p):
        return params_from_coef(data, family, arr)
    if arr.ndim == 2 and arr.shape == (n, n_comp):
        if np.any(arr < 0) or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-6):
            raise InputError("start posteriors must be non-negative with rows summing to 1")
        return arr
    if arr.ndim == 1 and arr.shape[0] == n:
        labels = arr.astype(int)
        if np.any(labels != arr) or labels.min() < 0 or labels.max() >= n_comp:
            bad = np.unique(arr[(labels != arr) | (labels < 0) | (labels >= n_comp)])[:3]
            raise InputError(f"start labels must be integers 0..{n_comp - 1}; found {bad}")
        return np.eye(n_comp)[labels]
    raise InputError(
        f"start has shape {arr.shape}; expected parameters (K, p) = {(n_comp, p)}, posteriors "
        f"(n, K) = {(n, n_comp)} or labels of length n = {n}"
    )
