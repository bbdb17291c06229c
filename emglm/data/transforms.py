"""Stateful formula transforms that skip missing values, as R's ``scale()`` does.

patsy's own ``center`` and ``standardize`` take the mean (and standard deviation) over
every row, so one missing value makes the whole transformed column missing and every row
would be dropped. These versions learn their statistics from the non-missing values of
each column; the missing rows stay missing (and are dropped, as R's ``na.omit``). The
statistics are remembered in the design, so ``predict(newdata)`` applies the fitted ones.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import patsy
from numpy.typing import NDArray

Array = NDArray[np.float64]


def _as_2d(x: Any) -> Array:
    arr = np.asarray(x, dtype=float)
    return arr.reshape(-1, 1) if arr.ndim == 1 else arr


def _reshaped(out: Array, x: Any) -> Array:
    return out.reshape(np.shape(x)) if np.ndim(x) == 1 else out


class Standardize:
    """``standardize(x, center=True, rescale=True, ddof=0)`` ignoring missing values.

    Examples
    --------
    >>> t = Standardize()
    >>> t.memorize_chunk(np.array([1.0, np.nan, 3.0]))
    >>> t.memorize_finish()
    >>> t.transform(np.array([1.0, np.nan, 3.0])).tolist()
    [-1.0, nan, 1.0]
    """

    def __init__(self) -> None:
        self.count: Array | None = None
        self.mean: Array | None = None
        self.m2: Array | None = None

    def memorize_chunk(
        self, x: Any, center: bool = True, rescale: bool = True, ddof: int = 0
    ) -> None:
        """Merge this chunk's count, mean and centred sum of squares of the non-missing
        values into the running ones (Chan et al.'s update, stable for any mean)."""
        arr = _as_2d(x)
        seen = ~np.isnan(arr)
        n = seen.sum(axis=0).astype(float)
        safe_n = np.maximum(n, 1.0)
        mean = np.where(seen, arr, 0.0).sum(axis=0) / safe_n
        m2 = (np.where(seen, arr - mean, 0.0) ** 2).sum(axis=0)
        if self.count is None or self.mean is None or self.m2 is None:
            self.count, self.mean, self.m2 = n, mean, m2
            return
        total = np.maximum(self.count + n, 1.0)
        delta = mean - self.mean
        self.m2 = self.m2 + m2 + delta**2 * self.count * n / total
        self.mean = self.mean + delta * n / total
        self.count = self.count + n

    def memorize_finish(self) -> None:
        """Nothing to finish: the running statistics are final."""

    def transform(self, x: Any, center: bool = True, rescale: bool = True, ddof: int = 0) -> Array:
        """``(x - mean) / sd`` with the remembered mean and standard deviation; a column
        without spread is only centred (it is then constant and refused as collinear)."""
        if self.count is None or self.mean is None or self.m2 is None:
            raise RuntimeError("transform called before memorize_chunk")
        arr = _as_2d(x)
        out = arr - self.mean if center else arr.copy()
        if rescale:
            dof = self.count - ddof
            var = np.divide(self.m2, dof, out=np.zeros_like(self.m2), where=dof > 0)
            sd = np.sqrt(var)
            out = out / np.where(sd > 0, sd, 1.0)
        return _reshaped(out, x)


class Center(Standardize):
    """``center(x)`` ignoring missing values: subtract the mean of the non-missing values."""

    def memorize_chunk(self, x: Any) -> None:  # type: ignore[override]
        """Accumulate the non-missing values."""
        super().memorize_chunk(x)

    def transform(self, x: Any) -> Array:  # type: ignore[override]
        """``x - mean``."""
        return super().transform(x, rescale=False)


center = patsy.stateful_transform(Center)
standardize = patsy.stateful_transform(Standardize)

#: The transforms formulas see in place of patsy's (``scale`` is patsy's alias).
TRANSFORMS = {"center": center, "standardize": standardize, "scale": standardize}
