"""The data object: the model's arrays and every operation on their rows.

:class:`MixtureData` is what the engine, the component models, the mixing models and
inference read the data through. Taking rows (subsamples for the warm-up, bootstrap
resamples, chunks for Louis' method), expanding frequency weights, the linear predictors of
new coefficients and the per-data values that fitting derives once (cached by
:meth:`MixtureData.derived`) all live here: this is the seam where a chunked or distributed
backend plugs in. The arrays are NumPy only; pandas and patsy stay in
:mod:`emglm.data.formula`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.float64]
T = TypeVar("T")


@dataclass(frozen=True)
class MixtureData:
    """Solver inputs: the model's arrays, never modified by fitting.

    Attributes
    ----------
    y : (n,) response (binomial: proportion of ``trials``).
    X : (n, p) component design.
    offset : (n,) offset on the linear predictor.
    trials : (n,) binomial trials (ones for other families).
    weights : (n,) case (frequency) weights.
    Z : (n, q) concomitant design; a single column of ones for constant proportions.
    groups : which rows share one latent class (:class:`Grouping`), or ``None`` when every
        row is its own unit. With groups the engine's *units* are the groups: posteriors,
        the mixing model and the minprior rule work per group; components see rows.
    responses : further responses of the same rows, each with its own design (several
        responses sharing one latent class); :meth:`response` gives response r's data.

    Examples
    --------
    >>> import numpy as np
    >>> n = 4
    >>> data = MixtureData(np.arange(n, dtype=float), np.ones((n, 1)), np.zeros(n),
    ...                    np.ones(n), np.ones(n), np.ones((n, 1)))
    >>> data.take(np.array([0, 2])).y
    array([0., 2.])
    >>> data.nobs, data.n_rows
    (4.0, 4)
    """

    y: Array
    X: Array
    offset: Array
    trials: Array
    weights: Array
    Z: Array
    groups: Grouping | None = None
    responses: tuple[ResponseArrays, ...] = ()
    cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def n_rows(self) -> int:
        """Number of rows."""
        return int(self.y.shape[0])

    @property
    def n_columns(self) -> int:
        """Number of design columns p."""
        return int(self.X.shape[1])

    @property
    def n_mixing_columns(self) -> int:
        """Number of concomitant design columns q."""
        return int(self.Z.shape[1])

    @cached_property
    def unit_weights(self) -> bool:
        """Whether every case weight is 1 (the M-step then skips weighting)."""
        return bool(np.all(self.weights == 1.0))

    @property
    def pass_weights(self) -> Array | None:
        """The case weights as the E-step pass takes them: ``None`` when all are 1."""
        return None if self.unit_weights else self.weights

    @cached_property
    def nobs(self) -> float:
        """Number of observations: the sum of the case weights (the minprior rule asks at
        every M-step)."""
        return float(self.weights.sum())

    def derived(self, key: str, make: Callable[[], T]) -> T:
        """A value derived from these data once (e.g. a component model's normalising
        constants), made by ``make`` on first use and kept with the data."""
        if key not in self.cache:
            self.cache[key] = make()
        value: T = self.cache[key]
        return value

    def weighted(self, values: Array) -> Array:
        """Rows of ``values`` (n, ...) times the case weights."""
        if self.unit_weights:
            return values
        return values * self.weights.reshape((-1,) + (1,) * (values.ndim - 1))

    def weighted_sum(self, values: Array) -> Array:
        """``sum_i w_i values_i`` over the rows of ``values`` (n,) or (n, K)."""
        if self.unit_weights and values.ndim == 2:
            return column_sums(values)  # the sums a pass recorded, when it did
        return np.asarray(self.weights @ values)

    def linear_predictor(self, coef: Array) -> Array:
        """``X coef_k + offset`` for coefficients (K, p): shape (n, K); or (n,) for (p,)."""
        if coef.ndim == 1:
            return np.asarray(self.X @ coef + self.offset)
        return np.asarray(self.X @ coef.T + self.offset[:, None])

    # --- units: groups of rows that share one latent class (rows when ungrouped) -----------
    @property
    def n_units(self) -> int:
        """Number of units: groups, or rows when ungrouped."""
        return self.n_rows if self.groups is None else self.groups.n_groups

    @cached_property
    def unit_Z(self) -> Array:
        """The concomitant design of each unit (a group's first row), (units, q)."""
        return self.Z if self.groups is None else self.Z[self.groups.first]

    @cached_property
    def unit_case_weights(self) -> Array:
        """The case weight of each unit (constant within a group), (units,)."""
        return self.weights if self.groups is None else self.weights[self.groups.first]

    @cached_property
    def unit_nobs(self) -> float:
        """Sum of the units' case weights (nobs when ungrouped)."""
        return float(self.unit_case_weights.sum())

    def unit_sum(self, values: Array) -> Array:
        """Row values (n, K) summed over each unit's rows, (units, K)."""
        return values if self.groups is None else self.groups.sum(values)

    def unit_rows(self, values: Array) -> Array:
        """Unit values (units, K) repeated on each unit's rows, (n, K), Fortran-ordered."""
        if self.groups is None:
            return values
        return np.asarray(values[self.groups.codes], order="F")

    def unit_first(self, values: Array) -> Array:
        """The values (n, ...) of each unit's first row (identical within a unit)."""
        return values if self.groups is None else values[self.groups.first]

    # --- several responses ------------------------------------------------------------
    @property
    def n_responses(self) -> int:
        """Number of responses (1 unless several share the latent class)."""
        return 1 + len(self.responses)

    def response(self, r: int) -> MixtureData:
        """The data of response ``r`` (0 is this object's own ``y``, ``X``, ...): the same
        rows, weights, concomitant design and groups. Made once and kept, so that what a
        component model derives from it is derived once."""
        if r == 0:
            return self
        arrays = self.responses[r - 1]

        def view() -> MixtureData:
            return MixtureData(
                arrays.y, arrays.X, arrays.offset, arrays.trials, self.weights, self.Z,
                self.groups,
            )  # fmt: skip

        return self.derived(f"response {r}", view)

    def with_responses(self, ys: tuple[Array, ...]) -> MixtureData:
        """The same rows with new values of every response (a parametric bootstrap draw)."""
        more = tuple(
            ResponseArrays(y, a.X, a.offset, a.trials)
            for y, a in zip(ys[1:], self.responses, strict=True)
        )
        return MixtureData(
            ys[0], self.X, self.offset, self.trials, self.weights, self.Z, self.groups, more
        )

    # --- taking rows ---------------------------------------------------------------------
    def take(self, rows: NDArray[np.intp] | slice) -> MixtureData:
        """The data of some rows (a subsample, a bootstrap resample, a chunk); groups are
        kept, numbered again."""
        return MixtureData(
            y=self.y[rows],
            X=self.X[rows],
            offset=self.offset[rows],
            trials=self.trials[rows],
            weights=self.weights[rows],
            Z=self.Z[rows],
            groups=None if self.groups is None else Grouping.of(self.groups.codes[rows]),
            responses=tuple(a.take(rows) for a in self.responses),
        )

    def take_units(self, units: NDArray[np.intp]) -> MixtureData:
        """The data of some units (rows, or whole groups), in the order given."""
        if self.groups is None:
            return self.take(units)
        return self.take(self.groups.rows_of(units))

    def with_unit_weights(self, unit_weights: Array) -> MixtureData:
        """The same rows with new case weights per unit (a nonparametric bootstrap draw:
        resampling counts of rows, or of whole groups)."""
        w = unit_weights if self.groups is None else unit_weights[self.groups.codes]
        return MixtureData(
            self.y, self.X, self.offset, self.trials, w, self.Z, self.groups, self.responses
        )

    def chunks(self, size: int) -> Iterator[MixtureData]:
        """Chunks of about ``size`` rows; with groups, whole groups only."""
        if self.groups is None:
            for start in range(0, self.n_rows, size):
                yield self.take(slice(start, min(start + size, self.n_rows)))
            return
        order, bounds = self.groups.order, self.groups.bounds
        start = 0
        while start < self.groups.n_groups:
            # The last group that still ends within size rows of this chunk's first row.
            stop = int(np.searchsorted(bounds[1:], bounds[start] + size, side="right"))
            stop = max(stop, start + 1)
            yield self.take(order[bounds[start] : bounds[stop]])
            start = stop

    def expanded(self) -> MixtureData:
        """Integer frequency weights expanded into repeated rows of weight 1; each copy of
        a group is a group of its own."""
        reps = np.round(self.weights).astype(np.int64)
        rows = np.repeat(np.arange(self.n_rows), reps)
        out = self.take(rows)
        groups = None
        if self.groups is not None:
            # Copy j of every row of group g belongs to the new group (g, j).
            copy = np.arange(rows.shape[0]) - np.repeat(np.cumsum(reps) - reps, reps)
            groups = Grouping.of(self.groups.codes[rows] * (int(reps.max()) + 1) + copy)
        return MixtureData(
            out.y, out.X, out.offset, out.trials, np.ones(rows.shape[0]), out.Z, groups,
            out.responses,
        )  # fmt: skip


@dataclass(frozen=True)
class ResponseArrays:
    """A further response of the same rows with its own design: ``y``, ``X``, offset and
    binomial trials (see :attr:`MixtureData.responses`)."""

    y: Array
    X: Array
    offset: Array
    trials: Array

    def take(self, rows: NDArray[np.intp] | slice) -> ResponseArrays:
        """The arrays of some rows."""
        return ResponseArrays(self.y[rows], self.X[rows], self.offset[rows], self.trials[rows])


@dataclass(frozen=True)
class Grouping:
    """Rows grouped into units that share one latent class (flexmix's ``y ~ x | g``).

    ``codes`` numbers each row's group 0..G-1 in order of first appearance.

    Examples
    --------
    >>> g = Grouping.of(np.array([7, 3, 7, 5, 3]))
    >>> g.codes.tolist(), g.n_groups, g.first.tolist()
    ([0, 1, 0, 2, 1], 3, [0, 1, 3])
    >>> g.sum(np.arange(10.0).reshape(5, 2)).tolist()
    [[4.0, 6.0], [10.0, 12.0], [6.0, 7.0]]
    """

    codes: NDArray[np.intp]

    @classmethod
    def of(cls, labels: NDArray[Any]) -> Grouping:
        """Groups from any labels (numbers or strings), numbered by first appearance."""
        _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
        rank = np.empty(first.shape[0], dtype=np.intp)
        rank[np.argsort(first, kind="stable")] = np.arange(first.shape[0])
        return cls(np.asarray(rank[inverse.ravel()], dtype=np.intp))

    @cached_property
    def n_groups(self) -> int:
        """Number of groups G."""
        return int(self.codes.max()) + 1 if self.codes.size else 0

    @cached_property
    def order(self) -> NDArray[np.intp]:
        """Row indices sorted by group (stable: rows of a group keep their order)."""
        return np.argsort(self.codes, kind="stable")

    @cached_property
    def bounds(self) -> NDArray[np.intp]:
        """Group g's rows are ``order[bounds[g]:bounds[g + 1]]``; shape (G + 1,)."""
        counts = np.bincount(self.codes, minlength=self.n_groups)
        return np.concatenate([[0], np.cumsum(counts)]).astype(np.intp)

    @cached_property
    def first(self) -> NDArray[np.intp]:
        """Index of the first row of each group, (G,)."""
        return np.asarray(self.order[self.bounds[:-1]], dtype=np.intp)

    @property
    def sizes(self) -> NDArray[np.intp]:
        """Rows per group, (G,)."""
        return np.diff(self.bounds)

    def sum(self, values: Array) -> Array:
        """Row values (n, ...) summed within each group, (G, ...)."""
        return np.add.reduceat(values[self.order], self.bounds[:-1], axis=0)

    def rows_of(self, groups: NDArray[np.intp]) -> NDArray[np.intp]:
        """The rows of the given groups, group by group (a group may repeat)."""
        pieces = [self.order[self.bounds[g] : self.bounds[g + 1]] for g in groups]
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.intp)


# Column sums a pass recorded when it wrote a (read-only) array: id -> (weak ref, sums).
_KNOWN_SUMS: dict[int, tuple[weakref.ref[Array], Array]] = {}


def record_column_sums(A: Array, sums: Array) -> None:
    """Record ``A.sum(axis=0)`` of a read-only array ``A`` that a pass has just written
    (the E-step's posteriors), so that :func:`column_sums` need not read ``A`` again."""
    if A.flags.writeable:
        raise ValueError("record_column_sums needs a read-only array")
    key = id(A)
    _KNOWN_SUMS[key] = (weakref.ref(A, lambda _: _KNOWN_SUMS.pop(key, None)), sums.copy())


def column_sums(A: Array) -> Array:
    """``A.sum(axis=0)`` of a tall (n, K) array through BLAS, in blocks of rows.

    NumPy's reduction over the long axis of a C-ordered (n, 3) array runs about ten times
    slower than a matrix-vector product with ones (measured: 210 against 25 ms at n=1e7),
    and the M-step needs these sums every iteration. Sums recorded by the pass that wrote
    ``A`` (:func:`record_column_sums`) are returned without reading it.
    """
    known = _KNOWN_SUMS.get(id(A))
    if known is not None and known[0]() is A and not A.flags.writeable:
        return known[1].copy()
    step = 1 << 16
    ones = np.ones(min(step, A.shape[0]))
    total = np.zeros(A.shape[1:])
    for start in range(0, A.shape[0], step):
        block = A[start : start + step]
        total += ones[: block.shape[0]] @ block
    return total
