"""Gaussian components: closed-form log-density and dispersion; with the identity link the
M-step is weighted least squares."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf

from emglm.families.base import Array, Family, check_spread, register_family


class GaussianFamily(Family):
    """Normal responses; ``scale`` is the variance ``sigma**2`` (``trials`` act as variance
    weights, 1 unless the caller uses them)."""

    sm_class = smf.Gaussian
    dispersion_is_mean_square = True

    @property
    def fast_path(self) -> str | None:
        return "gaussian_identity" if type(self) is GaussianFamily and self._identity_link else None

    def __init__(self, sm_family: smf.Family | None = None) -> None:
        super().__init__(sm_family)
        self._identity_link = self.link_name == "identity"
        self.least_squares = self._identity_link

    def clip_mu(self, mu: Array) -> Array:
        return np.asarray(mu, dtype=float)

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_spread(y, label, self.name)

    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        var = scale / trials
        return np.asarray(-0.5 * ((y - mu) ** 2 / var + np.log(2.0 * np.pi * var)))

    def loglik_constant(self, y: Array, trials: Array) -> Array | None:
        if not self._identity_link:
            return None  # no fast path: loglik_eta evaluates the full log-density
        return np.asarray(0.5 * (np.log(trials) - np.log(2.0 * np.pi)))

    def _loglik_eta(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
        with_mean: bool,
    ) -> tuple[Array, Array | None]:
        if const is None or not self._identity_link:
            return super()._loglik_eta(y, eta, scale, trials, const, with_mean)
        scale_a = np.asarray(scale, dtype=float)
        ll = -0.5 * ((y - eta) ** 2 * (trials / scale_a) + np.log(scale_a)) + const
        return ll, eta

    def irls_factors(self, eta: Array, mu: Array, scale: Array | float) -> tuple[Array, Array]:
        if not self._identity_link:
            return super().irls_factors(eta, mu, scale)
        return np.ones_like(mu), np.ones_like(mu)  # canonical: a = V(mu) = 1, r = 1

    def irls_weights(
        self,
        eta: Array,
        mu: Array,
        scale: Array | float,
        wt: Array,
        weight_out: Array,
        score: Array,
    ) -> None:
        if not self._identity_link:
            super().irls_weights(eta, mu, scale, wt, weight_out, score)
            return
        np.copyto(weight_out, np.broadcast_to(wt, weight_out.shape))

    def update_dispersion(
        self, y: Array, mu: Array, w: Array, trials: Array, current: float
    ) -> float:
        """The closed-form ML variance ``sum w t (y - mu)**2 / sum w``."""
        wsum = float(w.sum())
        if wsum <= 0:
            return current
        return float(np.dot(w, trials * (y - mu) ** 2) / wsum)

    def dispersion_derivatives(
        self, y: Array, eta: Array, trials: Array, scale: Array
    ) -> tuple[Array, Array, Array]:
        """Closed form in ``log(sigma)``: ``u - 1`` and ``-2 u`` with
        ``u = t (y - mu)**2 / sigma**2``; the cross derivative is ``-2 dl/deta``."""
        mu = self.linkinv(eta)
        u = trials * (y - mu) ** 2 / scale
        cross = -2.0 * self.eta_derivatives(y, eta, trials, scale)[0]
        return u - 1.0, -2.0 * u, cross

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        return rng.normal(mu, np.sqrt(np.asarray(scale) / trials))


register_family(GaussianFamily, ("gaussian",))
