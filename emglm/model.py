"""The model class and the ``em_glm`` front end.

:class:`EMGLM` holds what the data say (the design and its arrays, the family, K);
:meth:`EMGLM.fit` takes the solver settings and returns an :class:`EMGLMResults`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.genmod.families as smf

from emglm import bootstrap as boot
from emglm import em, formula, guards, inference, irls, warmup
from emglm import init as starts
from emglm.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    InputError,
    InputTypeError,
    SeparationWarning,
    user_stacklevel,
)
from emglm.families import Family, get_family
from emglm.results import EMGLMResults

SE_METHODS = ("louis", "bootstrap", None)

# The warm-up em_glm runs when no start is given: n_starts short runs like small_em's.
N_STARTS = 10
WARMUP_ITER = 20
WARMUP_TOL = 1e-4
# flexmix's default: a component whose prior falls below this is dropped.
MINPRIOR = 0.05


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise :class:`InputError` naming ``value`` and the allowed ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InputError(f"{name}={value!r} is not allowed; choose one of {allowed}")


def check_positive_int(name: str, value: Any, upper: int | None = None) -> int:
    """Raise unless ``value`` is an integer >= 1 (and <= ``upper``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be a positive integer, not {value!r}")
    value = int(value)
    if value < 1:
        raise InputError(f"{name} must be a positive integer; got {value}")
    if upper is not None and value > upper:
        raise InputError(f"{name}={value} is larger than the number of rows ({upper})")
    return value


def check_tol(tol: Any) -> float:
    """Raise unless ``tol`` is a positive finite number."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise InputTypeError(f"tol must be a positive number, not {tol!r}")
    if not np.isfinite(float(tol)) or tol <= 0:
        raise InputError(f"tol must be a positive number; got {tol!r}")
    return float(tol)


class EMGLM:
    """A finite mixture of ``K`` GLMs, built from a formula.

    Use :meth:`from_formula` to build one and :meth:`fit` to fit it; :func:`em_glm` does
    both in one call.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=400)})
    >>> lab = np.arange(400) < 200
    >>> df["y"] = rng.poisson(np.exp(np.where(lab, 2 + 0.5 * df.x, -0.5 * df.x)))
    >>> model = EMGLM.from_formula("y ~ x", df, family="poisson", K=2)
    >>> res = model.fit(start=lab.astype(int), tol=1e-10)
    >>> res.params.round(1)
               comp1  comp2
    Intercept    2.0   -0.2
    x            0.5   -0.5
    """

    def __init__(
        self,
        design: formula.Design,
        arrays: formula.ModelArrays,
        family: Family,
        K: int,
    ) -> None:
        self.design = design
        self.arrays = arrays
        self.family = family
        self.K = K
        short = guards.check_enough_data(float(arrays.weights.sum()), arrays.X.shape[1], family, K)
        if short is not None:
            raise InputError(short + "; fit fewer components or a smaller model")
        self.data = em.MixtureData(
            y=arrays.y,
            X=arrays.X,
            offset=arrays.offset,
            trials=arrays.trials,
            weights=arrays.weights,
            Z=arrays.Z,
        )
        for arr in (arrays.y, arrays.X, arrays.offset, arrays.trials, arrays.weights, arrays.Z):
            arr.flags.writeable = False

    @classmethod
    def from_formula(
        cls,
        formula_: str,
        data: pd.DataFrame,
        family: str | smf.Family = "poisson",
        K: int = 2,
        *,
        offset: Any = None,
        exposure: Any = None,
        weights: Any = None,
        concomitant: str | None = None,
        eval_env: Any = None,
    ) -> EMGLM:
        """Build the model from an R-like formula and a DataFrame.

        Parameters
        ----------
        formula_ : str
            Patsy formula, e.g. ``"y ~ x1 + C(g) - 1"``; see :mod:`emglm.formula`.
        data : pandas.DataFrame
            The data; never modified.
        family : str or statsmodels family
            ``"poisson"``, ``"gaussian"``, ``"binomial"`` or a statsmodels family instance.
        K : int
            Number of components.
        offset, exposure, weights : array-like or str, optional
            Offset, exposure (its log is added to the offset) and case weights, as arrays
            or column names of ``data``.
        concomitant : str, optional
            One-sided formula for mixing proportions that depend on covariates.
        eval_env : optional
            Namespace for names in the formula; by default the caller's.
        """
        fam = get_family(family)
        env = formula.capture_env(1) if eval_env is None else eval_env
        design, arrays = formula.build(
            formula_,
            data,
            fam,
            offset=offset,
            exposure=exposure,
            weights=weights,
            concomitant=concomitant,
            eval_env=env,
        )
        K = check_positive_int("K", K, upper=arrays.y.shape[0])
        aliased = irls.aliased_columns(arrays.X)
        if aliased:
            names = design.x_names
            raise InputError(
                "the design has collinear columns: "
                + ", ".join(repr(names[j]) for j in aliased)
                + " "
                + ("is" if len(aliased) == 1 else "are")
                + " constant or a linear combination of the other columns; drop "
                + ("it" if len(aliased) == 1 else "them")
                + " from the formula"
            )
        return cls(design, arrays, fam, K)

    def fit(
        self,
        *,
        start: Any = None,
        init: str = "random",
        method: str = "em",
        max_iter: int = 1000,
        tol: float = 1e-8,
        se: str | None = "louis",
        n_boot: int = 200,
        bootstrap: str = "nonparametric",
        random_state: int | np.random.Generator | None = None,
        n_starts: int = N_STARTS,
        minprior: float = MINPRIOR,
        n_jobs: int = 1,
        progress: bool | None = None,
        accel: str | None = "squarem",
    ) -> EMGLMResults:
        """Fit the mixture by EM.

        Parameters
        ----------
        start : optional
            Starting values: coefficients (K x p array, list of K vectors or a ``params``
            DataFrame), posteriors (n x K), labels 0..K-1 (length n).
            Or the output of :func:`emglm.select_best`. When given, no warm-up is run.
        init : {"random", "fit", "quantile", "cem"}
            How random starts are drawn when ``start`` is not given: a random partition of
            the rows, a perturbed single-GLM fit, the sorted residuals of a single GLM cut
            into random blocks, or a random partition refined by classification EM (see
            :mod:`emglm.init` and ``docs/warmup.md``).
        method : {"em", "cem", "sem"}
            The EM variant: soft posteriors (maximises the mixture likelihood),
            classification EM (hard labels; maximises the classification likelihood) or
            stochastic EM (labels drawn from the posteriors; returns the best iterate).
            See ``docs/warmup.md``.
        max_iter : int
            Most EM iterations.
        tol : float
            Stop when the relative change of the log-likelihood (CEM: of the
            classification log-likelihood) is below ``tol``; with SQUAREM, also when the
            parameters' estimated distance to the optimum is below ``tol`` relative (see
            ``docs/model.md``).
        se : {"louis", "bootstrap", None}
            Standard errors: ``"louis"`` (default) from the exact observed information of
            all free parameters (Louis' method); ``"bootstrap"`` from ``n_boot`` replicates;
            ``None`` skips them. See ``docs/inference.md``.
        n_boot : int
            Bootstrap replicates, for ``se="bootstrap"``.
        bootstrap : {"nonparametric", "parametric"}
            Resample the rows, or simulate responses from the fit.
        random_state : int or numpy Generator, optional
            Seed for the starts, SEM's draws and the bootstrap; the same seed gives the
            same fit.
        n_starts : int, default 10
            Without ``start``: the number of short warm-up runs (``WARMUP_ITER`` iterations,
            tolerance ``WARMUP_TOL``, as :func:`emglm.small_em`) whose best run starts the
            long run; the table is kept as ``results.warmup``. ``1`` runs a single start.
        minprior : float, default 0.05
            A component whose prior (its share of the M-step weight) falls below
            ``minprior`` -- or whose weight falls below its number of parameters -- is
            dropped with a :class:`~emglm.DegenerateComponentWarning` (flexmix's rule);
            the results then have fewer components. ``0`` keeps every component that has
            enough weight for its GLM.
        accel : {"squarem", None}
            EM acceleration for ``method="em"`` (warm-up runs, the long run and bootstrap
            refits): ``"squarem"`` (default) extrapolates every two EM steps and keeps the
            extrapolation only when it does not lower the log-likelihood (SQUAREM, Varadhan
            and Roland 2008); ``None`` runs plain EM. Both reach the same optimum; SQUAREM
            stops closer to it, usually in fewer iterations (``docs/performance.md``). CEM and SEM are never accelerated.

        Returns
        -------
        EMGLMResults
        """
        options = self._check_options(init, method, max_iter, tol, se, n_boot, minprior, accel)
        n_starts = check_positive_int("n_starts", n_starts)
        n_jobs = warmup.check_n_jobs(n_jobs)
        if progress is not None and not isinstance(progress, bool):
            raise InputTypeError(f"progress must be True, False or None, not {progress!r}")
        if se == "bootstrap":
            boot.check_bootstrap(bootstrap, self.data)
            if progress:
                boot.require_tqdm()
        # Independent streams: starts, SEM draws, bootstrap replicates.
        start_seed, em_seed, boot_seed = warmup.seed_sequence(random_state).spawn(3)
        start_value: em.MixtureParams | np.ndarray
        warm = None
        if start is not None:
            start_value = starts.resolve_start(
                start, self.data, self.family, self.K, self.design.x_names
            )
        elif n_starts == 1 or self.K == 1:
            rng = np.random.default_rng(start_seed)
            start_value = starts.make_start(init, self.data, self.family, self.K, rng)
        else:
            short = em.EMOptions(
                max_iter=WARMUP_ITER, tol=WARMUP_TOL, method=method, accel=options.accel
            )
            warm = warmup.run_starts(
                self.data,
                self.family,
                self.K,
                repeats=n_starts,
                options=short,
                init=init,
                seed=start_seed,
                n_jobs=n_jobs,
                progress=progress,
            )
            start_value = warmup.select_best(warm)
        em_rng = np.random.default_rng(em_seed)
        fit = em.run_em(self.data, self.family, start_value, options, em_rng)
        mean_prop = em.mixing.proportions(self.data.Z, fit.params.gamma, self.data.weights)
        fit = em.permute(fit, em.canonical_order(fit.params, mean_prop))
        _warn_about_fit(self.data, self.family, fit, self.K, max_iter, tol)
        covariance = None
        n_fitted = fit.params.n_components
        if se == "louis":
            names = inference.param_names(
                self.design.x_names, self.design.z_names, n_fitted, self.family.has_scale
            )
            covariance = inference.louis_covariance(self.data, self.family, fit.params, names)
        elif se == "bootstrap":
            covariance = boot.bootstrap(
                self.data,
                self.family,
                fit.params,
                inference.layout_of(self.data, self.family, n_fitted),
                options,
                kind=bootstrap,
                n_boot=n_boot,
                random_state=np.random.default_rng(boot_seed),
                n_jobs=n_jobs,
                progress=bool(progress),
            )
        return EMGLMResults(
            model=self,
            em=fit,
            method=method,
            init=init if start is None else "start",
            warmup=warm,
            covariance=covariance,
        )

    def _check_options(
        self,
        init_: str,
        method: str,
        max_iter: int,
        tol: float,
        se: str | None,
        n_boot: int,
        minprior: float,
        accel: str | None,
    ) -> em.EMOptions:
        check_choice("init", init_, starts.INIT_METHODS)
        check_choice("method", method, em.EM_METHODS)
        if not (accel is None or isinstance(accel, str)):
            raise InputTypeError(f"accel must be 'squarem' or None, not {accel!r}")
        check_choice("accel", accel, em.ACCEL_METHODS)
        check_choice("se", se, SE_METHODS)
        check_positive_int("max_iter", max_iter)
        check_positive_int("n_boot", n_boot)
        if (
            isinstance(minprior, bool)
            or not isinstance(minprior, numbers.Real)
            or not 0 <= minprior < 1.0 / self.K
        ):
            raise InputError(
                f"minprior must be a number in [0, 1/K) = [0, {1.0 / self.K:.3g}); got {minprior!r}"
            )
        return em.EMOptions(
            max_iter=int(max_iter),
            tol=check_tol(tol),
            method=method,
            minprior=float(minprior),
            accel=accel,
        )


def _warn_about_fit(
    data: em.MixtureData, family: Family, fit: em.EMFit, K: int, max_iter: int, tol: float
) -> None:
    """Warn about what went wrong in a fit: at most one warning of each class, whose
    message lists every cause of that class."""
    found: dict[type[Warning], list[str]] = {}
    n_fitted = fit.params.n_components
    if n_fitted < K:
        found.setdefault(DegenerateComponentWarning, []).append(
            f"{K - n_fitted} of {K} components were dropped and the fit has K={n_fitted}: "
            + "; ".join(fit.notes)
            + ". Fit a smaller K, or set minprior=0 to keep small components that still have "
            "enough weight for their GLM."
        )
    collapsed = guards.collapsed_variances(data, family, fit.params)
    if collapsed.size:
        comps = ", ".join(f"comp{k + 1}" for k in collapsed)
        found.setdefault(DegenerateComponentWarning, []).append(
            f"the variance of {comps} collapsed onto its floor (1e-10 x the variance of the "
            "response): the component sits on a few (nearly) equal responses, where the "
            "likelihood is unbounded, so this fit is a spurious maximum and its llf, AIC and "
            "BIC are meaningless. Refit with more starts (n_starts), a larger minprior, or "
            "fewer components."
        )
    if not fit.converged:
        found.setdefault(ConvergenceWarning, []).append(
            f"EM did not converge in max_iter={max_iter} iterations: the last relative "
            f"change of the log-likelihood was {fit.last_change:.3g} (tol={tol:g}); "
            "raise max_iter or start from better values (select_best)"
        )
    if em.mixing.at_logodds_bound(data.Z, fit.params.gamma):
        found.setdefault(SeparationWarning, []).append(
            "the concomitant covariates separate the components: the fitted mixing "
            f"log-odds reached the bound +-{em.mixing.MAX_LOGODDS:g} at some rows (prior "
            "probabilities near 0 or 1), so the concomitant coefficients (res.mixing_params) "
            "are not identified and are reported on that bound; drop or coarsen the "
            "concomitant terms, check for rows with extreme concomitant values, or fit "
            "fewer components."
        )
    separated = guards.separated_components(data, family, fit.params, fit.posterior)
    if separated:
        comps = ", ".join(f"comp{k + 1} ({n} rows)" for k, n in separated)
        found.setdefault(SeparationWarning, []).append(
            f"fitted probabilities numerically 0 or 1 occurred in {comps}: the covariates "
            "separate that component's responses (perfectly or almost), so its coefficients "
            "have no finite maximum-likelihood estimate and are reported where EM stopped; "
            "their standard errors are meaningless. Drop or coarsen the separating terms, or "
            "fit fewer components."
        )
    for category, messages in found.items():
        warnings.warn(" Also, ".join(messages), category, stacklevel=user_stacklevel())


def em_glm(
    formula_: str,
    data: pd.DataFrame,
    family: str | smf.Family = "poisson",
    K: int = 2,
    *,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    start: Any = None,
    init: str = "random",
    method: str = "em",
    max_iter: int = 1000,
    tol: float = 1e-8,
    se: str | None = "louis",
    n_boot: int = 200,
    bootstrap: str = "nonparametric",
    random_state: int | np.random.Generator | None = None,
    n_starts: int = N_STARTS,
    minprior: float = MINPRIOR,
    n_jobs: int = 1,
    progress: bool | None = None,
    accel: str | None = "squarem",
) -> EMGLMResults:
    """Fit a finite mixture of ``K`` GLMs by EM from an R-like formula.

    A thin front end over ``EMGLM.from_formula(...).fit(...)``; see those for the
    parameters.

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=(df.index >= 2500).astype(int), tol=1e-10)
    >>> round(res.llf, 1) < 0, res.k_params
    (True, 11)
    """
    model = EMGLM.from_formula(
        formula_,
        data,
        family,
        K,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        eval_env=formula.capture_env(1),
    )
    return model.fit(
        start=start,
        init=init,
        method=method,
        max_iter=max_iter,
        tol=tol,
        se=se,
        n_boot=n_boot,
        bootstrap=bootstrap,
        random_state=random_state,
        n_starts=n_starts,
        minprior=minprior,
        n_jobs=n_jobs,
        progress=progress,
        accel=accel,
    )
