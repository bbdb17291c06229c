"""The engine's state and settings: parameters, EM options and the outcome of a run.

Kept apart from :mod:`emglm.engine.em` so that the EM loop and its accelerator
(:mod:`emglm.engine.accel`) both build on them without importing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
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
    newton : bool
        With SQUAREM, finish with Newton steps on the observed-data log-likelihood
        (:mod:`emglm.engine.newton`) once the log-likelihood changes little.
    """

    max_iter: int = 1000
    tol: float = 1e-8
    method: str = "em"
    m_step_iter: int = 1
    accel: str | None = "squarem"
    minprior: float = 0.0
    newton: bool = True

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
        if not isinstance(self.newton, bool):
            raise InputError(f"newton must be True or False; got {self.newton!r}")


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
    drops: tuple[Drop, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Drop:
    """A component dropped by the minprior rule before M-step ``iteration``: its number
    (1-based, among ``of`` components then), M-step weight and prior, and the
    log-likelihood before the drop and after the M-step that followed it (the only place
    where ``llf_history`` may decrease)."""

    iteration: int
    component: int
    of: int
    weight: float
    prior: float
    llf_before: float
    llf_after: float


class DropLog:
    """Collects the drops of one EM run: ``seen`` is told every log-likelihood the run
    computes, in order, so that each drop gets the llf before it and after its M-step."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.drops: list[Drop] = []
        self._pending: list[Drop] = []
        self.last_llf = float("nan")

    def seen(self, llf: float) -> None:
        """A log-likelihood the run computed (after the drops pending, if any)."""
        self.drops += [replace(d, llf_after=float(llf)) for d in self._pending]
        self._pending.clear()
        self.last_llf = float(llf)

    def dropped(self, drop: Drop, note: str) -> None:
        """Record a drop (its ``llf_after`` comes with the next :meth:`seen`)."""
        self._pending.append(replace(drop, llf_before=self.last_llf))
        self.notes.append(note)

    def finished(self) -> tuple[tuple[str, ...], tuple[Drop, ...]]:
        """The notes and drops of the run."""
        return tuple(self.notes), tuple(self.drops + self._pending)
