"""Negative binomial (NB2) components, each with its own dispersion ``alpha``.

The NB2 model of Stata's ``fmm: nbreg`` and of statsmodels'
``discrete_model.NegativeBinomial(loglike_method="nb2")``: counts with mean ``mu`` and
variance ``mu + alpha mu**2``. ``scale`` holds ``alpha``; the free parameter of inference
is ``log(alpha)``. With ``r = 1 / alpha`` the log-density is

    log f(y) = lgamma(y + r) - lgamma(r) - lgamma(y + 1) + y log(alpha mu)
               - (y + r) log1p(alpha mu),

evaluated as ``-betaln(r, y + 1) - log(r + y) + ...``, which stays accurate as ``alpha``
goes to 0 (the Poisson limit), where ``lgamma(y + r) - lgamma(r)`` would cancel.
"""

from __future__ import annotations

import numpy as np
import statsmodels.genmod.families as smf
from scipy import special

from emglm.exceptions import InputError
from emglm.families.base import (
    Array,
    Family,
    chain_to_eta,
    numerical_dispersion_derivatives,
    register_family,
)
from emglm.families.poisson import check_counts


class NegativeBinomialFamily(Family):
    """NB2 counts with a dispersion ``alpha`` estimated per component (``trials`` are not
    used: every row is one count)."""

    sm_class = smf.NegativeBinomial
    family_name = "negbin"
    has_zero_mass = True
    dispersion_label = "alpha"
    dispersion_title = "Dispersion (alpha: variance = mu + alpha mu^2)"
    free_dispersion_name = "log(alpha)"
    # alpha -> 0 is the Poisson limit, a boundary of a bounded likelihood, not a collapse.
    dispersion_can_collapse = False
    # alpha enters the fitted coefficients directly: solve its M-step update tightly.
    _dispersion_xatol = 1e-10

    @classmethod
    def default_sm_family(cls) -> smf.Family:
        # Its alpha is not used (scale holds each component's alpha); set, so that
        # statsmodels does not warn that it defaults.
        return smf.NegativeBinomial(alpha=1.0)

    def variance(self, mu: Array, scale: Array | float = 1.0) -> Array:
        """``V(mu) = mu + alpha mu**2`` with ``alpha = scale``."""
        return np.asarray(mu + scale * mu**2)

    def variance_deriv(self, mu: Array, scale: Array | float = 1.0) -> Array:
        return np.asarray(1.0 + 2.0 * scale * mu)

    def response_variance(self, mu: Array, scale: Array | float, trials: Array) -> Array:
        return self.variance(mu, scale)

    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        alpha = np.asarray(scale, dtype=float)
        r = 1.0 / alpha
        am = alpha * mu
        return np.asarray(
            -special.betaln(r, y + 1.0)
            - np.log(r + y)
            + special.xlogy(y, am)
            - (y + r) * np.log1p(am)
        )

    def free_dispersion(self, scale: Array | float) -> Array:
        """``log(alpha)``."""
        return np.asarray(np.log(scale))

    def dispersion_from_free(self, theta: Array | float) -> Array:
        return np.asarray(np.exp(theta))

    def reported_dispersion(self, scale: Array | float) -> Array:
        """``alpha`` itself."""
        return np.asarray(scale, dtype=float)

    def eta_derivatives(
        self, y: Array, eta: Array, trials: Array, scale: Array
    ) -> tuple[Array, Array]:
        """``dl/dmu = (y - mu) / V(mu)`` (for fixed alpha NB2 is an exponential family with
        variance function V), and the observed second derivative through the link."""
        mu = self.linkinv(eta)
        var = self.variance(mu, scale)
        dvar = self.variance_deriv(mu, scale)
        resid = y - mu
        dl_dmu = resid / var
        d2l_dmu2 = -1.0 / var - resid * dvar / var**2
        return chain_to_eta(self, eta, dl_dmu, d2l_dmu2)

    def dispersion_derivatives(
        self, y: Array, eta: Array, trials: Array, scale: Array
    ) -> tuple[Array, Array, Array]:
        """Central differences in ``log(alpha)`` (the eta part depends on alpha, so the
        cross derivative is not a multiple of ``dl/deta``)."""
        return numerical_dispersion_derivatives(self, y, eta, trials, scale)

    def unit_deviance(self, y: Array, mu: Array, trials: Array) -> Array:
        """Not available: the NB2 unit deviance depends on alpha, which differs between
        components and has no value at the mixture mean."""
        raise InputError(
            "deviance residuals are not available for the negbin family: its unit deviance "
            "depends on alpha, which differs between components; use kind='pearson' or "
            "kind='response'"
        )

    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        r = 1.0 / np.asarray(scale, dtype=float)
        return rng.negative_binomial(r, r / (r + mu)).astype(float)

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        check_counts(y, label, self.name)


register_family(NegativeBinomialFamily, ("negbin", "negative_binomial", "nb2"))
