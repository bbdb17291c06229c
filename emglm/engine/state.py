"""The engine's state and settings: parameters, EM options and the outcome of a run.

Kept apart from :mod:`emglm.engine.em` so that the EM loop and its accelerator
(:mod:`emglm.engine.accel`) both build on them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from emglm.exceptions import InputError

Array = NDArray[np.float64]

EM_METHODS = ("em", "cem", "sem")
ACCEL_METHODS = ("squarem", None)


@dataclass(frozen=True)
class MixtureParams:
    """All free parameters of a mixture: the solver state between iterations.

    Attributes
    ----------
    components : the component model's parameters (e.g.
        :class:`~emglm.components.glm.GLMParams`).
    gamma : (q, K) mixing logits; column 0 (comp1) is the reference.
    """

    components: Any
    gamma: Array

    @property
    def n_components(self) -> int:
        """Number of components K."""
        return int(self.gamma.shape[1])


@dataclass(frozen=True)
class EMOptions:
    """Settings of one EM run (inputs, kept apart from the solver state).

    Attributes
    ----------
    max_iter : int
        Most M-steps.
    tol : float
        Stop when the relative change of the log-likelihood is below ``tol`` (SQUAREM: and
        the parameters' estimated distance to the fixed point, :mod:`emglm.engine.accel`).
    method : str
        The EM variant.
    m_step_iter : int
        IRLS steps per M-step for each component (warm-started, step-halving, so each is a
        generalised EM step). One step was fastest in ``benchmarks/bench_em.py`` and reached
        the same optimum; see ``docs/performance.md``.
    accel : {"squarem", None}
        EM acceleration (:mod:`emglm.accel`), for ``method="em"``; ``None`` is plain EM.
    minprior : float
        Components whose M-step weight falls below ``minprior * nobs`` are dropped.
    """

    max_iter: int = 1000
    tol: float = 1e-8
    method: str = "em"
    m_step_iter: int = 1
    accel: str | None = "squarem"
    minprior: float = 0.0

    def __post_init__(self) -> None:
        if self.accel not in ACCEL_METHODS:
            allowed = ", ".join(repr(a) for a in ACCEL_METHODS)
            raise InputError(f"accel={self.accel!r} is not allowed; choose one of {allowed}")
        if (
            isinstance(self.m_step_iter, bool)
            or not isinstance(self.m_step_iter, int)
            or (self.m_step_iter < 1)
        ):
            raise InputError(f"m_step_iter must be a positive integer; got {self.m_step_iter!r}")


@dataclass(frozen=True)
class EMFit:
    """Outcome of one EM run."""

    params: MixtureParams
    posterior: Array
    llf: float
    llf_history: Array
    n_iter: int
    converged: bool
    last_change: float
    notes: tuple[str, ...] = field(default_factory=tuple)
