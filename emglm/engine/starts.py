"""Random starts, and what the engine starts from.

A start is what :func:`emglm.engine.em.run_em` takes: either full
:class:`~emglm.engine.em.MixtureParams` (EM begins with an E-step) or an ``(n, K)`` matrix of
posterior probabilities (EM begins with an M-step).

Random starts (:func:`make_start`, ``init=``):

* ``"mixed"``: the warm-up's runs take ``"quantile"``, ``"fit"`` and ``"random"`` in turn
  (:func:`run_init`); different kinds of start reach different basins;
* ``"random"``: a random partition of the rows (flexmix's default start);
* ``"cem"``: a random partition refined by classification EM until its objective settles
  (at most ``CEM_INIT_ITER`` iterations), as flexmix's ``initMethod = "cem.em"``; when hard
  labels empty a component, the random partition itself is the start;
* any start the component model offers (its ``random_start``): for GLM components
  ``"fit"`` (one GLM on all rows, its coefficients multiplied by independent
  ``N(1, FIT_NOISE^2)`` factors per component, em.glm's ``b.init = "fit"``) and
  ``"quantile"`` (the sorted Pearson residuals of one GLM cut into K blocks at random
  proportions, each at least half of 1/K: components start below, around and above the
  pooled fit, which breaks the symmetry that slows EM from a random partition) and
  ``"tail"`` (a few per cent of the rows at one end of those residuals in one component,
  the rest cut as ``"quantile"`` cuts them: a start for a small component; measured in
  ``docs/warmup.md``, not part of ``"mixed"``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import MixtureData
from emglm.engine import em
from emglm.engine.em import MixtureModel, MixtureParams

Array = NDArray[np.float64]

#: Starts the engine makes itself; the others come from the component model.
ENGINE_STARTS = ("random", "cem")
INIT_METHODS = ("mixed", "random", "fit", "quantile", "tail", "cem")
#: ``init="mixed"``: warm-up run r (from 0) starts by ``MIXED_INITS[r % 3]``.
MIXED_INITS = ("quantile", "fit", "random")

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


def run_init(method: str, run: int) -> str:
    """The start method of warm-up run ``run`` (0-based): ``method`` itself, or for
    ``"mixed"`` the methods of :data:`MIXED_INITS` in turn.

    >>> [run_init("mixed", r) for r in range(4)], run_init("cem", 3)
    (['quantile', 'fit', 'random', 'quantile'], 'cem')
    """
    return MIXED_INITS[run % len(MIXED_INITS)] if method == "mixed" else method


def make_start(
    method: str, data: MixtureData, model: MixtureModel, n_comp: int, rng: np.random.Generator
) -> MixtureParams | Array:
    """A random start by ``method`` (one of :data:`INIT_METHODS`; ``"mixed"`` is its first
    method), drawn from ``rng``.

    Examples
    --------
    >>> from emglm.components.glm import GLMComponents
    >>> from emglm.families import get_family
    >>> n = 50
    >>> data = MixtureData(np.arange(n, dtype=float), np.ones((n, 1)), np.zeros(n),
    ...                    np.ones(n), np.ones(n), np.ones((n, 1)))
    >>> model = MixtureModel.for_data(GLMComponents(get_family("poisson"), ["Intercept"]), data)
    >>> make_start("random", data, model, 2, np.random.default_rng(0)).shape
    (50, 2)
    >>> make_start("fit", data, model, 3, np.random.default_rng(0)).components.coef.shape
    (3, 1)
    """
    method = run_init(method, 0)
    if method not in ENGINE_STARTS:
        start = model.components.random_start(method, data, n_comp, rng)
        if isinstance(start, np.ndarray):
            return start
        return MixtureParams(start, model.mixing.start(data.n_mixing_columns, n_comp))
    need = math.ceil(model.components.min_weight(data))
    # A partition of the units: with groups, whole groups start in one component.
    tau = data.unit_rows(random_partition(data.n_units, n_comp, rng, min_rows=need))
    if method == "random" or n_comp == 1:
        return tau
    options = em.EMOptions(max_iter=CEM_INIT_ITER, tol=1e-8, method="cem")
    fit = em.run_em(data, model, tau, options, rng)
    if fit.params.n_components < n_comp:
        # Hard labels can empty a component; the random partition is the better start then.
        return tau
    return fit.params
