"""Generate the simulated data sets used for the R (flexmix / mixtools) reference fits.

Pure numpy/pandas. Each data set has its own fixed seed, so rerunning this script
rewrites byte-identical CSV files. Floats are written with ``%.17g`` so that R's
``read.csv`` and pandas' ``read_csv`` recover exactly the same doubles.

Every file carries an integer ``label`` column (1..K) holding the true component.

Usage (from the repository root)::

    python tests/reference/make_reference_data.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA_DIR = Path(__file__).resolve().parent / "data"

SEEDS = {
    "pois_mix": 20240101,
    "gauss_mix": 20240102,
    "binom_mix": 20240103,
    "conc_pois": 20240104,
    "conc_gauss": 20240105,
}


def _logistic(eta: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-eta))


def make_pois_mix() -> pd.DataFrame:
    rng = np.random.default_rng(SEEDS["pois_mix"])
    n = 1000
    x1 = rng.normal(0.0, 1.0, n)
    x2 = rng.normal(0.0, 1.0, n)
    expo = rng.integers(1, 11, n)  # uniform on 1..10
    w = rng.integers(1, 4, n)  # uniform on 1..3
    label = np.where(rng.random(n) < 0.4, 1, 2)
    beta = {1: np.array([1.0, 0.5, -0.5]), 2: np.array([-0.5, -0.3, 0.8])}
    X = np.column_stack([np.ones(n), x1, x2])
    eta = np.where(label == 1, X @ beta[1], X @ beta[2])
    y = rng.poisson(expo * np.exp(eta))
    return pd.DataFrame({"y": y, "x1": x1, "x2": x2, "expo": expo, "w": w, "label": label})


def make_gauss_mix() -> pd.DataFrame:
    rng = np.random.default_rng(SEEDS["gauss_mix"])
    n = 600
    x = rng.uniform(0.0, 10.0, n)
    label = np.where(rng.random(n) < 0.5, 1, 2)
    e = rng.normal(0.0, 1.0, n)
    y = np.where(label == 1, 1.0 + 2.0 * x + 1.0 * e, 5.0 - 0.5 * x + 0.5 * e)
    return pd.DataFrame({"y": y, "x": x, "label": label})


def make_binom_mix() -> pd.DataFrame:
    rng = np.random.default_rng(SEEDS["binom_mix"])
    n = 600
    x = rng.normal(0.0, 1.0, n)
    trials = rng.integers(5, 16, n)  # uniform on 5..15
    label = np.where(rng.random(n) < 0.5, 1, 2)
    eta = np.where(label == 1, -1.0 + 1.5 * x, 1.0 - 1.0 * x)
    succ = rng.binomial(trials, _logistic(eta))
    return pd.DataFrame({"x": x, "succ": succ, "fail": trials - succ, "label": label})


def make_conc_pois() -> pd.DataFrame:
    rng = np.random.default_rng(SEEDS["conc_pois"])
    n = 1500
    x = rng.normal(0.0, 1.0, n)
    z = rng.normal(0.0, 1.0, n)
    p2 = _logistic(-0.5 + 1.5 * z)
    label = np.where(rng.random(n) < p2, 2, 1)
    eta = np.where(label == 1, 0.5 + 0.8 * x, 2.0 - 0.6 * x)
    y = rng.poisson(np.exp(eta))
    return pd.DataFrame({"y": y, "x": x, "z": z, "label": label})


def make_conc_gauss() -> pd.DataFrame:
    rng = np.random.default_rng(SEEDS["conc_gauss"])
    n = 1000
    x = rng.uniform(0.0, 5.0, n)
    z = rng.normal(0.0, 1.0, n)
    p2 = _logistic(0.3 - 1.2 * z)
    label = np.where(rng.random(n) < p2, 2, 1)
    e = rng.normal(0.0, 1.0, n)
    y = np.where(label == 1, 2.0 + 1.0 * x + 0.5 * e, -1.0 + 0.5 * x + 1.0 * e)
    return pd.DataFrame({"y": y, "x": x, "z": z, "label": label})


MAKERS = {
    "pois_mix": make_pois_mix,
    "gauss_mix": make_gauss_mix,
    "binom_mix": make_binom_mix,
    "conc_pois": make_conc_pois,
    "conc_gauss": make_conc_gauss,
}


def main() -> None:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    for name, maker in MAKERS.items():
        df = maker()
        path = DATA_DIR / f"{name}.csv"
        df.to_csv(path, index=False, float_format="%.17g", lineterminator="\n")
        print(f"wrote {path.name}: {len(df)} rows, {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
