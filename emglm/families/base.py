"""The :class:`Family` base class and the registry of families.

The EM engine needs, for each family, the full log-density of a response (with its
normalising constants, so that log-likelihoods match R's ``logLik``), the IRLS working
quantities, the M-step update of the dispersion, the derivatives that Louis' method needs,
the unit deviance and a simulator. :class:`Family` supplies them on NumPy arrays for any
statsmodels family and link (an exponential-dispersion family, its density taken from
statsmodels' ``loglike_obs``); the subclasses in this package override what they can do
faster or exactly (see docs/model.md, "Adding a family").

Conventions used throughout the package:

* binomial responses are proportions ``y`` in [0, 1] with ``trials`` (the number of
  Bernoulli trials per row, as statsmodels' ``var_weights``); for 0/1 data ``trials`` is 1;
* ``scale`` is the dispersion as the family defines it: the variance ``sigma**2`` for
  Gaussian, 1 for Poisson and binomial, the ML dispersion of other exponential-dispersion
  families (e.g. Gamma), ``alpha`` for the negative binomial. Only the family interprets
  it; the engine stores, updates and transforms it through the family's methods.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

import numpy as np
import statsmodels.genmod.families as smf
from numpy.typing import NDArray
from scipy import optimize, special

from emglm.exceptions import InputError, InputTypeError

Array = NDArray[np.float64]

# Keeps mu strictly inside the family's domain, so log-densities stay finite.
_MU_EPS = 1e-12
# The log link's eta is clipped to [-_ETA_MAX, _ETA_MAX]: exp(300) ~ 1e130 is far beyond any
# count (counts are exact in doubles only below 2**53 ~ exp(36.7)), yet its square times
# covariates stays finite in the IRLS Gram matrix, and exp(-300) keeps log(mu) finite.
_ETA_MAX = 300.0
# logit(1 - _MU_EPS): the logit link's eta where clip_mu starts clamping.
_LOGIT_MAX = float(np.log1p(-_MU_EPS) - np.log(_MU_EPS))
# Floor of |dmu/deta| and V(mu) in the IRLS factors: finite where they underflow.
_TINY = 1e-300
# Step in the free dispersion parameter for numerical dispersion derivatives.
_FREE_STEP = 1e-4


# Largest whole number whose log-factorial :func:`log_factorial` looks up in a table.
_FACTORIAL_TABLE_MAX = 1 << 16


def log_factorial(v: Array | float) -> Array:
    """``gammaln(v + 1)``, with the same values: where every value is a whole number from 0
    to 65536 (counts, trials), scipy's values at 0, 1, ..., max(v) are looked up instead
    of evaluated for every row (six times faster at n=1e6; the data constants of the
    Poisson and binomial families are computed once per fit, and this was most of the
    first M-step's time beyond its passes).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import special
    >>> v = np.array([0.0, 3.0, 10.0, 3.0])
    >>> np.array_equal(log_factorial(v), special.gammaln(v + 1.0))
    True
    >>> log_factorial(np.array([0.5]))  # not a whole number: evaluated
    array([-0.12078224])
    """
    v = np.asarray(v, dtype=np.float64)
    if v.size and 0.0 <= v.min() and v.max() <= _FACTORIAL_TABLE_MAX:
        whole = v.astype(np.int32)  # below 2**16: half the memory of int64
        if np.array_equal(whole, v):
            table = special.gammaln(np.arange(whole.max() + 1, dtype=np.float64) + 1.0)
            return np.asarray(table[whole])
    return np.asarray(special.gammaln(v + 1.0))


def log_sigma(scale: Array | float) -> Array:
    """``log(sigma) = 0.5 log(scale)``: the free dispersion of exponential-dispersion
    families, also used where no family is at hand."""
    return np.asarray(0.5 * np.log(scale))


def scale_from_log_sigma(theta: Array | float) -> Array:
    """Inverse of :func:`log_sigma`."""
    return np.asarray(np.exp(2.0 * np.asarray(theta)))


class Family:
    """A GLM family with its link, as used by the EM engine.

    This class is the generic implementation for any statsmodels family and link (an
    exponential-dispersion family: the log-density ``t (y theta - b(theta)) / scale +
    c(y, scale)``); subclasses override methods with closed forms or faster code.

    Parameters
    ----------
    sm_family : statsmodels.genmod.families.Family, optional
        The statsmodels family instance (with its link); default ``sm_class()``.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> fam = get_family("poisson")
    >>> fam.name, fam.link_name, fam.has_scale
    ('poisson', 'log', False)
    """

    #: The statsmodels family class this class implements (its instances map here).
    sm_class: type[smf.Family] = smf.Family
    #: Lower-case name; ``""`` means the statsmodels class name, lower-cased.
    family_name: str = ""
    #: Whether each component estimates a dispersion parameter.
    has_scale: bool = True
    #: Whether the M-step is closed-form weighted least squares (no IRLS).
    least_squares: bool = False
    #: Whether the ML dispersion is the weighted mean of ``t (y - mu)**2`` (closed form).
    dispersion_is_mean_square: bool = False
    #: Whether the response may be given as two columns (successes, failures) or booleans.
    two_column_response: bool = False
    #: Whether the response has positive probability at zero (counts, successes): only
    #: then can a point mass at zero be told apart from a component (zero inflation).
    has_zero_mass: bool = False
    #: Whether fitted means can reach the boundary of their range (perfect separation).
    can_separate: bool = False
    #: What the reported per-component dispersion is called (summary, estimates()).
    dispersion_label: str = "sigma"
    #: Title of the summary's dispersion table.
    dispersion_title: str = "Dispersion (sigma = sqrt(scale))"
    #: Name of the free (unconstrained) dispersion parameter, ``log`` of the reported one.
    free_dispersion_name: str = "log(sigma)"
    #: Whether a dispersion on its floor means a degenerate component (a variance
    #: collapsing onto a few equal responses, where the likelihood is unbounded).
    dispersion_can_collapse: bool = True
    # Tolerance in log(scale) of the M-step's 1-D dispersion search (scipy's default).
    _dispersion_xatol: float = 1e-5

    def __init__(self, sm_family: smf.Family | None = None) -> None:
        self.sm_family = self.default_sm_family() if sm_family is None else sm_family
        # Decided once: which closed forms of the link apply.
        self.link_name = type(self.sm_family.link).__name__.lower()
        self._log_link = self.link_name == "log"
        self._logit_link = self.link_name == "logit"

    @classmethod
    def default_sm_family(cls) -> smf.Family:
        """The statsmodels family (default link) of ``cls()``."""
        return cls.sm_class()

    @property
    def fast_path(self) -> str | None:
        """Name of the compiled kernel for this family and link (``"poisson_log"``,
        ``"binomial_logit"``, ``"gaussian_identity"``), or ``None``: the passes over the
        design then use the NumPy methods of this class."""
        return None

    @property
    def name(self) -> str:
        """Lower-case family name, e.g. ``"poisson"`` or ``"gamma"``."""
        return self.family_name or type(self.sm_family).__name__.lower()

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.sm_family is self.sm_family  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), id(self.sm_family)))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({type(self.sm_family).__name__}, link={self.link_name})"

    # --- link -----------------------------------------------------------------------------
    def linkinv(self, eta: Array) -> Array:
        """Mean from linear predictor, kept inside the family's domain.

        Never overflows: the log link clips ``eta`` to ``+-_ETA_MAX``, the logit link uses the
        stable ``expit``, and other links' limits at +-inf are the right values, so their
        overflow warnings are silenced.
        """
        if self._log_link:
            return np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
        if self._logit_link:
            return self.clip_mu(special.expit(eta))
        with np.errstate(over="ignore", under="ignore"):
            mu = self.sm_family.link.inverse(eta)
        return self.clip_mu(mu)

    def link(self, mu: Array) -> Array:
        """Linear predictor from mean."""
        return np.asarray(self.sm_family.link(mu), dtype=float)

    def mu_eta(self, eta: Array) -> Array:
        """Derivative d mu / d eta at ``eta``."""
        if self._log_link:
            return np.exp(np.clip(eta, -_ETA_MAX, _ETA_MAX))
        if self._logit_link:
            # From the clipped mean (as R's floor at machine eps): where fitted
            # probabilities saturate, IRLS then moves eta by O(1) steps, not by 1e300.
            mu = self.linkinv(eta)
            return mu * (1.0 - mu)
        return _finite_limit(self.sm_family.link.inverse_deriv, eta)

    def mu_eta2(self, eta: Array) -> Array:
        """Second derivative d2 mu / d eta2 at ``eta`` (finite for every ``eta``)."""
        if self._log_link:
            return self.mu_eta(eta)
        if self._logit_link:
            p = special.expit(eta)
            return p * special.expit(-eta) * (1.0 - 2.0 * p)
        return _finite_limit(self.sm_family.link.inverse_deriv2, eta)

    def variance(self, mu: Array, scale: Array | float = 1.0) -> Array:
        """Variance function V(mu) (per trial for binomial). ``scale`` matters only for
        families whose variance function depends on the dispersion (negative binomial)."""
        return np.asarray(self.sm_family.variance(mu), dtype=float)

    def variance_deriv(self, mu: Array, scale: Array | float = 1.0) -> Array:
        """Derivative dV/dmu of :meth:`variance`."""
        return np.asarray(self.sm_family.variance.deriv(mu), dtype=float)

    def response_variance(self, mu: Array, scale: Array | float, trials: Array) -> Array:
        """Variance of the response given its mean: ``scale V(mu) / trials``."""
        return np.asarray(scale * self.variance(mu) / trials)

    def clip_mu(self, mu: Array) -> Array:
        """Keep ``mu`` strictly inside the family's domain."""
        return np.maximum(mu, 1e-300)

    # --- densities ------------------------------------------------------------------------
    def loglik(self, y: Array, mu: Array, scale: Array | float, trials: Array | float) -> Array:
        """Log-density of each response, with normalising constants.

        ``y`` and ``trials`` have shape (n,) or (n, 1); ``mu`` (n,) or (n, K); ``scale`` a
        scalar or (K,). The result broadcasts to the shape of ``mu``.
        """
        y_b, mu_b = np.broadcast_arrays(y, mu)
        scale_b = np.broadcast_to(np.asarray(scale, dtype=float), mu_b.shape)
        tr_b = np.broadcast_to(trials, mu_b.shape)
        out = self.sm_family.loglike_obs(y_b, mu_b, var_weights=tr_b, scale=scale_b)
        return np.asarray(out, dtype=float)

    def loglik_constant(self, y: Array, trials: Array) -> Array | None:
        """The part of the log-density that depends on the data only, shape (n,).

        Computed once per data set, so that :meth:`loglik_eta` does not re-evaluate
        ``gammaln`` (the dearest term) at every EM iteration. ``None`` for families whose
        log-density is evaluated in full each time.
        """
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

        ``const`` is :meth:`loglik_constant` of the same rows (broadcastable like ``y``), or
        ``None`` when the family has none. Subclasses with a fast path work on ``eta``
        directly (no exp/log round trip), clamped where :meth:`linkinv` clamps ``mu``.
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
        """The work of :meth:`loglik_eta` and :meth:`loglik_and_mean`: the one method a
        fast path overrides (the mean may be ``None`` when ``with_mean`` is false)."""
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

    # --- IRLS -----------------------------------------------------------------------------
    def irls_factors(self, eta: Array, mu: Array, scale: Array | float) -> tuple[Array, Array]:
        """IRLS factors ``(a, r)``: working weight ``W t a`` and score ``W t (y - mu) r``.

        Generic: ``dmu = mu_eta(eta)`` (kept away from 0), ``r = dmu / V(mu)``,
        ``a = dmu r``; canonical links have ``a = V(mu)``, ``r = 1``.
        """
        dmu, ratio = self._dmu_ratio(eta, mu, scale)
        return dmu * ratio, ratio

    def irls_weights(
        self,
        eta: Array,
        mu: Array,
        scale: Array | float,
        wt: Array,
        weight_out: Array,
        score: Array,
    ) -> None:
        """In place, from :meth:`irls_factors`: ``weight_out = wt a`` and ``score *= r``
        (``wt`` is the M-step weight times trials, ``score`` holds ``wt (y - mu)``)."""
        dmu, ratio = self._dmu_ratio(eta, mu, scale)
        np.multiply(wt, dmu, out=weight_out)
        weight_out *= ratio
        score *= ratio

    def _dmu_ratio(self, eta: Array, mu: Array, scale: Array | float) -> tuple[Array, Array]:
        dmu = self.mu_eta(eta)
        dmu = np.where(np.abs(dmu) < _TINY, _TINY, dmu)
        return dmu, dmu / np.maximum(self.variance(mu, scale), _TINY)

    # --- dispersion -----------------------------------------------------------------------
    def free_dispersion(self, scale: Array | float) -> Array:
        """The unconstrained dispersion parameter of inference: ``log(sigma)``."""
        return log_sigma(scale)

    def dispersion_from_free(self, theta: Array | float) -> Array:
        """Inverse of :meth:`free_dispersion`."""
        return scale_from_log_sigma(theta)

    def reported_dispersion(self, scale: Array | float) -> Array:
        """The dispersion the results report (:attr:`dispersion_label`): ``sqrt(scale)``,
        whose log is :meth:`free_dispersion`."""
        return np.sqrt(scale)

    def update_dispersion(
        self, y: Array, mu: Array, w: Array, trials: Array, current: float
    ) -> float:
        """M-step update of one component's dispersion given its weights ``w``: the
        maximum-likelihood value (1-D, bounded search on the log scale around ``current``)."""
        if not self.has_scale:
            return 1.0
        if float(w.sum()) <= 0:
            return current

        def negll(log_s: float) -> float:
            return -float(np.dot(w, self.loglik(y, mu, np.exp(log_s), trials)))

        return self.search_dispersion(negll, current)

    def search_dispersion(self, negll: Callable[[float], float], current: float) -> float:
        """The 1-D search of :meth:`update_dispersion`: the dispersion minimising
        ``negll(log(scale))``, by a bounded search on ``log(current) +- 12`` with tolerance
        ``_dispersion_xatol``. Backends that form ``negll`` from sums over partitions call
        it too, so that they take the same steps as the in-memory M-step.

        Examples
        --------
        >>> fam = get_family("gamma")
        >>> round(fam.search_dispersion(lambda t: (t - 1.0) ** 2, 1.0), 4)  # exp(1)
        2.7183
        """
        centre = np.log(max(current, 1e-8))
        res = optimize.minimize_scalar(
            negll,
            bounds=(centre - 12, centre + 12),
            method="bounded",
            options={"xatol": self._dispersion_xatol},
        )
        return float(np.exp(res.x))

    # --- Louis' method --------------------------------------------------------------------
    def eta_derivatives(
        self, y: Array, eta: Array, trials: Array, scale: Array
    ) -> tuple[Array, Array]:
        """First and observed second derivative of each log-density in the linear predictor.

        With ``l = trials (y theta - b(theta)) / scale + c``: ``dl/dmu = trials (y - mu) /
        (scale V(mu))``; the chain rule through the inverse link gives the observed (not the
        expected) second derivative, so non-canonical links are exact.
        """
        mu = self.linkinv(eta)
        var = self.variance(mu)
        dvar = self.variance_deriv(mu)
        resid = y - mu
        dl_dmu = trials * resid / (scale * var)
        d2l_dmu2 = trials / scale * (-1.0 / var - resid * dvar / var**2)
        return chain_to_eta(self, eta, dl_dmu, d2l_dmu2)

    def dispersion_derivatives(
        self, y: Array, eta: Array, trials: Array, scale: Array
    ) -> tuple[Array, Array, Array]:
        """``(s1, s2, cross)``: first and second derivative of each log-density in the free
        dispersion ``log(sigma)``, and the cross derivative ``d2 l / d eta d log(sigma)``.

        No closed form for a general family's normalising constant: central differences in
        ``log(sigma)``, where the log-density is smooth. The eta part of an
        exponential-dispersion log-density scales as ``1 / sigma**2``, so the cross
        derivative is ``-2 dl/deta``.
        """
        mu = self.linkinv(eta)
        h = _FREE_STEP
        up = self.loglik(y, mu, scale * np.exp(2 * h), trials)
        mid = self.loglik(y, mu, scale, trials)
        down = self.loglik(y, mu, scale * np.exp(-2 * h), trials)
        cross = -2.0 * self.eta_derivatives(y, eta, trials, scale)[0]
        return (up - down) / (2 * h), (up - 2 * mid + down) / h**2, cross

    # --- data -----------------------------------------------------------------------------
    def simulate(
        self, mu: Array, scale: Array | float, trials: Array, rng: np.random.Generator
    ) -> Array:
        """Draw responses with means ``mu`` (binomial: proportions of ``trials``)."""
        raise InputError(f"simulation is not available for family {self.name!r}")

    def check_response(self, y: Array, trials: Array, label: str) -> None:
        """Raise :class:`InputError` when ``y`` is outside the family's support."""


@runtime_checkable
class DispersionSums(Protocol):
    """What a family offers when its weighted log-likelihood, as a function of the
    dispersion, depends on the rows only through a few weighted sums
    ``sum_i w_i g_j(y_i, mu_i, t_i)``: a backend whose rows are spread over partitions then
    forms the sums in one pass and runs :meth:`Family.search_dispersion` on them (the Dask
    backend's dispersion M-step, ``emglm.cluster.dispersion``). Families without it have
    each trial dispersion of the search evaluated over the rows. A subclass that changes
    :meth:`Family.loglik` must change these two methods with it.
    """

    def dispersion_sums(self, y: Array, mu: Array, w: Array, trials: Array) -> Array:
        """Shape (K, q): the sums of each column of ``w`` and ``mu`` (both (n, K); ``y``
        and ``trials`` (n,)). Linear in ``w``: sums of row blocks, or of components sharing
        one dispersion, add up."""
        ...

    def loglik_from_sums(self, sums: Array, scale: float) -> float:
        """``sum_i w_i loglik(y_i, mu_i, scale, t_i)`` from one row of
        :meth:`dispersion_sums` (equal to it up to rounding)."""
        ...


def chain_to_eta(family: Family, eta: Array, dl_dmu: Array, d2l_dmu2: Array) -> tuple[Array, Array]:
    """First and observed second derivative in ``eta`` from those in ``mu``, through the
    inverse link: ``l' mu'`` and ``l'' mu'**2 + l' mu''``."""
    mu1 = family.mu_eta(eta)
    mu2 = family.mu_eta2(eta)
    return dl_dmu * mu1, d2l_dmu2 * mu1**2 + dl_dmu * mu2


def numerical_dispersion_derivatives(
    family: Family, y: Array, eta: Array, trials: Array, scale: Array, step: float = _FREE_STEP
) -> tuple[Array, Array, Array]:
    """:meth:`Family.dispersion_derivatives` by central differences in the family's free
    dispersion ``theta`` (:meth:`Family.free_dispersion`), for any dispersion: ``s1`` and
    ``s2`` from :meth:`Family.loglik`, the cross derivative from the first derivative in
    ``eta`` (:meth:`Family.eta_derivatives`)."""
    mu = family.linkinv(eta)
    theta = family.free_dispersion(scale)
    up_s = family.dispersion_from_free(theta + step)
    down_s = family.dispersion_from_free(theta - step)
    up = family.loglik(y, mu, up_s, trials)
    mid = family.loglik(y, mu, scale, trials)
    down = family.loglik(y, mu, down_s, trials)
    d1_up = family.eta_derivatives(y, eta, trials, up_s)[0]
    d1_down = family.eta_derivatives(y, eta, trials, down_s)[0]
    cross = (d1_up - d1_down) / (2 * step)
    return (up - down) / (2 * step), (up - 2 * mid + down) / step**2, cross


def is_zero(const: Array | float) -> bool:
    """Whether a data constant is the scalar 0 (the E-step adds it to row totals instead),
    so that adding it can be skipped."""
    return isinstance(const, float) and const == 0.0


def _finite_limit(func: Callable[[Array], Array], eta: Array) -> Array:
    """``func(eta)`` for a derivative of an inverse link that tends to 0 as ``|eta|`` grows:
    where it overflows to inf / inf (NaN) at extreme ``eta``, its limit 0 is returned."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        out = np.asarray(func(eta), dtype=float)
    return np.where(np.isfinite(out), out, 0.0)


def show_values(values: Array, most: int = 3) -> str:
    """Up to ``most`` distinct values, for error messages."""
    shown = ", ".join(f"{v:g}" for v in np.unique(values)[:most])
    return shown + (", ..." if np.unique(values).size > most else "")


def check_spread(y: Array, label: str, name: str) -> None:
    """Refuse a response equal in every row for a family whose dispersion scales a
    continuous density (Gaussian, gamma, inverse Gaussian): the dispersion's estimate is 0
    and the likelihood unbounded."""
    if y.size and np.all(y == y[0]):
        raise InputError(
            f"{name} response {label!r} is {y[0]:g} in every row: its variance is 0, so the "
            "likelihood is unbounded and no components can be told apart; there is nothing "
            "to fit"
        )


# --- registry ------------------------------------------------------------------------------
_BY_NAME: dict[str, type[Family]] = {}
_BY_SM_CLASS: dict[type[smf.Family], type[Family]] = {}
_CANONICAL: list[str] = []


def register_family(cls: type[Family], names: tuple[str, ...]) -> type[Family]:
    """Make ``cls`` available to :func:`get_family` under ``names`` (the first is its
    canonical name; matching ignores case), and for instances of ``cls.sm_class``.

    Returns ``cls``, so that it can be used as ``register_family(MyFamily, ("mine",))``
    right after the class.
    """
    if not names:
        raise InputError(f"register_family needs at least one name for {cls.__name__}")
    for name in names:
        _BY_NAME[name.strip().lower()] = cls
    _CANONICAL.append(names[0].strip().lower())
    if cls.sm_class is not smf.Family:
        _BY_SM_CLASS[cls.sm_class] = cls
    return cls


def family_names() -> tuple[str, ...]:
    """Canonical names of the registered families, in registration order."""
    return tuple(_CANONICAL)


def get_family(family: str | smf.Family | Family) -> Family:
    """Turn a family name or a statsmodels family instance into a :class:`Family`.

    Parameters
    ----------
    family : str, statsmodels family instance or Family
        A registered name (any case): ``"poisson"``, ``"gaussian"``, ``"binomial"``,
        ``"gamma"``, ``"inverse_gaussian"``, ``"negbin"`` and their aliases; or an instance
        such as ``sm.families.Binomial(link=sm.families.links.Probit())`` (mapped to the
        class registered for its statsmodels class, keeping its link; other statsmodels
        families get the generic :class:`Family`); or a :class:`Family`, returned as is.

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
    names = ", ".join(map(repr, family_names()))
    if isinstance(family, smf.Family):
        if isinstance(family, smf.Tweedie):
            raise InputError("the Tweedie family has no closed-form density; it is not supported")
        return _BY_SM_CLASS.get(type(family), Family)(family)
    if isinstance(family, str):
        cls = _BY_NAME.get(family.strip().lower())
        if cls is None:
            raise InputError(
                f"unknown family {family!r}; use one of {names} "
                "or a statsmodels family instance such as sm.families.Gamma()"
            )
        return cls()
    raise InputTypeError(
        f"family must be a string ({names}) or a statsmodels family instance, "
        f"not {type(family).__name__}"
    )
