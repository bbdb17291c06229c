"""Reading the shipped CSV files and writing them again from their seeds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import pandas as pd

from emglm.datasets._params import SEEDS, SIM_NAMES, sim_columns
from emglm.datasets._simulate import simulate_sim1, simulate_sim2, simulate_sim3

__all__ = ["load_sim1", "load_sim2", "load_sim3", "regenerate", "repo_data_dir"]

_SIMULATORS = {"sim1": simulate_sim1, "sim2": simulate_sim2, "sim3": simulate_sim3}
_INT_COLUMNS = ("y", "exposure")


def repo_data_dir() -> Path:
    """The top-level ``data/`` folder of the source checkout this package was imported from.

    Returns
    -------
    pathlib.Path
        ``<checkout>/data``. It exists only when running from a source tree.

    Examples
    --------
    >>> from emglm.datasets import repo_data_dir
    >>> repo_data_dir().name
    'data'
    """
    return Path(__file__).resolve().parents[2] / "data"


def _read(name: str) -> pd.DataFrame:
    filename = f"{name}.csv"
    packaged = resources.files("emglm.datasets") / "_data" / filename
    if packaged.is_file():
        with packaged.open("rb") as fh:
            df = pd.read_csv(fh)
    else:
        path = repo_data_dir() / filename
        if not path.is_file():
            raise FileNotFoundError(
                f"{filename} is neither in the installed package data nor at {path}; "
                "run `python -m emglm.datasets` in a source checkout to create it"
            )
        df = pd.read_csv(path)
    cols = sim_columns(name)
    if list(df.columns) != cols:
        raise ValueError(f"{filename} has columns {list(df.columns)}, expected {cols}")
    dtypes = {c: ("int64" if c in _INT_COLUMNS else "float64") for c in cols}
    return df.astype(dtypes)


def load_sim1() -> pd.DataFrame:
    """Load ``sim1``: 5000 rows from one Poisson GLM (emax.glm's ``sim.1`` design).

    Returns
    -------
    pandas.DataFrame
        A fresh frame with ``V1``..``V5`` (float64) and ``y`` (int64). True coefficients:
        ``true_params("sim1")``. Equal to ``simulate_sim1(SEEDS["sim1"])``.

    Examples
    --------
    >>> from emglm.datasets import load_sim1
    >>> load_sim1().shape
    (5000, 6)
    """
    return _read("sim1")


def load_sim2() -> pd.DataFrame:
    """Load ``sim2``: 5000 rows, two Poisson GLMs in row blocks 1-2500 and 2501-5000.

    Returns
    -------
    pandas.DataFrame
        A fresh frame with ``V1``..``V5`` (float64) and ``y`` (int64). True coefficients:
        ``true_params("sim2")``; labels: ``true_labels("sim2")``. Equal to
        ``simulate_sim2(SEEDS["sim2"])``.

    Examples
    --------
    >>> from emglm.datasets import load_sim2
    >>> df = load_sim2()
    >>> df.shape, str(df["y"].dtype)
    ((5000, 6), 'int64')
    """
    return _read("sim2")


def load_sim3() -> pd.DataFrame:
    """Load ``sim3``: 10000 rows, two Poisson GLMs with an integer exposure in 10..30.

    Returns
    -------
    pandas.DataFrame
        A fresh frame with ``X1``..``X10`` (float64), ``y`` and ``exposure`` (int64). True
        coefficients: ``true_params("sim3")``; rows 1-5000 are component 1, 5001-10000
        component 2. Equal to ``simulate_sim3(SEEDS["sim3"])``.

    Examples
    --------
    >>> from emglm.datasets import load_sim3
    >>> load_sim3().columns[-2:].tolist()
    ['y', 'exposure']
    """
    return _read("sim3")


def _float_repr(value: object) -> str:
    # Shortest repr that round-trips: exact, and the same on every platform.
    if not isinstance(value, float):  # numpy.float64 is a float subclass
        raise TypeError(f"expected a float, got {type(value).__name__}")
    return float.__repr__(value)


def regenerate(out_dir: str | Path | None = None) -> list[Path]:
    """Write ``sim1.csv``, ``sim2.csv`` and ``sim3.csv`` from their fixed seeds.

    Floats are written as their shortest round-trip ``repr`` and lines end in ``"\\n"``, so the
    files are byte-identical on every platform and load back to exactly the simulated values.

    Parameters
    ----------
    out_dir : str or pathlib.Path, optional
        Target folder, created if missing. Default: :func:`repo_data_dir`.

    Returns
    -------
    list of pathlib.Path
        The files written.

    Examples
    --------
    >>> import tempfile
    >>> from emglm.datasets import regenerate
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     [p.name for p in regenerate(tmp)]
    ['sim1.csv', 'sim2.csv', 'sim3.csv']
    """
    out = Path(out_dir) if out_dir is not None else repo_data_dir()
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name in SIM_NAMES:
        df = _SIMULATORS[name](SEEDS[name])
        path = out / f"{name}.csv"
        df.to_csv(path, index=False, lineterminator="\n", float_format=_float_repr)
        written.append(path)
    return written
