"""Poisson components: closed-form log-density, and a fast path for the log link."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf
from scipy import special

from emglm.exceptions import InputError
from emglm.families.base import (
    _ETA_MAX,
    Array,
    Family,
    is_zero,
    log_factorial,
    register_family,
    show_values,
)


class PoissonFamily(Family):
    """Poisson counts; with the log link, IRLS and the log-density work on ``eta``."""

    sm_class = smf.Poisson
    has_scale = False
    has_zero_mass = True

    @property
    def fast_path(self) -> str | None:
        return "poisson_log" if type(self) is PoissonFamily and self._log_link else None

    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        return np.asarray(special.xlogy(y, mu) - mu - log_factorial(y))

    def loglik_constant(self, y: Array, trials: Array) -> Array | None:
        if not self._log_link:
            return None  # no fast path: loglik_eta evaluates the full log-density
        return np.asarray(-log_factorial(y))

    def _loglik_eta(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
        with_mean: bool,
    ) -> tuple[Array, Array | None]:
        if const is None or not self._log_link:
            return super()._loglik_eta(y, eta, scale, trials, const, with_mean)
        # log mu = eta: y eta - exp(eta), in place on the clipped copy of eta.
        e = np.clip(eta, -_ETA_MAX, _ETA_MAX)
        mu = np.exp(e)
        e *= y
        e -= mu
        if not is_zero(const):
            e += const
        return e, mu

    def irls_factors(self, eta: Array, mu: Array, scale: Array | float) -> tuple[Array, Array]:
        if not self._log_link:
            return super().irls_factors(eta, mu, scale)
        return np.asarray(mu), np.ones_like(mu)  # canonical: a = V(mu) = mu, r = 1

    def irls_weights(
        self,
        eta: Array,
        mu: Array,
        scale: Array | float,
        wt: Array,
        weight_out: Array,
        score: Array,
    ) -> None:
        if not self._log_link:
            super().irls_weights(eta, mu, scale, wt, weight_out, score)
            return
        np.multiply(wt, mu, out=weight_out)

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        return rng.poisson(mu).astype(float)

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_counts(y, label, self.name)


def check_counts(y: Array, label: str, name: str) -> None:
    """Refuse a count response that is negative, not an integer or 0 in every row."""
    bad = (y < 0) | (y != np.round(y))
    if bad.any():
        raise InputError(
            f"{name} response {label!r} must hold non-negative integer counts; "
            f"found {show_values(y[bad])}"
        )
    if not np.any(y > 0):
        raise InputError(
            f"{name} response {label!r} is 0 in every row: the mean has no finite "
            "maximum-likelihood estimate (the log-mean goes to -inf) and no "
            "components can be told apart; there is nothing to fit"
        )


register_family(PoissonFamily, ("poisson",))
