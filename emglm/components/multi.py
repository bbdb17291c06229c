"""Several responses sharing one latent class (flexmix's ``model = list(FLXMRglm(yn ~ .),
FLXMRglm(yp ~ ., family = "poisson"))``).

Each response has its own GLM (family, design) in every component; given the component the
responses are independent, so the component density is the product of the responses'
densities and its log-density the sum. :class:`MultiResponseComponents` holds one
:class:`~emglm.components.glm.GLMComponents` driver per response and implements the
component-model protocol by combining them: log-densities add up, the M-step fits each
response's GLMs with the same weights, the parameters are packed response by response.
Response ``r``'s data are :meth:`emglm.data.arrays.MixtureData.response` ``(r)``.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.components.base import LogDensityEStep, NextEStep, e_step_from_log_densities
from emglm.components.glm import GLMComponents, GLMParams
from emglm.data.arrays import MixtureData

Array = NDArray[np.float64]


@dataclass(frozen=True)
class MultiParams:
    """The GLM parameters of every response: ``parts[r]`` for response r."""

    parts: tuple[GLMParams, ...]


@dataclass(frozen=True)
class MultiResponseComponents:
    """K components, each a GLM for every response; response ``r`` is ``parts[r]`` and is
    named ``names[r]`` (term labels are ``"<response>:<term>"``).

    Examples
    --------
    >>> from emglm.families import get_family
    >>> both = MultiResponseComponents(
    ...     (GLMComponents(get_family("gaussian"), ("Intercept",)),
    ...      GLMComponents(get_family("poisson"), ("Intercept", "x"))), ("yn", "yp"))
    >>> both.n_params(2), both.param_names(1)
    (8, [('comp1', 'yn:Intercept'), ('comp1', 'yn:log(sigma)'), ('comp1', 'yp:Intercept'), ('comp1', 'yp:x')])
    """

    parts: tuple[GLMComponents, ...]
    names: tuple[str, ...]

    def n_components(self, params: MultiParams) -> int:
        """Number of components K."""
        return self.parts[0].n_components(params.parts[0])

    def log_densities(self, data: MixtureData, params: MultiParams) -> Array:
        """The sum over responses of their log-densities, (n, K)."""
        total = self.parts[0].log_densities(data.response(0), params.parts[0])
        for r in range(1, len(self.parts)):
            total = total + self.parts[r].log_densities(data.response(r), params.parts[r])
        return total

    def e_step(
        self, data: MixtureData, params: MultiParams, log_prior: Array, linearise: bool
    ) -> LogDensityEStep:
        """The E-step from the summed log-densities (no fused pass)."""
        return e_step_from_log_densities(data, self.log_densities(data, params), log_prior)

    def m_step_cold(self, data: MixtureData, wtau: Array) -> MultiParams:
        """Every response's GLMs fitted to the same weights."""
        return MultiParams(
            tuple(part.m_step_cold(data.response(r), wtau) for r, part in enumerate(self.parts))
        )

    def m_step(
        self,
        data: MixtureData,
        wtau: Array,
        params: MultiParams,
        next_estep: NextEStep | None,
        first: object,
        m_step_iter: int,
    ) -> tuple[MultiParams, None]:
        """Each response's warm M-step with the same weights; never a fused E-step."""
        parts = tuple(
            part.m_step(data.response(r), wtau, params.parts[r], None, None, m_step_iter)[0]
            for r, part in enumerate(self.parts)
        )
        return MultiParams(parts), None

    def min_weight(self, data: MixtureData) -> float:
        """A component needs as much weight as its largest GLM has parameters."""
        return max(part.min_weight(data.response(r)) for r, part in enumerate(self.parts))

    def n_params(self, n_comp: int) -> int:
        """The responses' parameters added up."""
        return sum(part.n_params(n_comp) for part in self.parts)

    def param_names(self, n_comp: int) -> list[tuple[str, str]]:
        """Response by response, the GLM driver's labels with the response's name."""
        return [
            (comp, f"{name}:{term}")
            for name, part in zip(self.names, self.parts, strict=True)
            for comp, term in part.param_names(n_comp)
        ]

    def pack(self, params: MultiParams) -> Array:
        """The responses' packed parameters, one after the other."""
        return np.concatenate([p.pack(q) for p, q in zip(self.parts, params.parts, strict=True)])

    def unpack(self, data: MixtureData, vec: Array, like: MultiParams) -> MultiParams:
        """Inverse of :meth:`pack`."""
        out, start = [], 0
        for r, (part, q) in enumerate(zip(self.parts, like.parts, strict=True)):
            size = part.pack(q).shape[0]
            out.append(part.unpack(data.response(r), vec[start : start + size], q))
            start += size
        return MultiParams(tuple(out))

    def take(self, params: MultiParams, keep: NDArray[np.bool_] | NDArray[np.intp]) -> MultiParams:
        """The kept or reordered components of every response."""
        return MultiParams(
            tuple(p.take(q, keep) for p, q in zip(self.parts, params.parts, strict=True))
        )

    def sort_keys(self, params: MultiParams) -> list[tuple[float, ...]]:
        """The responses' keys, one after the other."""
        keys = [p.sort_keys(q) for p, q in zip(self.parts, params.parts, strict=True)]
        return [sum(k, ()) for k in zip(*keys, strict=True)]

    def louis_pieces(
        self, data: MixtureData, params: MultiParams, tau: Array
    ) -> tuple[Array, Array]:
        """The responses' scores side by side; their Hessians are block-diagonal (no
        parameter is shared between responses)."""
        pieces = [
            part.louis_pieces(data.response(r), params.parts[r], tau)
            for r, part in enumerate(self.parts)
        ]
        scores = np.concatenate([s for s, _ in pieces], axis=2)
        size = scores.shape[2]
        hess = np.zeros((size, size))
        start = 0
        for _, h in pieces:
            hess[start : start + h.shape[0], start : start + h.shape[0]] = h
            start += h.shape[0]
        return scores, hess

    def random_start(
        self, method: str, data: MixtureData, n_comp: int, rng: np.random.Generator
    ) -> MultiParams | Array:
        """``"quantile"``, ``"tail"``: the first response's residual partition; ``"fit"``: every
        response's pooled GLM, perturbed independently."""
        if method in ("quantile", "tail"):
            tau = self.parts[0].random_start(method, data, n_comp, rng)
            assert isinstance(tau, np.ndarray)  # the GLM driver's residual partitions
            return tau
        starts = [
            part.random_start(method, data.response(r), n_comp, rng)
            for r, part in enumerate(self.parts)
        ]
        return MultiParams(tuple(s for s in starts if isinstance(s, GLMParams)))

    def spurious(self, data: MixtureData, params: MultiParams) -> str | None:
        """The first response's reason a fit is spurious, if any has one."""
        for r, part in enumerate(self.parts):
            why = part.spurious(data.response(r), params.parts[r])
            if why is not None:
                return f"{self.names[r]}: {why}"
        return None

    def why_singular(self, params: MultiParams) -> str | None:
        """Two components equal in every response."""
        whys = [p.why_singular(q) for p, q in zip(self.parts, params.parts, strict=True)]
        return whys[0] if all(w is not None for w in whys) else None

    def resimulated(
        self,
        data: MixtureData,
        params: MultiParams,
        labels: NDArray[np.intp],
        rng: np.random.Generator,
    ) -> MixtureData:
        """Every response drawn from the labelled components."""
        ys = tuple(
            part.simulate(data.response(r), params.parts[r], labels, rng)
            for r, part in enumerate(self.parts)
        )
        return data.with_responses(ys)

    def match_cost(self, fitted: MultiParams, other: MultiParams) -> Array:
        """The responses' matching costs added up."""
        costs = [
            p.match_cost(a, b)
            for p, a, b in zip(self.parts, fitted.parts, other.parts, strict=True)
        ]
        return np.asarray(sum(costs))
