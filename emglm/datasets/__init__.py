"""Example datasets for finite mixtures of GLMs.

* ``sim1``, ``sim2``, ``sim3``: simulated Poisson data with the design and true coefficients
  of the vignette datasets of the R package emax.glm, drawn afresh from fixed seeds
  (:data:`SEEDS`). Load them with :func:`load_sim1` etc., redraw them with
  :func:`simulate_sim1` etc. and regenerate the files with ``python -m emglm.datasets``.
  Their truth: :func:`true_params`, :func:`true_weights`, :func:`true_labels`.
* Small worked examples: :func:`simulate_two_slopes`, :func:`simulate_two_regressions`,
  :func:`simulate_gaussian_mixture_1d` and the counts :func:`peppered_moth`.

Examples
--------
>>> from emglm.datasets import load_sim2, true_params
>>> load_sim2().shape, true_params("sim2").shape
((5000, 6), (5, 2))
"""

from emglm.datasets._io import load_sim1, load_sim2, load_sim3, regenerate, repo_data_dir
from emglm.datasets._params import (
    SEEDS,
    SIM_NAMES,
    sim_columns,
    true_labels,
    true_params,
    true_weights,
)
from emglm.datasets._simulate import (
    peppered_moth,
    simulate_gaussian_mixture_1d,
    simulate_sim1,
    simulate_sim2,
    simulate_sim3,
    simulate_two_regressions,
    simulate_two_slopes,
)

__all__ = [
    "SEEDS",
    "SIM_NAMES",
    "load_sim1",
    "load_sim2",
    "load_sim3",
    "peppered_moth",
    "regenerate",
    "repo_data_dir",
    "sim_columns",
    "simulate_gaussian_mixture_1d",
    "simulate_sim1",
    "simulate_sim2",
    "simulate_sim3",
    "simulate_two_regressions",
    "simulate_two_slopes",
    "true_labels",
    "true_params",
    "true_weights",
]
