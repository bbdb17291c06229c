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
        return cls(
            runs=warm.runs, K=warm.K, method=warm.method, sample_size=warm.sample_size,
            long=warm.long,
        )  # fmt: skip

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

    @cached_property
    def long_table(self) -> pd.DataFrame:
        """The long EM runs of em-EM (empty for :func:`emglm.small_em`): the warm-up run
        each started from, n_iter, llf, K at the end, and which one is the fit."""
        rows = [
            {"from_run": r.run, "n_iter": r.n_iter, "llf": r.llf, "K": r.n_components,
             "chosen": r.chosen}
            for r in self.long
        ]  # fmt: skip
        columns = ["from_run", "n_iter", "llf", "K", "chosen"]
        return pd.DataFrame(rows, columns=columns)

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
        text = head + "\n" + shown.to_string(float_format=lambda v: f"{v:.4f}")
        if self.long:
            text += (
                f"\nLong runs from the {len(self.long)} best distinct short runs "
                "(the chosen one is the fit):\n"
                + self.long_table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
            )
        return text

    def __repr__(self) -> str:
        return str(self)
