"""Formula front end: R-like formula + DataFrame -> arrays. With its helpers in ``emglm.data``
(``formula_safety``, ``formula_pickle``, ``design_chunks``) the only modules importing patsy.

Supported beyond plain patsy:

* ``cbind(successes, failures) ~ ...`` (R style) and ``successes + failures ~ ...``
  (statsmodels style) for binomial counts; a boolean response is read as 0/1;
* ``offset(expr)`` terms on the right-hand side (several add up), besides the ``offset=``
  and ``exposure=`` arguments (array or column name; ``log`` is taken of ``exposure``);
* ``weights=`` case weights (array or column name);
* rows with a missing value in any used variable are dropped, as R's ``na.omit``.

The :class:`Design` remembers everything needed to rebuild the design matrix on new data
(transformations, factor levels), so ``predict(newdata)`` re-applies the formula.

Formula terms are Python code, evaluated in the caller's namespace as in statsmodels;
``safe_env()`` gives an environment for formulas from untrusted text instead (checked
against an allow-list, no builtins: :mod:`emglm.data.formula_safety`, ``docs/security.md``).
"""

from __future__ import annotations

import ast
import builtins
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import patsy
from numpy.typing import NDArray
from patsy.desc import INTERCEPT, ModelDesc, Term
from patsy.eval import EvalEnvironment, EvalFactor

from emglm.data import columns, design_chunks, formula_pickle, formula_safety
from emglm.data.groups import group_labels, split_groups
from emglm.data.rsyntax import r_syntax
from emglm.data.transforms import TRANSFORMS
from emglm.exceptions import FormulaError, InputError, InputTypeError
from emglm.families import Family

Array = NDArray[np.float64]
ArrayLike = Sequence[float] | NDArray[Any] | pd.Series

# Floating-point trouble while a formula is evaluated (np.log(0), np.sqrt(-1), overflow) is
# raised and reported naming the term, instead of NumPy warnings and rows silently dropped.
_OFFSET_RE = re.compile(r"^\s*offset\s*\((.*)\)\s*$", re.DOTALL)
_NA = patsy.NAAction(NA_types=["None", "NaN"])


def _cbind(*columns: Any) -> NDArray[Any]:
    """R's ``cbind`` for a two-column binomial response."""
    return np.column_stack([np.asarray(c, dtype=float) for c in columns])


def _identity(x: Any) -> Any:
    return x


_HELPERS = {"cbind": _cbind, "offset": _identity, "np": np, "log": np.log, "exp": np.exp}
_HELPERS.update(TRANSFORMS)  # center/standardize that skip missing values


# Objects a pickled design stores by name: they are not picklable (patsy's transforms).
_KNOWN = {**{name: getattr(patsy.builtins, name) for name in patsy.builtins.__all__}, **_HELPERS}


def capture_env(depth: int) -> EvalEnvironment:
    """The caller's namespace (``depth`` frames up) plus R-like helpers, for formulas."""
    return EvalEnvironment.capture(depth + 1).with_outer_namespace(_HELPERS)


def safe_env() -> EvalEnvironment:
    """The environment of safe formulas: NumPy and the R-like helpers, no caller's
    namespace and no builtins; formulas evaluated in it are checked first
    (:func:`emglm.data.formula_safety.check_code`)."""
    return formula_safety.NoBuiltinsEnvironment([dict(_HELPERS)])


def is_safe(env: EvalEnvironment) -> bool:
    """Whether ``env`` is a safe-formula environment."""
    return isinstance(env, formula_safety.NoBuiltinsEnvironment)


@dataclass(frozen=True)
class Design:
    """What is needed to rebuild the model's arrays on new data.

    patsy's design objects cannot be pickled, so a pickled ``Design`` keeps them as plain
    data (:mod:`emglm.data.formula_pickle`: column names, codings, the learned state of each
    transform, the namespace objects the formula uses) and puts them back together on
    load without evaluating the formula.
    """

    formula: str
    concomitant: str | None
    response_name: str
    x_info: patsy.DesignInfo
    offset_infos: tuple[patsy.DesignInfo, ...]
    offset_arg: str | None
    exposure_arg: str | None
    offset_is_array: bool
    exposure_is_array: bool
    z_info: patsy.DesignInfo | None
    eval_env: EvalEnvironment
    #: The grouping column (``| g`` or ``groups="g"``) when it was given by name.
    groups_arg: str | None = None

    @property
    def x_names(self) -> list[str]:
        """Names of the design columns."""
        return list(self.x_info.column_names)

    @property
    def z_names(self) -> list[str]:
        """Names of the concomitant design columns (``["Intercept"]`` when constant)."""
        return ["Intercept"] if self.z_info is None else list(self.z_info.column_names)

    def __getstate__(self) -> dict[str, Any]:
        state = {k: v for k, v in self.__dict__.items() if k not in _REBUILT}
        state["frozen"] = {
            "x": formula_pickle.freeze(self.x_info, _KNOWN),
            "offsets": [formula_pickle.freeze(i, _KNOWN) for i in self.offset_infos],
            "z": None if self.z_info is None else formula_pickle.freeze(self.z_info, _KNOWN),
            "safe": is_safe(self.eval_env),
        }
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        if "frozen" not in state:
            # Older pickles re-evaluated the formula on load; that is not done any more.
            raise InputError(
                "this result was pickled by an older version of emglm, which stored the "
                "formula to re-evaluate on load; refit the model and pickle it again"
            )
        frozen = state.pop("frozen")
        pieces = [frozen["x"], *frozen["offsets"]] + ([frozen["z"]] if frozen["z"] else [])
        namespace: dict[str, Any] = {}
        for piece in pieces:
            namespace.update(formula_pickle.frozen_namespace(piece, _KNOWN))
        # The namespace is only consulted to name a column missing from newdata.
        env = safe_env() if frozen["safe"] else EvalEnvironment([namespace])
        state.update(
            x_info=formula_pickle.thaw(frozen["x"], _KNOWN),
            offset_infos=tuple(formula_pickle.thaw(f, _KNOWN) for f in frozen["offsets"]),
            z_info=None if frozen["z"] is None else formula_pickle.thaw(frozen["z"], _KNOWN),
            eval_env=env.with_outer_namespace(_HELPERS),
        )
        self.__dict__.update(state)


_REBUILT = ("x_info", "offset_infos", "z_info", "eval_env")


@dataclass(frozen=True)
class ModelArrays:
    """The model's arrays after dropping rows with missing values."""

    y: Array
    X: Array
    offset: Array
    trials: Array
    weights: Array
    Z: Array
    row_index: pd.Index
    n_dropped: int
    groups: NDArray[Any] | None = None


def build(
    formula: str,
    data: pd.DataFrame,
    family: Family,
    *,
    offset: ArrayLike | str | None = None,
    exposure: ArrayLike | str | None = None,
    weights: ArrayLike | str | None = None,
    concomitant: str | None = None,
    eval_env: EvalEnvironment | None = None,
    groups: ArrayLike | str | None = None,
    exclude: Sequence[str] = (),
    infos: _Infos | None = None,
    checked_beside: tuple[Array, Array] | None = None,
) -> tuple[Design, ModelArrays]:
    """Evaluate ``formula`` on ``data`` and validate everything the fit will use.

    ``infos`` (:func:`learned_infos` of an earlier build) re-applies design information
    learned elsewhere instead of learning it on ``data``: one partition of a larger data
    set is then built exactly as the whole would be, and may have no rows left. Such a
    part need not pass the family's checks about every row (a Poisson response 0 in every
    row, say): ``checked_beside`` (responses and trials of rows of the whole that pass
    them, :func:`reference_rows`) are checked with it, so only values outside the
    family's support fail.

    ``groups`` (a column name or one label per row), or a grouping term ``| g`` at the end
    of the formula, says which rows share one latent class (:mod:`emglm.data.groups`).
    R's ``^`` and ``y ~ .`` are read as R reads them (:mod:`emglm.data.rsyntax`); ``exclude``
    names further columns that ``.`` leaves out (the other responses of several).

    Examples
    --------
    >>> import pandas as pd
    >>> from emglm.families import get_family
    >>> df = pd.DataFrame({"y": [1, 0, 3, 2], "x": [0.1, None, 0.3, 0.5]})
    >>> design, arrays = build("y ~ np.log(x)", df, get_family("poisson"))
    >>> design.x_names, arrays.n_dropped, list(arrays.row_index)
    (['Intercept', 'np.log(x)'], 1, [0, 2, 3])
    """
    if not isinstance(data, pd.DataFrame):
        raise InputTypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    if len(data) == 0 and infos is None:
        raise InputError("data has no rows")
    if not isinstance(formula, str):
        raise InputTypeError(
            f"formula must be a string such as 'y ~ x', not {type(formula).__name__}"
        )
    if "~" not in formula:
        raise FormulaError(f"formula {formula!r} has no '~'; write it as 'response ~ terms'")
    formula, group_term = split_groups(formula)
    if group_term is not None and groups is not None:
        raise FormulaError(
            f"the formula groups by {group_term!r} and groups= is given too; use one of them"
        )
    # R's ^ and '.' (every column the formula does not otherwise use).
    used = [v for v in (group_term, groups, offset, exposure, weights) if isinstance(v, str)]
    formula = r_syntax(formula, data.columns, [*used, *exclude])
    if isinstance(concomitant, str):
        concomitant = concomitant.replace("^", "**")
    env = capture_env(1) if eval_env is None else eval_env
    # Positional index: patsy keeps the index of the rows it keeps, and we map back later.
    frame = columns.prepare(
        data.reset_index(drop=True), formula, concomitant, (offset, exposure, weights)
    )

    relearned = infos is not None
    if infos is None:
        infos = _design_infos(formula, concomitant, frame, env)
    columns.refuse_factor_offsets(formula, infos.offsets)
    pieces = [infos.lhs, infos.rhs, *infos.offsets] + ([infos.z] if infos.z is not None else [])

    extra = {
        "offset": _column_or_array("offset", offset, frame),
        "exposure": _column_or_array("exposure", exposure, frame),
        "weights": _column_or_array("weights", weights, frame),
    }
    labels = group_labels(group_term if group_term is not None else groups, frame)
    allowed = np.ones(len(frame), dtype=bool)
    for values in extra.values():
        if values is not None:
            allowed &= ~np.isnan(values)
    try:
        with _raising():
            built, rows = design_chunks.build_arrays(pieces, frame, allowed, _NA)
    except patsy.PatsyError as exc:
        raise _evaluation_error(formula, exc) from None
    if rows.size == 0 and not relearned:
        raise InputError(
            "every row has a missing value in a variable the model uses; nothing is left to fit"
        )
    lhs_values, X = built[0], built[1]
    offset_values = built[2 : 2 + len(infos.offsets)]

    y, trials = _response(formula, infos.lhs, lhs_values, family)
    off = np.zeros(rows.size)
    for values in offset_values:
        off += values.sum(axis=1)
    if extra["offset"] is not None:
        off += extra["offset"][rows]
    if extra["exposure"] is not None:
        expo = extra["exposure"][rows]
        if np.any(expo <= 0):
            raise InputError(f"exposure must be positive; found {expo[expo <= 0][:3]}")
        off += np.log(expo)
    w = np.ones(rows.size) if extra["weights"] is None else extra["weights"][rows]
    Z = np.ones((rows.size, 1)) if infos.z is None else built[-1]

    response_name = " + ".join(infos.lhs.term_names)
    _check_finite({response_name: y}, "response")
    _check_finite(dict(zip(infos.rhs.column_names, X.T, strict=True)), "covariate")
    _check_finite({"offset": off}, "offset")
    if np.any(w < 0) or not np.all(np.isfinite(w)):
        raise InputError(
            f"weights must be finite and non-negative; found {w[(w < 0) | ~np.isfinite(w)][:3]}"
        )
    if infos.z is not None:
        _check_finite(dict(zip(infos.z.column_names, Z.T, strict=True)), "concomitant covariate")
    ref_y, ref_trials = (np.empty(0), np.empty(0)) if checked_beside is None else checked_beside
    family.check_response(np.r_[y, ref_y], np.r_[trials, ref_trials], response_name)

    design = Design(
        formula=formula,
        concomitant=concomitant,
        response_name=response_name,
        x_info=infos.rhs,
        offset_infos=tuple(infos.offsets),
        offset_arg=offset if isinstance(offset, str) else None,
        exposure_arg=exposure if isinstance(exposure, str) else None,
        offset_is_array=offset is not None and not isinstance(offset, str),
        exposure_is_array=exposure is not None and not isinstance(exposure, str),
        z_info=infos.z,
        eval_env=env,
        groups_arg=group_term if group_term is not None else _name_or_none(groups),
    )
    arrays = ModelArrays(
        y=y,
        X=X,
        offset=off,
        trials=trials,
        weights=np.asarray(w, dtype=float),
        Z=Z,
        row_index=data.index[rows],
        n_dropped=int(len(frame) - rows.size),
        groups=None if labels is None else labels[rows],
    )
    return design, arrays


@dataclass(frozen=True)
class _Infos:
    """The design information of a formula's pieces (and of the concomitant formula),
    learned on all rows of one DataFrame. Picklable as plain data
    (:mod:`emglm.data.formula_pickle`), so that it can be sent to other processes."""

    lhs: patsy.DesignInfo
    rhs: patsy.DesignInfo
    offsets: list[patsy.DesignInfo]
    z: patsy.DesignInfo | None

    def __getstate__(self) -> dict[str, Any]:
        return {
            "lhs": formula_pickle.freeze(self.lhs, _KNOWN),
            "rhs": formula_pickle.freeze(self.rhs, _KNOWN),
            "offsets": [formula_pickle.freeze(i, _KNOWN) for i in self.offsets],
            "z": None if self.z is None else formula_pickle.freeze(self.z, _KNOWN),
        }

    def __setstate__(self, state: dict[str, Any]) -> None:
        thaw = formula_pickle.thaw
        object.__setattr__(self, "lhs", thaw(state["lhs"], _KNOWN))
        object.__setattr__(self, "rhs", thaw(state["rhs"], _KNOWN))
        object.__setattr__(self, "offsets", [thaw(i, _KNOWN) for i in state["offsets"]])
        z = state["z"]
        object.__setattr__(self, "z", None if z is None else thaw(z, _KNOWN))


def reference_rows(y: Array, trials: Array) -> tuple[Array, Array]:
    """Responses and trials of the rows with the smallest and the largest response (among
    rows with trials): when ``y`` passed its family's checks about every row (not
    constant, not 0 everywhere), these two rows pass them too, so any part of the data
    checked beside them (``build(..., checked_beside=...)``) fails only on values outside
    the support.

    Examples
    --------
    >>> reference_rows(np.array([3.0, 0.0, 5.0, 1.0]), np.ones(4))
    (array([0., 5.]), array([1., 1.]))
    """
    rows = np.flatnonzero(trials > 0)
    if rows.size == 0:
        rows = np.arange(y.shape[0])
    pick = rows[[int(np.argmin(y[rows])), int(np.argmax(y[rows]))]]
    return y[pick].copy(), trials[pick].copy()


def learned_infos(
    formula: str,
    data: pd.DataFrame,
    *,
    concomitant: str | None = None,
    eval_env: EvalEnvironment | None = None,
    used: Sequence[str] = (),
) -> _Infos:
    """The design information :func:`build` learns on ``data`` (levels, transforms'
    state), to re-apply to other rows with ``build(..., infos=...)``. ``used`` names
    the columns given as offset, exposure, weights or groups (R's ``.`` leaves them out)."""
    formula, _ = split_groups(formula)
    formula = r_syntax(formula, data.columns, list(used))
    if isinstance(concomitant, str):
        concomitant = concomitant.replace("^", "**")
    env = capture_env(1) if eval_env is None else eval_env
    frame = columns.prepare(data.reset_index(drop=True), formula, concomitant, ())
    return _design_infos(formula, concomitant, frame, env)


def _design_infos(
    formula: str, concomitant: str | None, frame: pd.DataFrame, env: EvalEnvironment
) -> _Infos:
    """Parse and check the formula's pieces and learn their design information (levels,
    transforms' state) on all rows; no design matrix is built."""
    desc = _parse(formula)
    if not desc.lhs_termlist:
        raise FormulaError(f"formula {formula!r} has no response on the left of '~'")
    offset_terms = [t for t in desc.rhs_termlist if _offset_code(t) is not None]
    rhs_terms = [t for t in desc.rhs_termlist if _offset_code(t) is None]
    _check_names(formula, desc.lhs_termlist + desc.rhs_termlist, frame, env)
    lhs = _design_info(formula, desc.lhs_termlist, frame, env)
    rhs = _design_info(formula, rhs_terms, frame, env)
    if not rhs.column_names:
        raise FormulaError(f"formula {formula!r} has no terms on the right of '~'; use '~ 1'")
    offsets = [_design_info(formula, [t], frame, env) for t in offset_terms]
    z = None if concomitant is None else _concomitant(concomitant, frame, env)
    return _Infos(lhs, rhs, offsets, z)


def _parse(formula: str) -> ModelDesc:
    try:
        return ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot parse formula {formula!r}: {exc.message}") from None


def _offset_code(term: Term) -> str | None:
    if len(term.factors) != 1 or not isinstance(term.factors[0], EvalFactor):
        return None
    match = _OFFSET_RE.match(term.factors[0].code)
    return None if match is None else match.group(1)


def _unknown_names(code: str, columns: pd.Index, env: EvalEnvironment) -> list[str]:
    """Variables in ``code`` that are neither columns nor known to the formula's namespace."""
    known = set(map(str, columns)) | set(dir(builtins)) | set(dir(patsy.builtins))
    unknown = []
    for node in ast.walk(ast.parse(code, mode="eval")):
        if isinstance(node, ast.Name) and node.id not in known and node.id not in unknown:
            try:
                env.namespace[node.id]
            except KeyError:
                unknown.append(node.id)
    return unknown


def _check_names(
    formula: str, terms: list[Term], frame: pd.DataFrame, env: EvalEnvironment
) -> None:
    """Name the first variable that is neither a column nor known to the formula's namespace."""
    for term in terms:
        for factor in term.factors:
            code = getattr(factor, "code", "")
            if is_safe(env):
                formula_safety.check_code(code, formula, [str(c) for c in frame.columns])
            try:
                unknown = _unknown_names(code, frame.columns, env)
            except SyntaxError:
                raise FormulaError(f"cannot parse {code!r} in formula {formula!r}") from None
            if unknown:
                cols = ", ".join(map(str, frame.columns[:20]))
                raise FormulaError(
                    f"formula {formula!r} uses {unknown[0]!r}, which is not a column of "
                    f"data; the columns are: {cols}"
                )


def _design_info(
    formula: str, terms: list[Term], frame: pd.DataFrame, env: EvalEnvironment
) -> patsy.DesignInfo:
    """patsy's design information for ``terms``, learned on all rows of ``frame`` as its
    one-shot ``dmatrix`` does (the matrix itself is built by :mod:`emglm.data.design_chunks`)."""
    try:
        with _raising():
            (info,) = patsy.design_matrix_builders([terms], lambda: iter([frame]), env, _NA)
    except patsy.PatsyError as exc:
        raise _evaluation_error(formula, exc) from None
    return info


_FP_EXAMPLES = {
    "divide": ", e.g. the log of 0 or a division by 0",
    "invalid": ", e.g. the log or square root of a negative value",
    "overflow": ", e.g. np.exp of a large value",
}


def _raising() -> np.errstate:
    """Floating-point trouble in a formula's terms raises (see :func:`_evaluation_error`)."""
    return np.errstate(divide="raise", invalid="raise", over="raise")


def _evaluation_error(formula: str, exc: patsy.PatsyError) -> FormulaError:
    """A :class:`FormulaError` for patsy's ``exc``; floating-point trouble names the term."""
    origin = exc.origin
    if isinstance(exc.__cause__, FloatingPointError) and origin is not None:
        term = origin.code[origin.start : origin.end]
        cause = str(exc.__cause__)
        example = next((v for k, v in _FP_EXAMPLES.items() if k in cause), "")
        return FormulaError(
            f"the term {term!r} of formula {formula!r} gives values that are not finite "
            f"({cause}{example}): remove or fix the rows where it is undefined, or "
            "transform differently"
        )
    return FormulaError(f"cannot evaluate formula {formula!r}: {exc.message}")


def _concomitant(concomitant: str, frame: pd.DataFrame, env: EvalEnvironment) -> patsy.DesignInfo:
    if not isinstance(concomitant, str):
        raise InputTypeError(
            f"concomitant must be a one-sided formula string such as '~ z', "
            f"not {type(concomitant).__name__}"
        )
    text = concomitant if "~" in concomitant else "~ " + concomitant
    desc = _parse(text)
    if desc.lhs_termlist:
        raise FormulaError(
            f"concomitant formula {concomitant!r} must be one-sided (e.g. '~ z1 + z2'); "
            "it has a left-hand side"
        )
    _check_names(concomitant, desc.rhs_termlist, frame, env)
    z = _design_info(concomitant, desc.rhs_termlist, frame, env)
    if INTERCEPT not in desc.rhs_termlist:
        raise FormulaError(f"concomitant formula {concomitant!r} must keep its intercept")
    return z


def _column_or_array(name: str, value: ArrayLike | str | None, frame: pd.DataFrame) -> Array | None:
    if value is None:
        return None
    if isinstance(value, str):
        if value not in frame.columns:
            cols = ", ".join(map(str, frame.columns[:20]))
            raise InputError(f"{name}={value!r} is not a column of data; the columns are: {cols}")
        value = frame[value]
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputTypeError(f"{name} must be numeric") from None
    if arr.ndim != 1 or arr.shape[0] != len(frame):
        raise InputError(
            f"{name} must have one value per row of data ({len(frame)}); got shape {arr.shape}"
        )
    if np.any(np.isinf(arr)):
        raise InputError(
            f"{name} holds non-finite values (inf); only finite values or NaN (missing)"
        )
    return arr


def _response(
    formula: str, info: patsy.DesignInfo, values: Array, family: Family
) -> tuple[Array, Array]:
    """Response and binomial trials from the evaluated left-hand side."""
    ones = np.ones(values.shape[0])
    if values.shape[1] == 1:
        return values[:, 0], ones
    factors = [f for t in info.terms for f in t.factors]
    if len(factors) == 1 and info.factor_infos[factors[0]].type == "categorical":
        levels = info.factor_infos[factors[0]].categories
        if family.two_column_response and set(levels) <= {False, True} and len(levels) == 2:
            return values[:, list(levels).index(True)], ones
        raise FormulaError(
            f"response {factors[0].name()!r} is categorical with levels {list(levels)}; "
            "use a numeric response, booleans, or cbind(successes, failures) for binomial"
        )
    if values.shape[1] != 2 or not family.two_column_response:
        raise FormulaError(
            f"formula {formula!r} has a {values.shape[1]}-column response; two columns "
            "(successes, failures) are allowed for the binomial family only"
        )
    succ, fail = values[:, 0], values[:, 1]
    _check_finite({"successes": succ, "failures": fail}, "response")
    if np.any(succ < 0) or np.any(fail < 0):
        raise InputError(
            f"binomial successes and failures must be non-negative; found successes "
            f"{succ[succ < 0][:3]} and failures {fail[fail < 0][:3]}"
        )
    trials = succ + fail
    y = np.divide(succ, trials, out=np.zeros_like(succ), where=trials > 0)
    return y, trials


def _check_finite(columns: dict[Any, Array], what: str) -> None:
    for name, col in columns.items():
        if not np.all(np.isfinite(col)):
            raise InputError(
                f"{what} {name!r} holds non-finite values (inf); only finite values or "
                "NaN (a missing value, whose row is dropped) are allowed"
            )


def new_response(design: Design, newdata: pd.DataFrame, family: Family) -> tuple[Array, Array]:
    """The response (and binomial trials) of new rows, from the fitted formula's left-hand
    side (for posteriors of new data). Missing or non-finite values raise, naming the
    response."""
    if not isinstance(newdata, pd.DataFrame):
        raise InputTypeError(f"newdata must be a pandas DataFrame, not {type(newdata).__name__}")
    frame = columns.prepare(newdata.reset_index(drop=True), design.formula, None, ())
    desc = _parse(design.formula)
    _check_names(design.formula, desc.lhs_termlist, frame, design.eval_env)
    info = _design_info(design.formula, desc.lhs_termlist, frame, design.eval_env)
    try:
        with _raising():
            (mat,) = patsy.build_design_matrices([info], frame, NA_action="raise")
    except patsy.PatsyError as exc:
        raise InputError(
            f"newdata's response {design.response_name!r} cannot be built: {exc.message}; "
            "posteriors of new rows need the response in every row"
        ) from None
    y, trials = _response(design.formula, info, np.asarray(mat, dtype=float), family)
    columns.refuse_non_finite({design.response_name: y}, "response")
    return y, trials


def _name_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def new_arrays(
    design: Design,
    newdata: pd.DataFrame,
    offset: ArrayLike | None = None,
    exposure: ArrayLike | None = None,
) -> tuple[Array, Array, Array]:
    """Rebuild ``X``, offset and ``Z`` for new rows, re-applying the fitted formula.

    Missing and non-finite values raise, naming the column: prediction needs every row.
    """
    if not isinstance(newdata, pd.DataFrame):
        raise InputTypeError(f"newdata must be a pandas DataFrame, not {type(newdata).__name__}")
    frame = columns.prepare(
        newdata.reset_index(drop=True),
        design.formula,
        design.concomitant,
        (design.offset_arg, design.exposure_arg),
    )
    columns.refuse_missing(frame, design.formula, design.concomitant, "newdata")
    X = _rebuild(design.x_info, frame, design)
    columns.refuse_non_finite(dict(zip(design.x_names, X.T, strict=True)), "covariate")
    off = np.zeros(len(frame))
    for info in design.offset_infos:
        piece = _rebuild(info, frame, design)
        columns.refuse_non_finite(dict(zip(info.column_names, piece.T, strict=True)), "offset term")
        off += piece.sum(axis=1)
    for name, given, value in (
        ("offset", design.offset_is_array, offset),
        ("exposure", design.exposure_is_array, exposure),
    ):
        if given and value is None:
            raise InputError(
                f"the model was fitted with {name}= as an array; pass {name}= for newdata too"
            )
    off += _extra_for_predict("offset", design.offset_arg, offset, frame)
    expo = _extra_for_predict("exposure", design.exposure_arg, exposure, frame, missing=1.0)
    if np.any(expo <= 0):
        raise InputError(f"exposure must be positive; found {expo[expo <= 0][:3]} in newdata")
    off += np.log(expo)
    Z = (
        np.ones((len(frame), 1))
        if design.z_info is None
        else _rebuild(design.z_info, frame, design)
    )
    if design.z_info is not None:
        names = design.z_info.column_names
        columns.refuse_non_finite(dict(zip(names, Z.T, strict=True)), "concomitant covariate")
    return X, off, Z


def _rebuild(info: patsy.DesignInfo, frame: pd.DataFrame, design: Design) -> Array:
    for factor in info.factor_infos:
        unknown = _unknown_names(factor.code, frame.columns, design.eval_env)
        if unknown:
            raise FormulaError(f"newdata has no column {unknown[0]!r}, which the model uses")
    try:
        with _raising():
            (mat,) = patsy.build_design_matrices([info], frame, NA_action="raise")
    except patsy.PatsyError as exc:
        msg = exc.message
        if isinstance(exc.__cause__, FloatingPointError):
            raise _evaluation_error(design.formula, exc) from None
        if "does not match any of the expected levels" in msg or "not in levels" in msg:
            raise InputError(
                f"newdata has a factor level that was not seen in fitting: {msg}"
            ) from None
        raise InputError(f"cannot build the design for newdata: {msg}") from None
    return np.asarray(mat, dtype=float)


def _extra_for_predict(
    name: str,
    column: str | None,
    value: ArrayLike | None,
    frame: pd.DataFrame,
    missing: float = 0.0,
) -> Array:
    if value is not None:
        column = None  # the array given replaces the fitted column
    elif column is not None:
        if column not in frame.columns:
            raise InputError(f"newdata has no column {column!r}, which the model uses as {name}")
        value = frame[column]
    if value is None:
        return np.full(len(frame), missing)
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        where = f"column {column!r}" if column is not None else "array"
        raise InputTypeError(f"{name} ({where}) must be numeric for newdata") from None
    if arr.shape != (len(frame),):
        raise InputError(f"{name} must have one value per row of newdata ({len(frame)})")
    columns.refuse_non_finite({column: arr}, name if column is None else f"{name} column")
    return arr
