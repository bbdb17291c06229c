"""One partition of a distributed data set turned into its design block, on the worker.

The design information (factor levels, the state of ``center`` and ``standardize``) is
learned once on the client (:func:`emglm.data.formula.learned_infos`) and re-applied here
to each partition with :func:`emglm.data.formula.build`, so every partition is built
exactly as the whole data set would be; rows with a missing value are dropped as in
memory. Only the resulting sums ever leave the worker.

With grouped observations each partition numbers its own groups
(:func:`emglm.data.groups.grouping_of`, with the in-memory checks); that is the whole
data set's grouping only when no group spans partitions, which
:mod:`emglm.cluster.group_spans` checks before fitting from each partition's distinct
group labels, hashed (:func:`group_keys`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm.data import formula as formula_mod
from emglm.data.arrays import MixtureData
from emglm.data.groups import grouping_of
from emglm.families import Family


@dataclass(frozen=True)
class PartitionSpec:
    """How to build a partition's arrays: the fitted formula (after R syntax, without a
    grouping term), the learned design information, the design (for the formula's
    namespace), the family, the columns named as offset, exposure, weights, the
    concomitant formula and the grouping column (``groups_in_index``: it is the index);
    ``reference``: responses and trials of sample rows each partition's response is
    checked beside (:func:`emglm.data.formula.reference_rows`: a partition may hold only
    zeros, say, where the whole data set may not)."""

    formula: str
    infos: Any
    design: formula_mod.Design
    family: Family
    offset: str | None
    exposure: str | None
    weights: str | None
    concomitant: str | None
    groups: str | None = None
    groups_in_index: bool = False
    reference: tuple[NDArray[np.float64], NDArray[np.float64]] | None = None
    token: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    def __dask_tokenize__(self) -> str:
        # patsy's design objects cannot be hashed deterministically; a spec is made once
        # per fit, so its own random token names it.
        return self.token


def model_frame(frame: pd.DataFrame, groups_in_index: bool) -> pd.DataFrame:
    """The frame the formula is evaluated on: with the grouping column as the index
    (after ``set_index``), the index made a column again."""
    return frame.reset_index() if groups_in_index else frame


def partition_arrays(frame: pd.DataFrame, spec: PartitionSpec) -> formula_mod.ModelArrays:
    """The partition's model arrays (rows with a missing value dropped); ``row_index``
    holds the partition's own index."""
    _, arrays = formula_mod.build(
        spec.formula,
        model_frame(frame, spec.groups_in_index),
        spec.family,
        offset=spec.offset,
        exposure=spec.exposure,
        weights=spec.weights,
        concomitant=spec.concomitant,
        eval_env=spec.design.eval_env,
        groups=spec.groups,
        infos=spec.infos,
        checked_beside=spec.reference,
    )
    if spec.groups_in_index:  # positions in the frame with its index made a column
        arrays = replace(arrays, row_index=frame.index[arrays.row_index.to_numpy()])
    return arrays


def mixture_data(arrays: formula_mod.ModelArrays) -> MixtureData:
    """The solver's data of a partition's arrays; grouped rows get their
    :class:`~emglm.data.arrays.Grouping` and, in the cache, their groups' keys
    (``"group_keys"``, :func:`group_keys`)."""
    groups = None
    if arrays.groups is not None and arrays.y.size:
        groups = grouping_of(arrays.groups, arrays.weights, arrays.Z)
    data = MixtureData(
        arrays.y, arrays.X, arrays.offset, arrays.trials, arrays.weights, arrays.Z, groups
    )
    if groups is not None:
        assert arrays.groups is not None
        data.cache["group_keys"] = group_keys(arrays.groups[groups.first])
    return data


def group_keys(labels: NDArray[Any]) -> NDArray[np.int64]:
    """Distinct group labels (one per group) as sorted 64-bit hashes (pandas'
    ``hash_array``: the same label hashes the same in every partition and process);
    8 bytes a group.

    Examples
    --------
    >>> a = group_keys(np.array(["u", "v", "w"]))
    >>> b = group_keys(np.array(["w", "x"]))
    >>> a.dtype, int(np.intersect1d(a, b).size)
    (dtype('int64'), 1)
    """
    keys = pd.util.hash_array(np.asarray(labels)).view(np.int64)
    return np.sort(keys)


def build_partition(frame: pd.DataFrame, spec: PartitionSpec) -> MixtureData | None:
    """The partition's :class:`MixtureData`, or ``None`` for a partition without rows. The
    rows dropped for missing values are kept in its cache (``"n_dropped"``)."""
    if len(frame) == 0:
        return None
    arrays = partition_arrays(frame, spec)
    data = mixture_data(arrays)
    data.cache["n_dropped"] = arrays.n_dropped
    return data
