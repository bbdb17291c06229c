"""Standard errors of a fitted mixture, by Louis' method or the bootstrap: the one place that
chooses between them (the fit, and :meth:`emglm.EMGLMResults.with_se` after it)."""

from __future__ import annotations

import numpy as np

from emglm.data.arrays import MixtureData
from emglm.engine.em import EMOptions, MixtureModel, MixtureParams
from emglm.engine.multistart import StartPlan
from emglm.inference import bootstrap as boot
from emglm.inference import louis

SE_KINDS = ("louis", "bootstrap")


def covariance(
    se: str,
    data: MixtureData,
    model: MixtureModel,
    params: MixtureParams,
    z_names: list[str],
    em_options: EMOptions,
    *,
    kind: str = "nonparametric",
    n_boot: int = 200,
    random_state: np.random.Generator | None = None,
    n_jobs: int = 1,
    progress: bool = False,
    start: str = "fit",
    plan: StartPlan | None = None,
) -> louis.Covariance:
    """The covariance of the packed parameters by ``se`` (``"louis"`` or ``"bootstrap"``;
    bootstrap replicates rerun EM with ``em_options``, from ``params`` or, with
    ``start="random"``, from the random starts of ``plan``)."""
    if se == "louis":
        names = louis.param_names(model, z_names, params.n_components)
        return louis.louis_covariance(data, model, params, names)
    boot.check_bootstrap(kind, data)
    return boot.bootstrap(
        data,
        model,
        params,
        em_options,
        kind=kind,
        n_boot=n_boot,
        random_state=random_state,
        n_jobs=n_jobs,
        progress=progress,
        start=start,
        plan=plan,
    )
