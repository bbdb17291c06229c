"""A simulated data set with two responses sharing one latent class (a count and a
binomial proportion), for the flexmix reference of several responses; deterministic.

Usage (from the repository root)::

    python tests/reference/make_several_data.py && Rscript tests/reference/flexmix_several.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).with_name("data")


def several(seed: int = 20241203, n: int = 500) -> pd.DataFrame:
    """P(comp 2) = 0.4; comp 1: log mu = 1.0 + 0.4x, logit p = -0.5 + 1.0x; comp 2:
    log mu = 2.0 - 0.3x, logit p = 0.8 - 0.6x; 8 trials per row."""
    rng = np.random.default_rng(seed)
    lab = (rng.random(n) < 0.4).astype(int)
    x = rng.normal(size=n)
    mu = np.exp(np.where(lab == 0, 1.0 + 0.4 * x, 2.0 - 0.3 * x))
    p = 1 / (1 + np.exp(-np.where(lab == 0, -0.5 + 1.0 * x, 0.8 - 0.6 * x)))
    succ = rng.binomial(8, p)
    return pd.DataFrame(
        {"yp": rng.poisson(mu), "succ": succ, "fail": 8 - succ, "x": x, "label": lab + 1}
    )


def main() -> None:
    DATA.mkdir(exist_ok=True)
    several().to_csv(DATA / "several.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
