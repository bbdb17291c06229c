"""The printed table of a warm-up's short runs (:func:`emglm.small_em`)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from emglm.engine.warmup import Warmup


@dataclass(frozen=True, eq=False)
class SmallEMResult(Warmup):
    """The short runs of a warm-up (see :func:`emglm.small_em`).

    Prints as a table; :attr:`table` (or :meth:`to_frame`) gives it as a DataFrame and
    :attr:`params` each run's parameters (``None`` for a failed run). Pass it to
    :func:`emglm.select_best`.
    """

    @classmethod
    def of(cls, warm: Warmup) -> SmallEMResult:
        """The table view of a warm-up."""
        return cls(runs=warm.runs, K=warm.K, method=warm.method, sample_size=warm.sample_size)

    @cached_property
    def table(self) -> pd.DataFrame:
        """One row per run: init, n_iter, llf, bic, converged, status, reason."""
        rows = [
            {
                "run": r.run,
                "init": r.init,
                "n_iter": r.n_iter,
                "llf": r.llf,
                "bic": r.bic,
                "converged": r.converged,
                "status": r.status,
                "reason": r.reason,
            }
            for r in self.runs
        ]
        return pd.DataFrame(rows).set_index("run")

    def to_frame(self) -> pd.DataFrame:
        """The table as a new DataFrame."""
        return self.table.copy()

    def __str__(self) -> str:
        head = (
            f"Warm-up: {len(self.runs)} short {self.method.upper()} runs, K={self.K}"
            + ("" if self.sample_size is None else f", subsamples of {self.sample_size} rows")
            + f", {self.n_failed} failed; llf and BIC on the full data"
        )
        shown = self.table.drop(columns="reason" if self.n_failed == 0 else [])
        return head + "\n" + shown.to_string(float_format=lambda v: f"{v:.4f}")

    def __repr__(self) -> str:
        return str(self)
