"""Grouped observations: flexmix's ``y ~ x | g`` and the ``groups=`` argument.

All rows of a group share one latent class. Here the grouping is read from the formula or
the argument and checked; :class:`emglm.data.arrays.Grouping` numbers the groups and the
engine sums the log-densities of a group's rows before normalising the posteriors.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm.exceptions import FormulaError, InputError, InputTypeError

_SYNTAX = (
    "grouping is written 'y ~ x | g' (flexmix style: one '|' at the end of the formula, "
    "followed by the name of the grouping column), or given as groups='g' or an array"
)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def split_groups(formula: str) -> tuple[str, str | None]:
    """Split flexmix's grouping term off a formula: ``"y ~ x | id"`` -> ``("y ~ x", "id")``.

    A ``|`` anywhere else (inside parentheses, on the left-hand side, twice, or followed by
    anything but a column name) is an error that says what is supported; patsy would read
    it as a bitwise or.

    Examples
    --------
    >>> split_groups("y ~ x1 + x2 | subject")
    ('y ~ x1 + x2', 'subject')
    >>> split_groups("y ~ x")
    ('y ~ x', None)
    >>> split_groups("y ~ I(a | b)")
    Traceback (most recent call last):
    ...
    emglm.exceptions.FormulaError: formula 'y ~ I(a | b)' has a '|' inside parentheses; ...
    """
    if "|" not in formula:
        return formula, None
    depth = 0
    cuts = []
    for i, ch in enumerate(formula):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "|":
            if depth > 0:
                raise FormulaError(f"formula {formula!r} has a '|' inside parentheses; " + _SYNTAX)
            cuts.append(i)
    if len(cuts) > 1:
        raise FormulaError(f"formula {formula!r} has {len(cuts)} '|'; " + _SYNTAX)
    head, name = formula[: cuts[0]], formula[cuts[0] + 1 :].strip()
    if "~" not in head:
        raise FormulaError(f"formula {formula!r} has a '|' before its '~'; " + _SYNTAX)
    if not _NAME.match(name):
        raise FormulaError(
            f"formula {formula!r}: after '|' comes {name!r}, not a column name; " + _SYNTAX
        )
    return head.rstrip(), name


def group_labels(
    groups: str | Sequence[Any] | NDArray[Any] | pd.Series | None, frame: pd.DataFrame
) -> NDArray[Any] | None:
    """The group label of every row of ``frame`` (a column name or one value per row), or
    ``None``. Missing labels are an error: a row with no group cannot be placed."""
    if groups is None:
        return None
    if isinstance(groups, str):
        if groups not in frame.columns:
            cols = ", ".join(map(str, frame.columns[:20]))
            raise InputError(
                f"the grouping column {groups!r} is not a column of data; the columns are: {cols}"
            )
        values = frame[groups]
        label = f"grouping column {groups!r}"
    else:
        if isinstance(groups, (bytes, dict, set)) or np.ndim(groups) != 1:
            raise InputTypeError(
                "groups must be a column name or one label per row of data, not "
                f"{type(groups).__name__}"
            )
        values = pd.Series(np.asarray(groups, dtype=object))
        label = "groups"
        if len(values) != len(frame):
            raise InputError(
                f"groups must have one label per row of data ({len(frame)}); got {len(values)}"
            )
    missing = pd.isna(values).to_numpy()
    if missing.any():
        rows = np.flatnonzero(missing)[:3].tolist()
        raise InputError(
            f"the {label} has missing values (rows {rows}{', ...' if missing.sum() > 3 else ''}); "
            "every row needs a group: fill them in or drop those rows"
        )
    return np.asarray(values.astype(str) if values.dtype == object else values)
