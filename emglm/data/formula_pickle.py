"""patsy design information as plain, picklable data, and back, without evaluating code.

patsy refuses to pickle its design objects. A fitted design is rebuilt on load from what
:func:`freeze` keeps: the column names, the terms and their codings (contrast matrices),
and each factor's evaluation state -- its code, the state of its stateful transforms
(the mean that ``center`` learned, the levels of a factor) and the names it takes from
the formula's namespace. :func:`thaw` puts these objects back together; no formula code
runs until the design is applied to data (``predict``).
"""

from __future__ import annotations

import importlib
import types
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

import patsy
from patsy.desc import Term
from patsy.design_info import FactorInfo, SubtermInfo
from patsy.eval import EvalEnvironment, EvalFactor

from emglm.data.formula_safety import NoBuiltinsEnvironment

Frozen = dict[str, Any]


def freeze(info: patsy.DesignInfo, known: Mapping[str, Any]) -> Frozen:
    """A picklable description of ``info``; ``known`` are namespace objects stored by
    name (functions that cannot be pickled, such as patsy's transforms)."""
    factors = {}
    for factor, finfo in info.factor_infos.items():
        if not isinstance(factor, EvalFactor):
            raise TypeError(f"cannot pickle a design with a {type(factor).__name__} factor")
        factors[factor.code] = {
            "type": finfo.type,
            "num_columns": finfo.num_columns,
            "categories": finfo.categories,
            "state": _freeze_state(finfo.state, known),
        }
    codings = [
        (
            tuple(f.code for f in term.factors),
            [
                (
                    tuple(f.code for f in sub.factors),
                    {
                        f.code: (cm.matrix, list(cm.column_suffixes))
                        for f, cm in sub.contrast_matrices.items()
                    },
                    sub.num_columns,
                )
                for sub in subterms
            ],
        )
        for term, subterms in info.term_codings.items()
    ]
    return {"column_names": list(info.column_names), "factors": factors, "codings": codings}


def thaw(frozen: Frozen, known: Mapping[str, Any]) -> patsy.DesignInfo:
    """The :class:`patsy.DesignInfo` that :func:`freeze` described."""
    factors = {code: EvalFactor(code) for code in frozen["factors"]}
    factor_infos = {
        factors[code]: FactorInfo(
            factors[code],
            spec["type"],
            _thaw_state(spec["state"], known),
            num_columns=spec["num_columns"],
            categories=spec["categories"],
        )
        for code, spec in frozen["factors"].items()
    }
    codings: OrderedDict[Term, list[SubtermInfo]] = OrderedDict()
    for term_codes, subterms in frozen["codings"]:
        codings[Term([factors[c] for c in term_codes])] = [
            SubtermInfo(
                [factors[c] for c in sub_codes],
                {factors[c]: patsy.ContrastMatrix(m, s) for c, (m, s) in matrices.items()},
                num_columns,
            )
            for sub_codes, matrices, num_columns in subterms
        ]
    return patsy.DesignInfo(frozen["column_names"], factor_infos, codings)


def frozen_namespace(frozen: Frozen, known: Mapping[str, Any]) -> dict[str, Any]:
    """Every namespace name the design's factors use, with its object."""
    names: dict[str, Any] = {}
    for spec in frozen["factors"].values():
        for name, ref in spec["state"]["env"].items():
            names[name] = _thaw_value(ref, known)
    return names


def _freeze_state(state: dict[str, Any], known: Mapping[str, Any]) -> Frozen:
    env: EvalEnvironment = state["eval_env"]
    # After patsy's memorisation the environment is one flat namespace of the names used.
    (namespace,) = env._namespaces
    return {
        "env": {name: _freeze_value(name, value, known) for name, value in namespace.items()},
        "flags": env.flags,
        "no_builtins": isinstance(env, NoBuiltinsEnvironment),
        "transforms": {
            name: (type(obj), dict(vars(obj))) for name, obj in state["transforms"].items()
        },
        "eval_code": state["eval_code"],
        "memorize_code": dict(state["memorize_code"]),
        "pass_bins": [set(b) for b in state["pass_bins"]],
    }


def _thaw_state(frozen: Frozen, known: Mapping[str, Any]) -> dict[str, Any]:
    namespace = {name: _thaw_value(ref, known) for name, ref in frozen["env"].items()}
    env_class = NoBuiltinsEnvironment if frozen["no_builtins"] else EvalEnvironment
    transforms = {}
    for name, (cls, attributes) in frozen["transforms"].items():
        obj = cls.__new__(cls)  # the learned state only: no __init__, no formula code
        obj.__dict__.update(attributes)
        transforms[name] = obj
    return {
        "eval_env": env_class([namespace], frozen["flags"]),
        "transforms": transforms,
        "eval_code": frozen["eval_code"],
        "memorize_code": dict(frozen["memorize_code"]),
        "pass_bins": [set(b) for b in frozen["pass_bins"]],
    }


def _freeze_value(name: str, value: Any, known: Mapping[str, Any]) -> tuple[str, Any]:
    if name in known and known[name] is value:
        return ("known", name)
    if isinstance(value, types.ModuleType):
        return ("module", value.__name__)
    return ("value", value)


def _thaw_value(ref: tuple[str, Any], known: Mapping[str, Any]) -> Any:
    kind, value = ref
    if kind == "known":
        return known[value]
    if kind == "module":
        return importlib.import_module(value)
    return value
