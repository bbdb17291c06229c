"""How many components? The parametric bootstrap likelihood-ratio test
(:func:`lrt_bootstrap`; McLachlan 1987, mixtools' ``boot.comp``, flexmix's ``LR_test``).

The numerics (drawing from the null fit, refitting both models, the statistic and the
p-value) are in :mod:`emglm.inference.lrt`; this module is the formula-level front end and
the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.genmod.families as smf
from numpy.typing import NDArray

from emglm.checks import check_positive_int
from emglm.data import formula as formula_mod
from emglm.engine import warmup
from emglm.exceptions import BootstrapWarning, FitError, InputError, InputTypeError, emit
from emglm.inference import bootstrap as boot
from emglm.inference import lrt
from emglm.model import EMGLM
from emglm.options import FitOptions
from emglm.report.results import EMGLMResults

Array = NDArray[np.float64]

# Warn when more than this share of the replicates failed.
_WARN_FAILED = 0.1


@dataclass(frozen=True, eq=False)
class LRTResult:
    """The parametric bootstrap likelihood-ratio test of ``K0`` against ``K1`` components.

    Attributes
    ----------
    statistic : float
        ``2 (llf_K1 - llf_K0)`` on the data (0 if the ``K1`` fit ended below the ``K0``
        fit).
    pvalue : float
        ``(1 + #{boot_statistics >= statistic}) / (1 + len(boot_statistics))``.
    boot_statistics : ndarray
        The statistic on each replicate that succeeded, drawn from the ``K0`` fit: the
        simulated null distribution (also :attr:`null_distribution`).
    K0, K1 : int
        The numbers of components under the null and the alternative.
    n_boot : int
        Replicates asked for.
    n_failed : int
        Replicates whose fit failed (left out of the p-value).
    n_not_converged : int
        Replicates kept whose long EM run stopped at ``max_iter`` (their llf is a lower
        bound; under the null EM is slow where the extra components are not identified).
    null, alt : EMGLMResults
        The fits of the data with ``K0`` and ``K1`` components (without standard errors).
    """

    statistic: float
    pvalue: float
    boot_statistics: Array
    K0: int
    K1: int
    n_boot: int
    n_failed: int
    n_not_converged: int
    null: EMGLMResults
    alt: EMGLMResults

    @property
    def null_distribution(self) -> Array:
        """The same as :attr:`boot_statistics`."""
        return self.boot_statistics

    @property
    def llf_null(self) -> float:
        """Log-likelihood of the ``K0`` fit."""
        return self.null.llf

    @property
    def llf_alt(self) -> float:
        """Log-likelihood of the ``K1`` fit."""
        return self.alt.llf

    def critical_value(self, alpha: float = 0.05) -> float:
        """The bootstrap ``1 - alpha`` quantile of the null distribution."""
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be in (0, 1); got {alpha!r}")
        return float(np.quantile(self.boot_statistics, 1 - alpha))

    def summary(self) -> str:
        """The test as text."""
        b = self.boot_statistics
        lines = [
            f"Parametric bootstrap likelihood-ratio test: K0={self.K0} against K1={self.K1} "
            "components",
            f"  llf (K0={self.K0}): {self.llf_null:.4f}   llf (K1={self.K1}): {self.llf_alt:.4f}",
            f"  statistic 2*(llf_K1 - llf_K0) = {self.statistic:.4f}",
            f"  p-value = {self.pvalue:.4f}  ((1 + #{{boot >= statistic}}) / (1 + B), "
            f"B = {b.size} replicates)",
            f"  null distribution: mean {b.mean():.4f}, 95% quantile "
            f"{self.critical_value():.4f}, max {b.max():.4f}",
            f"  replicates: {self.n_boot} asked, {self.n_failed} failed, "
            f"{self.n_not_converged} stopped at max_iter",
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        return (
            f"LRTResult(K0={self.K0}, K1={self.K1}, statistic={self.statistic:.4f}, "
            f"pvalue={self.pvalue:.4f}, n_boot={self.n_boot}, n_failed={self.n_failed})"
        )


def lrt_bootstrap(
    formula: str,
    data: pd.DataFrame,
    family: str | smf.Family = "poisson",
    K0: int = 1,
    K1: int = 2,
    *,
    n_boot: int = 99,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    groups: Any = None,
    fixed: str | None = None,
    equal_scale: bool = False,
    zero_inflated: bool = False,
    safe_formula: bool = False,
    n_starts: int | None = FitOptions.n_starts,
    n_long: int | None = FitOptions.n_long,
    init: str = FitOptions.init,
    max_iter: int = FitOptions.max_iter,
    tol: float = FitOptions.tol,
    minprior: float | None = FitOptions.minprior,
    accel: str | None = FitOptions.accel,
    m_step_iter: int = FitOptions.m_step_iter,
    random_state: int | np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = False,
) -> LRTResult:
    """Test ``K0`` against ``K1`` components by the parametric bootstrap likelihood ratio.

    Fits the data with ``K0`` and ``K1`` components (each as :func:`emglm.em_glm` without a
    start: the warm-up of ``n_starts`` starts, then em-EM's ``n_long`` long runs), then draws
    ``n_boot`` data sets from the ``K0`` fit and fits both models to each in the same way.
    The statistic is ``2 (llf_K1 - llf_K0)``; the p-value is the share of replicates at or
    above it, ``(1 + #{LR* >= LR}) / (1 + B)``. See ``docs/inference.md``.

    Parameters
    ----------
    formula, data, family
        As for :func:`emglm.em_glm`.
    K0, K1 : int
        Components under the null and the alternative (``1 <= K0 < K1``).
    n_boot : int, default 99
        Bootstrap replicates.
    offset, exposure, weights, concomitant, groups, fixed, equal_scale, zero_inflated, safe_formula
        The model, as for :func:`emglm.em_glm` (``nested`` fixes K, so it has no place
        here). Case weights must be integers (frequency weights): the replicates are
        drawn for the expanded observations.
    n_starts, n_long, init, max_iter, tol, minprior, accel, m_step_iter
        How every fit runs, as for :func:`emglm.em_glm`. A ``K1`` fit that drops a
        component by the ``minprior`` rule keeps the llf it reached with fewer.
    random_state : int or numpy Generator, optional
        Makes the test reproducible, whatever ``n_jobs``.
    n_jobs : int, default 1
        Worker processes for the replicates (``-1``: one per CPU).
    progress : bool, default False
        Show a tqdm progress bar of the replicates.

    Returns
    -------
    LRTResult
        ``statistic``, ``pvalue``, ``boot_statistics``, the two fits (``null``, ``alt``).

    Examples
    --------
    >>> import numpy as np, pandas as pd, emglm
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=300)})
    >>> df["y"] = rng.poisson(np.exp(np.where(rng.random(300) < 0.5, 0.5, 2.0) + 0.3 * df.x))
    >>> test = emglm.lrt_bootstrap("y ~ x", df, "poisson", K0=1, K1=2, n_boot=4,
    ...                            n_starts=2, random_state=1)
    >>> test.statistic > test.critical_value(), test.pvalue
    (True, 0.2)
    """
    K0 = check_positive_int("K0", K0)
    K1 = check_positive_int("K1", K1)
    if K1 <= K0:
        raise InputError(
            f"K1 must be larger than K0 (the alternative has more components); got K0={K0}, K1={K1}"
        )
    n_boot = check_positive_int("n_boot", n_boot)
    if not isinstance(progress, bool):
        raise InputTypeError(f"progress must be True or False, not {progress!r}")
    options = FitOptions(
        init=init, max_iter=max_iter, tol=tol, se=None, n_starts=n_starts, n_long=n_long,
        minprior=minprior,
        n_jobs=n_jobs, accel=accel, m_step_iter=m_step_iter,
    )  # fmt: skip
    if progress:
        boot.require_tqdm()
    null_model = EMGLM.from_formula(
        formula,
        data,
        family,
        K0,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        groups=groups,
        fixed=fixed,
        equal_scale=equal_scale,
        zero_inflated=zero_inflated,
        eval_env=formula_mod.capture_env(1),
        safe_formula=safe_formula,
    )
    alt_model = null_model.with_K(K1)
    boot.check_bootstrap("parametric", null_model.data)
    # Both models get their options checked (minprior < 1/K) before anything is fitted.
    null_options = options.check_for(null_model.n_total)
    alt_options = options.check_for(alt_model.n_total)
    seed_null, seed_alt, seed_boot = warmup.seed_sequence(random_state).spawn(3)
    null = null_model.fit_with(null_options, random_state=seed_null)
    alt = alt_model.fit_with(alt_options, random_state=seed_alt)
    hyp = lrt.Hypotheses(
        model0=null.record.mixture,
        model1=alt_model.mixture,
        n0=null_model.n_total,
        n1=alt_model.n_total,
        plan=options.start_plan(),
        options0=null_options.em_options(),
        options1=alt_options.em_options(),
    )
    reps = lrt.replicates(
        null_model.data,
        hyp,
        null.em.params,
        seed_boot.spawn(n_boot),
        n_jobs=options.n_jobs,
        progress=progress,
    )
    good = [r for r in reps if r is not None]
    n_failed = n_boot - len(good)
    if not good:
        raise FitError(
            f"all {n_boot} bootstrap replicates of the test failed; check the model (too "
            "many components for the data?) or raise max_iter"
        )
    if n_failed > _WARN_FAILED * n_boot:
        emit(
            f"{n_failed} of {n_boot} replicates of the likelihood-ratio test failed (a fit "
            "raised or gave a non-finite log-likelihood) and were left out of the p-value; "
            "check the number of components, or raise max_iter",
            BootstrapWarning,
        )
    stats = np.array([lrt.statistic(r.llf0, r.llf1) for r in good])
    observed = lrt.statistic(null.llf, alt.llf)
    return LRTResult(
        statistic=observed,
        pvalue=lrt.pvalue(observed, stats),
        boot_statistics=stats,
        K0=K0,
        K1=K1,
        n_boot=n_boot,
        n_failed=n_failed,
        n_not_converged=sum(not r.converged for r in good),
        null=null,
        alt=alt,
    )
