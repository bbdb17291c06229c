"""Simulated zero-inflated data sets (a point mass at zero beside GLM components) for the
flexmix references of ``FLXMRziglm``; numpy/pandas only, deterministic.

``label`` numbers the true components as flexmix does: 1 is the point mass at zero, 2..K+1
the GLM components.

Usage (from the repository root)::

    python tests/reference/make_zero_inflated_data.py && Rscript tests/reference/flexmix_zero_inflated.R
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).with_name("data")


def _labels(rng: np.random.Generator, n: int, probs: list[float]) -> np.ndarray:
    return rng.choice(len(probs), size=n, p=probs)


def zi_poisson(seed: int = 20241211, n: int = 800) -> pd.DataFrame:
    """Zero-inflated Poisson mixture, ``y ~ x``: point mass 0.25; log mu: comp 1
    1.0 + 0.5x (0.45), comp 2 2.2 - 0.4x (0.30); a log exposure ``t`` in 1..3."""
    rng = np.random.default_rng(seed)
    lab = _labels(rng, n, [0.25, 0.45, 0.30])
    x = rng.normal(size=n)
    t = rng.integers(1, 4, size=n).astype(float)
    eta = np.where(lab == 1, 1.0 + 0.5 * x, 2.2 - 0.4 * x) + np.log(t)
    y = np.where(lab == 0, 0, rng.poisson(np.exp(eta)))
    return pd.DataFrame({"y": y, "x": x, "t": t, "label": lab + 1})


def zi_binomial(seed: int = 20241212, n: int = 600) -> pd.DataFrame:
    """Zero-inflated binomial, ``cbind(succ, fail) ~ x``, 8 trials per row: point mass
    0.3; logit p: comp 1 -0.3 + 0.8x (0.7)."""
    rng = np.random.default_rng(seed)
    lab = _labels(rng, n, [0.3, 0.7])
    x = rng.normal(size=n)
    p = 1 / (1 + np.exp(-(-0.3 + 0.8 * x)))
    succ = np.where(lab == 0, 0, rng.binomial(8, p))
    return pd.DataFrame({"succ": succ, "fail": 8 - succ, "x": x, "label": lab + 1})


def zi_grouped_poisson(seed: int = 20241213, n_groups: int = 160) -> pd.DataFrame:
    """Grouped zero-inflated Poisson, ``y ~ x | id``: 160 subjects with 2-6 rows each, all
    rows of a subject from one component: point mass 0.2; log mu: comp 1 0.8 + 0.6x (0.5),
    comp 2 1.8 - 0.5x (0.3). ``z`` is a subject-level covariate drawn last (unrelated to
    the classes), for a concomitant model."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(2, 7, size=n_groups)
    gid = np.repeat(np.arange(n_groups), sizes)
    lab = _labels(rng, n_groups, [0.2, 0.5, 0.3])[gid]
    x = rng.normal(size=gid.size)
    eta = np.where(lab == 1, 0.8 + 0.6 * x, 1.8 - 0.5 * x)
    y = np.where(lab == 0, 0, rng.poisson(np.exp(eta)))
    z = rng.normal(size=n_groups)[gid]
    return pd.DataFrame({"y": y, "x": x, "id": gid + 1, "label": lab + 1, "z": z})


def main() -> None:
    DATA.mkdir(exist_ok=True)
    frames = {
        "zi_pois": zi_poisson(),
        "zi_binom": zi_binomial(),
        "zi_grouped_pois": zi_grouped_poisson(),
    }
    for name, frame in frames.items():
        frame.to_csv(DATA / f"{name}.csv", index=False, float_format="%.17g")


if __name__ == "__main__":
    main()
