"""Grouped observations on partitions: no group may span two partitions.

All rows of a group share one latent class, so the E-step of a group needs all its rows
at once; each partition numbers its own groups (:mod:`emglm.cluster.partition`), which is
the whole data set's grouping only when every group lies within one partition. This is
checked before anything is fitted, in one pass that returns each partition's distinct
group labels hashed to 64-bit integers (8 bytes a group, kept with the design block); the
client sorts them all (16 bytes a group at the peak, e.g. 160 MB for ten million groups,
about a second) and looks for a key in two partitions. A key found twice is looked up in
the two partitions' labels (two partitions read again; only on failure), so that the
error names the group, and so that a collision of two labels' hashes (probability about
``G**2 / 2**65`` for ``G`` groups) is not taken for a group that spans partitions.
"""

from __future__ import annotations

from typing import Any

import dask
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm.cluster.mapreduce import PassRunner
from emglm.cluster.partition import PartitionSpec, partition_arrays
from emglm.data.arrays import MixtureData
from emglm.exceptions import InputError

# Keys found in two partitions that are looked up before two labels sharing a hash are
# taken for what they almost surely are not (a group spanning partitions is found first).
_LOOKED_UP = 8


def partition_keys(data: MixtureData | None) -> NDArray[np.int64]:
    """The sorted hashed labels of a partition's groups (none without rows)."""
    if data is None or "group_keys" not in data.cache:
        return np.zeros(0, dtype=np.int64)
    keys: NDArray[np.int64] = data.cache["group_keys"]
    return keys


def labels_with_key(frame: Any, spec: PartitionSpec, key: int) -> list[Any]:
    """The group labels of a partition's fitted rows whose hash is ``key``."""
    arrays = partition_arrays(frame, spec)
    if arrays.groups is None or arrays.groups.size == 0:
        return []
    labels = np.unique(arrays.groups)
    hashed = _hashed(labels)
    return list(labels[hashed == key].tolist())


def _hashed(labels: NDArray[Any]) -> NDArray[np.int64]:
    return pd.util.hash_array(np.asarray(labels)).view(np.int64)


def check_within_partitions(run: PassRunner, frame: Any, spec: PartitionSpec) -> None:
    """Raise an :class:`~emglm.exceptions.InputError` naming a group whose rows lie in
    two partitions of ``frame`` (the Dask DataFrame fitted), saying how to arrange the
    data; ``run`` holds the partitions' design blocks."""
    keys = run.map_parts(partition_keys)
    if len(keys) < 2:
        return
    every = np.concatenate(keys)
    every.sort()
    twice = every[1:][every[1:] == every[:-1]]
    for key in np.unique(twice)[:_LOOKED_UP]:
        holders = [i for i, k in enumerate(keys) if _holds(k, int(key))]
        if len(holders) < 2:  # two labels of one partition share a hash
            continue
        a, b = holders[0], holders[1]
        found = dask.compute(
            *(dask.delayed(labels_with_key)(frame.partitions[i].to_delayed()[0], spec, key)
              for i in (a, b))
        )  # fmt: skip
        shared = [label for label in found[0] if label in found[1]]
        if shared:
            raise InputError(spans_message(shared[0], a, b, spec))


def _holds(sorted_keys: NDArray[np.int64], key: int) -> bool:
    at = int(np.searchsorted(sorted_keys, key))
    return at < sorted_keys.size and int(sorted_keys[at]) == key


def spans_message(label: Any, a: int, b: int, spec: PartitionSpec) -> str:
    """What a fit whose group ``label`` has rows in partitions ``a`` and ``b`` is told."""
    name = spec.groups
    where = "the index" if spec.groups_in_index else "the grouping column"
    if spec.groups_in_index:
        how = (
            f"data = data.reset_index().set_index({name!r}) (sorted by the group) or "
            "data = data.shuffle(on_index=True)"
        )
    else:
        how = (
            f"data = data.set_index({name!r}) (sorted by the group; the grouping column is "
            f"then the index, which groups={name!r} or '| {name}' still names) or "
            f"data = data.shuffle(on={name!r})"
        )
    return (
        f"group {label!r} of {where} {name!r} has rows in partitions {a} and {b} of the "
        "Dask DataFrame: all rows of a group share one latent class, so every group must "
        "lie within one partition. Arrange the data so before fitting: " + how
    )
