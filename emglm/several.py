"""Several responses sharing one latent class: the formula front end.

``em_glm(["yn ~ x", "yp ~ x"], data, ["gaussian", "poisson"], K=2)`` (flexmix's
``model = list(FLXMRglm(yn ~ x), FLXMRglm(yp ~ x, family = "poisson"))``) builds one design
per formula on the same rows: a row with a missing value in any response's variables is
dropped for all (R's ``na.omit`` on the union). The concomitant model, the grouping and the
case weights belong to the rows and are given once; offsets belong to a response and are
written in its formula (``offset(...)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emglm.data import formula as formula_mod
from emglm.data.rsyntax import response_names
from emglm.exceptions import InputError, InputTypeError
from emglm.families import Family, get_family


def is_several(formula: Any) -> bool:
    """Whether ``formula`` is a list (or tuple) of formulas."""
    return isinstance(formula, (list, tuple))


def build_several(
    formulas: Sequence[str],
    data: pd.DataFrame,
    families: Any,
    *,
    offset: Any,
    exposure: Any,
    weights: Any,
    concomitant: str | None,
    groups: Any,
    eval_env: Any,
) -> list[tuple[formula_mod.Design, formula_mod.ModelArrays, Family]]:
    """One (design, arrays, family) per response, all on the rows every response keeps."""
    if len(formulas) < 2:
        raise InputError(
            "several responses need at least two formulas; for one response pass the formula "
            "as a string"
        )
    if isinstance(families, (str, Family)) or not isinstance(families, (list, tuple)):
        raise InputTypeError(
            f"with {len(formulas)} formulas, family must be a list of {len(formulas)} "
            f"families (one per response), not {families!r}"
        )
    if len(families) != len(formulas):
        raise InputError(
            f"{len(formulas)} formulas need {len(formulas)} families (one per response); "
            f"got {len(families)}: {list(families)!r}"
        )
    if offset is not None or exposure is not None:
        raise InputError(
            "with several responses an offset belongs to one response: write offset(...) in "
            "that response's formula instead of offset= or exposure="
        )
    frame = data.reset_index(drop=True)  # row positions as the index: built rows intersect
    # "yn ~ ." means every column but the responses, as in flexmix's list of models.
    responses = [n for f in formulas if isinstance(f, str) for n in response_names(f)]
    built = []
    for r, (formula, family) in enumerate(zip(formulas, families, strict=True)):
        fam = get_family(family)
        design, arrays = formula_mod.build(
            formula,
            frame,
            fam,
            weights=weights,
            concomitant=concomitant if r == 0 else None,
            eval_env=eval_env,
            groups=groups if r == 0 else None,
            exclude=responses,
        )
        built.append((design, arrays, fam))
    names = [d.response_name for d, _, _ in built]
    if len(set(names)) < len(names):
        raise InputError(f"the responses must differ; got {names}")
    keep = built[0][1].row_index
    for _, arrays, _ in built[1:]:
        keep = keep.intersection(arrays.row_index)
    if len(keep) == 0:
        raise InputError("no row has every response and covariate; nothing is left to fit")
    labels = data.index[keep.to_numpy()]
    dropped = len(frame) - len(keep)
    return [
        (design, _restrict(arrays, keep, labels, dropped), fam) for design, arrays, fam in built
    ]


def _restrict(
    arrays: formula_mod.ModelArrays, keep: pd.Index, labels: pd.Index, dropped: int
) -> formula_mod.ModelArrays:
    """The arrays of the rows every response keeps."""
    rows = arrays.row_index.get_indexer(keep)
    return formula_mod.ModelArrays(
        y=arrays.y[rows],
        X=np.asfortranarray(arrays.X[rows]),
        offset=arrays.offset[rows],
        trials=arrays.trials[rows],
        weights=arrays.weights[rows],
        Z=arrays.Z[rows],
        row_index=labels,
        n_dropped=dropped,
        groups=None if arrays.groups is None else arrays.groups[rows],
    )
