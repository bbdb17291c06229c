"""The model class: orchestration of one fit.

:class:`EMGLM` holds what the data say (the design and its arrays, the family, K, the GLM
component driver and the mixing model); :meth:`EMGLM.fit` takes the fitting options
(:class:`~emglm.options.FitOptions`), runs the warm-up, the long EM run and the standard
errors, and returns an :class:`~emglm.report.results.EMGLMResults`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emglm.blas_threads import single_blas_thread
from emglm.checks import check_positive_int
from emglm.components import irls
from emglm.components.glm import GLMComponents, GLMParams
from emglm.components.multi import MultiParams, MultiResponseComponents
from emglm.components.shared import SharedGLMComponents, Sharing
from emglm.components.zero_inflated import ZeroInflatedComponents, ZIParams, check_zero_inflated
from emglm.data import formula as formula_mod
from emglm.data import sharing as sharing_mod
from emglm.data.arrays import MixtureData, ResponseArrays
from emglm.data.groups import grouping_of
from emglm.engine import em, multistart, warmup
from emglm.engine.em import MixtureModel, MixtureParams
from emglm.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    InputError,
    InputTypeError,
    SeparationWarning,
    emit,
)
from emglm.families import Family, get_family
from emglm.inference import bootstrap as boot
from emglm.inference import standard_errors
from emglm.options import MINPRIOR as MINPRIOR
from emglm.options import FitOptions
from emglm.report.record import FitRecord
from emglm.report.results import EMGLMResults
from emglm.report.warmup import SmallEMResult
from emglm.several import build_several, is_several


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
        design: formula_mod.Design,
        arrays: formula_mod.ModelArrays,
        family: Family,
        K: int,
        more: Sequence[tuple[formula_mod.Design, formula_mod.ModelArrays, Family]] = (),
        components: GLMComponents | None = None,
        zero_inflated: bool = False,
    ) -> None:
        self.design = design
        self.arrays = arrays
        self.family = family
        self.K = K
        # Further responses on the same rows, each with its own design and family.
        self.more = tuple(more)
        self.designs = (design, *(d for d, _, _ in self.more))
        # A driver given by the caller (shared coefficients: emglm.components.shared).
        glms = [GLMComponents(family, tuple(design.x_names)) if components is None else components]
        if isinstance(glms[0], SharedGLMComponents):
            problem = glms[0].check_n_components(K)
            if problem is not None:
                raise InputError(problem)
        glms += [GLMComponents(f, tuple(d.x_names)) for d, _, f in self.more]
        for glm, (_, a, _) in zip(glms, ((design, arrays, family), *self.more), strict=True):
            short = _check_enough_data(float(arrays.weights.sum()), glm, a.X, K)
            if short is not None:
                raise InputError(short + "; fit fewer components or a smaller model")
        self.glms = tuple(glms)
        self.components: GLMComponents | MultiResponseComponents | ZeroInflatedComponents
        self.components = glms[0]
        if self.more:
            self.components = MultiResponseComponents(
                self.glms, tuple(d.response_name for d in self.designs)
            )
        # The engine counts every component: with zero inflation the point mass too.
        self.n_total = K
        if check_zero_inflated(zero_inflated, family, arrays.y):
            if self.more:
                raise InputError("zero_inflated=True is for a single response")
            self.components = ZeroInflatedComponents(glms[0], K)
            self.n_total = K + 1
        groups = None
        if arrays.groups is not None:
            groups = grouping_of(arrays.groups, arrays.weights, arrays.Z)
            if groups.n_groups < self.n_total:
                what = " and the point mass" if self.n_total > K else ""
                raise InputError(
                    f"K={K} components{what} need at least {self.n_total} groups; the data "
                    f"have {groups.n_groups} groups"
                )
        self.data = MixtureData(
            y=arrays.y,
            X=arrays.X,
            offset=arrays.offset,
            trials=arrays.trials,
            weights=arrays.weights,
            Z=arrays.Z,
            groups=groups,
            responses=tuple(ResponseArrays(a.y, a.X, a.offset, a.trials) for _, a, _ in self.more),
        )
        self.mixture = MixtureModel.for_data(self.components, self.data)
        for a in (arrays, *(a for _, a, _ in self.more)):
            for arr in (a.y, a.X, a.offset, a.trials, a.weights, a.Z):
                arr.flags.writeable = False

    @classmethod
    def from_formula(
        cls,
        formula: str | Sequence[str],
        data: pd.DataFrame,
        family: Any = "poisson",
        K: int = 2,
        *,
        offset: Any = None,
        exposure: Any = None,
        weights: Any = None,
        concomitant: str | None = None,
        groups: Any = None,
        fixed: str | None = None,
        nested: Any = None,
        equal_scale: bool = False,
        zero_inflated: bool = False,
        eval_env: Any = None,
        safe_formula: bool = False,
    ) -> EMGLM:
        """Build the model from an R-like formula and a DataFrame.

        Parameters
        ----------
        formula : str or list of str
            Patsy formula, e.g. ``"y ~ x1 + C(g) - 1"``; see :mod:`emglm.data.formula`. A
            list of formulas fits several responses sharing one latent class (each its own
            GLM in every component; give one family per formula; see :mod:`emglm.several`).
        data : pandas.DataFrame
            The data; never modified.
        family : str or statsmodels family
            A registered name (``"poisson"``, ``"gaussian"``, ``"binomial"``, ``"gamma"``,
            ``"inverse_gaussian"``, ``"negbin"``; see :func:`emglm.families.get_family`) or a
            statsmodels family instance.
        K : int
            Number of components.
        offset, exposure, weights : array-like or str, optional
            Offset, exposure (its log is added to the offset) and case weights, as arrays
            or column names of ``data``.
        concomitant : str, optional
            One-sided formula for mixing proportions that depend on covariates.
        groups : str or array-like, optional
            Grouped observations: a column name or one label per row; all rows of a group
            share one latent class (flexmix's ``y ~ x | g``, which may be written in the
            formula instead). Case weights and concomitant covariates must be constant
            within a group.
        fixed : str, optional
            One-sided formula of terms with one coefficient common to all components
            (flexmix's ``FLXMRglmfix(fixed = ~ z)``); see ``docs/model.md``.
        nested : list of (int, str), optional
            Groups of components, in order, sharing the coefficients of their formula's
            terms, e.g. ``[(2, "~ x1"), (1, "~ 0")]``; the sizes add up to ``K``.
        equal_scale : bool, default False
            One dispersion for all components (flexmix's ``varFix = TRUE``); only for
            families with a dispersion.
        zero_inflated : bool, default False
            Add a point mass at zero beside the ``K`` GLM components (flexmix's
            ``FLXMRziglm``, whose ``k`` counts the point mass too: ``k = K + 1``); for
            families with positive probability at zero (Poisson, binomial, negative
            binomial) and a single response. See ``docs/model.md``.
        eval_env : optional
            Namespace for names in the formula; by default the caller's.
        safe_formula : bool, default False
            The formulas' terms are Python code, evaluated in ``eval_env`` as statsmodels
            does. ``True`` (for formulas from untrusted text; the command line's setting)
            allows only the data's columns, numbers, arithmetic, ``np.<ufunc>`` and the
            documented transforms, evaluated without builtins or the caller's namespace;
            anything else is a :class:`~emglm.FormulaError` before any code runs. See
            ``docs/security.md``.
        """
        if not isinstance(safe_formula, bool):
            raise InputTypeError(f"safe_formula must be True or False, not {safe_formula!r}")
        if safe_formula:
            env = formula_mod.safe_env()
        else:
            env = formula_mod.capture_env(1) if eval_env is None else eval_env
        if is_several(formula):
            if fixed is not None or nested is not None or equal_scale is not False:
                raise InputError(
                    "fixed=, nested= and equal_scale= share coefficients within one response; "
                    "they cannot be used with several responses"
                )
            if check_zero_inflated(zero_inflated, get_family("poisson"), None):
                raise InputError("zero_inflated=True is for a single response")
            built = build_several(
                formula,
                data,
                family,
                offset=offset,
                exposure=exposure,
                weights=weights,
                concomitant=concomitant,
                groups=groups,
                eval_env=env,
            )
            K = check_positive_int("K", K, upper=built[0][1].y.shape[0])
            for design, arrays, _ in built:
                _check_aliased(design, arrays)
            first = built[0]
            return cls(first[0], first[1], first[2], K, more=built[1:])
        fam = get_family(family)
        spec = sharing_mod.check_sharing(fixed, nested, equal_scale, fam)
        if isinstance(formula, str) and not spec.is_plain:
            formula = sharing_mod.extend_formula(formula, spec)
        check_zero_inflated(zero_inflated, fam, None)
        design, arrays = formula_mod.build(
            formula,  # type: ignore[arg-type]  # build checks that it is a string
            data,
            fam,
            offset=offset,
            exposure=exposure,
            weights=weights,
            concomitant=concomitant,
            eval_env=env,
            groups=groups,
        )
        K = check_positive_int("K", K, upper=arrays.y.shape[0])
        _check_aliased(design, arrays)
        if spec.is_plain:
            return cls(design, arrays, fam, K, zero_inflated=zero_inflated)
        varying, fixed_cols, nested_cols = sharing_mod.column_roles(design.x_info, spec)
        sharing = Sharing(varying, fixed_cols, nested_cols, spec.sizes, spec.equal_scale)
        driver = SharedGLMComponents(fam, tuple(design.x_names), sharing)
        return cls(design, arrays, fam, K, components=driver, zero_inflated=zero_inflated)

    def with_K(self, K: int) -> EMGLM:
        """The same model (data, designs, families, component driver, zero inflation) with
        ``K`` components, checked as a new model is: what :func:`emglm.select_k` and
        :func:`emglm.lrt_bootstrap` fit for each K."""
        zero_inflated = isinstance(self.components, ZeroInflatedComponents)
        return EMGLM(
            self.design, self.arrays, self.family, K, self.more, self.glms[0],
            zero_inflated=zero_inflated,
        )  # fmt: skip

    def fit(
        self,
        *,
        start: Any = None,
        init: str = FitOptions.init,
        method: str = FitOptions.method,
        max_iter: int = FitOptions.max_iter,
        tol: float = FitOptions.tol,
        se: str | None = FitOptions.se,
        n_boot: int = FitOptions.n_boot,
        bootstrap: str = FitOptions.bootstrap,
        bootstrap_start: str = FitOptions.bootstrap_start,
        random_state: int | np.random.Generator | None = None,
        n_starts: int | None = FitOptions.n_starts,
        n_long: int | None = FitOptions.n_long,
        minprior: float | None = FitOptions.minprior,
        n_jobs: int = FitOptions.n_jobs,
        progress: bool | None = FitOptions.progress,
        accel: str | None = FitOptions.accel,
        m_step_iter: int = FitOptions.m_step_iter,
    ) -> EMGLMResults:
        """Fit the mixture by EM.

        Parameters
        ----------
        start : optional
            Starting values: coefficients (K x p array, list of K vectors or a ``params``
            DataFrame), posteriors (n x K), labels 0..K-1 (length n).
            Or the output of :func:`emglm.select_best`. When given, no warm-up is run.
        init : {"mixed", "random", "fit", "quantile", "tail", "cem"}
            How random starts are drawn when ``start`` is not given: ``"mixed"`` (default)
            takes ``"quantile"``, ``"fit"`` and ``"random"`` in turn; a random partition of
            the rows, a perturbed single-GLM fit, the sorted residuals of a single GLM cut
            into random blocks, a small tail of those residuals in one component and the
            rest cut into blocks, or a random partition refined by classification EM (see
            :mod:`emglm.engine.starts` and ``docs/warmup.md``).
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
        bootstrap_start : {"fit", "random"}
            Where each bootstrap replicate's EM starts: from the fit (default), or from
            the same warm-up of random starts as a fit without ``start`` (``n_starts``
            runs of ``init``; flexmix's ``boot``), which shows other modes of the
            likelihood in the spread. See ``docs/inference.md``.
        random_state : int or numpy Generator, optional
            Seed for the starts, SEM's draws and the bootstrap; the same seed gives the
            same fit.
        n_starts : int, optional
            Without ``start``: the number of short warm-up runs (``WARMUP_ITER`` iterations,
            tolerance ``WARMUP_TOL``, as :func:`emglm.small_em`); the table is kept as
            ``results.warmup``. ``1`` runs a single start and no warm-up. Default: sized
            from the data by ``emglm.options.WARMUP_BUDGET`` (15 for 5000 rows and 11
            parameters, up to 150 for small data with many parameters per row; see
            ``docs/warmup.md``).
        n_long : int, optional
            EM is run to convergence from the ``n_long`` best warm-up runs that classify
            the rows differently, and the best of those fits that keeps all components is
            returned (em-EM; ``results.warmup.long_table``). ``1``: the best run only.
            Default: ``max(3, n_starts // 5)``.
        minprior : float, optional
            Default ``emglm.options.default_minprior(K)``: 0.05 (flexmix's), or ``1 / (2K)``
            when that is smaller (K > 10), so that it is valid for any K. A component whose prior (its share of the M-step weight) falls below
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

        m_step_iter : int, default 1
            IRLS steps per M-step for each component (each a generalised EM step).

        Returns
        -------
        EMGLMResults
        """
        options = FitOptions(
            init=init,
            method=method,
            max_iter=max_iter,
            tol=tol,
            se=se,
            n_boot=n_boot,
            bootstrap=bootstrap,
            bootstrap_start=bootstrap_start,
            n_starts=n_starts,
            n_long=n_long,
            minprior=minprior,
            n_jobs=n_jobs,
            progress=progress,
            accel=accel,
            m_step_iter=m_step_iter,
        )
        return self.fit_with(options, start=start, random_state=random_state)

    @single_blas_thread  # small per-block BLAS products: a thread pool only adds overhead
    def fit_with(
        self,
        options: FitOptions,
        *,
        start: Any = None,
        random_state: int | np.random.Generator | np.random.SeedSequence | None = None,
    ) -> EMGLMResults:
        """Fit with validated :class:`~emglm.options.FitOptions` (what :meth:`fit`,
        :func:`emglm.em_glm` and :func:`emglm.select_k` call)."""
        options = options.check_for(self.n_total)
        if options.se == "bootstrap":
            boot.check_bootstrap(options.bootstrap, self.data)
            if options.progress:
                boot.require_tqdm()
        # Independent streams: starts, SEM draws, bootstrap replicates.
        start_seed, em_seed, boot_seed = warmup.seed_sequence(random_state).spawn(3)
        em_rng = np.random.default_rng(em_seed)
        mixture = self.mixture
        warm = None
        if start is not None:
            fit = em.run_em(
                self.data, mixture, self._resolve_start(start), options.em_options(), em_rng
            )
        else:
            fit, warm_runs = multistart.fit_from_starts(
                self.data,
                mixture,
                self.n_total,
                options.start_plan(),
                options.em_options(),
                seed=start_seed,
                em_rng=em_rng,
                n_jobs=options.n_jobs,
                progress=options.progress,
            )
            warm = None if warm_runs is None else SmallEMResult.of(warm_runs)
        mean_prop = mixture.mixing.proportions(self.data.Z, fit.params.gamma, self.data.weights)
        fit = em.permute(mixture, fit, em.canonical_order(mixture, fit.params, mean_prop))
        parts = self._parts(fit.params.components)
        first = 1 + getattr(fit.params.components, "n_zero", 0)
        _warn_about_fit(self.data, mixture, parts, fit, self.n_total, options, first)
        # A dropped point mass leaves a plain GLM mixture (as flexmix's FLXremoveComponent).
        mixture, fit = without_point_mass(mixture, fit, self.glms[0])
        covariance = None
        if options.se is not None:
            covariance = standard_errors.covariance(
                options.se,
                self.data,
                mixture,
                fit.params,
                self.design.z_names,
                options.em_options(),
                kind=options.bootstrap,
                n_boot=options.n_boot,
                random_state=np.random.default_rng(boot_seed),
                n_jobs=options.n_jobs,
                progress=bool(options.progress),
                start=options.bootstrap_start,
                plan=options.start_plan(),
            )
        record = FitRecord(
            data=self.data,
            mixture=mixture,
            design=self.design,
            row_index=self.arrays.row_index,
            n_dropped=self.arrays.n_dropped,
            n_requested=self.n_total,
            designs=self.designs,
        )
        return EMGLMResults(
            record=record,
            em=fit,
            method=options.method,
            init=options.init if start is None else "start",
            warmup=warm,
            covariance=covariance,
        )

    def _resolve_start(self, start: Any) -> MixtureParams | np.ndarray:
        """Validate a user's ``start`` and turn it into parameters or posteriors.

        ``start`` may be :class:`~emglm.engine.em.MixtureParams` (what
        :func:`emglm.select_best` returns); coefficients as a (K, p) array, a list of K
        vectors, or a ``params`` DataFrame (rows = design columns, K columns); posteriors
        as an (n, K) array; labels 0..K-1 of length n; a previous results object of the
        same model; or a complete start as a dict ``{"params": ..., "mixing": ...,
        "scale": ...}`` (:meth:`_complete_start`). With zero inflation, posteriors and
        labels count the point mass too (column and label 0), coefficients do not.
        """
        data, n_comp, n_all = self.data, self.K, self.n_total
        n, p = data.X.shape
        x_names = self.design.x_names
        if isinstance(start, EMGLMResults):  # a previous fit of the same model
            start = start.em.params
        if isinstance(start, dict):
            return self._complete_start(start)
        if isinstance(start, MixtureParams):
            q = data.n_mixing_columns
            kind = MultiParams if self.more else ZIParams if n_all > n_comp else GLMParams
            problem = None
            comp = start.components
            if not isinstance(comp, kind) or (isinstance(comp, ZIParams) and not comp.zero):
                problem = "start holds parameters of another kind of component model"
            else:
                for glm, view, part in self._parts(comp):
                    problem = problem or glm.check_params(part, n_comp, view.n_columns)
            if problem is None and start.gamma.shape != (q, n_all):
                problem = (
                    f"start.gamma has shape {start.gamma.shape}; expected {(q, n_all)} "
                    f"(q = {q} concomitant columns, {n_all} components)"
                )
            if problem is None and not np.all(np.isfinite(start.gamma)):
                problem = "start.gamma holds non-finite values"
            if problem is not None:
                raise InputError(problem)
            return start
        if isinstance(start, pd.DataFrame):
            if list(map(str, start.index)) != x_names or start.shape[1] != n_comp:
                raise InputError(
                    f"start DataFrame must have rows {x_names} and {n_comp} columns (one per "
                    f"component); got rows {list(start.index)} and {start.shape[1]} columns"
                )
            return self._from_coef(_frame_coef(start).T)
        try:
            arr = np.asarray(start, dtype=float)
        except (TypeError, ValueError):
            raise InputTypeError(
                "start must be parameters (K x p), posteriors (n x K), labels (length n) or "
                f"the output of select_best; got {type(start).__name__}"
            ) from None
        if not np.all(np.isfinite(arr)):
            raise InputError("start holds non-finite values")
        if arr.ndim == 2 and arr.shape == (n_comp, p):
            return self._from_coef(arr)
        if arr.ndim == 2 and arr.shape == (n, n_all):
            if np.any(arr < 0) or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-6):
                raise InputError("start posteriors must be non-negative with rows summing to 1")
            return arr
        if arr.ndim == 1 and arr.shape[0] == n:
            labels = arr.astype(int)
            if np.any(labels != arr) or labels.min() < 0 or labels.max() >= n_all:
                bad = np.unique(arr[(labels != arr) | (labels < 0) | (labels >= n_all)])[:3]
                raise InputError(f"start labels must be integers 0..{n_all - 1}; found {bad}")
            return np.eye(n_all)[labels]
        raise InputError(
            f"start has shape {arr.shape}; expected parameters (K, p) = {(n_comp, p)}, "
            f"posteriors (n, K) = {(n, n_all)} or labels of length n = {n}"
        )

    def _complete_start(self, start: dict[str, Any]) -> MixtureParams:
        """A complete start: ``params`` (coefficients as for ``start=``: a (K, p) array or a
        ``params`` DataFrame), ``mixing`` (K proportions, positive, summing to 1; optional,
        default equal) and ``scale`` (K dispersions of families with one, e.g. Gaussian
        variances; optional, default estimated from the coefficients)."""
        allowed = ("params", "mixing", "scale")
        unknown = sorted(set(start) - set(allowed))
        if unknown or "params" not in start:
            raise InputError(
                f"a start dict needs 'params' and may hold {allowed}; got keys {sorted(start)}"
            )
        driver = self.glms[0]
        if self.more or self.n_total > self.K or type(driver) not in _DICT_START_DRIVERS:
            raise InputError(
                "a start dict is for a GLM mixture (shared coefficients allowed); start this "
                "model from labels, posteriors or a previous fit"
            )
        coef = start["params"]
        arr = _frame_coef(coef).T if isinstance(coef, pd.DataFrame) else np.asarray(coef, float)
        params = self._resolve_start(arr)
        if not isinstance(params, MixtureParams):
            raise InputError(f"start['params'] must be K x p coefficients; got shape {arr.shape}")
        comp, gamma = params.components, params.gamma
        if not np.allclose(comp.coef, arr, rtol=1e-12, atol=0.0):  # projected onto the sharing
            raise InputError(
                "start['params'] does not obey the shared coefficients: a fixed term needs "
                "the same value in every component, a nested term the same value within "
                "its group and 0 outside it"
            )
        if "scale" in start:
            scale = np.asarray(start["scale"], dtype=float)
            if scale.shape != (self.K,) or not np.all(np.isfinite(scale) & (scale > 0)):
                raise InputError(
                    f"start['scale'] must be {self.K} positive dispersions; got {scale!r}"
                )
            if not self.family.has_scale and not np.all(scale == 1.0):
                raise InputError(
                    f"start['scale']: the {self.family.name} family has no dispersion; leave it out"
                )
            if isinstance(driver, SharedGLMComponents) and driver.sharing.equal_scale:
                if not np.all(scale == scale[0]):
                    raise InputError(
                        f"start['scale'] must be one dispersion for every component with "
                        f"equal_scale=True; got {scale!r}"
                    )
            comp = dataclasses.replace(comp, scale=scale)
        if "mixing" in start:
            pi = np.asarray(start["mixing"], dtype=float)
            ok = pi.shape == (self.K,) and np.all(pi > 0) and abs(pi.sum() - 1.0) < 1e-8
            if not ok:
                raise InputError(
                    f"start['mixing'] must be {self.K} positive proportions summing to 1; "
                    f"got {pi!r}"
                )
            gamma = gamma.copy()
            gamma[0] = np.log(pi) - np.log(pi[0])  # the intercepts of the mixing logits
        return MixtureParams(comp, gamma)

    def _parts(self, params: Any) -> list[tuple[GLMComponents, MixtureData, GLMParams]]:
        """Each response's GLM driver, data and parameters (one for a single response)."""
        if not self.more:
            glm_params = params.glm if isinstance(params, ZIParams) else params
            return [(self.glms[0], self.data, glm_params)]
        return [(glm, self.data.response(r), params.parts[r]) for r, glm in enumerate(self.glms)]

    def _from_coef(self, coef: np.ndarray) -> MixtureParams:
        """Complete bare coefficients into parameters; mixing proportions start equal, so
        with a concomitant model the first M-step fits the logits to the posteriors that
        these coefficients imply."""
        if self.more:
            raise InputError(
                "with several responses start from labels, posteriors or a previous fit's "
                "parameters, not from one response's coefficients"
            )
        glm_params = self.glms[0].from_coef(self.data, coef)
        comp = ZIParams(glm_params, True) if self.n_total > self.K else glm_params
        q = self.data.n_mixing_columns
        return MixtureParams(comp, self.mixture.mixing.start(q, self.n_total))


def without_point_mass(
    mixture: MixtureModel, fit: em.EMFit, glm: GLMComponents
) -> tuple[MixtureModel, em.EMFit]:
    """A zero-inflated fit whose point mass was dropped is a plain GLM mixture (flexmix's
    ``FLXremoveComponent`` turns ``FLXMRziglm`` into ``FLXMRglm``): report it as one."""
    comp = fit.params.components
    if not isinstance(comp, ZIParams) or comp.zero:
        return mixture, fit
    plain = MixtureModel(glm, mixture.mixing)
    return plain, dataclasses.replace(fit, params=MixtureParams(comp.glm, fit.params.gamma))


def _check_aliased(design: formula_mod.Design, arrays: formula_mod.ModelArrays) -> None:
    """Raise when design columns are constant or linear combinations of the others."""
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


def _check_enough_data(
    nobs: float, components: GLMComponents, X: np.ndarray, n_comp: int
) -> str | None:
    """Why ``n_comp`` components cannot be fitted to ``nobs`` observations, or ``None``:
    every component must keep as much weight as its GLM has parameters (the drop rule of
    the engine), so ``nobs >= K * need``."""
    p = X.shape[1]
    need = components.per_component(p)
    if nobs >= n_comp * need:
        return None
    what = f"{p} coefficient{'s' if p != 1 else ''}" + (
        " and a dispersion" if components.family.has_scale else ""
    )
    return (
        f"K={n_comp} components need at least K x {need} = {n_comp * need} observations "
        f"(each component's GLM has {what}); the data have nobs={nobs:g}"
    )


# What a fit whose concomitant covariates separate the components is told.
CONCOMITANT_SEPARATION = (
    "the concomitant covariates separate the components: the log-likelihood still "
    "rises (or stays level) as the fitted mixing log-odds grow without bound, and "
    "some prior probabilities are numerically 0 or 1, so the concomitant "
    "coefficients (res.mixing_params) have no finite maximum-likelihood estimate "
    "and are reported where EM stopped, with meaningless standard errors; drop or "
    "coarsen the separating concomitant terms, or fit fewer components."
)


def _warn_about_fit(
    data: MixtureData,
    mixture: MixtureModel,
    parts: list[tuple[GLMComponents, MixtureData, GLMParams]],
    fit: em.EMFit,
    K: int,
    options: FitOptions,
    first: int = 1,
) -> None:
    """Warn about what went wrong in a fit: at most one warning of each class, whose
    message lists every cause of that class. ``first`` is the number of the first GLM
    component in tables (2 after a point mass at zero), whose posteriors start at column
    ``first - 1``."""
    found: dict[type[Warning], list[str]] = {}
    n_fitted = fit.params.n_components
    if n_fitted < K:
        found.setdefault(DegenerateComponentWarning, []).append(
            f"{K - n_fitted} of {K} components were dropped and the fit has K={n_fitted}: "
            + "; ".join(fit.notes)
            + ". Fit a smaller K, or set minprior=0 to keep small components that still have "
            "enough weight for their GLM."
        )
    collapsed = np.unique(np.concatenate([g.collapsed(d, q) for g, d, q in parts]))
    if collapsed.size:
        comps = ", ".join(f"comp{k + first}" for k in collapsed)
        found.setdefault(DegenerateComponentWarning, []).append(
            f"the variance of {comps} collapsed onto its floor (1e-10 x the variance of the "
            "response): the component sits on a few (nearly) equal responses, where the "
            "likelihood is unbounded, so this fit is a spurious maximum and its llf, AIC and "
            "BIC are meaningless. Refit with more starts (n_starts), a larger minprior, or "
            "fewer components."
        )
    if not fit.converged:
        found.setdefault(ConvergenceWarning, []).append(
            f"EM did not converge in max_iter={options.max_iter} iterations: the last relative "
            f"change of the log-likelihood was {fit.last_change:.3g} (tol={options.tol:g}); "
            "raise max_iter or start from better values (select_best)"
        )

    def llf_at(gamma: np.ndarray) -> float:
        return em.e_step(data, mixture, dataclasses.replace(fit.params, gamma=gamma))[0]

    if mixture.mixing.separates(data.unit_Z, fit.params.gamma, llf_at):
        found.setdefault(SeparationWarning, []).append(CONCOMITANT_SEPARATION)
    posterior = fit.posterior[:, first - 1 :]
    separated = [s for g, d, q in parts for s in g.separated(d, q, posterior)]
    if separated:
        comps = ", ".join(f"comp{k + first} ({n} rows)" for k, n in separated)
        found.setdefault(SeparationWarning, []).append(
            f"fitted probabilities numerically 0 or 1 occurred in {comps}: the covariates "
            "separate that component's responses (perfectly or almost), so its coefficients "
            "have no finite maximum-likelihood estimate and are reported where EM stopped; "
            "their standard errors are meaningless. Drop or coarsen the separating terms, or "
            "fit fewer components."
        )
    for category, messages in found.items():
        emit(" Also, ".join(messages), category)


# Component models whose start may be a dict of coefficients, proportions and dispersions.
_DICT_START_DRIVERS = (GLMComponents, SharedGLMComponents)


def _frame_coef(start: pd.DataFrame) -> np.ndarray:
    """The numbers of a coefficient DataFrame; a non-numeric or non-finite cell raises,
    naming its component column and design row."""
    for col in start.columns:
        values = pd.to_numeric(start[col], errors="coerce").to_numpy(dtype=float)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            value = start[col].iloc[i]
            shown = repr(value) if isinstance(value, str) else str(value)
            raise InputError(
                f"start DataFrame column {col!r} has {shown} at row {start.index[i]!r}; "
                "every coefficient must be a finite number"
            )
    return start.to_numpy(dtype=float)
