"""R's formula syntax where it differs from patsy's: ``^`` and the ``.`` of all columns.

* ``^`` is R's power: ``I(x^2)`` is the square of ``x`` and ``(a + b)^2`` all main effects
  and two-way interactions. patsy (Python) writes both as ``**`` and reads ``^`` inside
  ``I()`` as a bitwise exclusive or, so every ``^`` becomes ``**``.
* ``y ~ .`` (and ``y ~ . + I(x^2)``, ``y ~ . - z``) means every column of the data that the
  formula does not otherwise use as its response, grouping, offset, exposure or weights.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Iterable

from emglm.exceptions import FormulaError

_DOT = re.compile(r"(?<![\w.])\.(?![\w.])")


def r_syntax(formula: str, columns: Iterable[object], exclude: Iterable[str] = ()) -> str:
    """``formula`` with R's ``^`` and ``.`` written as patsy understands them.

    Examples
    --------
    >>> r_syntax("y ~ x + I(x^2)", ["y", "x"])
    'y ~ x + I(x**2)'
    >>> r_syntax("y ~ .", ["y", "a", "b c", "w"], exclude=["w"])
    "y ~ (a + Q('b c'))"
    """
    formula = formula.replace("^", "**")
    if "~" not in formula:
        return formula
    lhs, rhs = formula.split("~", 1)
    if not _DOT.search(rhs):
        return formula
    used = set(_names(lhs)) | set(exclude)
    others = [str(c) for c in columns if str(c) not in used]
    if not others:
        raise FormulaError(
            f"formula {formula!r}: '.' stands for the columns other than the response, and "
            "the data have none"
        )
    dot = "(" + " + ".join(_term(c) for c in others) + ")"
    return lhs + "~" + _DOT.sub(lambda _: dot, rhs)


def response_names(formula: str) -> list[str]:
    """The names the response of ``formula`` uses (``cbind(s, f) ~ x`` -> ``s``, ``f``)."""
    return _names(formula.split("~", 1)[0]) if "~" in formula else []


def _names(code: str) -> list[str]:
    """The names an expression uses (the response's variables)."""
    try:
        tree = ast.parse(code.strip() or "0", mode="eval")
    except SyntaxError:
        return []
    return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name)]


def _term(column: str) -> str:
    """A column as a formula term: its name, or ``Q('name')`` when it is not a name."""
    if column.isidentifier() and not keyword.iskeyword(column):
        return column
    return f"Q({column!r})"
