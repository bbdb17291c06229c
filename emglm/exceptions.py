"""Errors and warnings raised by emglm.

Every warning the package emits derives from :class:`EMGLMWarning`, so a user can
silence or escalate all of them at once::

    import warnings, emglm
    warnings.simplefilter("error", emglm.EMGLMWarning)

Input errors derive from :class:`ValueError` or :class:`TypeError` and name the bad value
and what is allowed.
"""

from __future__ import annotations

import contextlib
import contextvars
import warnings
from collections.abc import Iterator


class EMGLMWarning(UserWarning):
    """Base class of every warning emitted by emglm."""


class ConvergenceWarning(EMGLMWarning):
    """EM stopped at ``max_iter`` before the log-likelihood settled."""


class DegenerateComponentWarning(EMGLMWarning):
    """A component was dropped (its weight fell below the ``minprior`` rule), or its
    variance collapsed onto the floor where the likelihood is unbounded."""


class NumericalWarning(EMGLMWarning):
    """Numerical trouble was met and handled (overflow guard, singular matrix, ...)."""


class SingularInformationWarning(NumericalWarning):
    """The observed information matrix is singular or indefinite; standard errors come from
    a pseudo-inverse and are not to be trusted for the parameters involved."""


class BootstrapWarning(EMGLMWarning):
    """Many bootstrap replicates failed (did not converge or lost a component)."""


class SeparationWarning(NumericalWarning):
    """Separation: the concomitant covariates separate the components (the log-likelihood
    still rises as the mixing logits grow without bound, so they diverge and are reported
    where EM stopped), or a binomial component's covariates separate its responses (fitted
    probabilities numerically 0 or 1; its coefficients diverge)."""


class InputError(ValueError):
    """A value given by the caller is not allowed; the message says what is."""


class InputTypeError(TypeError):
    """An argument given by the caller has a type that is not allowed."""


class FormulaError(InputError):
    """The formula cannot be parsed or names something that is not in the data."""


class FitError(RuntimeError):
    """The fit could not be carried out (for example every start failed)."""


def user_stacklevel() -> int:
    """``stacklevel`` for :func:`warnings.warn` that points at the first frame outside the
    emglm package, i.e. at the user's line, however deep inside emglm the warning arises."""
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("emglm"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


# Where emit() sends warnings: None (the warnings module) or a per-call list. A context
# variable is private to its thread (and task), so concurrent calls never see each other's
# list, and the process-wide warning filters are never touched.
_SINK: contextvars.ContextVar[list[tuple[type[Warning], str]] | None] = contextvars.ContextVar(
    "emglm_warning_sink", default=None
)


def emit(message: str, category: type[Warning]) -> None:
    """Warn with ``category``, pointing at the user's line, or record the warning when a
    :func:`collect` block of this thread is active."""
    sink = _SINK.get()
    if sink is not None:
        sink.append((category, message))
        return
    warnings.warn(message, category, stacklevel=user_stacklevel())


@contextlib.contextmanager
def collect() -> Iterator[list[tuple[type[Warning], str]]]:
    """Record the warnings :func:`emit` gives in this block (this thread only) instead of
    warning; yields the list of ``(category, message)`` it fills.

    Examples
    --------
    >>> with collect() as caught:
    ...     emit("EM did not converge", ConvergenceWarning)
    >>> caught
    [(<class 'emglm.exceptions.ConvergenceWarning'>, 'EM did not converge')]
    """
    sink: list[tuple[type[Warning], str]] = []
    token = _SINK.set(sink)
    try:
        yield sink
    finally:
        _SINK.reset(token)
