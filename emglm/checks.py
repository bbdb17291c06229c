"""Checks of single argument values, shared by every layer: each raises an
:class:`~emglm.exceptions.InputError` or :class:`~emglm.exceptions.InputTypeError` that names
the value and what is allowed."""

from __future__ import annotations

import numbers
import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from emglm.exceptions import InputError, InputTypeError


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise :class:`InputError` naming ``value`` and the allowed ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InputError(f"{name}={value!r} is not allowed; choose one of {allowed}")


def check_positive_int(name: str, value: Any, upper: int | None = None, what: str = "rows") -> int:
    """Raise unless ``value`` is an integer >= 1 (and <= ``upper``, the number of ``what``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be a positive integer, not {value!r}")
    value = int(value)
    if value < 1:
        raise InputError(f"{name} must be a positive integer; got {value}")
    if upper is not None and value > upper:
        raise InputError(f"{name}={value} is larger than the number of {what} ({upper})")
    return value


def check_tol(tol: Any) -> float:
    """Raise unless ``tol`` is a positive finite number."""
    if isinstance(tol, bool) or not isinstance(tol, numbers.Real):
        raise InputTypeError(f"tol must be a positive number, not {tol!r}")
    if not np.isfinite(float(tol)) or tol <= 0:
        raise InputError(f"tol must be a positive number; got {tol!r}")
    return float(tol)


def check_n_jobs(n_jobs: Any) -> int:
    """Number of worker processes: a positive integer, or -1 for one per CPU."""
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise InputTypeError(f"n_jobs must be a positive integer or -1, not {n_jobs!r}")
    if n_jobs == -1:
        return os.cpu_count() or 1
    if n_jobs < 1:
        raise InputError(f"n_jobs must be a positive integer or -1; got {n_jobs}")
    return int(n_jobs)
