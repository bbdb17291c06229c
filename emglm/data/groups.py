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

from emglm.data.arrays import Grouping
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


def grouping_of(labels: NDArray[Any], weights: NDArray[Any], Z: NDArray[Any]) -> Grouping:
    """The :class:`Grouping` of rows with group ``labels``, after checking that the case
    ``weights`` and the concomitant design ``Z`` are constant within every group (a group
    has one latent class, so one prior and one weight). Every backend builds its groups
    here: the in-memory model on all rows, the Dask backend on each partition.

    Examples
    --------
    >>> g = grouping_of(np.array(["a", "b", "a"]), np.ones(3), np.ones((3, 1)))
    >>> g.codes.tolist(), g.n_groups
    ([0, 1, 0], 2)
    >>> grouping_of(np.array(["a", "b", "a"]), np.array([1.0, 1.0, 2.0]), np.ones((3, 1)))
    Traceback (most recent call last):
    ...
    emglm.exceptions.InputError: the case weights vary within group a: ...
    """
    groups = Grouping.of(labels)
    _check_constant_within(groups, labels, weights[:, None], "case weights")
    _check_constant_within(groups, labels, Z, "concomitant covariates")
    return groups


def _check_constant_within(
    groups: Grouping, labels: NDArray[Any], values: NDArray[Any], what: str
) -> None:
    """Raise unless every row of a group has the same ``values`` (rows, columns)."""
    differs = np.any(values != values[groups.first][groups.codes], axis=1)
    if differs.any():
        row = int(np.flatnonzero(differs)[0])
        raise InputError(
            f"the {what} vary within group {labels[row]}: all rows of a group share one "
            f"latent class, so their {what} must be the same in every row of the group"
        )
