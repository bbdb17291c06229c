"""Two-component regression mixtures for the likelihood-ratio test against mixtools'
``boot.comp``; numpy/pandas only, deterministic.

Usage (from the repository root)::

    python tests/reference/make_lrt_data.py && Rscript tests/reference/mixtools_boot_comp.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).with_name("data")


def lrt_gauss(seed: int = 20261211, n: int = 200) -> pd.DataFrame:
    """Gaussian, K=2, x ~ U(0, 5): comp 1 y = 1 + 1.0x + N(0, 0.7^2), comp 2
    y = 3 - 0.5x + N(0, 0.5^2); P(comp 1) = 0.6."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 5, size=n)
    lab = (rng.random(n) >= 0.6).astype(int)
    mu = np.where(lab == 0, 1.0 + 1.0 * x, 3.0 - 0.5 * x)
    y = mu + rng.normal(size=n) * np.where(lab == 0, 0.7, 0.5)
    return pd.DataFrame({"y": y, "x": x, "label": lab + 1})


def lrt_pois(seed: int = 20261212, n: int = 300) -> pd.DataFrame:
    """Poisson, K=2, x ~ U(0, 2): log mu: comp 1 0.5 + 0.8x, comp 2 2.0 - 0.6x; P = 0.5."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2, size=n)
    lab = (rng.random(n) >= 0.5).astype(int)
    eta = np.where(lab == 0, 0.5 + 0.8 * x, 2.0 - 0.6 * x)
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "label": lab + 1})


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, frame in (("lrt_gauss", lrt_gauss()), ("lrt_pois", lrt_pois())):
        frame.to_csv(DATA / f"{name}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
