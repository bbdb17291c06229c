"""Goodness-of-fit checks of a fitted mixture.

:func:`dispersion_test` is emax.glm's dispersion check: the Pearson chi-square statistic over
its residual degrees of freedom. Under the fitted model the statistic is approximately
chi-square with ``nobs - k_params`` degrees of freedom, so a ratio well above 1 signals
over-dispersion (more spread than the mixture allows: a missing component or covariate,
or a negative-binomial-like response) and well below 1 under-dispersion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy import stats

Array = NDArray[np.float64]


@dataclass(frozen=True)
class DispersionTest:
    """Pearson chi-square dispersion check.

    Attributes
    ----------
    statistic : Pearson chi-square ``sum_i w_i r_i^2``.
    df_resid : residual degrees of freedom ``nobs - k_params``.
    dispersion : ``statistic / df_resid`` (1 when the model's variance is right).
    pvalue_over : ``P(chi2_df >= statistic)``, small under over-dispersion.
    pvalue_under : ``P(chi2_df <= statistic)``, small under under-dispersion.
    level : which Pearson residuals were used (see ``EMGLMResults.resid``).
    """

    statistic: float
    df_resid: float
    dispersion: float
    pvalue_over: float
    pvalue_under: float
    level: str

    def __str__(self) -> str:
        return (
            f"Pearson chi2 = {self.statistic:.4f} on {self.df_resid:g} df "
            f"(dispersion {self.dispersion:.4f}; {self.level} residuals)\n"
            f"over-dispersion p = {self.pvalue_over:.4g}, "
            f"under-dispersion p = {self.pvalue_under:.4g}"
        )


def dispersion_test(
    resid_pearson: Array, weights: Array, df_resid: float, level: str
) -> DispersionTest:
    """Pearson chi-square over residual degrees of freedom, with one-sided p-values.

    Parameters
    ----------
    resid_pearson : ndarray, shape (n,)
        Pearson residuals of the fitted rows.
    weights : ndarray, shape (n,)
        Case (frequency) weights.
    df_resid : float
        Residual degrees of freedom, ``nobs - k_params`` (must be positive).
    level : str
        Label of the residuals, kept in the result.

    Examples
    --------
    >>> t = dispersion_test(np.array([1.0, -1.0, 2.0, 0.0]), np.ones(4), 3.0, "mixture")
    >>> t.statistic, t.dispersion
    (6.0, 2.0)
    """
    statistic = float(np.dot(weights, resid_pearson**2))
    return DispersionTest(
        statistic=statistic,
        df_resid=float(df_resid),
        dispersion=statistic / df_resid,
        pvalue_over=float(stats.chi2.sf(statistic, df_resid)),
        pvalue_under=float(stats.chi2.cdf(statistic, df_resid)),
        level=level,
    )
