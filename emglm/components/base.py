"""The component-model protocol: what the EM engine needs from a model of the K components.

A component model (a *driver*, as R flexmix's FLXM drivers) owns the component parameters
and everything that depends on what a component is. The engine (:mod:`emglm.engine`) only
calls these methods; it never imports a driver. :class:`~emglm.components.glm.GLMComponents`
(K GLMs of one family on one design) is the first driver.

Parameters are an opaque, immutable value of the driver's own type (``P`` below); the engine
keeps them in :class:`emglm.engine.em.MixtureParams` beside the mixing logits.

The E-step result is any object with ``llf`` (observed-data log-likelihood) and
``posterior`` ((n, K) posteriors), as :class:`EStep`; a driver may attach more to it (the
GLM driver attaches the next M-step's first IRLS linearisation, which the engine hands back
as ``first``: the *fused pass*).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import MixtureData

Array = NDArray[np.float64]


@dataclass(frozen=True)
class LogDensityEStep:
    """An E-step made from log-densities: llf and the (n, K) posteriors (with groups,
    repeated on each group's rows)."""

    llf: float
    posterior: Array


def normalise(joint: Array) -> tuple[Array, Array]:
    """Log-sum-exp of each row of ``log(pi_k f_k)`` (units, K) and the posteriors. A unit
    whose joint densities are all ``-inf`` gets ``-inf`` and uniform posteriors, not NaN.

    Examples
    --------
    >>> norm, post = normalise(np.log(np.array([[0.1, 0.3], [0.2, 0.2]])))
    >>> np.exp(norm).round(3).tolist(), post.round(3).tolist()
    ([0.4, 0.4], [[0.25, 0.75], [0.5, 0.5]])
    """
    return normalise_columns(np.array(joint.T, order="C"))


def normalise_columns(joint_t: Array) -> tuple[Array, Array]:
    """:func:`normalise` of the transposed joint log densities (K, units), overwritten with
    the posteriors; returns the log-sum-exp (units,) and the (units, K) posteriors (a
    Fortran-ordered view). Working along contiguous rows of ``joint_t`` makes the sums
    over components elementwise operations."""
    top = joint_t.max(axis=0)
    top[~np.isfinite(top)] = 0.0
    joint_t -= top
    np.exp(joint_t, out=joint_t)
    total = joint_t.sum(axis=0)
    with np.errstate(divide="ignore"):
        norm = np.log(total)
    norm += top
    empty = total == 0
    if empty.any():
        joint_t[:, empty] = 1.0
        total[empty] = joint_t.shape[0]
    joint_t /= total
    return norm, joint_t.T


def e_step_from_log_densities(
    data: MixtureData, log_dens: Array, log_prior: Array
) -> LogDensityEStep:
    """The E-step from each row's component log-densities (n, K) and each unit's log prior
    probabilities (units, K) or (1, K): the generic path, for drivers without a fused pass
    and for grouped observations (flexmix's ``groupPosteriors``: with groups the
    log-densities of a group's rows are summed before the posteriors are normalised, so
    ``tau_gk ∝ pi_k(z_g) prod_{i in g} f_k(y_i)`` and
    ``llf = sum_g w_g log sum_k pi_k(z_g) prod_{i in g} f_k(y_i)``)."""
    norm, post = normalise(data.unit_sum(log_dens) + log_prior)
    llf = float(np.dot(data.unit_case_weights, norm))
    return LogDensityEStep(llf, data.unit_rows(post))


class EStep(Protocol):
    """What an E-step pass gives the engine."""

    @property
    def llf(self) -> float:
        """Observed-data log-likelihood."""
        ...

    @property
    def posterior(self) -> Array:
        """(n, K) posterior probabilities."""
        ...


@dataclass(frozen=True)
class NextEStep:
    """What a driver needs to make the next E-step inside its M-step (the fused pass):
    the case weights (``None`` when all are 1), the log prior probabilities of the new
    mixing parameters, (n, K) or (1, K), and whether that E-step should also linearise the
    M-step after it."""

    weights: Array | None
    log_prior: Array
    linearise: bool = True


class ComponentModel(Protocol):
    """The methods a component model provides (see the module notes)."""

    def n_components(self, params: Any) -> int:
        """Number of components K of ``params``."""
        ...

    def e_step(self, data: MixtureData, params: Any, log_prior: Array, linearise: bool) -> EStep:
        """Log-densities of every component, posteriors and llf in one pass over the rows
        (``log_prior`` (n, K) or (1, K)); ``linearise`` asks the driver to prepare the next
        M-step from the same pass when it can."""
        ...

    def log_densities(self, data: MixtureData, params: Any) -> Array:
        """``log f_k(y_i)`` of every row under every component, (n, K): the generic E-step
        path (grouped observations sum these over each group's rows)."""
        ...

    def m_step_cold(self, data: MixtureData, wtau: Array) -> Any:
        """Parameters from weights alone ((n, K) case weights times posteriors)."""
        ...

    def m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: Any,
        next_estep: NextEStep | None,
        first: Any,
        m_step_iter: int,
    ) -> tuple[Any, EStep | None]:
        """One (generalised) M-step warm-started at ``params``, taking ``m_step_iter`` inner
        steps where the driver iterates; never lowers the expected complete-data
        log-likelihood. With ``next_estep`` the driver may return the E-step
        at the new parameters when its last pass gave it (else ``None``). ``first`` is the
        E-step that made ``wtau``'s posteriors, for drivers that carry work over."""
        ...

    def min_weight(self, data: MixtureData) -> float:
        """Least M-step weight a component needs to stay (its number of parameters)."""
        ...

    def n_params(self, n_comp: int) -> int:
        """Free parameters of ``n_comp`` components (counted as flexmix's ``df``)."""
        ...

    def param_names(self, n_comp: int) -> list[tuple[str, str]]:
        """``(component, term)`` labels of :meth:`pack`'s vector."""
        ...

    def pack(self, params: Any) -> Array:
        """The free parameters as one unconstrained vector (SQUAREM, Louis, bootstrap)."""
        ...

    def unpack(self, data: MixtureData, vec: Array, like: Any) -> Any:
        """Inverse of :meth:`pack`, shaped like ``like`` and kept feasible for ``data``."""
        ...

    def take(self, params: Any, keep: NDArray[np.bool_] | NDArray[np.intp]) -> Any:
        """The parameters of some components: a boolean mask drops, indices reorder."""
        ...

    def sort_keys(self, params: Any) -> list[tuple[float, ...]]:
        """One key per component to break ties of the canonical order."""
        ...

    # Optional (the engine and the results fall back when a driver lacks them):
    # ``pinned(params) -> (K,) bool``: components that keep their place in the canonical
    # order; ``component_labels(K) -> list[str]``: the components' names in tables
    # (default ``comp1..compK``); ``point_masses(K) -> dict[int, float]``: components that
    # are a point mass, by position, and where it sits (their mean; variance 0);
    # ``propose(data, wtau, params, first) -> params | None``: an M-step only for SQUAREM
    # to extrapolate from, which need not be monotone and should read no data (``None``
    # when it would have to).

    def louis_pieces(self, data: MixtureData, params: Any, tau: Array) -> tuple[Array, Array]:
        """Complete-data scores of :meth:`pack`'s parameters of every row under every label,
        (K, n, P), and ``sum_i w_i sum_k tau_ik (-H_ik)``, (P, P), for Louis' method."""
        ...

    def random_start(
        self, method: str, data: MixtureData, n_comp: int, rng: np.random.Generator
    ) -> Any:
        """A random start the driver offers (``init=method``): parameters, or (n, K)
        posteriors as an array."""
        ...

    def spurious(self, data: MixtureData, params: Any) -> str | None:
        """Why a fit is a spurious maximum (e.g. a collapsed variance), or ``None``."""
        ...

    def why_singular(self, params: Any) -> str | None:
        """The likely reason the observed information is singular (e.g. two equal
        components), for the warning; ``None`` when the driver knows none."""
        ...

    def resimulated(
        self, data: MixtureData, params: Any, labels: NDArray[np.intp], rng: np.random.Generator
    ) -> MixtureData:
        """The data with responses drawn from the component each row is labelled with (the
        parametric bootstrap)."""
        ...

    def match_cost(self, fitted: Any, other: Any) -> Array:
        """Cost (K, K) of matching ``other``'s components to ``fitted``'s, to align a
        bootstrap replicate's components with the fit's."""
        ...
