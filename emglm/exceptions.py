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
    """A component lost (almost) all of its posterior weight or its GLM became singular."""


class NumericalWarning(EMGLMWarning):
    """Numerical trouble was met and handled (overflow guard, singular matrix, ...)."""


class SeparationWarning(NumericalWarning):
    """The concomitant covariates separate the components: the mixing logits diverge, and
    the fit stopped on the log-odds bound ``emglm.mixing.MAX_LOGODDS``."""


class InputError(ValueError):
    """A value given by the caller is not allowed; the message says what is."""


class InputTypeError(TypeError):
    """An argument given by the caller has a type that is not allowed."""


class FormulaError(InputError):
    """The formula cannot be parsed or names something that is not in the data."""


class FitError(RuntimeError):
    """The fit could not be carried out (for example every start failed)."""
