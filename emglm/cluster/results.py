"""The results of a fit on a Dask DataFrame.

:class:`DaskEMGLMResults` is an :class:`~emglm.report.results.EMGLMResults` whose
statistics over rows (observations, mixing proportions, the classification
log-likelihood, the entropy, the Jacobian of the proportions) were summed on the workers
when the fit ended, so that everything the summary shows, and the summary itself, is the
in-memory one. Per-row outputs (``posterior``, ``classes``, ``fittedvalues``,
``predict``, ``resid``) are lazy Dask objects, computed partition by partition on the
workers (:mod:`emglm.cluster.outputs`); nothing per row is gathered on the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emglm.cluster.outputs import partition_output, partition_results
from emglm.cluster.partition import PartitionSpec
from emglm.exceptions import InputError
from emglm.report.results import EMGLMResults

Array = np.ndarray


@dataclass(frozen=True)
class RowSums:
    """Sums over all rows at the fitted parameters (:class:`~emglm.cluster.jobs.FitStatsJob`
    and the census): observations, rows dropped for missing values, the average prior
    probabilities and their Jacobian, ``sum_u w_u log max_k tau_uk`` and the entropy over
    units (rows, or groups), the cluster table's counts and, for grouped observations, the
    number of groups."""

    nobs: float
    n_rows: int
    n_dropped: int
    mixing: Array
    mixing_jacobian: Array
    log_best: float
    entropy: float
    size: Array
    positive: Array
    n_groups: int | None = None


@dataclass(frozen=True, eq=False)
class DaskEMGLMResults(EMGLMResults):
    """A fitted mixture of GLMs on a Dask DataFrame (see the module notes). ``frame`` is
    the data fitted, ``spec`` how its partitions are built and ``sums`` the statistics
    over rows; ``record.data`` holds the warm-up sample only (its rows are not the fit's)."""

    frame: Any = None
    spec: PartitionSpec | None = None
    sums: RowSums | None = None
    head: pd.DataFrame | None = None
    n_passes: int = 0
    pass_seconds: tuple[float, ...] = ()
    sample_rows: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    def _sums(self) -> RowSums:
        assert self.sums is not None
        return self.sums

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of case weights over every partition."""
        return self._sums().nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a used variable was missing, over every partition."""
        return self._sums().n_dropped

    @property
    def mixing(self) -> pd.Series:
        """Mixing proportions (for a concomitant model, the average prior probabilities)."""
        return pd.Series(self._sums().mixing.copy(), index=self.component_names, name="mixing")

    @property
    def clogl(self) -> float:
        """Classification log-likelihood (flexmix's ``clogLik``), summed on the workers."""
        return self.llf + self._sums().log_best

    @property
    def icl_entropy(self) -> float:
        """The soft-entropy ICL: BIC plus twice the classification entropy."""
        return self.bic + 2.0 * self._sums().entropy

    @property
    def mixing_bse(self) -> pd.Series:
        """Standard errors of :attr:`mixing` by the delta method (Louis)."""
        cov = self._cov()
        pc = cov.cov.shape[0] - self._sums().mixing_jacobian.shape[1]
        jac = np.concatenate([np.zeros((self.K, pc)), self._sums().mixing_jacobian], axis=1)
        se = np.sqrt(np.maximum(np.einsum("kp,pr,kr->k", jac, cov.cov, jac), 0.0))
        return pd.Series(se, index=self.component_names, name="mixing_bse")

    # --- per-row outputs: lazy Dask objects -------------------------------------------------
    def _lazy(self, name: str, *args: Any) -> Any:
        """``name`` (an attribute or method of the in-memory results) of every partition,
        as a Dask DataFrame or Series; its structure comes from the warm-up sample."""
        assert self.spec is not None
        model, params = self.record.mixture, self.em.params
        # The empty output: the in-memory output of a few sample rows, without rows.
        assert self.head is not None
        probe = partition_results(self.head, self.spec, model, params)
        assert probe is not None
        value = getattr(probe, name)
        meta = (value(*args) if callable(value) else value).iloc[:0]
        return self.frame.map_partitions(
            partition_output, self.spec, model, params, name, args, meta, meta=meta
        )

    @property
    def posterior(self) -> Any:  # type: ignore[override]
        """Posterior probabilities (lazy Dask DataFrame, n x K)."""
        return self._lazy("posterior")

    @property
    def classes(self) -> Any:  # type: ignore[override]
        """Most probable component per row, 1..K (lazy Dask Series)."""
        return self._lazy("classes")

    @property
    def prior_probs(self) -> Any:  # type: ignore[override]
        """Prior class probabilities of every row (lazy Dask DataFrame)."""
        return self._lazy("prior_probs")

    @property
    def fittedvalues(self) -> Any:  # type: ignore[override]
        """Mixture mean per row (lazy Dask Series)."""
        return self._lazy("fittedvalues")

    def resid(  # type: ignore[override]
        self, kind: str = "response", level: str = "mixture", response: str | None = None
    ) -> Any:
        """Residuals of the fitted rows (lazy); see :meth:`EMGLMResults.resid`."""
        return self._lazy("resid", kind, level, response)

    def predict(  # type: ignore[override]
        self,
        newdata: Any = None,
        which: str = "mean",
        *,
        offset: Any = None,
        exposure: Any = None,
        response: str | None = None,
    ) -> Any:
        """Predictions on the fitted rows (lazy), or on ``newdata``: a pandas DataFrame
        gives pandas, a Dask DataFrame a lazy Dask object. See
        :meth:`EMGLMResults.predict`."""
        if newdata is None:
            return self._lazy("predict", None, which)
        plain = super().predict
        if isinstance(newdata, pd.DataFrame):
            return plain(newdata, which, offset=offset, exposure=exposure, response=response)
        meta = plain(self.head, which).iloc[:0]
        return newdata.map_partitions(lambda part: plain(part, which), meta=meta)

    def cluster_table(self, eps: float = 1e-4) -> pd.DataFrame:
        """flexmix's cluster table (see :meth:`EMGLMResults.cluster_table`), summed on the
        workers when the fit ended, for ``eps=1e-4`` only."""
        if eps != 1e-4:
            raise InputError(_not_yet("cluster_table(eps) with eps other than 1e-4"))
        return self._cluster_frame(self._sums().size, self._sums().positive)

    def with_se(
        self,
        se: str = "louis",
        *,
        n_boot: int = 200,
        bootstrap: str = "nonparametric",
        bootstrap_start: str = "fit",
        random_state: int | np.random.Generator | None = None,
        n_jobs: int = 1,
    ) -> EMGLMResults:
        """Not available on Dask yet: fit with ``se="louis"``."""
        raise InputError(_not_yet("with_se()") + "; fit with se='louis'")

    def dispersion_test(self, level: str = "mixture") -> Any:
        """Not available on Dask yet."""
        raise InputError(_not_yet("dispersion_test()"))


def _not_yet(what: str) -> str:
    return f"{what} is not supported on a Dask DataFrame yet; compute it on a pandas sample"
