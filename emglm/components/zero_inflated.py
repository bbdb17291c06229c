"""The zero-inflated driver: a point mass at zero beside K GLM components.

:class:`ZeroInflatedComponents` wraps the GLM driver (:class:`~emglm.components.glm.GLMComponents`)
as R flexmix's ``FLXMRziglm`` wraps ``FLXMRglm`` (Stata ``fmm: pointmass``). The point mass
is component 1, labelled ``"zero"``: its log-density is ``log 1{y = 0}`` (0 at a zero
response, ``-inf`` elsewhere), it has no parameters, and it stays first in the canonical
order (:meth:`ZeroInflatedComponents.pinned`). The GLM components follow, labelled
``comp2 .. comp{K+1}`` as flexmix numbers them. Every M-step fits the GLM components only,
from their columns of the weights.

When the point mass is dropped by the minprior rule, flexmix turns the model into a plain
GLM mixture (its ``FLXremoveComponent``); here the parameters record that
(``ZIParams.zero`` is ``False``) and the orchestration then reports a plain GLM fit.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.components.base import NextEStep, normalise_columns
from emglm.components.glm import GLMComponents, GLMParams
from emglm.data.arrays import MixtureData
from emglm.exceptions import InputError, InputTypeError
from emglm.families import FAMILY_NAMES, Family, get_family

Array = NDArray[np.float64]

#: Label of the point mass in tables (mixing proportions, posteriors, predictions).
ZERO_LABEL = "zero"
# Matching cost of a point mass with a GLM component in a bootstrap replicate: never chosen.
_NO_MATCH = 1e12
# A GLM component's owner in parameter names ("comp1", ...), as opposed to shared ones.
_COMP_OWNER = re.compile(r"comp[0-9]+")


@dataclass(frozen=True)
class ZIParams:
    """Parameters of a point mass at zero and K GLM components.

    Attributes
    ----------
    glm : the GLM components' parameters (coefficients (K, p), dispersions (K,)).
    zero : whether the point mass is still in the model (``False`` once it was dropped).
    """

    glm: GLMParams
    zero: bool = True

    @property
    def coef(self) -> Array:
        """The GLM components' coefficients (K, p)."""
        return self.glm.coef

    @property
    def scale(self) -> Array:
        """The GLM components' dispersions (K,)."""
        return self.glm.scale

    @property
    def n_zero(self) -> int:
        """Number of point masses (1, or 0 once dropped)."""
        return int(self.zero)


@dataclass(frozen=True)
class ZIEStep:
    """An E-step of the zero-inflated model: llf and (n, K+1) posteriors."""

    llf: float
    posterior: Array


@dataclass(frozen=True)
class ZeroInflatedComponents:
    """A point mass at zero (component 1) and the GLM components of ``glm``.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> glm = GLMComponents(get_family("poisson"), ["Intercept", "x"])
    >>> zi = ZeroInflatedComponents(glm, n_glm=2)
    >>> zi.n_params(3), zi.component_labels(3)
    (4, ['zero', 'comp2', 'comp3'])
    """

    glm: GLMComponents
    #: The number K of GLM components asked for (the layout of a cold start's weights).
    n_glm: int = 1

    @property
    def family(self) -> Family:
        """The GLM components' family."""
        return self.glm.family

    # --- the protocol ------------------------------------------------------------------------
    def n_components(self, params: ZIParams) -> int:
        """The point mass (while kept) and the GLM components."""
        return params.n_zero + self.glm.n_components(params.glm)

    def log_densities(self, data: MixtureData, params: ZIParams) -> Array:
        """``log 1{y = 0}`` for the point mass, then the GLM components' log-densities."""
        glm = self.glm.log_densities(data, params.glm)
        if not params.zero:
            return glm
        zero = np.where(data.y == 0, 0.0, -np.inf)
        return np.concatenate([zero[:, None], glm], axis=1)

    def e_step(
        self, data: MixtureData, params: ZIParams, log_prior: Array, linearise: bool
    ) -> ZIEStep:
        """Posteriors and llf from :meth:`log_densities` (no fused pass: the M-step
        linearises for itself), built component by component along the rows."""
        nz = params.n_zero
        joint_t = np.empty((self.n_components(params), data.n_rows))
        joint_t[nz:] = self.glm.log_densities(data, params.glm).T
        if nz:
            joint_t[0] = np.where(data.y == 0, 0.0, -np.inf)
        joint_t += log_prior.T
        norm, post = normalise_columns(joint_t)
        return ZIEStep(float(np.dot(data.weights, norm)), post)

    def m_step_cold(self, data: MixtureData, wtau: Array) -> ZIParams:
        """The GLM components fitted from their columns of the weights (the point mass
        has nothing to fit). The weights come from a start, possibly after the engine
        dropped components that start too small: the first column is the point mass when
        there are K+1 columns, or when it holds weight on zero responses only."""
        zero = wtau.shape[1] > self.n_glm or (
            wtau.shape[1] > 1 and not np.any(wtau[data.y != 0, 0] > 0)
        )
        return ZIParams(self.glm.m_step_cold(data, wtau[:, int(zero) :]), zero)

    def m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: ZIParams,
        next_estep: NextEStep | None,
        first: object,
        m_step_iter: int,
    ) -> tuple[ZIParams, None]:
        """Warm IRLS steps of the GLM components (:meth:`GLMComponents.m_step`)."""
        glm, _ = self.glm.m_step(
            data, wtau[:, params.n_zero :], params.glm, None, None, m_step_iter
        )
        return ZIParams(glm, params.zero), None

    def min_weight(self, data: MixtureData) -> float:
        """The GLM components' need (the engine applies one threshold to every component,
        so the point mass needs as much weight as a GLM has parameters)."""
        return self.glm.min_weight(data)

    def n_params(self, n_comp: int) -> int:
        """The GLM components' parameters; the point mass has none (flexmix's ``df = 0``).
        ``n_comp`` counts the point mass."""
        return self.glm.n_params(n_comp - 1)

    def param_names(self, n_comp: int) -> list[tuple[str, str]]:
        """The GLM components' names, numbered from 2 (the point mass is component 1);
        shared coefficients keep their owners (``"shared"``, ``"group<g>"``)."""
        labels = self.component_labels(n_comp)
        return [
            (labels[int(owner[4:])] if _COMP_OWNER.fullmatch(owner) else owner, term)
            for owner, term in self.glm.param_names(n_comp - 1)
        ]

    def component_labels(self, n_comp: int) -> list[str]:
        """``["zero", "comp2", ..., "comp{n_comp}"]``."""
        return [ZERO_LABEL] + [f"comp{k + 1}" for k in range(1, n_comp)]

    def point_masses(self, n_comp: int) -> dict[int, float]:
        """Components that are point masses, by position, and where their mass sits."""
        return {0: 0.0}

    def pinned(self, params: ZIParams) -> NDArray[np.bool_]:
        """The point mass stays first in the canonical order."""
        keep = np.zeros(self.n_components(params), dtype=bool)
        keep[0] = params.zero
        return keep

    def pack(self, params: ZIParams) -> Array:
        """The GLM components' free parameters (:meth:`GLMComponents.pack`)."""
        return self.glm.pack(params.glm)

    def unpack(self, data: MixtureData, vec: Array, like: ZIParams) -> ZIParams:
        """Inverse of :meth:`pack`."""
        return ZIParams(self.glm.unpack(data, vec, like.glm), like.zero)

    def take(self, params: ZIParams, keep: NDArray[np.bool_] | NDArray[np.intp]) -> ZIParams:
        """Kept (mask) or reordered (indices) components; dropping the point mass leaves
        the GLM components alone (flexmix's ``FLXremoveComponent``). A reordering must
        keep the point mass first."""
        nz = params.n_zero
        if np.asarray(keep).dtype == bool:
            zero = params.zero and bool(keep[0])
            return ZIParams(self.glm.take(params.glm, keep[nz:]), zero)
        if nz and keep[0] != 0:
            raise ValueError("the point mass at zero must stay the first component")
        order = np.asarray(keep[nz:], dtype=np.intp) - nz
        return ZIParams(self.glm.take(params.glm, order), params.zero)

    def sort_keys(self, params: ZIParams) -> list[tuple[float, ...]]:
        """The GLM components' keys, after the point mass's (which is pinned first)."""
        return [(-np.inf,)] * params.n_zero + self.glm.sort_keys(params.glm)

    def louis_pieces(self, data: MixtureData, params: ZIParams, tau: Array) -> tuple[Array, Array]:
        """The GLM components' pieces from their posterior columns; under the point mass's
        label every score is zero (it has no parameters)."""
        nz = params.n_zero
        scores, neg_hess = self.glm.louis_pieces(data, params.glm, tau[:, nz:])
        if nz:
            scores = np.concatenate([np.zeros((1,) + scores.shape[1:]), scores], axis=0)
        return scores, neg_hess

    def random_start(
        self, method: str, data: MixtureData, n_comp: int, rng: np.random.Generator
    ) -> ZIParams | Array:
        """The GLM driver's start for the GLM components; ``"quantile"`` posteriors give
        each zero response half to the point mass."""
        start = self.glm.random_start(method, data, n_comp - 1, rng)
        if isinstance(start, GLMParams):
            return ZIParams(start, True)
        zero = np.where(data.y == 0, 0.5, 0.0)[:, None]
        return np.concatenate([zero, start * (1.0 - zero)], axis=1)

    def spurious(self, data: MixtureData, params: ZIParams) -> str | None:
        """As the GLM components'."""
        return self.glm.spurious(data, params.glm)

    def why_singular(self, params: ZIParams) -> str | None:
        """As the GLM components', numbered as in the tables (from 2 after the point
        mass)."""
        why = self.glm.why_singular(params.glm)
        if why is None or not params.zero:
            return why
        return re.sub(r"comp(\d+)", lambda m: f"comp{int(m.group(1)) + 1}", why)

    def simulate(
        self,
        data: MixtureData,
        params: ZIParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> Array:
        """Zero for rows labelled with the point mass, else a draw from their GLM."""
        nz = params.n_zero
        glm_labels = np.maximum(labels - nz, 0)
        y = self.glm.simulate(data, params.glm, glm_labels, rng)
        return np.where(labels < nz, 0.0, y)

    def resimulated(
        self,
        data: MixtureData,
        params: ZIParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> MixtureData:
        """The data with a response drawn by :meth:`simulate` (the parametric bootstrap)."""
        return data.with_responses((self.simulate(data, params, labels, rng),))

    def match_cost(self, fitted: ZIParams, other: ZIParams) -> Array:
        """The GLM components' matching cost; the point mass matches only itself."""
        glm = self.glm.match_cost(fitted.glm, other.glm)
        cost = np.full((self.n_components(fitted), self.n_components(other)), _NO_MATCH)
        cost[fitted.n_zero :, other.n_zero :] = glm
        if fitted.zero and other.zero:
            cost[0, 0] = 0.0
        return cost

    # --- beyond the protocol -----------------------------------------------------------------
    def from_coef(self, data: MixtureData, coef: Array) -> ZIParams:
        """Parameters from the GLM components' bare coefficients (K, p)."""
        return ZIParams(self.glm.from_coef(data, coef), True)


def glm_part(params: object, posterior: Array) -> tuple[GLMParams, Array, int]:
    """The GLM components of a fit: their parameters, their posterior columns and the
    number of the first one in tables (2 after a point mass, else 1)."""
    if isinstance(params, ZIParams):
        return params.glm, posterior[:, params.n_zero :], 1 + params.n_zero
    assert isinstance(params, GLMParams)
    return params, posterior, 1


def check_zero_inflated(zero_inflated: object, family: Family, y: Array | None) -> bool:
    """Validate ``zero_inflated`` before any fitting and return it: a bool, for a family
    with positive probability at zero (:attr:`~emglm.families.Family.has_zero_mass`), and
    (given ``y``) a response with at least one zero."""
    if not isinstance(zero_inflated, (bool, np.bool_)):
        raise InputTypeError(
            f"zero_inflated must be True or False; got {type(zero_inflated).__name__} "
            f"{zero_inflated!r}"
        )
    if not zero_inflated:
        return False
    if not family.has_zero_mass:
        allowed = ", ".join(n for n in FAMILY_NAMES if get_family(n).has_zero_mass)
        raise InputError(
            f"zero_inflated=True needs a family with positive probability at zero; the "
            f"{family.name} family has none, so a point mass at zero is not a zero inflation "
            f"of it; choose one of {allowed}"
        )
    if y is not None and not np.any(y == 0):
        raise InputError(
            "zero_inflated=True but the response has no zeros: the point mass at zero would "
            "be empty; fit without zero_inflated"
        )
    return True
