"""Passes over a Dask DataFrame's partitions: map on the workers, reduce as a tree.

:class:`PassRunner` is the ``run`` the steps of :mod:`emglm.cluster.steps` call: given a
list of jobs it builds one task per partition (:func:`emglm.cluster.jobs.run_jobs` on the
partition's design block), adds the results up in a tree of ``SPLIT_EVERY``-way sums and
brings only the total to the client. Results are kept by job, so a job asked for again
(the E-step a step-halving check already computed) costs no pass.

Every task is a pure function of its inputs: when a worker dies, the scheduler runs its
tasks again elsewhere (reading the partition again when it was not kept in memory) and the
sums come out the same, in the same order.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

import dask
from dask.delayed import Delayed

from emglm.cluster.jobs import Job, Stats, combine, key_of, run_jobs, split
from emglm.data.arrays import MixtureData
from emglm.engine.em import MixtureModel

#: Partial sums combined per reduction task.
SPLIT_EVERY = 8
# Results kept for reuse (each a few K x p x p arrays).
_KEPT = 64


class PassRunner:
    """Runs passes of jobs over ``parts``: one delayed design block per partition, or
    futures of blocks kept in the workers' memory (``persisted``)."""

    def __init__(
        self,
        client: Any,
        parts: Sequence[Delayed],
        model: MixtureModel,
        persisted: bool = False,
    ) -> None:
        self.client = client
        self.parts = list(parts)
        self.futures = client.futures_of(self.parts) if persisted else None
        self.model = model
        self.n_passes = 0
        self.seconds: list[float] = []  # wall time of each pass
        self._kept: OrderedDict[bytes, Stats] = OrderedDict()

    def __call__(self, jobs: Sequence[Job]) -> list[Stats]:
        keys = [key_of(job) for job in jobs]
        todo: dict[bytes, Job] = {}
        for key, job in zip(keys, jobs, strict=True):
            if key not in self._kept and key not in todo:
                todo[key] = job
        if todo:
            results = self.run_pass(tuple(todo.values()))
            for key, result in zip(todo, results, strict=True):
                self._kept[key] = result
            while len(self._kept) > _KEPT:
                self._kept.popitem(last=False)
        return [self._kept[key] for key in keys]

    def map_parts(self, func: Callable[[MixtureData | None], Any]) -> list[Any]:
        """``func`` of every partition's design block (``None`` for a partition without
        rows), gathered in partition order: one pass for small per-partition results that
        are not added up (the groups' keys of :mod:`emglm.cluster.group_spans`)."""
        self.n_passes += 1
        began = time.perf_counter()
        if self.futures is not None:
            pieces = self.client.map(func, self.futures, pure=False)
        else:
            pieces = self.client.compute(
                [dask.delayed(func, pure=True)(part) for part in self.parts]
            )
        out = list(self.client.gather(pieces))
        self.seconds.append(time.perf_counter() - began)
        return out

    def run_pass(self, jobs: tuple[Job, ...]) -> list[Stats]:
        """One map-reduce over every partition; one result dictionary per job. The tree's
        last level (at most ``SPLIT_EVERY`` partial sums) is added on the client."""
        self.n_passes += 1
        began = time.perf_counter()
        client = self.client
        if self.futures is not None:
            # The model travels inside each task (it is small): data scattered to workers
            # would have no lineage to rebuild from when a worker dies.
            pieces = client.map(run_jobs, self.futures, model=self.model, jobs=jobs, pure=False)
        else:
            model = dask.delayed(self.model, traverse=False)
            todo = dask.delayed(jobs, traverse=False)
            pieces = client.compute(
                [dask.delayed(run_jobs, pure=True)(part, model, todo) for part in self.parts]
            )
        while len(pieces) > SPLIT_EVERY:
            pieces = [
                client.submit(combine, *pieces[i : i + SPLIT_EVERY], pure=False)
                for i in range(0, len(pieces), SPLIT_EVERY)
            ]
        total = combine(*client.gather(pieces))
        self.seconds.append(time.perf_counter() - began)
        return split(total, len(jobs))
