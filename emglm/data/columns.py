"""The data columns a formula uses: checked and normalised before patsy evaluates them.

* pandas' nullable dtypes (``Int64``, ``Float64``, ``boolean``, ``string``) are turned into
  what patsy understands, ``pd.NA`` becoming a missing value like ``NaN``: numbers to
  ``float64`` with ``NaN``, booleans and strings to objects with ``None``. The rows are then
  dropped (as R's ``na.omit``) when fitting, and refused by ``predict``.
* Dates, times, periods, time spans and complex numbers are refused, naming the column.
* A column used as a bare term is a factor only when it is categorical, boolean or holds
  strings that are not numbers: numbers stored as strings and object columns mixing types
  (both usually a column read wrongly) are refused unless written ``C(x)``.

Only a copy of the caller's frame is changed; only the columns the formula uses are looked at.

Checks of evaluated pieces live here too: :func:`refuse_factor_offsets` (``offset(g)`` of a
factor) and :func:`refuse_non_finite` (what ``predict`` is built from).
"""

from __future__ import annotations

import ast
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import patsy
from numpy.typing import NDArray
from patsy.desc import ModelDesc
from patsy.eval import EvalFactor

from emglm.exceptions import FormulaError, InputError, InputTypeError

_ALLOWED = "numbers, booleans, strings or categoricals"


def prepare(
    frame: pd.DataFrame,
    formula: str,
    concomitant: Any = None,
    extras: Sequence[Any] = (),
) -> pd.DataFrame:
    """Check the columns ``formula`` (and ``concomitant``, and the column names in
    ``extras``) use and return ``frame`` with their nullable dtypes converted.

    ``frame`` itself is never modified; it is returned as is when nothing needs converting.
    A formula that does not parse is left for the formula front end to report.

    Examples
    --------
    >>> df = pd.DataFrame({"y": pd.array([1, None, 3], dtype="Int64"), "x": [0.1, 0.2, 0.3]})
    >>> prepare(df, "y ~ x").y.tolist()
    [1.0, nan, 3.0]
    >>> prepare(df.assign(s=["1", "2", "3"]), "y ~ s")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    emglm.exceptions.InputTypeError: column 's' holds numbers stored as strings (e.g. '1', ...
    """
    codes = _codes(formula, concomitant)
    if codes is None:
        return frame
    lhs, rhs = codes
    names = [str(e) for e in extras if isinstance(e, str)]
    used = _names_in(lhs + rhs, frame.columns) | {n for n in names if n in frame.columns}
    duplicated = sorted({n for n in used if list(frame.columns).count(n) > 1}, key=str)
    if duplicated:
        raise InputError(
            f"data has several columns named {duplicated[0]!r}; the formula cannot tell "
            "them apart: rename them"
        )
    converted = {}
    for name in sorted(used, key=str):
        _refuse_dtype(name, frame[name])
        new = _normalised(frame[name])
        if new is not None:
            converted[name] = new
    if converted:
        frame = frame.assign(**converted)
    for name in sorted(_bare_names(rhs, frame.columns), key=str):
        _refuse_ambiguous_factor(name, frame[name])
    return frame


def refuse_missing(frame: pd.DataFrame, formula: str, concomitant: Any, what: str) -> None:
    """Raise :class:`InputError` naming the first column the right-hand sides use that has
    a missing value (``predict`` needs every row)."""
    codes = _codes(formula, concomitant)
    if codes is None:
        return
    for name in sorted(_names_in(codes[1], frame.columns), key=str):
        missing = np.flatnonzero(pd.isna(frame[name]).to_numpy())
        if missing.size:
            raise InputError(
                f"{what} column {name!r} has missing values (at rows {missing[:5].tolist()}); "
                "predictions need a value in every row: drop or fill those rows"
            )


def refuse_factor_offsets(formula: str, offsets: Sequence[Any]) -> None:
    """Refuse ``offset(g)`` of a factor (strings, booleans, categoricals): patsy would
    dummy-code it and the offset would be the sum of the dummies. ``offsets`` are the
    offset terms' patsy design infos."""
    for design_info in offsets:
        for factor, info in design_info.factor_infos.items():
            if info.type == "categorical":
                raise FormulaError(
                    f"the term {factor.name()!r} of formula {formula!r} is an offset of a "
                    f"factor (levels {list(info.categories)[:5]}); an offset must be numeric"
                )


def refuse_non_finite(values: dict[Any, NDArray[np.float64]], what: str) -> None:
    """Refuse NaN and inf in what predictions are built from (design columns, offsets,
    exposure), naming the column and rows."""
    for name, col in values.items():
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            label = what if name is None else f"{what} {name!r}"
            raise InputError(
                f"{label} is not finite (inf or NaN) in newdata at rows "
                f"{bad[:5].tolist()}: {col[bad[:3]]}; predictions need a finite value in "
                "every row"
            )


def _codes(formula: str, concomitant: Any) -> tuple[list[str], list[str]] | None:
    """The factor codes of the left-hand side and of the right-hand sides."""
    try:
        desc = ModelDesc.from_formula(formula)
        lhs, rhs = _factor_codes(desc.lhs_termlist), _factor_codes(desc.rhs_termlist)
        if isinstance(concomitant, str):
            text = concomitant if "~" in concomitant else "~ " + concomitant
            conc = ModelDesc.from_formula(text)
            rhs += _factor_codes(conc.lhs_termlist + conc.rhs_termlist)
    except (patsy.PatsyError, TypeError):
        return None
    return lhs, rhs


def _factor_codes(terms: Iterable[Any]) -> list[str]:
    return [f.code for t in terms for f in t.factors if isinstance(f, EvalFactor)]


def _column_of(node: ast.AST, columns: pd.Index) -> Any:
    """The column a name node (``x``) or a quoted name (``Q("x y")``) refers to, or None."""
    if isinstance(node, ast.Name) and node.id in columns:
        return node.id
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "Q"
        and len(node.args) == 1
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in columns
    ):
        return node.args[0].value
    return None


def _parsed(code: str) -> ast.AST | None:
    try:
        return ast.parse(code, mode="eval").body
    except SyntaxError:
        return None  # reported by the formula front end


def _names_in(codes: Iterable[str], columns: pd.Index) -> set[Any]:
    used = set()
    for code in codes:
        tree = _parsed(code)
        for node in ast.walk(tree) if tree is not None else ():
            name = _column_of(node, columns)
            if name is not None:
                used.add(name)
    return used


def _bare_names(codes: Iterable[str], columns: pd.Index) -> set[Any]:
    """Columns used as a whole term (``x``, not ``C(x)`` or ``np.log(x)``)."""
    bare = set()
    for code in codes:
        tree = _parsed(code)
        name = None if tree is None else _column_of(tree, columns)
        if name is not None:
            bare.add(name)
    return bare


def _refuse_dtype(name: Any, col: pd.Series) -> None:
    """Refuse dtypes a formula cannot use, saying how to convert them."""
    dtype = col.dtype
    if pd.api.types.is_datetime64_any_dtype(dtype):
        kind, hint = "dates and times", f"(df.{name} - df.{name}.min()).dt.days"
    elif isinstance(dtype, pd.PeriodDtype):
        kind, hint = "periods", f"df.{name}.dt.year, or df.{name}.astype(str) for a factor"
    elif pd.api.types.is_timedelta64_dtype(dtype):
        kind, hint = "time spans", f"df.{name}.dt.total_seconds()"
    elif pd.api.types.is_complex_dtype(dtype):
        kind, hint = "complex numbers", f"np.real(df.{name}) or np.abs(df.{name})"
    elif isinstance(dtype, pd.IntervalDtype):
        kind, hint = "intervals", f"df.{name}.array.mid, or df.{name}.astype(str) for a factor"
    else:
        return
    raise InputTypeError(
        f"column {name!r} holds {kind} (dtype {dtype}), which a formula cannot use; "
        f"allowed are {_ALLOWED}: convert it first, e.g. {hint}"
    )


def _normalised(col: pd.Series) -> pd.Series | None:
    """``col`` in dtypes patsy reads, ``pd.NA`` as a missing value; None when fine as is."""
    dtype = col.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return None
    if pd.api.types.is_bool_dtype(dtype):
        if dtype == np.bool_:
            return None
        if not col.isna().any():
            return pd.Series(col.to_numpy(dtype=bool), index=col.index, name=col.name)
        values = col.to_numpy(dtype=object, copy=True)  # never the caller's array
        values[col.isna().to_numpy()] = None  # patsy's missing value for a factor
        return pd.Series(values, index=col.index, name=col.name, dtype=object)
    if pd.api.types.is_numeric_dtype(dtype):
        if isinstance(dtype, np.dtype):
            return None
        return pd.Series(col.to_numpy(dtype=float, na_value=np.nan), index=col.index, name=col.name)
    if isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype):
        missing = col.isna().to_numpy()
        if pd.api.types.is_object_dtype(dtype) and not missing.any():
            return None
        values = col.to_numpy(dtype=object, copy=True)  # never the caller's array
        values[missing] = None
        # dtype=object: pandas would infer its string dtype again.
        return pd.Series(values, index=col.index, name=col.name, dtype=object)
    return None


def _refuse_ambiguous_factor(name: Any, col: pd.Series) -> None:
    """Refuse a bare object column that patsy would silently turn into a factor although
    it holds numbers (as strings or objects) or values of several types."""
    if not pd.api.types.is_object_dtype(col.dtype):
        return
    values = pd.unique(col.dropna().to_numpy())
    types = {type(v) for v in values}
    remedy = (
        f"convert it with pd.to_numeric(df[{name!r}]) for a number, or write C({name}) "
        "or make it categorical for a factor"
    )
    shown = ", ".join(repr(v) for v in values[:3])
    if not types or types <= {bool, np.bool_}:
        return
    if types <= {str}:
        if pd.to_numeric(pd.Series(values), errors="coerce").notna().all():
            raise InputTypeError(
                f"column {name!r} holds numbers stored as strings (e.g. {shown}), which "
                f"would be fitted as a factor with one level per value; {remedy}"
            )
    elif all(_is_number(t) for t in types):
        raise InputTypeError(
            f"column {name!r} holds numbers in an object column (e.g. {shown}), which "
            f"would be fitted as a factor with one level per value; {remedy}"
        )
    else:
        first: dict[str, Any] = {}
        for v in values:
            first.setdefault(type(v).__name__, v)
        kinds = ", ".join(f"{k} {v!r}" for k, v in sorted(first.items()))
        raise InputTypeError(
            f"column {name!r} mixes values of several types (e.g. {kinds}), "
            f"so whether it is a number or a factor is unclear; {remedy}"
        )


def _is_number(t: type) -> bool:
    return issubclass(t, numbers.Number) and not issubclass(t, (bool, np.bool_))
