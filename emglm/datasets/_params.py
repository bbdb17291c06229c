"""True parameters, seeds and component labels of the simulated Poisson datasets.

The coefficients are those of the datasets ``sim.1``, ``sim.2`` and ``sim.3`` shipped with the
R package emax.glm 0.1.2. emglm's own ``data/sim*.csv`` are drawn afresh from the same design
with these coefficients and the seeds in :data:`SEEDS`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = [
    "SEEDS",
    "SIM_NAMES",
    "sim_columns",
    "true_labels",
    "true_params",
    "true_weights",
]

#: Names of the simulated Poisson datasets.
SIM_NAMES: tuple[str, ...] = ("sim1", "sim2", "sim3")

#: Seed of :func:`numpy.random.default_rng` used to draw each shipped CSV file.
SEEDS: dict[str, int] = {"sim1": 20240101, "sim2": 20240102, "sim3": 20240103}

_SIM1 = (
    0.49383229020136865,
    -0.7886297739792933,
    -0.1883519517203014,
    1.599959093249199,
    -1.3809019819277668,
)
_SIM2_P1 = (
    -1.3547492344856658,
    0.2811253316921683,
    -1.3724247961199973,
    -0.5955181156548799,
    -1.058257616050429,
)
_SIM2_P2 = (
    -1.5692000714481709,
    -0.10095128040806947,
    -1.7669974577863647,
    -1.4304819444430985,
    -0.0009747832751496141,
)
_SIM3_P1 = (
    -0.0857711875169674,
    1.467441810267699,
    0.09237407734162978,
    -0.05049476494217518,
    -0.0630094863094234,
    -0.1935900579784626,
    -0.4419062172752142,
    0.41541966559657234,
    0.11771591651328955,
    0.6804849182765057,
)
_SIM3_P2 = (
    0.31032002568095024,
    -1.3460337552087096,
    0.2405857889356551,
    -0.310220239486402,
    -0.09892271528850899,
    -0.014370900754758373,
    1.0822483542756938,
    -0.5754659987752339,
    0.05475744153535093,
    -0.659963314120387,
)

# name -> (covariate names, coefficient vector per component, rows per component)
_DESIGN: dict[str, tuple[list[str], tuple[tuple[float, ...], ...], tuple[int, ...]]] = {
    "sim1": ([f"V{j}" for j in range(1, 6)], (_SIM1,), (5000,)),
    "sim2": ([f"V{j}" for j in range(1, 6)], (_SIM2_P1, _SIM2_P2), (2500, 2500)),
    "sim3": ([f"X{j}" for j in range(1, 11)], (_SIM3_P1, _SIM3_P2), (5000, 5000)),
}


def _check_name(name: str) -> None:
    if name not in _DESIGN:
        raise ValueError(f"unknown dataset {name!r}; expected one of {', '.join(SIM_NAMES)}")


def sim_columns(name: str) -> list[str]:
    """Column names of a simulated dataset, in file order.

    Parameters
    ----------
    name : {"sim1", "sim2", "sim3"}
        Dataset name.

    Returns
    -------
    list of str
        Covariates, then ``y`` (and ``exposure`` for ``sim3``).

    Examples
    --------
    >>> from emglm.datasets import sim_columns
    >>> sim_columns("sim3")[-3:]
    ['X10', 'y', 'exposure']
    """
    _check_name(name)
    cols = list(_DESIGN[name][0]) + ["y"]
    return cols + ["exposure"] if name == "sim3" else cols


def true_params(name: str) -> pd.DataFrame:
    """True regression coefficients of a simulated Poisson dataset.

    Parameters
    ----------
    name : {"sim1", "sim2", "sim3"}
        Dataset name.

    Returns
    -------
    pandas.DataFrame
        One row per covariate (``V1``..``V5`` or ``X1``..``X10``), one column per component
        (``comp1``, ``comp2``). No model has an intercept. A fresh copy on each call.

    Examples
    --------
    >>> from emglm.datasets import true_params
    >>> true_params("sim2").round(3)
        comp1  comp2
    V1 -1.355 -1.569
    V2  0.281 -0.101
    V3 -1.372 -1.767
    V4 -0.596 -1.430
    V5 -1.058 -0.001
    """
    _check_name(name)
    covariates, coefs, _ = _DESIGN[name]
    data = {f"comp{k + 1}": list(b) for k, b in enumerate(coefs)}
    return pd.DataFrame(data, index=pd.Index(covariates), dtype="float64")


def true_weights(name: str) -> pd.Series:
    """True mixing proportions of a simulated Poisson dataset.

    The components occupy fixed row blocks, so these are also the exact sample proportions.

    Parameters
    ----------
    name : {"sim1", "sim2", "sim3"}
        Dataset name.

    Returns
    -------
    pandas.Series
        Indexed ``comp1`` (, ``comp2``); sums to 1.

    Examples
    --------
    >>> from emglm.datasets import true_weights
    >>> true_weights("sim3").tolist()
    [0.5, 0.5]
    """
    _check_name(name)
    sizes = np.asarray(_DESIGN[name][2], dtype="float64")
    index = pd.Index([f"comp{k + 1}" for k in range(sizes.size)])
    return pd.Series(sizes / sizes.sum(), index=index, name="weight")


def true_labels(name: str) -> np.ndarray:
    """0-based component label of each row of a simulated Poisson dataset.

    The files carry no label column (as in emax.glm); the label follows from the row blocks:
    ``sim2`` rows 1-2500 are component 0 and rows 2501-5000 component 1, ``sim3`` rows
    1-5000 component 0 and rows 5001-10000 component 1, ``sim1`` is all component 0.

    Parameters
    ----------
    name : {"sim1", "sim2", "sim3"}
        Dataset name.

    Returns
    -------
    numpy.ndarray
        Integer (int64) array with one entry per row.

    Examples
    --------
    >>> from emglm.datasets import true_labels
    >>> lab = true_labels("sim2")
    >>> lab.shape, lab[2499], lab[2500]
    ((5000,), np.int64(0), np.int64(1))
    """
    _check_name(name)
    sizes = _DESIGN[name][2]
    return np.repeat(np.arange(len(sizes), dtype="int64"), sizes)


def _coefs(name: str) -> tuple[np.ndarray, ...]:
    """Coefficient vectors of each component as float arrays (internal)."""
    _check_name(name)
    return tuple(np.asarray(b, dtype="float64") for b in _DESIGN[name][1])
