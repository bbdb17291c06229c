"""Build the model's arrays from a formula in chunks of rows, straight into their final
Fortran-ordered arrays.

patsy's one-shot build makes the whole design as a C-ordered matrix, wrapped in a
DataFrame, from which the kept rows are then copied out: the design several times over
(a 458 MiB frame, n=2e6 and p=30, peaked at 2.1 GiB). Here the design information is
learned once on all rows (``patsy.design_matrix_builders``: factor levels, the state of
``center`` and ``standardize``, exactly as the one-shot build learns them) and
:func:`build_arrays` then evaluates it on row slices of the frame
(``patsy.build_design_matrices``), writing each slice into the preallocated arrays. Peak
memory is the data, the arrays and one chunk (``docs/performance.md``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import patsy
from numpy.typing import NDArray

Array = NDArray[np.float64]

# Bytes of all the arrays' columns per chunk: the chunk's temporaries (patsy's matrix and
# DataFrame, evaluated factors) stay a few times this, small beside a large design.
CHUNK_BYTES = 1 << 24


def chunk_rows(width: int) -> int:
    """Rows per chunk for arrays of ``width`` columns in all."""
    return max(1, CHUNK_BYTES // (8 * max(width, 1)))


def build_arrays(
    infos: Sequence[patsy.DesignInfo],
    frame: pd.DataFrame,
    allowed: NDArray[np.bool_],
    na_action: patsy.NAAction,
) -> tuple[list[Array], NDArray[np.intp]]:
    """Evaluate every design in ``infos`` on ``frame`` (positional index) and keep the rows
    that are ``allowed`` and have no missing value in any design.

    Returns the Fortran-ordered arrays, one per design, and the positions of the kept
    rows. patsy errors propagate (the caller words them).

    Examples
    --------
    >>> import pandas as pd, patsy
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0], "g": ["a", "b", "a"]})
    >>> (info,) = patsy.design_matrix_builders(
    ...     [patsy.ModelDesc.from_formula("~ x + g").rhs_termlist], lambda: iter([df]), 0)
    >>> (X,), rows = build_arrays([info], df, np.ones(3, bool), patsy.NAAction())
    >>> X.tolist(), rows.tolist(), X.flags.f_contiguous
    ([[1.0, 0.0, 1.0], [1.0, 0.0, 3.0]], [0, 2], True)
    """
    n = len(frame)
    widths = [len(info.column_names) for info in infos]
    buffers = [np.empty(n * w) for w in widths]
    # (n, w) Fortran-ordered views: each column is a contiguous run of its buffer.
    views = [buf.reshape((w, n)).T for buf, w in zip(buffers, widths, strict=True)]
    keep = np.asarray(allowed, dtype=bool).copy()
    step = chunk_rows(sum(widths))
    for start in range(0, n, step):
        stop = min(start + step, n)
        mats = patsy.build_design_matrices(
            list(infos), frame.iloc[start:stop], NA_action=na_action, return_type="dataframe"
        )
        rows = mats[0].index.to_numpy()  # patsy drops a row missing in any design
        if rows.size == stop - start:
            target: slice | NDArray[np.intp] = slice(start, stop)
        else:
            chunk_keep = np.zeros(stop - start, dtype=bool)
            chunk_keep[rows - start] = True
            keep[start:stop] &= chunk_keep
            target = rows
        for view, mat in zip(views, mats, strict=True):
            view[target] = mat.to_numpy(dtype=float)
    kept = np.flatnonzero(keep)
    if kept.size == n:
        return views, kept
    return [_compact(buf, w, keep) for buf, w in zip(buffers, widths, strict=True)], kept


def _compact(buf: Array, width: int, keep: NDArray[np.bool_]) -> Array:
    """The kept rows of the (n, width) Fortran array in ``buf``, moved to its front in
    place (column j's kept rows go to ``buf[j m:(j + 1) m]``, never over a column not yet
    moved); the tail of ``buf`` stays allocated with the result."""
    n, m = keep.size, int(keep.sum())
    for j in range(width):
        buf[j * m : (j + 1) * m] = buf[j * n : (j + 1) * n][keep]
    return buf[: m * width].reshape((width, m)).T
