"""Partitions of the rows from the sorted residuals of one pooled GLM (``init="quantile"``
and ``init="tail"``).

A random partition starts every component near the pooled fit; cutting the rows by their
pooled Pearson residuals starts components below, around and above it instead. The tail
start puts a small block at one end of the residuals in a component of its own: a small
component (a few per cent of the rows away from the others' lines) is a basin that
neither a random partition nor a block of at least half an equal share enters (on
``faithful``, ``eruptions ~ waiting``, K=2, the best optimum has a component of 11 of 272
rows below the line; ``docs/warmup.md``).

Pure functions of NumPy arrays: residuals in, component labels out.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]

#: The tail block of ``init="tail"`` holds a share of the rows drawn uniformly from this
#: range (and never fewer rows than a component needs).
TAIL_SHARE = (0.02, 0.08)


def residual_order(resid: Array, rng: np.random.Generator) -> NDArray[np.intp]:
    """Row positions by increasing residual; ties (e.g. many zero counts) broken at random
    so that blocks can split them."""
    return np.lexsort(np.vstack([rng.random(resid.shape[0]), resid]))


def block_labels(n: int, n_comp: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """Labels 0..n_comp-1 of ``n`` sorted positions cut into consecutive blocks of random
    size, none below half of an equal share.

    >>> block_labels(6, 1, np.random.default_rng(0)).tolist()
    [0, 0, 0, 0, 0, 0]
    >>> lab = block_labels(100, 2, np.random.default_rng(0))
    >>> bool(np.all(np.diff(lab) >= 0)), int(np.bincount(lab).min()) >= 25
    (True, True)
    """
    shares = 0.5 / n_comp + 0.5 * rng.dirichlet(np.ones(n_comp))
    bounds = np.cumsum(shares)[:-1] * n
    return np.searchsorted(bounds, np.arange(n), side="right").astype(np.intp)


def quantile_labels(resid: Array, n_comp: int, rng: np.random.Generator) -> NDArray[np.intp]:
    """The rows' labels when the sorted residuals are cut into ``n_comp`` random blocks
    (:func:`block_labels`): component 0 holds the lowest residuals.

    >>> quantile_labels(np.array([3.0, -1.0, 2.0, -2.0]), 2, np.random.default_rng(0)).tolist()
    [1, 0, 1, 0]
    """
    blocks = block_labels(resid.shape[0], n_comp, rng)
    labels = np.empty(resid.shape[0], dtype=np.intp)
    labels[residual_order(resid, rng)] = blocks
    return labels


def tail_labels(
    resid: Array, n_comp: int, rng: np.random.Generator, min_rows: int = 1
) -> NDArray[np.intp]:
    """The rows' labels when a small tail of the sorted residuals forms one component.

    The tail holds a share of the rows drawn from :data:`TAIL_SHARE` (at least
    ``min_rows``, at most half the rows), at the low or the high end with equal
    probability; it is the last component. The other rows are cut into ``n_comp - 1``
    blocks as :func:`quantile_labels` cuts them. With one component every row is in it.

    Examples
    --------
    >>> resid = np.arange(100.0)
    >>> lab = tail_labels(resid, 2, np.random.default_rng(1))
    >>> tail = np.flatnonzero(lab == 1)
    >>> 2 <= tail.size <= 8, bool(tail.max() == 99 or tail.min() == 0)
    (True, True)
    """
    n = resid.shape[0]
    labels = np.zeros(n, dtype=np.intp)
    if n_comp == 1:
        return labels
    share = rng.uniform(*TAIL_SHARE)
    size = min(max(math.ceil(share * n), min_rows), n // 2)
    order = residual_order(resid, rng)
    if rng.random() < 0.5:  # the high end
        rest, tail = order[: n - size], order[n - size :]
    else:
        tail, rest = order[:size], order[size:]
    labels[tail] = n_comp - 1
    labels[rest] = block_labels(rest.shape[0], n_comp - 1, rng)  # rest is in residual order
    return labels
