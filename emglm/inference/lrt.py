"""The parametric bootstrap likelihood-ratio test for the number of components.

McLachlan (1987): the statistic ``LR = 2 (llf_K1 - llf_K0)`` of ``K0`` against ``K1 > K0``
components has no chi-squared null distribution (the null sits on the boundary of the
alternative, where the alternative is not identified), so its distribution under the null
is simulated: draw data sets from the fitted ``K0`` model, fit both models to each exactly
as to the data, and compare. mixtools' ``boot.comp`` and flexmix's ``LR_test`` do the same.

Each fit (the data's and every replicate's) runs the default route of a fit without a start
(:func:`emglm.engine.multistart.fit_from_starts`: the warm-up of random starts, then one long
run); a replicate's ``K0`` fit also tries the parameters it was drawn from, and keeps the
better. ``K0`` components are a special case of ``K1`` (with empty or coinciding extra
components), so the maximum of ``llf_K1`` is at least that of ``llf_K0``: a ``K1`` fit that
ends below the ``K0`` fit has missed its maximum, and the statistic is taken as 0 there
(``max(LR, 0)``), the value at the ``K0`` fit seen as a ``K1`` fit. The same rule applies to
the data and to every replicate.

The p-value is ``(1 + #{LR*_b >= LR}) / (1 + B)`` over the ``B`` replicates that succeeded
(Davison and Hinkley 1997, eq. 4.11): never zero, and exact for a pivotal statistic. mixtools
reports ``#{LR*_b >= LR} / B``. Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import MixtureData
from emglm.engine import em, multistart
from emglm.engine.em import MixtureModel
from emglm.engine.multistart import StartPlan
from emglm.inference.bootstrap import REFIT_ERRORS, draw, run_replicates

Array = NDArray[np.float64]


@dataclass(frozen=True)
class Hypotheses:
    """The two models of the test and how each data set is fitted: the mixture models with
    ``n0`` and ``n1`` components (``n1 > n0``; they differ only in the number), the warm-up
    ``plan`` and the long runs' settings of each (``options0``, ``options1``)."""

    model0: MixtureModel
    model1: MixtureModel
    n0: int
    n1: int
    plan: StartPlan
    options0: em.EMOptions
    options1: em.EMOptions


@dataclass(frozen=True)
class Replicate:
    """One replicate's log-likelihoods under both models, the components each kept, and
    whether both long runs converged."""

    llf0: float
    llf1: float
    k0: int
    k1: int
    converged: bool


def statistic(llf0: float, llf1: float) -> float:
    """``max(2 (llf1 - llf0), 0)``: a ``K1`` fit below the ``K0`` fit missed its maximum."""
    return max(2.0 * (llf1 - llf0), 0.0)


def pvalue(observed: float, boot: Array) -> float:
    """``(1 + #{boot >= observed}) / (1 + len(boot))``.

    >>> pvalue(3.0, np.array([0.5, 1.0, 4.0, 3.0]))
    0.6
    """
    return float((1 + np.count_nonzero(boot >= observed)) / (1 + boot.size))


def _fit(
    data: MixtureData,
    model: MixtureModel,
    n_comp: int,
    plan: StartPlan,
    options: em.EMOptions,
    seed: np.random.SeedSequence,
) -> em.EMFit:
    start_seed, em_seed = seed.spawn(2)
    fit, _ = multistart.fit_from_starts(
        data,
        model,
        n_comp,
        plan,
        options,
        seed=start_seed,
        em_rng=np.random.default_rng(em_seed),
    )
    return fit


def one_replicate(
    seed: np.random.SeedSequence,
    data: MixtureData,
    hyp: Hypotheses,
    params0: em.MixtureParams,
) -> Replicate | None:
    """Draw a data set from the ``K0`` fit ``params0`` (``data`` with unit weights) and fit
    both models to it; ``None`` when a fit failed or gave a non-finite log-likelihood."""
    rng = np.random.default_rng(seed)
    boot = draw(data, hyp.model0, params0, "parametric", rng)
    seed0, seed1 = seed.spawn(2)
    try:
        with np.errstate(all="ignore"):
            fit0 = _fit(boot, hyp.model0, hyp.n0, hyp.plan, hyp.options0, seed0)
            if hyp.n0 > 1:  # the parameters the data came from are a good start too
                truth = em.run_em(boot, hyp.model0, params0, hyp.options0)
                if truth.params.n_components == hyp.n0 and truth.llf > fit0.llf:
                    fit0 = truth
            fit1 = _fit(boot, hyp.model1, hyp.n1, hyp.plan, hyp.options1, seed1)
    except REFIT_ERRORS:
        return None
    if not (np.isfinite(fit0.llf) and np.isfinite(fit1.llf)):
        return None
    return Replicate(
        llf0=fit0.llf,
        llf1=fit1.llf,
        k0=fit0.params.n_components,
        k1=fit1.params.n_components,
        converged=fit0.converged and fit1.converged,
    )


def replicates(
    data: MixtureData,
    hyp: Hypotheses,
    params0: em.MixtureParams,
    seeds: list[np.random.SeedSequence],
    *,
    n_jobs: int = 1,
    progress: bool = False,
) -> list[Replicate | None]:
    """Every replicate of the test (``None`` where one failed), one per seed; integer
    case weights are expanded to independent observations first. The results do not depend
    on ``n_jobs``."""
    source = data if data.unit_weights else data.expanded()
    return run_replicates(
        one_replicate, seeds, (source, hyp, params0), n_jobs, progress, desc="LR test"
    )
