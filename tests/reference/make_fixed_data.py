"""Simulated data sets with coefficients shared across components, for the flexmix
``FLXMRglmfix`` references; numpy/pandas only, deterministic.

Usage (from the repository root)::

    python tests/reference/make_fixed_data.py && Rscript tests/reference/flexmix_fixed.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).with_name("data")


def fixed_poisson(seed: int = 20261201, n: int = 600) -> pd.DataFrame:
    """Poisson, K=3: ``y ~ x`` varying, ``z`` fixed (0.4 in every component), ``x1`` nested
    in comps 1-2 (0.3) and absent from comp 3. log mu: comp 1 1.0 + 0.5x, comp 2
    2.0 - 0.4x, comp 3 0.3 + 0.1x (plus 0.4z, plus 0.3x1 in comps 1-2); proportions
    0.4, 0.35, 0.25."""
    rng = np.random.default_rng(seed)
    lab = rng.choice(3, size=n, p=[0.4, 0.35, 0.25])
    x, z, x1 = rng.normal(size=(3, n))
    a = np.array([1.0, 2.0, 0.3])[lab]
    b = np.array([0.5, -0.4, 0.1])[lab]
    eta = a + b * x + 0.4 * z + np.where(lab < 2, 0.3 * x1, 0.0)
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "z": z, "x1": x1, "label": lab + 1})


def fixed_grouped_poisson(seed: int = 20261202, n_groups: int = 150) -> pd.DataFrame:
    """Poisson, ``y ~ x | id`` with ``z`` fixed (-0.3): 150 subjects with 2-6 rows each;
    log mu: comp 1 1.0 + 0.5x, comp 2 1.8 - 0.5x; P = 0.5."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 7, size=n_groups)
    gid = np.repeat(np.arange(n_groups), sizes)
    lab = rng.integers(0, 2, size=n_groups)[gid]
    x, z = rng.normal(size=(2, gid.size))
    eta = np.where(lab == 0, 1.0 + 0.5 * x, 1.8 - 0.5 * x) - 0.3 * z
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta)), "x": x, "z": z, "id": gid + 1, "label": lab + 1}
    )


def fixed_binomial(seed: int = 20261203, n: int = 500) -> pd.DataFrame:
    """Binomial (10 trials), K=2: logit p: comp 1 -0.5 + 1.0x, comp 2 0.8 - 0.7x, plus
    0.6z fixed; P = 0.5."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, size=n)
    x, z = rng.normal(size=(2, n))
    eta = np.where(lab == 0, -0.5 + 1.0 * x, 0.8 - 0.7 * x) + 0.6 * z
    succ = rng.binomial(10, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame({"succ": succ, "fail": 10 - succ, "x": x, "z": z, "label": lab + 1})


def fixed_gaussian(seed: int = 20261204, n: int = 500) -> pd.DataFrame:
    """Gaussian, K=2, one common sigma 0.8: comp 1 y = 1 + 1.0x, comp 2 y = 4 - 0.5x, plus
    0.7z fixed; P = 0.5."""
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, size=n)
    x, z = rng.normal(size=(2, n))
    y = np.where(lab == 0, 1.0 + 1.0 * x, 4.0 - 0.5 * x) + 0.7 * z + 0.8 * rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "z": z, "label": lab + 1})


def main() -> None:
    """Write the CSV files."""
    DATA.mkdir(exist_ok=True)
    fixed_poisson().to_csv(DATA / "fixed_pois.csv", index=False, float_format="%.17g", lineterminator="\n")
    fixed_grouped_poisson().to_csv(DATA / "fixed_grouped_pois.csv", index=False, float_format="%.17g", lineterminator="\n")
    fixed_binomial().to_csv(DATA / "fixed_binom.csv", index=False, float_format="%.17g", lineterminator="\n")
    fixed_gaussian().to_csv(DATA / "fixed_gauss.csv", index=False, float_format="%.17g", lineterminator="\n")


if __name__ == "__main__":
    main()
