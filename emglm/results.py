"""The results of a fitted mixture of GLMs, in statsmodels style.

:class:`EMGLMResults` is immutable: it holds the model and the EM outcome, and computes
everything else (tables, criteria, residuals, predictions) from them on first use.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm import em, formula, mixing
from emglm.exceptions import InputError

if TYPE_CHECKING:
    from statsmodels.iolib.summary import Summary

    from emglm.model import EMGLM

Array = NDArray[np.float64]

PREDICT_KINDS = ("mean", "component", "prob", "posterior", "linear")
RESID_LEVELS = ("mixture", "component", "pooled")


@dataclass(frozen=True, eq=False)
class EMGLMResults:
    """A fitted finite mixture of GLMs.

    Derived arrays are computed on first use; every table is a fresh copy, so changing it
    never changes the results. Per-row outputs carry the index of the rows used
    in the fit (rows with missing values dropped). Components are in canonical order:
    decreasing mixing proportion, ties broken by the coefficients.

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=(df.index >= 2500).astype(int), tol=1e-10)
    >>> list(res.params.columns), float(res.mixing.sum().round(6))
    (['comp1', 'comp2'], 1.0)
    """

    model: EMGLM
    em: em.EMFit
    method: str
    init: str

    # --- parameters ------------------------------------------------------------------------
    @property
    def K(self) -> int:
        """Number of components."""
        return self.em.params.n_components

    @property
    def component_names(self) -> list[str]:
        """``["comp1", ..., "compK"]``."""
        return [f"comp{k + 1}" for k in range(self.K)]

    @property
    def params(self) -> pd.DataFrame:
        """Coefficients: rows are design columns, columns are components."""
        return pd.DataFrame(
            self.em.params.coef.T, index=self.model.design.x_names, columns=self.component_names
        )

    @property
    def mixing(self) -> pd.Series:
        """Mixing proportions (for a concomitant model, the average prior probabilities)."""
        d = self.model.data
        return pd.Series(
            mixing.proportions(d.Z, self.em.params.gamma, d.weights),
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
            index=self.model.design.z_names,
            columns=self.component_names,
        )

    @property
    def prior_probs(self) -> pd.DataFrame:
        """Prior class probabilities ``pi_ik`` of the fitted rows, n x K (the same in every
        row without a concomitant model); ``mixing`` is their weighted average."""
        return self._frame(self._prior)

    @property
    def scale(self) -> pd.Series:
        """Dispersion per component: the ML variance sigma^2 for Gaussian, 1 for Poisson
        and binomial."""
        return pd.Series(self.em.params.scale.copy(), index=self.component_names, name="scale")

    # --- fit statistics --------------------------------------------------------------------
    @property
    def llf(self) -> float:
        """Observed-data log-likelihood, with normalising constants (as R's ``logLik``)."""
        return self.em.llf

    @property
    def nobs(self) -> float:
        """Number of observations: the sum of case weights (rows when unweighted)."""
        return self.model.data.nobs

    @property
    def n_dropped(self) -> int:
        """Rows dropped because a used variable was missing."""
        return self.model.arrays.n_dropped

    @property
    def k_params(self) -> int:
        """Free parameters: K*p coefficients, K dispersions (when estimated) and the
        (K-1)*q mixing parameters (q = 1 for constant proportions), as flexmix counts."""
        p = self.model.data.X.shape[1]
        q = self.model.data.Z.shape[1]
        n_scale = self.K if self.model.family.has_scale else 0
        return self.K * p + n_scale + (self.K - 1) * q

    @property
    def aic(self) -> float:
        """Akaike information criterion, ``-2 llf + 2 k_params``."""
        return -2.0 * self.llf + 2.0 * self.k_params

    @property
    def bic(self) -> float:
        """Bayesian information criterion, ``-2 llf + log(nobs) k_params``."""
        return -2.0 * self.llf + np.log(self.nobs) * self.k_params

    @property
    def icl(self) -> float:
        """Integrated completed likelihood: BIC plus twice the classification entropy
        ``-sum_i w_i sum_k tau_ik log tau_ik`` (as flexmix's ``ICL``)."""
        tau = self.em.posterior
        entropy = -float(self.model.data.weights @ np.sum(_xlogx(tau), axis=1))
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
            self.em.posterior.argmax(axis=1) + 1, index=self.model.arrays.row_index, name="class"
        )

    @cached_property
    def _component_means(self) -> Array:
        d = self.model.data
        return self.model.family.linkinv(d.X @ self.em.params.coef.T + d.offset[:, None])

    @cached_property
    def _prior(self) -> Array:
        d = self.model.data
        prior = np.exp(mixing.log_prior(d.Z, self.em.params.gamma))
        return np.broadcast_to(prior, (d.y.shape[0], self.K))

    @property
    def fittedvalues(self) -> pd.Series:
        """Mixture mean ``sum_k pi_ik mu_ik`` per row (binomial: a proportion)."""
        return pd.Series(
            np.sum(self._prior * self._component_means, axis=1),
            index=self.model.arrays.row_index,
            name="fitted",
        )

    def predict(
        self,
        newdata: pd.DataFrame | None = None,
        which: str = "mean",
        *,
        offset: Any = None,
        exposure: Any = None,
    ) -> pd.Series | pd.DataFrame:
        """Predict on the fitted rows or on ``newdata`` (the formula is re-applied).

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows with the columns the formula uses; default the fitted rows.
        which : {"mean", "component", "prob", "posterior", "linear"}
            ``"mean"``: the mixture mean (Series). ``"component"``: each component's mean
            (DataFrame). ``"linear"``: each component's linear predictor. ``"prob"``: prior
            class probabilities (from the concomitant model when there is one).
            ``"posterior"``: posterior class probabilities given the response, which
            ``newdata`` must then hold.
        offset, exposure : array-like, optional
            For ``newdata``, when the model was fitted with them given as arrays.
        """
        if which not in PREDICT_KINDS:
            raise InputError(
                f"which={which!r} is not allowed; choose one of {', '.join(map(repr, PREDICT_KINDS))}"
            )
        design = self.model.design
        if newdata is None:
            d = self.model.data
            X, off, Z, index = d.X, d.offset, d.Z, self.model.arrays.row_index
        else:
            X, off, Z = formula.new_arrays(design, newdata, offset=offset, exposure=exposure)
            index = newdata.index
        coef = self.em.params.coef
        eta = X @ coef.T + off[:, None]
        if which == "linear":
            return pd.DataFrame(eta, index=index, columns=self.component_names)
        mu = self.model.family.linkinv(eta)
        if which == "component":
            return pd.DataFrame(mu, index=index, columns=self.component_names)
        prior = np.broadcast_to(np.exp(mixing.log_prior(Z, self.em.params.gamma)), mu.shape)
        if which == "prob":
            return pd.DataFrame(prior.copy(), index=index, columns=self.component_names)
        if which == "mean":
            return pd.Series(np.sum(prior * mu, axis=1), index=index, name="predicted")
        if newdata is None:
            return self.posterior
        raise InputError(
            "which='posterior' on newdata needs the response; refit with start=res.params "
            "and max_iter=1 on the new data, or use which='prob'"
        )

    # --- residuals -------------------------------------------------------------------------
    def resid(self, kind: str = "response", level: str = "mixture") -> pd.Series | pd.DataFrame:
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
        """
        kinds = ("response", "pearson", "deviance")
        if kind not in kinds:
            raise InputError(f"kind={kind!r} is not allowed; choose one of {kinds}")
        if level not in RESID_LEVELS:
            raise InputError(f"level={level!r} is not allowed; choose one of {RESID_LEVELS}")
        d, fam = self.model.data, self.model.family
        mu = self._component_means
        var = self.em.params.scale * fam.variance(mu) / d.trials[:, None]
        if level == "component":
            m, v = mu, var
        else:
            weight = self._prior if level == "mixture" else self.em.posterior
            m = np.sum(weight * mu, axis=1)
            if level == "mixture":
                v = np.sum(weight * (var + mu**2), axis=1) - m**2
            else:
                v = np.sum(weight * var, axis=1)
        y = d.y if m.ndim == 1 else d.y[:, None]
        if kind == "response":
            r = y - m
        elif kind == "pearson":
            r = (y - m) / np.sqrt(np.maximum(v, 1e-300))
        else:
            trials = d.trials if m.ndim == 1 else d.trials[:, None]
            dev = np.maximum(fam.unit_deviance(y, fam.clip_mu(m), trials), 0.0)
            r = np.sign(y - m) * np.sqrt(dev)
        if r.ndim == 2:
            return self._frame(r)
        return pd.Series(r, index=self.model.arrays.row_index, name=f"resid_{kind}")

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

    # --- output ----------------------------------------------------------------------------
    def summary(self, alpha: float = 0.05) -> Summary:
        """A statsmodels ``Summary``: fit block, mixing proportions, coefficient tables."""
        from emglm.summary import build_summary

        return build_summary(self, alpha=alpha)

    def __repr__(self) -> str:
        return (
            f"<EMGLMResults: {self.model.family.name} mixture, K={self.K}, "
            f"llf={self.llf:.4f}, converged={self.converged}>"
        )

    def _frame(self, values: Array) -> pd.DataFrame:
        return pd.DataFrame(
            np.array(values), index=self.model.arrays.row_index, columns=self.component_names
        )


def _xlogx(p: Array) -> Array:
    return np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
