"""Families: an adapter over statsmodels families and links.

The EM engine needs, for each family, the full log-density of a response (with its
normalising constants, so that log-likelihoods match R's ``logLik``), the IRLS working
quantities, the unit deviance and a simulator. :class:`Family` supplies them on NumPy
arrays. Poisson, Gaussian and binomial log-densities are written out here for speed; any
other statsmodels family falls back to its own ``loglike_obs``.

Conventions used throughout the package:

* binomial responses are proportions ``y`` in [0, 1] with ``trials`` (the number of
  Bernoulli trials per row, as statsmodels' ``var_weights``); for 0/1 data ``trials`` is 1;
* ``scale`` is the dispersion: the variance ``sigma**2`` for Gaussian, 1 for Poisson and
  binomial, and the ML dispersion for other families that have one (e.g. Gamma).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import statsmodels.genmod.families as smf
from numpy.typing import NDArray
from scipy import optimize, special

from emglm.exceptions import InputError, InputTypeError

Array = NDArray[np.float64]

FAMILY_NAMES = ("poisson", "gaussian", "binomial")
# Keeps mu strictly inside the family's domain, so log-densities stay finite.
_MU_EPS = 1e-12
# The log link's eta is clipped to [-_ETA_MAX, _ETA_MAX]: exp(300) ~ 1e130 is far beyond any
# count (counts are exact in doubles only below 2**53 ~ exp(36.7)), yet its square times
# covariates stays finite in the IRLS Gram matrix, and exp(-300) keeps log(mu) finite.
_ETA_MAX = 300.0
# logit(1 - _MU_EPS): the logit link's eta where clip_mu starts clamping.
_LOGIT_MAX = float(np.log1p(-_MU_EPS) - np.log(_MU_EPS))


@dataclass(frozen=True)
class Family:
    """A GLM family with its link, as used by the EM engine.

    Parameters
    ----------
    sm_family : statsmodels.genmod.families.Family
        The statsmodels family instance (with its link).

    Examples
    --------
    >>> from emglm.families import get_family
    >>> fam = get_family("poisson")
    >>> fam.name, fam.link_name, fam.has_scale
    ('poisson', 'log', False)
    """

    sm_family: smf.Family

    @property
    def name(self) -> str:
        """Lower-case family name, e.g. ``"poisson"`` or ``"gamma"``."""
        return _family_name(self.sm_family)

    @property
    def link_name(self) -> str:
        """Lower-case link name, e.g. ``"log"`` or ``"probit"``."""
        return type(self.sm_family.link).__name__.lower()

    @property
    def has_scale(self) -> bool:
        """Whether each component estimates a dispersion parameter."""
        return self.name not in ("poisson", "binomial", "negativebinomial")

    @property
    def is_gaussian_identity(self) -> bool:
        """Whether the M-step has the closed form of weighted least squares."""
        return self.name == "gaussian" and self.link_name == "identity"

    # --- link -----------------------------------------------------------------------------
    def linkinv(self, eta: Array) -> Array:
        """Mean from linear predictor, kept inside the family's domain.

        Never overflows: the log link clips ``eta`` to ``+-_ETA_MAX``, the logit link uses the
        stable ``expit``, and other links' limits at +-inf are the right values, so their
        overflow warnings are silenced.
        """
        if self.link_name == "log":
            mu = np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
            return self.clip_mu(mu) if self.name == "binomial" else mu
        if self.link_name == "logit":
            return self.clip_mu(special.expit(eta))
        with np.errstate(over="ignore", under="ignore"):
            mu = self.sm_family.link.inverse(eta)
        return self.clip_mu(mu)

    def link(self, mu: Array) -> Array:
        """Linear predictor from mean."""
        return np.asarray(self.sm_family.link(mu), dtype=float)

    def mu_eta(self, eta: Array) -> Array:
        """Derivative d mu / d eta at ``eta``."""
        if self.link_name == "log":
            return np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
        if self.link_name == "logit":
            # From the clipped mean (as R's floor at machine eps): where fitted
            # probabilities saturate, IRLS then moves eta by O(1) steps, not by 1e300.
            mu = self.linkinv(eta)
            return mu * (1.0 - mu)
        return _finite_limit(self.sm_family.link.inverse_deriv, eta)

    def mu_eta2(self, eta: Array) -> Array:
        """Second derivative d2 mu / d eta2 at ``eta`` (finite for every ``eta``)."""
        if self.link_name == "log":
            return self.mu_eta(eta)
        if self.link_name == "logit":
            p = special.expit(eta)
            return p * special.expit(-eta) * (1.0 - 2.0 * p)
        return _finite_limit(self.sm_family.link.inverse_deriv2, eta)

    def variance(self, mu: Array) -> Array:
        """Variance function V(mu) (per trial for binomial)."""
        return np.asarray(self.sm_family.variance(mu), dtype=float)

    def clip_mu(self, mu: Array) -> Array:
        """Keep ``mu`` strictly inside the family's domain."""
        if self.name == "binomial":
            return np.clip(mu, _MU_EPS, 1.0 - _MU_EPS)
        if self.name != "gaussian":
            return np.maximum(mu, 1e-300)
        return np.asarray(mu, dtype=float)

    # --- densities ------------------------------------------------------------------------
    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        """Log-density of each response, with normalising constants.

        ``y`` and ``trials`` have shape (n,) or (n, 1); ``mu`` (n,) or (n, K); ``scale`` a
        scalar or (K,). The result broadcasts to the shape of ``mu``.
        """
        name = self.name
        if name == "poisson":
            return special.xlogy(y, mu) - mu - special.gammaln(y + 1.0)
        if name == "binomial":
            s = y * trials
            return (
                special.gammaln(trials + 1.0)
                - special.gammaln(s + 1.0)
                - special.gammaln(trials - s + 1.0)
                + special.xlogy(s, mu)
                + special.xlog1py(trials - s, -mu)
            )
        if name == "gaussian":
            # trials act as variance weights (1 unless the caller uses var weights).
            var = scale / trials
            return -0.5 * ((y - mu) ** 2 / var + np.log(2.0 * np.pi * var))
        y_b, mu_b = np.broadcast_arrays(y, mu)
        scale_b = np.broadcast_to(np.asarray(scale, dtype=float), mu_b.shape)
        tr_b = np.broadcast_to(trials, mu_b.shape)
        out = self.sm_family.loglike_obs(y_b, mu_b, var_weights=tr_b, scale=scale_b)
        return np.asarray(out, dtype=float)

    def loglik_constant(self, y: Array, trials: Array) -> Array | None:
        """The part of the log-density that depends on the data only, shape (n,).

        Computed once per data set, so that :meth:`loglik_eta` does not re-evaluate
        ``gammaln`` (the dearest term) at every EM iteration. ``None`` for families whose
        log-density is taken from statsmodels.
        """
        name = self.name
        if name == "poisson":
            return np.asarray(-special.gammaln(y + 1.0))
        if name == "binomial":
            s = y * trials
            return np.asarray(
                special.gammaln(trials + 1.0)
                - special.gammaln(s + 1.0)
                - special.gammaln(trials - s + 1.0)
            )
        if name == "gaussian":
            return np.asarray(0.5 * (np.log(trials) - np.log(2.0 * np.pi)))
        return None

    def loglik_eta(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
    ) -> Array:
        """Log-density from the linear predictor (offset included), as :meth:`loglik`.

        ``const`` is :meth:`loglik_constant` of the same rows (broadcastable like ``y``).
        Poisson with the log link, binomial with the logit link and Gaussian with the
        identity link work on ``eta`` directly (``log mu = eta``; no exp/log round trip);
        their ``eta`` is clamped where :meth:`linkinv` clamps ``mu``, so overflow is guarded
        in the same pass. Other cases evaluate :meth:`loglik` at :meth:`linkinv`.
        """
        return self._loglik_eta(y, eta, scale, trials, const, with_mean=False)[0]

    def loglik_and_mean(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
    ) -> tuple[Array, Array]:
        """:meth:`loglik_eta` and the mean :meth:`linkinv` ``(eta)``, sharing the work."""
        ll, mu = self._loglik_eta(y, eta, scale, trials, const, with_mean=True)
        assert mu is not None
        return ll, mu

    def _loglik_eta(
        self,
        y: Array,
        eta: Array,
        scale: Array | float,
        trials: Array | float,
        const: Array | float | None,
        with_mean: bool,
    ) -> tuple[Array, Array | None]:
        name, link = self.name, self.link_name
        if const is not None:
            if name == "poisson" and link == "log":
                e = np.clip(eta, -_ETA_MAX, _ETA_MAX)
                mu = np.exp(e)
                e *= y
                e -= mu
                if not _is_zero(const):
                    e += const
                return e, mu
            if name == "binomial" and link == "logit":
                return _binomial_logit(y, eta, trials, const, with_mean)
            if name == "gaussian" and link == "identity":
                scale_a = np.asarray(scale, dtype=float)
                ll = -0.5 * ((y - eta) ** 2 * (trials / scale_a) + np.log(scale_a)) + const
                return ll, eta
        mu = self.linkinv(eta)
        return self.loglik(y, mu, scale, trials), mu

    def unit_deviance(self, y: Array, mu: Array, trials: Array) -> Array:
        """Unit deviance d(y, mu) of each response (times trials for binomial)."""
        y_b, mu_b = np.broadcast_arrays(y, mu)
        tr_b = np.broadcast_to(trials, mu_b.shape)
        return np.asarray(self.sm_family._resid_dev(y_b, mu_b) * tr_b, dtype=float)

    def start_mu(self, y: Array) -> Array:
        """Starting means for IRLS from no coefficients (as statsmodels does)."""
        return self.clip_mu(np.asarray(self.sm_family.starting_mu(y), dtype=float))

    def estimate_scale(self, y: Array, mu: Array, w: Array, trials: Array, current: float) -> float:
        """Maximum-likelihood dispersion of one component given its weights ``w``."""
        if not self.has_scale:
            return 1.0
        wsum = float(w.sum())
        if wsum <= 0:
            return current
        if self.name == "gaussian":
            return float(np.dot(w, trials * (y - mu) ** 2) / wsum)

        def negll(log_s: float) -> float:
            return -float(np.dot(w, self.loglik(y, mu, np.exp(log_s), trials)))

        centre = np.log(max(current, 1e-8))
        res = optimize.minimize_scalar(negll, bounds=(centre - 12, centre + 12), method="bounded")
        return float(np.exp(res.x))

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        """Draw responses with means ``mu`` (binomial: proportions of ``trials``)."""
        name = self.name
        if name == "poisson":
            return rng.poisson(mu).astype(float)
        if name == "binomial":
            n = np.asarray(trials).astype(np.int64)
            return rng.binomial(n, mu) / np.maximum(trials, 1)
        if name == "gaussian":
            return rng.normal(mu, np.sqrt(np.asarray(scale) / trials))
        if name == "gamma":
            shape = 1.0 / np.asarray(scale)
            return rng.gamma(shape, mu / shape)
        raise InputError(f"simulation is not available for family {name!r}")

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        """Raise :class:`InputError` when ``y`` is outside the family's support."""
        name = self.name
        if name == "poisson":
            bad = (y < 0) | (y != np.round(y))
            if bad.any():
                raise InputError(
                    f"poisson response {label!r} must hold non-negative integer counts; "
                    f"found {_show(y[bad])}"
                )
            if not np.any(y > 0):
                raise InputError(
                    f"poisson response {label!r} is 0 in every row: the mean has no finite "
                    "maximum-likelihood estimate (the log-mean goes to -inf) and no "
                    "components can be told apart; there is nothing to fit"
                )
        elif name == "binomial":
            bad = (y < 0) | (y > 1)
            if bad.any():
                raise InputError(
                    f"binomial response {label!r} must lie in [0, 1] (0/1, booleans or "
                    f"proportions), or be given as cbind(successes, failures); "
                    f"found {_show(y[bad])}"
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
        elif name in ("gamma", "inversegaussian") and (y <= 0).any():
            raise InputError(
                f"{name} response {label!r} must be positive; found {_show(y[y <= 0])}"
            )


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
    if not _is_zero(const):
        ll += const
    if not with_mean:
        return ll, None
    np.exp(neg, out=neg)
    u += 1.0
    neg /= u
    return ll, neg


def _is_zero(const: Array | float) -> bool:
    """Whether a data constant is the scalar 0 (the E-step adds it to row totals instead),
    so that adding it can be skipped."""
    return isinstance(const, float) and const == 0.0


def _finite_limit(func, eta: Array) -> Array:  # type: ignore[no-untyped-def]
    """``func(eta)`` for a derivative of an inverse link that tends to 0 as ``|eta|`` grows:
    where it overflows to inf / inf (NaN) at extreme ``eta``, its limit 0 is returned."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        out = np.asarray(func(eta), dtype=float)
    return np.where(np.isfinite(out), out, 0.0)


def _show(values: Array, most: int = 3) -> str:
    shown = ", ".join(f"{v:g}" for v in np.unique(values)[:most])
    return shown + (", ..." if np.unique(values).size > most else "")


def _family_name(fam: smf.Family) -> str:
    return type(fam).__name__.lower()


def get_family(family: str | smf.Family | Family) -> Family:
    """Turn a family name or a statsmodels family instance into a :class:`Family`.

    Parameters
    ----------
    family : str or statsmodels family instance
        ``"poisson"``, ``"gaussian"`` or ``"binomial"`` (any case), or an instance such as
        ``sm.families.Binomial(link=sm.families.links.Probit())``.

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> get_family(sm.families.Binomial(link=sm.families.links.Probit())).link_name
    'probit'
    >>> get_family("Gaussian").name
    'gaussian'
    """
    if isinstance(family, Family):
        return family
    if isinstance(family, smf.Family):
        if isinstance(family, smf.Tweedie):
            raise InputError("the Tweedie family has no closed-form density; it is not supported")
        return Family(family)
    if isinstance(family, str):
        key = family.strip().lower()
        makers = {"poisson": smf.Poisson, "gaussian": smf.Gaussian, "binomial": smf.Binomial}
        if key not in makers:
            raise InputError(
                f"unknown family {family!r}; use one of {', '.join(map(repr, FAMILY_NAMES))} "
                "or a statsmodels family instance such as sm.families.Gamma()"
            )
        return Family(makers[key]())
    raise InputTypeError(
        f"family must be a string ({', '.join(map(repr, FAMILY_NAMES))}) or a statsmodels "
        f"family instance, not {type(family).__name__}"
    )
