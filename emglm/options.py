"""The fitting options: one validated object, forwarded by every front end.

:func:`emglm.em_glm`, :meth:`emglm.EMGLM.fit`, :func:`emglm.small_em` and
:func:`emglm.select_k` all build a :class:`FitOptions`; its defaults and checks are the only
ones, so the front ends cannot drift apart. Options that depend on the model (``minprior``
must stay below ``1/K``) are checked by :meth:`FitOptions.check_for`.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from emglm.checks import check_choice, check_n_jobs, check_positive_int, check_tol
from emglm.engine.em import ACCEL_METHODS, EM_METHODS, EMOptions
from emglm.engine.multistart import StartPlan, WarmupBudget
from emglm.engine.starts import INIT_METHODS
from emglm.exceptions import InputError, InputTypeError
from emglm.inference.bootstrap import BOOTSTRAP_KINDS, BOOTSTRAP_STARTS

SE_METHODS = ("louis", "bootstrap", None)

# flexmix's default: a component whose prior falls below this is dropped.
MINPRIOR = 0.05
# The warm-up em_glm runs when no start is given: n_starts short runs like small_em's.
WARMUP_ITER = 20
WARMUP_TOL = 1e-4
#: How many short and long runs the warm-up makes when n_starts / n_long are not given.
WARMUP_BUDGET = WarmupBudget()


@dataclass(frozen=True)
class FitOptions:
    """How to fit a mixture: every setting of :meth:`emglm.EMGLM.fit` but the start and
    the seed, validated when the object is made.

    See :meth:`emglm.EMGLM.fit` for the meaning of each field.

    Examples
    --------
    >>> FitOptions(accel=None, n_starts=3).em_options().accel is None
    True
    >>> FitOptions(method="hard")
    Traceback (most recent call last):
    ...
    emglm.exceptions.InputError: method='hard' is not allowed; choose one of 'em', 'cem', 'sem'
    >>> FitOptions.from_keywords({"n_start": 3}, "select_k")
    Traceback (most recent call last):
    ...
    emglm.exceptions.InputTypeError: select_k got unknown option(s) ['n_start']; allowed: ...
    """

    init: str = "mixed"
    method: str = "em"
    max_iter: int = 1000
    tol: float = 1e-8
    se: str | None = "louis"
    n_boot: int = 200
    bootstrap: str = "nonparametric"
    bootstrap_start: str = "fit"
    # None: the warm-up budget's default for the data (WarmupBudget, docs/warmup.md).
    n_starts: int | None = None
    n_long: int | None = None
    minprior: float | None = None
    n_jobs: int = 1
    progress: bool | None = None
    accel: str | None = "squarem"
    m_step_iter: int = EMOptions.m_step_iter

    def __post_init__(self) -> None:
        check_choice("init", self.init, INIT_METHODS)
        check_choice("method", self.method, EM_METHODS)
        if not (self.accel is None or isinstance(self.accel, str)):
            raise InputTypeError(f"accel must be 'squarem' or None, not {self.accel!r}")
        check_choice("accel", self.accel, ACCEL_METHODS)
        check_choice("se", self.se, SE_METHODS)
        check_choice("bootstrap", self.bootstrap, BOOTSTRAP_KINDS)
        check_choice("bootstrap_start", self.bootstrap_start, BOOTSTRAP_STARTS)
        for name in ("max_iter", "n_boot", "m_step_iter"):
            object.__setattr__(self, name, check_positive_int(name, getattr(self, name)))
        for name in ("n_starts", "n_long"):  # None: sized by the warm-up budget
            if getattr(self, name) is not None:
                object.__setattr__(self, name, check_positive_int(name, getattr(self, name)))
        object.__setattr__(self, "tol", check_tol(self.tol))
        object.__setattr__(self, "n_jobs", check_n_jobs(self.n_jobs))
        if self.progress is not None and not isinstance(self.progress, bool):
            raise InputTypeError(f"progress must be True, False or None, not {self.progress!r}")
        m = self.minprior
        if m is None:
            return  # default_minprior(K), filled in by check_for
        if isinstance(m, bool) or not isinstance(m, numbers.Real) or not 0 <= m < 1:
            raise InputError(f"minprior must be a number in [0, 1); got {m!r}")
        object.__setattr__(self, "minprior", float(m))

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The option names, in order."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_keywords(cls, keywords: Mapping[str, Any], caller: str) -> FitOptions:
        """Options from keyword arguments; unknown names are an error naming ``caller``."""
        unknown = sorted(set(keywords) - set(cls.names()))
        if unknown:
            raise InputTypeError(
                f"{caller} got unknown option(s) {unknown}; allowed: " + ", ".join(cls.names())
            )
        return cls(**keywords)

    def updated(self, **changes: Any) -> FitOptions:
        """A copy with some options changed (validated again)."""
        return replace(self, **changes)

    def check_for(self, n_components: int) -> FitOptions:
        """Checks that depend on the number of components; returns the options with an
        unset ``minprior`` filled in by :func:`default_minprior`."""
        if self.minprior is None:
            return replace(self, minprior=default_minprior(n_components))
        if not self.minprior < 1.0 / n_components:
            raise InputError(
                f"minprior must be a number in [0, 1/K) = [0, {1.0 / n_components:.3g}); "
                f"got {self.minprior!r} (K={n_components}); leave it unset (the default for "
                f"K={n_components} is {default_minprior(n_components):g}) or give a smaller "
                "value"
            )
        return self

    def em_options(self) -> EMOptions:
        """The settings of the long EM run."""
        return EMOptions(
            max_iter=self.max_iter,
            tol=self.tol,
            method=self.method,
            m_step_iter=self.m_step_iter,
            accel=self.accel,
            minprior=MINPRIOR if self.minprior is None else self.minprior,
        )

    def start_plan(self) -> StartPlan:
        """How a fit without a start begins (the warm-up), as the engine takes it."""
        return StartPlan(
            n_starts=self.n_starts,
            init=self.init,
            warmup=self.warmup_options(),
            n_long=self.n_long,
            budget=WARMUP_BUDGET,
        )

    def warmup_options(self) -> EMOptions:
        """The settings of each short warm-up run."""
        return EMOptions(
            max_iter=WARMUP_ITER,
            tol=WARMUP_TOL,
            method=self.method,
            m_step_iter=self.m_step_iter,
            accel=self.accel,
            # A short run stops long before the end where Newton steps help.
            newton=False,
        )


def default_minprior(n_components: int) -> float:
    """The ``minprior`` used when it is not given: flexmix's ``MINPRIOR``, but at most half
    of an equal share ``1/K``, so that it stays below ``1/K`` for any K.

    >>> default_minprior(2), default_minprior(20)
    (0.05, 0.025)
    """
    return min(MINPRIOR, 0.5 / n_components)
