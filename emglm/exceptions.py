"""Errors and warnings raised by emglm.

Every warning the package emits derives from :class:`EMGLMWarning`, so a user can
silence or escalate all of them at once::

    import warnings, emglm
    warnings.simplefilter("error", emglm.EMGLMWarning)

Input errors derive from :class:`ValueError` or :class:`TypeError` and name the bad value
and what is allowed.
"""

from __future__ import annotations


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
    """Separation: the concomitant covariates separate the components (the mixing logits
    diverge, and the fit stopped on the log-odds bound ``emglm.mixing.MAX_LOGODDS``), or a
    binomial component's covariates separate its responses (fitted probabilities
    numerically 0 or 1; its coefficients diverge)."""


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
