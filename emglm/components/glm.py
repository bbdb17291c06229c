"""The GLM driver: K GLMs of one family on one shared design.

:class:`GLMComponents` implements the component-model protocol
(:class:`emglm.components.base.ComponentModel`) with the blocked passes of
:mod:`emglm.components.kernels` and the monotone IRLS of :mod:`emglm.components.irls`. Its
parameters are :class:`GLMParams`: coefficients (K, p) and dispersions (K,).

Besides the protocol it offers what only a GLM mixture has: starts from one pooled GLM
(``init="fit"``, ``"quantile"``, ``"tail"``), complete parameters from bare coefficients, component
means, simulation for the parametric bootstrap and the checks of a finished fit (collapsed
variances, separated binomial components).

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.components import irls, kernels, residual_starts
from emglm.components.base import NextEStep
from emglm.data.arrays import MixtureData
from emglm.families import Family

Array = NDArray[np.float64]

#: Random starts this driver offers beyond the engine's own (see :mod:`emglm.engine.starts`).
START_METHODS = ("fit", "quantile", "tail")
# Spread of the multiplicative noise of init="fit" (em.glm uses 1 in em.glm, 0.2 in small.em).
FIT_NOISE = 0.5
#: Fitted probabilities closer than this to 0 or 1 count as numerically 0 or 1.
SEPARATION_EPS = 1e-10
# A variance within this relative distance of the floor sits on it.
_FLOOR_RTOL = 1e-6


@dataclass(frozen=True)
class GLMParams:
    """Parameters of K component GLMs.

    Attributes
    ----------
    coef : (K, p) coefficients.
    scale : (K,) dispersions (1 for families without one).
    """

    coef: Array
    scale: Array


@dataclass(frozen=True)
class GLMComponents:
    """K GLMs of one ``family`` on the design whose columns are ``x_names``.

    Examples
    --------
    >>> import numpy as np
    >>> from emglm.families import get_family
    >>> glm = GLMComponents(get_family("gaussian"), ["Intercept", "x"])
    >>> glm.n_params(2), glm.param_names(1)
    (6, [('comp1', 'Intercept'), ('comp1', 'x'), ('comp1', 'log(sigma)')])
    """

    family: Family
    x_names: tuple[str, ...] | list[str]

    # --- data derived once -----------------------------------------------------------------
    def component_data(self, data: MixtureData) -> irls.ComponentData:
        """The part of the data the component GLMs see, made once per data set (its
        normalising constants and pass flags are cached with it)."""
        return data.derived(
            "glm", lambda: irls.ComponentData(data.y, data.X, data.offset, data.trials)
        )

    def scale_floor(self, data: MixtureData) -> float:
        """Smallest dispersion allowed: a Gaussian variance collapsing onto a few points
        would make the likelihood unbounded, so variances stay above 1e-10 of the
        response's."""
        if not self.family.has_scale:
            return 0.0

        def floor() -> float:
            spread = float(np.var(data.y)) if data.y.size > 1 else 1.0
            return 1e-10 * max(spread, 1e-300)

        # Once per data set: every M-step and SQUAREM jump needs it.
        return data.derived("glm_scale_floor", floor)

    # --- the protocol ------------------------------------------------------------------------
    def n_components(self, params: GLMParams) -> int:
        """Number of components K."""
        return int(params.coef.shape[0])

    def e_step(
        self, data: MixtureData, params: GLMParams, log_prior: Array, linearise: bool
    ) -> kernels.EStepPass:
        """The E-step in one blocked pass (:func:`kernels.e_step_pass`); with ``linearise``,
        for families whose M-step can use it (:meth:`_uses_linearisation`), the pass also
        forms the first IRLS linearisation of the next M-step (for least squares: its
        normal equations and residual sums of squares, the whole M-step)."""
        cdata = self.component_data(data)
        return kernels.e_step_pass(
            data.X,
            data.y,
            cdata.pass_offset,
            cdata.pass_trials,
            cdata.loglik_constant(self.family),
            data.pass_weights,
            self.family,
            params.coef,
            params.scale,
            log_prior,
            linearise=linearise and self._uses_linearisation(),
            ones_col=cdata.ones_col,
        )

    def _uses_linearisation(self) -> bool:
        """Whether the M-step can start from the E-step pass's linearisation: IRLS
        families without a dispersion (:func:`irls.shares_passes`) and least squares."""
        return irls.shares_passes(self.family) or self.family.least_squares

    def log_densities(self, data: MixtureData, params: GLMParams) -> Array:
        """Every row's log-density under every component, (n, K), in one blocked pass."""
        cdata = self.component_data(data)
        return kernels.log_densities(
            data.X,
            data.y,
            cdata.pass_offset,
            cdata.pass_trials,
            cdata.loglik_constant(self.family),
            self.family,
            params.coef,
            params.scale,
        )

    def m_step_cold(self, data: MixtureData, wtau: Array) -> GLMParams:
        """Every component's GLM fitted to convergence from the weights alone."""
        n_comp = wtau.shape[1]
        coef, scale = irls.m_step_components(
            self.component_data(data), self.family, wtau, None, np.ones(n_comp), 1
        )
        return GLMParams(coef, np.maximum(scale, self.scale_floor(data)))

    def m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: GLMParams,
        next_estep: NextEStep | None,
        first: kernels.EStepPass | None,
        m_step_iter: int,
    ) -> tuple[GLMParams, kernels.EStepPass | None]:
        """``m_step_iter`` warm IRLS steps per component (:mod:`emglm.components.irls`);
        the E-step at the new coefficients comes back when the last step's check was a
        full E-step pass."""
        lin = None if first is None else first.linearisation
        floor = self.scale_floor(data)
        if self.family.least_squares:
            exact = self._least_squares_from_pass(data, params, first)
            if exact is not None:
                return exact, None
        cdata = self.component_data(data)
        if next_estep is None:
            coef, scale = irls.m_step_components(
                cdata, self.family, wtau, params.coef, params.scale, m_step_iter
            )
            return GLMParams(coef, np.maximum(scale, floor)), None
        coef, scale, fused = irls.m_step_components_and_e_step(
            cdata, self.family, wtau, params.coef, params.scale, m_step_iter, next_estep, lin
        )
        return GLMParams(coef, np.maximum(scale, floor)), fused

    def propose(
        self,
        data: MixtureData,
        wtau: Array,
        params: GLMParams,
        first: kernels.EStepPass | None,
    ) -> GLMParams | None:
        """One IRLS step of every component from the linearisation ``first`` carries,
        without its step-halving check (for least squares the exact M-step): the second EM
        step SQUAREM extrapolates from, made without a pass over the data. ``None`` when
        there is no such linearisation (a family whose M-step needs passes of its own) or
        a component has no weight."""
        if self.family.least_squares:
            return self._least_squares_from_pass(data, params, first)
        lin = None if first is None else first.linearisation
        if lin is None or not irls.shares_passes(self.family):
            return None
        if not np.all(kernels.column_sums(wtau) > 0):
            return None
        grams, rhs, _ = lin
        coef = irls.solve_normals(grams, rhs)
        return GLMParams(coef, np.array(params.scale, dtype=float, copy=True))

    def _least_squares_from_pass(
        self, data: MixtureData, params: GLMParams, first: kernels.EStepPass | None
    ) -> GLMParams | None:
        """The exact least-squares M-step from the E-step pass ``first`` alone
        (:func:`irls.least_squares_from_pass`), or ``None`` when it did not form what that
        needs (then the M-step reads the rows)."""
        # Passes of other kernels (the NumPy path) may not carry the sums: read the rows.
        rss, sums = getattr(first, "rss", None), getattr(first, "weight_sums", None)
        if first is None or first.linearisation is None or rss is None or sums is None:
            return None
        step = irls.least_squares_from_pass(first.linearisation, rss, params.coef, sums)
        if step is None:
            return None
        return GLMParams(step[0], np.maximum(step[1], self.scale_floor(data)))

    def min_weight(self, data: MixtureData) -> float:
        """A component needs as much weight as its GLM has parameters."""
        return float(self.per_component(data.n_columns))

    def per_component(self, p: int) -> int:
        """Parameters of one component: ``p`` coefficients, plus one for a dispersion."""
        return p + (1 if self.family.has_scale else 0)

    def n_params(self, n_comp: int) -> int:
        """``K p`` coefficients, plus ``K`` dispersions when the family has one."""
        return n_comp * self.per_component(len(self.x_names))

    def param_names(self, n_comp: int) -> list[tuple[str, str]]:
        """For each component: its coefficients, then the family's free dispersion
        (:attr:`~emglm.families.Family.free_dispersion_name`, e.g. ``log(sigma)``)."""
        names: list[tuple[str, str]] = []
        for k in range(n_comp):
            names += [(f"comp{k + 1}", t) for t in self.x_names]
            if self.family.has_scale:
                names.append((f"comp{k + 1}", self.family.free_dispersion_name))
        return names

    def pack(self, params: GLMParams) -> Array:
        """For each component its coefficients, then the family's free dispersion
        (:meth:`~emglm.families.Family.free_dispersion`: ``log(sigma_k)`` or
        ``log(alpha_k)``) when it has one."""
        parts = [params.coef]
        if self.family.has_scale:
            parts.append(np.asarray(self.family.free_dispersion(params.scale))[:, None])
        return np.concatenate(parts, axis=1).ravel()

    def unpack(self, data: MixtureData, vec: Array, like: GLMParams) -> GLMParams:
        """Inverse of :meth:`pack`; dispersions at least :meth:`scale_floor`."""
        n_comp, p = like.coef.shape
        block = np.asarray(vec, dtype=float).reshape(n_comp, self.per_component(p))
        if not self.family.has_scale:
            return GLMParams(block[:, :p].copy(), np.ones(n_comp))
        scale = np.maximum(self.family.dispersion_from_free(block[:, p]), self.scale_floor(data))
        return GLMParams(block[:, :p].copy(), np.asarray(scale, dtype=float))

    def take(self, params: GLMParams, keep: NDArray[np.bool_] | NDArray[np.intp]) -> GLMParams:
        """The kept (boolean mask) or reordered (indices) components."""
        return GLMParams(params.coef[keep], params.scale[keep])

    def sort_keys(self, params: GLMParams) -> list[tuple[float, ...]]:
        """The coefficients, rounded, compared in order."""
        return [tuple(np.round(c, 10)) for c in params.coef]

    def louis_pieces(self, data: MixtureData, params: GLMParams, tau: Array) -> tuple[Array, Array]:
        """Complete-data scores (K, n, P) under every label, and minus the complete-data
        Hessian weighted by ``w tau`` (P, P), of :meth:`pack`'s parameters. The Hessian is
        the *observed* one (it uses the link's second derivative), so non-canonical links
        are right."""
        fam, X, w = self.family, data.X, data.weights
        n_comp, p = params.coef.shape
        per = self.per_component(p)
        size = n_comp * per
        eta = data.linear_predictor(params.coef)
        y, trials, scale = data.y[:, None], data.trials[:, None], params.scale[None, :]
        d1, d2 = fam.eta_derivatives(y, eta, trials, scale)
        scores = np.zeros((n_comp, data.n_rows, size))
        neg_hess = np.zeros((size, size))
        if fam.has_scale:
            s1, s2, s12 = fam.dispersion_derivatives(y, eta, trials, scale)
        for k in range(n_comp):
            cs = slice(k * per, k * per + p)
            wt = w * tau[:, k]
            scores[k, :, cs] = d1[:, k, None] * X
            neg_hess[cs, cs] = -(X.T * (wt * d2[:, k])) @ X
            if fam.has_scale:
                j = k * per + p
                scores[k, :, j] = s1[:, k]
                # s12 = d2 l / d eta d(free dispersion); -s12 = 2 dl/deta for log(sigma).
                cross = X.T @ (wt * -s12[:, k])
                neg_hess[cs, j] = cross
                neg_hess[j, cs] = cross
                neg_hess[j, j] = -float(wt @ s2[:, k])
        return scores, neg_hess

    def why_singular(self, params: GLMParams, rtol: float = 0.05) -> str | None:
        """Name two components with nearly the same coefficients and dispersion (within
        ``rtol``): the likely reason an information matrix is singular or indefinite, as
        when a one-process sample is fitted with K=2 and the components collapse."""
        coef, scale = params.coef, params.scale
        n_comp = self.n_components(params)
        for a in range(n_comp):
            for b in range(a + 1, n_comp):
                close = np.all(np.abs(coef[a] - coef[b]) <= rtol * (1.0 + np.abs(coef[a])))
                if close and abs(np.log(scale[a] / scale[b])) <= rtol:
                    return (
                        f"too many components: comp{a + 1} and comp{b + 1} have nearly the "
                        f"same coefficients (within {rtol:.0%}), so the mixture is not "
                        "identified; fit a smaller K (compare BIC with select_k)"
                    )
        return None

    # --- what only a GLM mixture offers ----------------------------------------------------
    def means(self, data: MixtureData, params: GLMParams) -> Array:
        """Component means (n, K)."""
        return self.family.linkinv(data.linear_predictor(params.coef))

    def pooled_fit(self, data: MixtureData) -> Array:
        """Coefficients (p,) of one GLM fitted to all rows (with their case weights); made
        once per data (every ``"fit"`` and ``"quantile"`` start of a warm-up uses it)."""
        key = f"pooled GLM {type(self).__name__} {self.family.name} {self.x_names}"
        return data.derived(
            key, lambda: irls.fit_glm(self.component_data(data), self.family, data.weights)
        )

    def random_start(
        self, method: str, data: MixtureData, n_comp: int, rng: np.random.Generator
    ) -> GLMParams | Array:
        """A start from one pooled GLM: ``"fit"`` perturbs its coefficients by independent
        ``N(1, FIT_NOISE^2)`` factors per component (em.glm's ``init.fit``); ``"quantile"``
        cuts its sorted Pearson residuals into ``n_comp`` blocks of random size (each at
        least ``1 / (2 n_comp)`` of the rows); ``"tail"`` puts a small tail of them (a few
        per cent of the rows, low or high) in one component and cuts the rest as
        ``"quantile"`` does (:mod:`emglm.components.residual_starts`). The last two return
        one-hot posteriors.

        Examples
        --------
        >>> from emglm.families import get_family
        >>> y = np.r_[np.zeros(5), np.full(5, 10.0)]
        >>> data = MixtureData(y, np.ones((10, 1)), np.zeros(10), np.ones(10), np.ones(10),
        ...                    np.ones((10, 1)))
        >>> glm = GLMComponents(get_family("gaussian"), ["Intercept"])
        >>> tau = glm.random_start("quantile", data, 2, np.random.default_rng(0))
        >>> tau[:, 0].tolist() == [1.0] * 5 + [0.0] * 5  # the low rows start together
        True
        >>> glm.random_start("tail", data, 2, np.random.default_rng(0)).sum(axis=0).tolist()
        [8.0, 2.0]
        """
        coef = self.pooled_fit(data)
        if method == "fit":
            factors = rng.normal(1.0, FIT_NOISE, size=(n_comp, coef.shape[0]))
            return self.from_coef(data, coef[None, :] * factors)
        resid = self.pearson_residuals(data, coef)
        if method == "tail":
            need = math.ceil(self.min_weight(data))
            labels = residual_starts.tail_labels(resid, n_comp, rng, min_rows=need)
        else:
            labels = residual_starts.quantile_labels(resid, n_comp, rng)
        return np.eye(n_comp)[labels]

    def pearson_residuals(self, data: MixtureData, coef: Array) -> Array:
        """Pearson residuals (n,) of one GLM with coefficients ``coef`` (p,)."""
        mu = self.family.linkinv(data.linear_predictor(coef))
        var = np.maximum(self.family.variance(mu) / data.trials, 1e-300)
        return (data.y - mu) / np.sqrt(var)

    def from_coef(self, data: MixtureData, coef: Array) -> GLMParams:
        """Complete bare coefficients (K, p) into parameters: dispersions (Gaussian
        variances) start from each row's nearest component mean, so that no component
        starts absurdly wide or narrow."""
        n_comp = coef.shape[0]
        scale = np.ones(n_comp)
        if self.family.has_scale:
            mu = self.family.linkinv(data.linear_predictor(coef))
            nearest = np.argmin(np.abs(data.y[:, None] - mu), axis=1)
            overall = max(float(np.var(data.y)), 1e-12)
            for k in range(n_comp):
                rows = nearest == k
                if rows.sum() > data.n_columns:
                    resid = data.y[rows] - mu[rows, k]
                    scale[k] = max(float(np.mean(resid**2)), 1e-6 * overall)
                else:
                    scale[k] = overall
        return GLMParams(np.array(coef, dtype=float), scale)

    def check_params(self, params: GLMParams, n_comp: int, p: int) -> str | None:
        """What is wrong with user-given parameters, or ``None``."""
        for name, shape in {"coef": (n_comp, p), "scale": (n_comp,)}.items():
            value = getattr(params, name)
            if value.shape != shape:
                return (
                    f"start.{name} has shape {value.shape}; expected {shape} "
                    f"(K = {n_comp}, p = {p} design columns)"
                )
            if not np.all(np.isfinite(value)):
                return f"start.{name} holds non-finite values"
        return None

    def simulate(
        self,
        data: MixtureData,
        params: GLMParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> Array:
        """Responses drawn from the component each row is labelled with."""
        eta = np.einsum("ij,ij->i", data.X, params.coef[labels]) + data.offset
        mu = self.family.linkinv(eta)
        y = self.family.simulate(mu, np.asarray(params.scale)[labels], data.trials, rng)
        return np.asarray(y, dtype=float)

    def resimulated(
        self,
        data: MixtureData,
        params: GLMParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> MixtureData:
        """The data with a response drawn from the labelled components (the parametric
        bootstrap)."""
        return data.with_responses((self.simulate(data, params, labels, rng),))

    def match_cost(self, fitted: GLMParams, other: GLMParams) -> Array:
        """Cost (K, K) of matching ``other``'s component k to ``fitted``'s component j: the
        squared distance between their coefficients, each coordinate scaled by the spread of
        the fitted coefficients across components (so no covariate dominates by its units),
        plus the squared log-ratio of the sigmas."""
        spread = np.std(fitted.coef, axis=0)
        spread = np.where(spread > 0, spread, 1.0)
        diff = (fitted.coef[:, None, :] - other.coef[None, :, :]) / spread
        cost = np.sum(diff**2, axis=2)
        if fitted.scale.size and np.any(fitted.scale != 1.0):
            cost += (0.5 * np.log(fitted.scale[:, None] / other.scale[None, :])) ** 2
        return np.asarray(cost)

    def spurious(self, data: MixtureData, params: GLMParams) -> str | None:
        """Why a fit is a spurious maximum of an unbounded likelihood, or ``None``."""
        collapsed = self.collapsed(data, params)
        if collapsed.size:
            return f"the variance of component {collapsed[0] + 1} collapsed"
        return None

    def collapsed(self, data: MixtureData, params: GLMParams) -> NDArray[np.intp]:
        """Components whose dispersion sits on :meth:`scale_floor`: each sits on a few
        (nearly) equal responses, where the likelihood is unbounded."""
        floor = self.scale_floor(data)
        if not self.family.has_scale or not self.family.dispersion_can_collapse or floor <= 0:
            return np.zeros(0, dtype=int)
        return np.flatnonzero(params.scale <= floor * (1.0 + _FLOOR_RTOL))

    def separated(
        self, data: MixtureData, params: GLMParams, posterior: Array
    ) -> list[tuple[int, int]]:
        """Components of a family whose means can reach their bounds (binomial) with fitted
        probabilities numerically 0 or 1 at rows they hold (R's ``glm.fit`` rule): ``(k, number of such rows)`` for every flagged component. A
        row is held by component k when its posterior for k is at least 1/2 and its case
        weight is positive."""
        if not self.family.can_separate:
            return []
        mu = self.means(data, params)
        extreme = (mu <= SEPARATION_EPS) | (mu >= 1.0 - SEPARATION_EPS)
        held = (posterior >= 0.5) & (data.weights[:, None] > 0)
        counts = np.sum(extreme & held, axis=0)
        return [(int(k), int(counts[k])) for k in np.flatnonzero(counts)]
