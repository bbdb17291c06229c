"""Formulas from untrusted text: an allow-list check of their Python, and an environment
without builtins to evaluate them in.

The terms of a patsy formula are Python expressions. Through the Python API they are
evaluated in the caller's namespace, as statsmodels does: a formula is code, and anything
the caller can run, the formula can run (``docs/security.md``). With
``safe_formula=True`` (what the command line always uses) every expression is checked
here *before* patsy evaluates anything, and evaluated with no builtins at all. What is
allowed:

* names of the data's columns, numbers, and string or list literals as arguments;
* arithmetic (``+ - * / // % **``), comparisons, ``& | ~``, ``and``/``or``/``not``;
* calls of the documented transforms (:data:`TRANSFORMS`: ``I``, ``C``, ``Q``,
  ``center``, ``standardize``, ``scale``, ``offset``, ``cbind``, ``log``, ``exp``,
  patsy's contrasts and splines);
* ``np.NAME`` for NumPy's element-wise functions (ufuncs such as ``np.log``,
  ``np.sqrt``) and :data:`NUMPY_EXTRAS`.

Everything else is refused: any other name (builtins such as ``__import__`` or
``open``), any other attribute access (``x.to_csv``, ``np.savetxt``, dunder names),
subscripts, lambdas, comprehensions, f-strings, ``<<``/``>>``, arithmetic on string or
list literals, and powers that would build huge Python integers from constants.
"""

from __future__ import annotations

import ast
from collections.abc import Collection
from typing import Any

import numpy as np
from patsy.eval import EvalEnvironment, VarLookupDict

from emglm.exceptions import FormulaError

TRANSFORMS = frozenset(
    {
        "I",
        "C",
        "Q",
        "center",
        "standardize",
        "scale",
        "offset",
        "cbind",
        "log",
        "exp",
        "Treatment",
        "Sum",
        "Helmert",
        "Poly",
        "Diff",
        "bs",
        "cr",
        "cc",
        "te",
    }
)
NUMPY_EXTRAS = frozenset({"where", "clip", "round", "around", "pi", "e", "nan", "inf"})
# Largest constant exponent: 1e308 ** 1024 already overflows a float; a larger integer
# power of integer constants only costs time and memory.
_MAX_EXPONENT = 1024

_NODES = (
    ast.Expression,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.BoolOp,
    ast.Call,
    ast.keyword,
    ast.List,
    ast.Tuple,
    ast.Attribute,
    ast.operator,
    ast.unaryop,
    ast.cmpop,
    ast.boolop,
)
_REFUSED_OPS = (ast.LShift, ast.RShift, ast.MatMult, ast.In, ast.NotIn, ast.Is, ast.IsNot)


def numpy_allowed(name: str) -> bool:
    """Whether ``np.<name>`` may appear in a safe formula."""
    return name in NUMPY_EXTRAS or isinstance(getattr(np, name, None), np.ufunc)


class NoBuiltinsEnvironment(EvalEnvironment):  # type: ignore[misc]
    """A patsy evaluation environment whose expressions see no Python builtins.

    patsy evaluates with ``eval(code, {}, namespace)``, and Python then supplies the
    builtins module; here the globals are ``{"__builtins__": {}}``. The class survives
    patsy's ``subset`` (which would otherwise return a plain environment).
    """

    def eval(self, expr: str, source_name: str = "<string>", inner_namespace: Any = None) -> Any:
        code = compile(expr, source_name, "eval", self.flags, False)
        lookup = VarLookupDict([inner_namespace or {}] + self._namespaces)
        return eval(code, {"__builtins__": {}}, lookup)  # noqa: S307 -- checked code only

    def subset(self, names: Collection[str]) -> NoBuiltinsEnvironment:
        lookup = VarLookupDict(self._namespaces)
        return NoBuiltinsEnvironment([{name: lookup[name] for name in names}], self.flags)


def check_code(code: str, formula: str, columns: Collection[str]) -> None:
    """Raise :class:`FormulaError` unless the Python expression ``code`` (one term of
    ``formula``) uses only what safe formulas allow (see the module docstring).

    Examples
    --------
    >>> check_code("np.log(x) + I(x**2)", "y ~ np.log(x)", ["x", "y"])
    >>> check_code("__import__('os').getcwd()", "y ~ f", ["x"])
    Traceback (most recent call last):
    ...
    emglm.exceptions.FormulaError: formula 'y ~ f' uses '__import__', which is not a column of data nor a function allowed in safe formulas (I, C, Q, center, standardize, scale, offset, cbind, log, exp, contrasts, splines, np.<ufunc>); the columns are: x
    """
    try:
        tree = ast.parse(code.strip(), mode="eval")
    except SyntaxError:
        raise FormulaError(f"cannot parse {code!r} in formula {formula!r}") from None
    cols = set(map(str, columns))
    nodes = list(ast.walk(tree))
    # Names first: a message naming '__import__' says more than one about its attribute.
    nodes.sort(key=lambda node: not isinstance(node, ast.Name))
    for node in nodes:
        problem = _problem(node, cols)
        if problem is None:
            continue
        if problem.startswith("name "):
            name = problem[5:]
            shown = ", ".join(sorted(cols)[:20])
            raise FormulaError(
                f"formula {formula!r} uses {name!r}, which is not a column of data nor a "
                "function allowed in safe formulas (I, C, Q, center, standardize, scale, "
                "offset, cbind, log, exp, contrasts, splines, np.<ufunc>); the columns are: "
                f"{shown}"
            )
        raise FormulaError(
            f"formula {formula!r} is refused: {problem} in {code!r}; safe formulas may "
            "use the data's columns, numbers, arithmetic, np.<ufunc> and the documented "
            "transforms only"
        )


def _problem(node: ast.AST, columns: set[str]) -> str | None:
    """What is wrong with one node, or None."""
    if not isinstance(node, _NODES) or isinstance(node, _REFUSED_OPS):
        return f"{type(node).__name__} is not allowed"
    if isinstance(node, ast.Name):
        if node.id.startswith("__") or (
            node.id not in columns and node.id not in TRANSFORMS and node.id != "np"
        ):
            return f"name {node.id}"
    elif isinstance(node, ast.Attribute):
        if not (isinstance(node.value, ast.Name) and node.value.id == "np"):
            return f"attribute access '.{node.attr}' is not allowed (only np.<function>)"
        if not numpy_allowed(node.attr):
            return f"np.{node.attr} is not an allowed NumPy function (element-wise ufuncs only)"
    elif isinstance(node, ast.Call):
        return _call_problem(node, columns)
    elif isinstance(node, ast.Constant):
        if not isinstance(node.value, int | float | str | bool | type(None)):
            return f"the constant {node.value!r} is not allowed"
    elif isinstance(node, ast.BinOp):
        return _binop_problem(node, columns)
    return None


def _call_problem(node: ast.Call, columns: set[str]) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        if func.id not in TRANSFORMS:
            return f"name {func.id}"
        if func.id == "Q" and not (
            len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and node.args[0].value in columns
        ):
            return "Q() takes one quoted column name"
    elif not isinstance(func, ast.Attribute):
        return "only the documented transforms and np.<function> may be called"
    if any(isinstance(a, ast.Starred) for a in node.args):
        return "*arguments are not allowed"
    for kw in node.keywords:
        if kw.arg is None or kw.arg.startswith("__"):
            return "**arguments and dunder keywords are not allowed"
    return None


def _binop_problem(node: ast.BinOp, columns: set[str]) -> str | None:
    for side in (node.left, node.right):
        if isinstance(side, ast.List | ast.Tuple) or (
            isinstance(side, ast.Constant) and isinstance(side.value, str)
        ):
            return "arithmetic on string or list literals is not allowed"
    if isinstance(node.op, ast.Pow):
        if not _uses_column(node.right, columns):
            value = _number(node.right)
            if value is None or abs(value) > _MAX_EXPONENT:
                return (
                    f"a constant exponent must be a number of at most {_MAX_EXPONENT} "
                    "in absolute value"
                )
        if not _uses_column(node.left, columns) and any(
            isinstance(n, ast.BinOp) and isinstance(n.op, ast.Pow) for n in ast.walk(node.left)
        ):
            return "a power of a constant power is not allowed"
    return None


def _uses_column(node: ast.AST, columns: set[str]) -> bool:
    return any(isinstance(n, ast.Name) and n.id in columns for n in ast.walk(node))


def _number(node: ast.AST) -> float | None:
    """The value of a numeric literal, a signed one or a ratio of two (``1/3``)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _number(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        num, den = _number(node.left), _number(node.right)
        if num is not None and den:
            return num / den
    return None
