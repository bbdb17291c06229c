"""Per-row outputs of a distributed fit, computed partition by partition on the workers.

Each partition is built as in the fit, its posteriors are computed at the fitted
parameters, and the in-memory results object of that partition alone
(:class:`~emglm.report.results.EMGLMResults`) gives the output: posteriors, classes,
fitted values, residuals and predictions are the in-memory definitions, row for row.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from emglm.cluster.partition import PartitionSpec, mixture_data, partition_arrays
from emglm.engine.em import MixtureModel, MixtureParams, e_step
from emglm.engine.state import EMFit
from emglm.report.record import FitRecord
from emglm.report.results import EMGLMResults


def partition_results(
    frame: pd.DataFrame, spec: PartitionSpec, model: MixtureModel, params: MixtureParams
) -> EMGLMResults | None:
    """The in-memory results of one partition at the fitted ``params`` (``None`` when it
    has no rows left)."""
    if len(frame) == 0:
        return None
    arrays = partition_arrays(frame, spec)
    if arrays.y.size == 0:
        return None
    data = mixture_data(arrays)
    llf, tau = e_step(data, model, params)
    record = FitRecord(
        data=data,
        mixture=model,
        design=spec.design,
        row_index=arrays.row_index,
        n_dropped=arrays.n_dropped,
        n_requested=params.n_components,
        designs=(spec.design,),
    )
    fit = EMFit(params, tau, llf, np.array([llf]), 0, True, 0.0)
    return EMGLMResults(record, fit, "em", "start")


def partition_output(
    frame: pd.DataFrame,
    spec: PartitionSpec,
    model: MixtureModel,
    params: MixtureParams,
    name: str,
    args: tuple[Any, ...],
    meta: Any,
) -> Any:
    """``getattr(results, name)`` of one partition's results, called with ``args`` when
    it is a method; ``meta`` (the empty output) for a partition without rows."""
    res = partition_results(frame, spec, model, params)
    if res is None:
        return meta.copy()
    value = getattr(res, name)
    return value(*args) if callable(value) else value
