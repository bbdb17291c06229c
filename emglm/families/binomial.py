"""Binomial components: proportions of ``trials``, with a fast path for the logit link."""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf
from scipy import special

from emglm.exceptions import InputError
from emglm.families.base import (
    _LOGIT_MAX,
    _MU_EPS,
    Array,
    Family,
    is_zero,
    log_factorial,
    register_family,
    show_values,
)


class BinomialFamily(Family):
    """Binomial proportions; responses may be 0/1, booleans or cbind(successes, failures)."""

    sm_class = smf.Binomial
    has_scale = False
    has_zero_mass = True
    two_column_response = True
    can_separate = True

    @property
    def fast_path(self) -> str | None:
        return "binomial_logit" if type(self) is BinomialFamily and self._logit_link else None

    def linkinv(self, eta: Array) -> Array:
        mu = super().linkinv(eta)
        # The log link's mean is not bounded by 1 (other links are clipped already).
        return self.clip_mu(mu) if self._log_link else mu

    def clip_mu(self, mu: Array) -> Array:
        return np.clip(mu, _MU_EPS, 1.0 - _MU_EPS)

    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        s = y * trials
        return np.asarray(
            _log_choose(trials, s) + special.xlogy(s, mu) + special.xlog1py(trials - s, -mu)
        )

    def loglik_constant(self, y: Array, trials: Array) -> Array | None:
        if not self._logit_link:
            return None  # no fast path: loglik_eta evaluates the full log-density
        return _log_choose(trials, y * trials)

    def _loglik_eta(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
        with_mean: bool,
    ) -> tuple[Array, Array | None]:
        if const is None or not self._logit_link:
            return super()._loglik_eta(y, eta, scale, trials, const, with_mean)
        return _binomial_logit(y, eta, trials, const, with_mean)

    def irls_factors(self, eta: Array, mu: Array, scale: Array | float) -> tuple[Array, Array]:
        if not self._logit_link:
            return super().irls_factors(eta, mu, scale)
        return mu * (1.0 - mu), np.ones_like(mu)  # canonical: a = V(mu), r = 1

    def irls_weights(
        self,
        eta: Array,
        mu: Array,
        scale: Array | float,
        wt: Array,
        weight_out: Array,
        score: Array,
    ) -> None:
        if not self._logit_link:
            super().irls_weights(eta, mu, scale, wt, weight_out, score)
            return
        np.multiply(wt, mu, out=weight_out)
        weight_out -= weight_out * mu

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        n = np.asarray(trials).astype(np.int64)
        return np.asarray(rng.binomial(n, mu) / np.maximum(trials, 1))

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        bad = (y < 0) | (y > 1)
        if bad.any():
            raise InputError(
                f"binomial response {label!r} must lie in [0, 1] (0/1, booleans or "
                f"proportions), or be given as cbind(successes, failures); "
                f"found {show_values(y[bad])}"
            )
        positive = trials > 0
        if np.all(y[positive] == 0) or np.all(y[positive] == 1):
            value = "0" if np.all(y[positive] == 0) else "1"
            raise InputError(
                f"binomial response {label!r} is {value} in every row: the probability "
                "has no finite maximum-likelihood estimate (its logit goes to "
                f"{'-' if value == '0' else '+'}inf) and no components can be told "
                "apart; there is nothing to fit"
            )


def _log_choose(trials: Array | float, s: Array | float) -> Array:
    """``log C(trials, s)``, the data constant of the binomial log-density."""
    return np.asarray(log_factorial(trials) - log_factorial(s) - log_factorial(trials - s))


def _binomial_logit(
    y: Array, eta: Array, trials: Array | float, const: Array | float, with_mean: bool
) -> tuple[Array, Array | None]:
    """Binomial/logit log-density and, when asked, the mean ``expit(eta)``, from one
    ``exp`` and one ``log1p``.

    With ``s = y t`` successes of ``t`` trials and ``u = exp(-|eta|)`` (never overflows),
    ``s log(mu) + (t - s) log(1 - mu) = s min(eta, 0) - (t - s) max(eta, 0) - t log1p(u)``
    and ``expit(eta) = exp(min(eta, 0)) / (1 + u)``: accurate to rounding for every
    ``eta``, without the cancellation of ``s eta - t log(1 + exp(eta))`` when ``s = t``, and
    several times cheaper than ``np.logaddexp`` and ``scipy.special.expit``. ``eta`` is
    clamped where :meth:`Family.linkinv` clamps the mean.
    """
    e = np.clip(eta, -_LOGIT_MAX, _LOGIT_MAX)
    neg = np.minimum(e, 0.0)
    pos = np.maximum(e, 0.0, out=e)
    u = np.subtract(neg, pos)
    np.exp(u, out=u)  # exp(-|eta|)
    s = y * trials
    ll = np.log1p(u)
    ll *= -trials
    pos *= trials - s
    ll -= pos
    pos = np.multiply(neg, s, out=pos)
    ll += pos
    if not is_zero(const):
        ll += const
    if not with_mean:
        return ll, None
    np.exp(neg, out=neg)
    u += 1.0
    neg /= u
    return ll, neg


register_family(BinomialFamily, ("binomial",))
