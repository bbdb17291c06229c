"""The results of a fitted mixture of GLMs, in statsmodels style.

:class:`EMGLMResults` is immutable: it holds the model and the EM outcome, and computes
everything else (tables, criteria, residuals, predictions) from them on first use.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from emglm.components.glm import GLMParams
from emglm.components.shared import SharedGLMComponents
from emglm.engine import em
from emglm.engine.warmup import seed_sequence
from emglm.exceptions import InputError
from emglm.families import Family
from emglm.inference import louis, standard_errors
from emglm.options import FitOptions
from emglm.report import prediction
from emglm.report.diagnostics import DispersionTest, dispersion_test
from emglm.report.record import FitRecord, ResponseView
from emglm.report.summary import build_summary

if TYPE_CHECKING:
    from statsmodels.iolib.summary import Summary

    from emglm.report.warmup import SmallEMResult

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class EMGLMResults:
    """A fitted finite mixture of GLMs.

    Derived arrays are computed on first use; every table is a fresh copy, so changing it
    never changes the results. Per-row outputs carry the index of the rows used
    in the fit (rows with missing values dropped). Components are in canonical order:
    decreasing mixing proportion, ties broken by the coefficients. ``warmup`` holds the
    table of short warm-up runs (:class:`~emglm.SmallEMResult`) when the fit ran one.

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=(df.index >= 2500).astype(int), tol=1e-10)
    >>> list(res.params.columns), float(res.mixing.sum().round(6))
    (['comp1', 'comp2'], 1.0)
    """

    record: FitRecord
    em: em.EMFit
    method: str
    init: str
    warmup: SmallEMResult | None = None
    covariance: louis.Covariance | None = None

    # --- the model -------------------------------------------------------------------------
    @property
    def family(self) -> Family:
        """The components' family (with its link)."""
        return self.record.family

    @property
    def response_name(self) -> str:
        """Name of the response in the formula (the first, with several)."""
        return self.record.design.response_name

    @property
    def responses(self) -> list[str]:
        """Names of the responses (one unless several share the latent class)."""
        return [v.name for v in self._views]

    def family_of(self, response: str) -> Family:
        """The family of one response."""
        return self._view(response).family

    @property
    def has_concomitant(self) -> bool:
        """Whether the mixing proportions depend on concomitant covariates."""
        return self.record.mixture.mixing.varies_by_row

    # --- parameters ------------------------------------------------------------------------
    @property
    def K(self) -> int:
        """Number of components (with zero inflation the point mass counts too, as in
        flexmix's ``k``; :attr:`coef_names` lists the GLM components)."""
        return self.em.params.n_components

    @property
    def component_names(self) -> list[str]:
        """``["comp1", ..., "compK"]``; the component model may name its components
        (zero inflation: ``["zero", "comp2", ..., "compK"]``, the point mass first)."""
        labels = getattr(self.record.mixture.components, "component_labels", None)
        return [f"comp{k + 1}" for k in range(self.K)] if labels is None else labels(self.K)

    @property
    def coef_names(self) -> list[str]:
        """The components that have coefficients (all but point masses), in order."""
        masses = self._point_masses
        return [c for k, c in enumerate(self.component_names) if k not in masses]

    @cached_property
    def _point_masses(self) -> dict[int, float]:
        masses = getattr(self.record.mixture.components, "point_masses", None)
        return {} if masses is None else masses(self.K)

    def _with_point_masses(self, values: Array, variance: bool = False) -> Array:
        """(n, K) from the GLM components' (n, K_glm) means (or variances): a point mass
        has its location as mean and variance 0."""
        if not self._point_masses:
            return values
        out = np.empty((values.shape[0], self.K))
        glm = [k for k in range(self.K) if k not in self._point_masses]
        out[:, glm] = values
        for k, at in self._point_masses.items():
            out[:, k] = 0.0 if variance else at
        return out

    @property
    def params(self) -> pd.DataFrame:
        """Coefficients: rows are design columns (``"<response>:<term>"`` with several
        responses), columns are components (point masses have none)."""
        return self._coef_frame(self._theta, absent=0.0)

    @property
    def mixing(self) -> pd.Series:
        """Mixing proportions (for a concomitant model, the average prior probabilities)."""
        d = self.record.data
        return pd.Series(
            self.record.mixture.mixing.proportions(d.Z, self.em.params.gamma, d.weights),
            index=self.component_names,
            name="mixing",
        )

    @property
    def mixing_params(self) -> pd.DataFrame:
        """Concomitant (multinomial-logit) coefficients: rows are the concomitant design
        columns, columns are components; comp1 is the reference and its column is zero.

        ``log(pi_ik / pi_i1) = z_i' gamma_k``. Without a concomitant model the single row
        ``Intercept`` holds ``log(pi_k / pi_1)``.
        """
        return pd.DataFrame(
            self.em.params.gamma.copy(),
            index=self.record.design.z_names,
            columns=self.component_names,
        )

    @property
    def prior_probs(self) -> pd.DataFrame:
        """Prior class probabilities ``pi_ik`` of the fitted rows, n x K (the same in every
        row without a concomitant model); ``mixing`` is their weighted average."""
        return self._frame(self._prior)

    @cached_property
    def _views(self) -> list[ResponseView]:
        return self.record.views(self.em.params.components)

    @cached_property
    def _shared(self) -> tuple[SharedGLMComponents, GLMParams] | None:
        """The shared-coefficient driver and its fitted parameters (beside a point mass at
        zero too), or ``None`` when no coefficient is shared."""
        views = self._views
        if len(views) == 1 and isinstance(views[0].glm, SharedGLMComponents):
            return views[0].glm, views[0].params
        return None

    def _view(self, response: str | None) -> ResponseView:
        """One response's view; ``None`` is the only response of a single-response fit."""
        names = [v.name for v in self._views]
        if response is None:
            if len(names) > 1:
                raise InputError(
                    f"this fit has several responses ({', '.join(map(repr, names))}); "
                    "choose one with response="
                )
            return self._views[0]
        if response not in names:
            raise InputError(f"response={response!r} is not one of {names}")
        return self._views[names.index(response)]

    @property
    def scale(self) -> pd.Series:
        """Dispersion per component: the ML variance sigma^2 for Gaussian, 1 for Poisson
        and binomial, alpha for the negative binomial. With several responses a DataFrame,
        one row per response."""
        if self.record.several:
            rows = [v.params.scale for v in self._views]
            names = [v.name for v in self._views]
            return pd.DataFrame(rows, index=names, columns=self.component_names)  # type: ignore[return-value]
        return pd.Series(self._views[0].params.scale.copy(), index=self.coef_names, name="scale")

    # --- fit statistics --------------------------------------------------------------------
    @property
    def llf(self) -> float:
        """Observed-data log-likelihood, with normalising constants (as R's ``logLik``)."""
        return self.em.llf

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of case weights (rows when unweighted)."""
        return self.record.data.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a used variable was missing."""
        return self.record.n_dropped

    @property
    def drops(self) -> pd.DataFrame:
        """Components dropped by the minprior rule during the long run, one row each:
        ``iteration`` (before its M-step), ``component`` (its number among ``of`` then),
        ``weight``, ``prior``, ``llf_before`` and ``llf_after`` (the llf after that M-step:
        the only place ``llf_history`` may decrease)."""
        cols = ["iteration", "component", "of", "weight", "prior", "llf_before", "llf_after"]
        rows = [[getattr(d, c) for c in cols] for d in self.em.drops]
        return pd.DataFrame(rows, columns=cols)

    @property
    def k_params(self) -> int:
        """Free parameters: K*p coefficients, K dispersions (when estimated) and the
        (K-1)*q mixing parameters (q = 1 for constant proportions), as flexmix counts."""
        return self.record.mixture.n_params(self.K, self.record.data.n_mixing_columns)

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 llf + 2 k_params``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 llf + log(nobs) k_params``."""
        return -2.0 * self.llf + np.log(self.nobs) * self.k_params

    @property
    def clogl(self) -> float:
        """Classification log-likelihood: ``sum_u w_u log(pi_uk f_k(y_u))`` at each unit's
        (row's, or group's) most probable component ``k`` (flexmix's ``clogLik``)."""
        return em.classification_llf(self.record.data, self.llf, self.em.posterior)

    @property
    def icl(self) -> float:
        """Integrated completed likelihood as flexmix defines it (hard assignment):
        ``-2 clogl + log(nobs) k_params``; see :attr:`icl_entropy` for the soft variant."""
        return -2.0 * self.clogl + np.log(self.nobs) * self.k_params

    @property
    def icl_entropy(self) -> float:
        """The soft-entropy ICL: BIC plus twice the classification entropy
        ``-sum_u w_u sum_k tau_uk log tau_uk`` (Biernacki et al. 2000's approximation)."""
        data = self.record.data
        tau = data.unit_first(self.em.posterior)
        entropy = -float(data.unit_case_weights @ np.sum(_xlogx(tau), axis=1))
        return self.bic + 2.0 * entropy

    @property
    def converged(self) -> bool:
        """Whether EM met its tolerance before ``max_iter``."""
        return self.em.converged

    @property
    def n_iter(self) -> int:
        """EM iterations run."""
        return self.em.n_iter

    @property
    def llf_history(self) -> Array:
        """Log-likelihood at the start and after every EM iteration (never decreasing)."""
        return self.em.llf_history.copy()

    # --- per-row outputs -------------------------------------------------------------------
    @property
    def posterior(self) -> pd.DataFrame:
        """Posterior probabilities of component membership, n x K."""
        return self._frame(self.em.posterior)

    @property
    def classes(self) -> pd.Series:
        """Most probable component per row, numbered 1..K as in ``comp1..compK``."""
        return pd.Series(
            self.em.posterior.argmax(axis=1) + 1, index=self.record.row_index, name="class"
        )

    def _component_means(self, view: ResponseView) -> Array:
        return self._with_point_masses(view.glm.means(view.data, view.params))

    @cached_property
    def _prior(self) -> Array:
        d = self.record.data
        prior = np.exp(self.record.mixture.mixing.log_prior(d.Z, self.em.params.gamma))
        return np.broadcast_to(prior, (d.y.shape[0], self.K))

    @property
    def fittedvalues(self) -> pd.Series:
        """Mixture mean ``sum_k pi_ik mu_ik`` per row (binomial: a proportion); with several
        responses a DataFrame, one column per response."""
        cols = {v.name: np.sum(self._prior * self._component_means(v), axis=1) for v in self._views}
        if self.record.several:
            return pd.DataFrame(cols, index=self.record.row_index)  # type: ignore[return-value]
        return pd.Series(next(iter(cols.values())), index=self.record.row_index, name="fitted")

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        which: str = "mean",
        *,
        offset: Any = None,
        exposure: Any = None,
        response: str | None = None,
    ) -> pd.Series | pd.DataFrame:
        """Predict on the fitted rows or on ``newdata`` (the formula is re-applied).

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows with the columns the formula uses; default the fitted rows.
        which : {"mean", "component", "prob", "posterior", "linear"}
            ``"mean"``: the mixture mean (Series; a point mass at zero has mean 0 and the
            mixture mean counts it). ``"component"``: each component's mean
            (DataFrame). ``"linear"``: each component's linear predictor. ``"prob"``: prior
            class probabilities (from the concomitant model when there is one).
            ``"posterior"``: posterior class probabilities given the response, which
            ``newdata`` must then hold.
        offset, exposure : array-like, optional
            For ``newdata``, when the model was fitted with them given as arrays.
        response : str, optional
            With several responses: which one (``"mean"`` without it gives one column per
            response).
        """
        return prediction.predict(self, newdata, which, offset=offset, exposure=exposure,
                                  response=response)  # fmt: skip

    # --- residuals -------------------------------------------------------------------------
    def resid(
        self, kind: str = "response", level: str = "mixture", response: str | None = None
    ) -> pd.Series | pd.DataFrame:
        """Residuals of the fitted rows.

        Parameters
        ----------
        kind : {"response", "pearson", "deviance"}
            ``response``: ``y - m``. ``pearson``: ``(y - m) / sqrt(v)``. ``deviance``:
            ``sign(y - m) sqrt(d(y, m))`` with the family's unit deviance ``d``.
        level : {"mixture", "component", "pooled"}
            What ``m`` and ``v`` are. ``mixture``: the mixture mean ``sum_k pi_ik mu_ik``
            and the mixture variance ``sum_k pi_ik (v_ik + mu_ik^2) - m^2``. ``component``:
            each component's own mean and variance (an n x K DataFrame). ``pooled``: the
            posterior-pooled mean ``sum_k tau_ik mu_ik`` with variance
            ``sum_k tau_ik v_ik``, the form em.glm reports.
            Here ``v_ik = scale_k V(mu_ik) / trials_i``.
        response : str, optional
            With several responses: whose residuals.
        """
        return prediction.residuals(self, kind, level, response)

    @property
    def resid_response(self) -> pd.Series:
        """Response residuals ``y - m`` against the mixture mean; see :meth:`resid`."""
        return self.resid("response")  # type: ignore[return-value]

    @property
    def resid_pearson(self) -> pd.Series:
        """Pearson residuals against the mixture mean and variance; see :meth:`resid`."""
        return self.resid("pearson")  # type: ignore[return-value]

    @property
    def resid_deviance(self) -> pd.Series:
        """Deviance residuals at the mixture mean; see :meth:`resid`."""
        return self.resid("deviance")  # type: ignore[return-value]

    # --- inference -------------------------------------------------------------------------
    @property
    def cov_type(self) -> str:
        """How the covariance was obtained: ``"louis"``, ``"bootstrap"`` or ``"none"``."""
        return "none" if self.covariance is None else self.covariance.cov_type

    @cached_property
    def _names(self) -> pd.MultiIndex:
        names = louis.param_names(self.record.mixture, self.record.design.z_names, self.K)
        return pd.MultiIndex.from_tuples(names, names=["component", "term"])

    @cached_property
    def _theta(self) -> Array:
        return self.record.mixture.pack(self.em.params)

    def _cov(self) -> louis.Covariance:
        if self.covariance is None:
            raise InputError(
                "standard errors were not computed (se=None); refit with se='louis' or "
                "se='bootstrap'"
            )
        return self.covariance

    @cached_property
    def _se_theta(self) -> Array:
        return np.sqrt(np.maximum(np.diag(self._cov().cov), 0.0))

    def cluster_table(self, eps: float = 1e-4) -> pd.DataFrame:
        """flexmix's ``summary`` table of the components: ``prior`` (the mixing
        proportion), ``size`` (rows whose most probable component it is), ``post>0`` (rows
        whose posterior for it exceeds ``eps``) and ``ratio = size / post>0`` (near 1: the
        component's rows are clearly its own). Rows count with their case weights.

        Examples
        --------
        >>> import emglm
        >>> df = emglm.datasets.load_sim2()
        >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
        ...                    random_state=1, se=None)
        >>> list(res.cluster_table().columns)
        ['prior', 'size', 'post>0', 'ratio']
        """
        post = self.em.posterior
        w = self.record.data.weights
        size = np.bincount(post.argmax(axis=1), weights=w, minlength=self.K)
        return self._cluster_frame(size, w @ (post > eps))

    def _cluster_frame(self, size: np.ndarray, positive: np.ndarray) -> pd.DataFrame:
        """The cluster table from each component's size and rows with posterior > eps."""
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(positive > 0, size / np.where(positive > 0, positive, 1.0), np.nan)
        return pd.DataFrame(
            {"prior": self.mixing.to_numpy(), "size": size, "post>0": positive, "ratio": ratio},
            index=self.component_names,
        )

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
        """The same fit with standard errors, computed now without refitting (e.g. on the
        best fit of :func:`emglm.select_k`, which skips them).

        Parameters
        ----------
        se : {"louis", "bootstrap"}
            Louis' observed information, or ``n_boot`` bootstrap replicates (``bootstrap``:
            ``"nonparametric"`` or ``"parametric"``), each refitted from this fit with its
            own EM settings.
        bootstrap_start : {"fit", "random"}
            Each replicate starts from this fit, or from the default warm-up of random
            starts (:class:`~emglm.options.FitOptions`' ``n_starts`` and ``init``), as
            ``em_glm(..., bootstrap_start=...)``.
        random_state, n_jobs
            The bootstrap's seed and worker processes.

        Examples
        --------
        >>> import emglm
        >>> df = emglm.datasets.load_sim2()
        >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
        ...                    random_state=1, se=None)
        >>> res.with_se().bse.shape
        (5, 2)
        """
        if se not in standard_errors.SE_KINDS:
            raise InputError(
                f"se={se!r} is not allowed; choose one of "
                + ", ".join(map(repr, standard_errors.SE_KINDS))
            )
        options = FitOptions(
            se=se, n_boot=n_boot, bootstrap=bootstrap, bootstrap_start=bootstrap_start,
            n_jobs=n_jobs,
        )  # fmt: skip
        rec = self.record
        cov = standard_errors.covariance(
            se,
            rec.data,
            rec.mixture,
            self.em.params,
            rec.design.z_names,
            rec.em_options if rec.em_options is not None else options.em_options(),
            kind=options.bootstrap,
            n_boot=options.n_boot,
            random_state=np.random.default_rng(seed_sequence(random_state)),
            n_jobs=options.n_jobs,
            start=options.bootstrap_start,
            plan=options.start_plan(),
        )
        return replace(self, covariance=cov)

    def cov_params(self) -> pd.DataFrame:
        """Covariance of all free parameters, labelled by a (component, term) MultiIndex.

        The free parameters are, per component, its coefficients and (Gaussian and other
        families with a dispersion) ``log(sigma)``; then the mixing logits
        ``mixing:<term>`` of comp2..compK against comp1 (for constant proportions,
        ``mixing:Intercept = log(pi_k / pi_1)``). This is flexmix's parametrisation.
        """
        return pd.DataFrame(self._cov().cov.copy(), index=self._names, columns=self._names)

    def _positions(self, comp: str, kind: str) -> list[int]:
        """Where a component's coefficients (``"coef"``), ``log(sigma)`` (``"scale"``) or
        mixing logits (``"mixing"``) sit in the packed parameters, found by their names."""

        def kind_of(term: str) -> str:
            if term in self._scale_terms:
                return "scale"
            return "mixing" if term.startswith("mixing:") else "coef"

        if kind != "mixing" and self._shared is not None:
            # Shared parameters sit once in the packed vector; -1: not in this component.
            driver, params = self._shared
            n_glm = len(self.coef_names)
            coef_pos, scale_pos = driver.positions(n_glm, driver.groups_of(params))
            k = self.coef_names.index(comp)
            return list(coef_pos[k]) if kind == "coef" else [int(scale_pos[k])]
        return [i for i, (c, t) in enumerate(self._names) if c == comp and kind_of(t) == kind]

    @cached_property
    def _scale_terms(self) -> dict[str, ResponseView]:
        """The free dispersion's label of each response that has one."""
        return {
            v.prefix + v.family.free_dispersion_name: v for v in self._views if v.family.has_scale
        }

    def _coef_frame(self, values: Array, absent: float = np.nan) -> pd.DataFrame:
        comps = self.coef_names
        if self._shared is not None:
            # Shared parameters sit once in the packed vector; a nested term outside a
            # component's group (position -1) is ``absent`` there.
            def column(comp: str) -> Array:
                pos = np.asarray(self._positions(comp, "coef"), dtype=int)
                return np.where(pos >= 0, values[np.maximum(pos, 0)], absent)

            cols = np.stack([column(c) for c in comps], axis=1)
            return pd.DataFrame(cols, index=self.record.design.x_names, columns=comps)
        cols = np.stack([values[self._positions(c, "coef")] for c in comps], axis=1)
        labels = [self._names[i][1] for i in self._positions(comps[0], "coef")]
        return pd.DataFrame(cols, index=labels, columns=comps)

    @property
    def bse(self) -> pd.DataFrame:
        """Standard errors of the coefficients, shaped as :attr:`params`."""
        return self._coef_frame(self._se_theta)

    @property
    def tvalues(self) -> pd.DataFrame:
        """z statistics ``params / bse``, shaped as :attr:`params`."""
        return self.params / self.bse

    @property
    def pvalues(self) -> pd.DataFrame:
        """Two-sided normal p-values of the z statistics, shaped as :attr:`params`."""
        return pd.DataFrame(
            2.0 * stats.norm.sf(np.abs(self.tvalues.to_numpy())),
            index=self.params.index,
            columns=self.params.columns,
        )

    def conf_int(self, alpha: float = 0.05, method: str = "wald") -> pd.DataFrame:
        """Confidence intervals of all free parameters (rows as :meth:`cov_params`).

        Parameters
        ----------
        alpha : float
            1 - coverage.
        method : {"wald", "percentile"}
            ``"wald"``: estimate -/+ z_{1-alpha/2} std err. ``"percentile"``: the alpha/2
            and 1-alpha/2 quantiles of the bootstrap replicates (``se="bootstrap"`` only).

        Returns
        -------
        DataFrame
            Columns ``lower`` and ``upper``.
        """
        alpha = _check_alpha(alpha)
        if method not in ("wald", "percentile"):
            raise InputError(
                f"method={method!r} is not allowed; choose one of 'wald', 'percentile'"
            )
        if method == "percentile":
            reps = self._cov().replicates
            if reps is None:
                raise InputError(
                    "percentile intervals need bootstrap replicates; refit with se='bootstrap'"
                )
            lo, hi = np.quantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
        else:
            q = stats.norm.ppf(1 - alpha / 2)
            lo, hi = self._theta - q * self._se_theta, self._theta + q * self._se_theta
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self._names)

    @property
    def mixing_bse(self) -> pd.Series:
        """Standard errors of :attr:`mixing`: the delta method on the mixing logits (Louis),
        or the spread of the replicates' proportions (bootstrap)."""
        cov = self._cov()
        if cov.mixing_replicates is not None:
            se = np.std(cov.mixing_replicates, axis=0, ddof=1)
        else:
            d = self.record.data
            jac = louis.mixing_jacobian(d, self.record.mixture, self.em.params)
            se = np.sqrt(np.maximum(np.einsum("kp,pr,kr->k", jac, cov.cov, jac), 0.0))
        return pd.Series(se, index=self.component_names, name="mixing_bse")

    @property
    def mixing_params_bse(self) -> pd.DataFrame:
        """Standard errors of :attr:`mixing_params`, same shape (comp1, the reference held
        at zero, has zero standard error)."""
        se = np.zeros((self.record.data.n_mixing_columns, self.K))
        for k in range(1, self.K):
            se[:, k] = self._se_theta[self._positions(self.component_names[k], "mixing")]
        return pd.DataFrame(se, index=self.record.design.z_names, columns=self.component_names)

    @property
    def sigma(self) -> pd.Series:
        """Component standard deviations ``sqrt(scale)``."""
        return pd.Series(
            np.sqrt(self._view(None).params.scale), index=self.coef_names, name="sigma"
        )

    @property
    def sigma_bse(self) -> pd.Series:
        """Standard errors of :attr:`sigma` (delta method from ``log(sigma)``, or the spread
        of the bootstrap replicates); only for families with a dispersion reported as
        sigma (see :attr:`dispersion_bse` for the others)."""
        fam = self._view(None).family
        if fam.has_scale and fam.dispersion_label != "sigma":
            raise InputError(
                f"the {fam.name} family reports its dispersion as {fam.dispersion_label}, "
                "not sigma; use res.dispersion and res.dispersion_bse"
            )
        return self.dispersion_bse.rename("sigma_bse")

    @property
    def dispersion(self) -> pd.Series:
        """Component dispersions as the family reports them (named by its
        ``dispersion_label``): ``sigma = sqrt(scale)`` for Gaussian, Gamma and inverse
        Gaussian, ``alpha`` for the negative binomial; see :meth:`dispersion_of` for one of
        several responses."""
        return self.dispersion_of(None)

    @property
    def dispersion_bse(self) -> pd.Series:
        """Standard errors of :attr:`dispersion` (delta method from its log, the free
        parameter, or the spread of the bootstrap replicates); only for families with a
        dispersion."""
        return self.dispersion_bse_of(None)

    def dispersion_of(self, response: str | None) -> pd.Series:
        """:attr:`dispersion` of one response (``None``: the only one)."""
        view = self._view(response)
        value = view.family.reported_dispersion(view.params.scale)
        return pd.Series(value, index=self.coef_names, name=view.family.dispersion_label)

    def dispersion_bse_of(self, response: str | None) -> pd.Series:
        """:attr:`dispersion_bse` of one response (``None``: the only one)."""
        view = self._view(response)
        fam = view.family
        if not fam.has_scale:
            raise InputError(f"the {fam.name} family has no dispersion to estimate")
        cov = self._cov()
        term = view.prefix + fam.free_dispersion_name
        if self._shared is not None:
            idx = [self._positions(c, "scale")[0] for c in self.coef_names]
        else:
            idx = [int(self._names.get_loc((c, term))) for c in self.coef_names]  # type: ignore[arg-type]
        if cov.replicates is not None:
            se = np.std(np.exp(cov.replicates[:, idx]), axis=0, ddof=1)
        else:
            se = self.dispersion_of(response).to_numpy() * self._se_theta[idx]
        return pd.Series(se, index=self.coef_names, name=f"{fam.dispersion_label}_bse")

    def estimates(self, alpha: float = 0.05) -> pd.DataFrame:
        """All estimates in one tidy table, one row per quantity.

        Columns: ``component``, ``term``, ``kind`` (``"coef"``, ``"sigma"``, ``"mixing"``
        or ``"mixing logit"``), ``estimate``, ``std_err``, ``z``, ``p_value``, ``conf_low``,
        ``conf_high``. ``z`` and ``p_value`` (tests of zero) are left empty (NaN) for sigmas
        and proportions, where they mean nothing; sigma intervals are the Wald interval of
        ``log(sigma)`` transformed back, proportion intervals are Wald intervals clipped to
        [0, 1]. Without standard errors (``se=None``) only the estimates are filled in.
        """
        alpha = _check_alpha(alpha)
        q = stats.norm.ppf(1 - alpha / 2)
        has_se = self.covariance is not None
        se = self._se_theta if has_se else np.full(self._theta.shape, np.nan)
        sig_se = {
            term: self.dispersion_bse_of(v.name if self.record.several else None).to_numpy()
            if has_se
            else np.full(self.K, np.nan)
            for term, v in self._scale_terms.items()
        }
        glm_index = {c: k for k, c in enumerate(self.coef_names)}
        rows = []
        for (comp, term), est, s in zip(self._names, self._theta, se, strict=True):
            if term in self._scale_terms:
                label = self._scale_terms[term].family.dispersion_label
                sig = np.exp(est)  # the free dispersion is the log of the reported one
                rows.append(
                    (
                        comp,
                        self._scale_terms[term].prefix + label,
                        label,
                        sig,
                        # A common dispersion is named "shared": any component's.
                        sig_se[term][glm_index[comp]] if comp in glm_index else sig_se[term][0],
                        np.nan,
                        np.nan,
                        np.exp(est - q * s),
                        np.exp(est + q * s),
                    )
                )
                continue
            kind = "mixing logit" if term.startswith("mixing:") else "coef"
            z = est / s if s > 0 else np.nan
            rows.append(
                (comp, term, kind, est, s, z, 2 * stats.norm.sf(abs(z)), est - q * s, est + q * s)
            )
        mix = self.mixing.to_numpy()
        mse = self.mixing_bse.to_numpy() if has_se else np.full(self.K, np.nan)
        for k, comp in enumerate(self.component_names):
            rows.append(
                (
                    comp,
                    "mixing",
                    "mixing",
                    mix[k],
                    mse[k],
                    np.nan,
                    np.nan,
                    max(mix[k] - q * mse[k], 0.0),
                    min(mix[k] + q * mse[k], 1.0),
                )
            )
        cols = [
            "component",
            "term",
            "kind",
            "estimate",
            "std_err",
            "z",
            "p_value",
            "conf_low",
            "conf_high",
        ]
        return pd.DataFrame(rows, columns=cols)

    def dispersion_test(self, level: str = "mixture") -> DispersionTest:
        """emax.glm's dispersion check: Pearson chi-square over residual df, with over- and
        under-dispersion p-values (chi-square on ``nobs - k_params`` df).

        Parameters
        ----------
        level : {"mixture", "pooled"}
            ``"mixture"`` (default): residuals against the mixture mean and variance, which
            the model predicts. ``"pooled"``: against the posterior-pooled mean and variance,
            the form emax.glm uses; these residuals use the response itself through the
            posteriors, so the statistic runs small.
        """
        if level not in ("mixture", "pooled"):
            raise InputError(f"level={level!r} is not allowed; choose one of 'mixture', 'pooled'")
        df_resid = self.nobs - self.k_params
        if df_resid <= 0:
            raise InputError(
                f"no residual degrees of freedom: nobs={self.nobs:g}, k_params={self.k_params}"
            )
        r = self.resid("pearson", level).to_numpy()
        return dispersion_test(r, self.record.data.weights, df_resid, level)

    # --- output ----------------------------------------------------------------------------
    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels ``Summary``: fit block, mixing proportions, coefficient tables."""
        return build_summary(self, alpha=_check_alpha(alpha))

    def _repr_html_(self) -> str:
        """Rich display in notebooks: the summary as HTML."""
        return str(self.summary().as_html())

    def __repr__(self) -> str:
        return (
            f"<EMGLMResults: {self.record.family.name} mixture, K={self.K}, "
            f"llf={self.llf:.4f}, converged={self.converged}>"
        )

    def _frame(self, values: Array) -> pd.DataFrame:
        return pd.DataFrame(
            np.array(values), index=self.record.row_index, columns=self.component_names
        )


def _check_alpha(alpha: Any) -> float:
    """``alpha`` as a Python float (NumPy scalars included), or :class:`InputError`."""
    if isinstance(alpha, (bool, np.bool_)) or not isinstance(alpha, numbers.Real):
        raise InputError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")
    value = float(alpha)
    if not 0 < value < 1:
        raise InputError(f"alpha must be a number strictly between 0 and 1; got {alpha!r}")
    return value


def _xlogx(p: Array) -> Array:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
