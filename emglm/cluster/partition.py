"""One partition of a distributed data set turned into its design block, on the worker.

The design information (factor levels, the state of ``center`` and ``standardize``) is
learned once on the client (:func:`emglm.data.formula.learned_infos`) and re-applied here
to each partition with :func:`emglm.data.formula.build`, so every partition is built
exactly as the whole data set would be; rows with a missing value are dropped as in
memory. Only the resulting sums ever leave the worker.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from emglm.data import formula as formula_mod
from emglm.data.arrays import MixtureData
from emglm.families import Family


@dataclass(frozen=True)
class PartitionSpec:
    """How to build a partition's arrays: the fitted formula (after R syntax), the learned
    design information, the design (for the formula's namespace), the family and the
    columns named as offset, exposure, weights and the concomitant formula."""

    formula: str
    infos: Any
    design: formula_mod.Design
    family: Family
    offset: str | None
    exposure: str | None
    weights: str | None
    concomitant: str | None
    token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    def __dask_tokenize__(self) -> str:
        # patsy's design objects cannot be hashed deterministically; a spec is made once
        # per fit, so its own random token names it.
        return self.token


def build_partition(frame: pd.DataFrame, spec: PartitionSpec) -> MixtureData | None:
    """The partition's :class:`MixtureData`, or ``None`` for a partition without rows. The
    rows dropped for missing values are kept in its cache (``"n_dropped"``)."""
    if len(frame) == 0:
        return None
    _, arrays = formula_mod.build(
        spec.formula,
        frame,
        spec.family,
        offset=spec.offset,
        exposure=spec.exposure,
        weights=spec.weights,
        concomitant=spec.concomitant,
        eval_env=spec.design.eval_env,
        infos=spec.infos,
    )
    data = MixtureData(arrays.y, arrays.X, arrays.offset, arrays.trials, arrays.weights, arrays.Z)
    data.cache["n_dropped"] = arrays.n_dropped
    return data
