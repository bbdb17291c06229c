"""Simulated grouped data sets (several rows per subject sharing one latent class) for the
flexmix references of grouped mixtures; numpy/pandas only, deterministic.

Usage (from the repository root)::

    python tests/reference/make_grouped_data.py && Rscript tests/reference/flexmix_grouped.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).with_name("data")


def grouped_poisson(seed: int = 20241201, n_groups: int = 150) -> pd.DataFrame:
    """Poisson, ``y ~ x | id``: 150 subjects with 2-8 rows each; P(comp 2) given the
    subject's z is logistic(-0.3 + 1.2 z); log mu: comp 1 1.0 + 0.5x, comp 2 1.6 - 0.4x."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 9, size=n_groups)
    gid = np.repeat(np.arange(n_groups), sizes)
    z_g = rng.normal(size=n_groups)
    lab_g = (rng.random(n_groups) < 1 / (1 + np.exp(-(-0.3 + 1.2 * z_g)))).astype(int)
    n = gid.size
    x = rng.normal(size=n)
    lab = lab_g[gid]
    eta = np.where(lab == 0, 1.0 + 0.5 * x, 1.6 - 0.4 * x)
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta)), "x": x, "z": z_g[gid], "id": gid + 1, "label": lab + 1}
    )


def grouped_binomial(seed: int = 20241202, n_groups: int = 120) -> pd.DataFrame:
    """Binomial, ``cbind(succ, fail) ~ x | id``: 120 subjects with 3-6 rows each, 10
    trials per row; P = 0.5; logit p: comp 1 -0.5 + 1.0x, comp 2 0.8 - 0.7x."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(3, 7, size=n_groups)
    gid = np.repeat(np.arange(n_groups), sizes)
    lab = rng.integers(0, 2, size=n_groups)[gid]
    x = rng.normal(size=gid.size)
    eta = np.where(lab == 0, -0.5 + 1.0 * x, 0.8 - 0.7 * x)
    succ = rng.binomial(10, 1 / (1 + np.exp(-eta)))
    return pd.DataFrame(
        {"succ": succ, "fail": 10 - succ, "x": x, "id": gid + 1, "label": lab + 1}
    )


def main() -> None:
    DATA.mkdir(exist_ok=True)
    for name, frame in (("grouped_pois", grouped_poisson()), ("grouped_binom", grouped_binomial())):
        frame.to_csv(DATA / f"{name}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
