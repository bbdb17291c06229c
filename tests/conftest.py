"""Shared fixtures: small simulated data sets with known truth, and the Dask tests' cluster."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def poisson_df() -> pd.DataFrame:
    """Two Poisson regressions (intercept and x), rows 0-299 from comp A, 300-599 from B."""
    rng = np.random.default_rng(11)
    n = 600
    x = rng.normal(size=n)
    lab = (np.arange(n) >= 300).astype(int)
    eta = np.where(lab == 0, 1.0 + 0.5 * x, 2.5 - 0.7 * x)
    expo = rng.integers(1, 5, size=n).astype(float)
    return pd.DataFrame(
        {
            "y": rng.poisson(expo * np.exp(eta)),
            "x": x,
            "expo": expo,
            "w": rng.integers(1, 4, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
            "label": lab,
        }
    )


@pytest.fixture
def glm_df() -> pd.DataFrame:
    """One data set for single-GLM comparisons across families."""
    rng = np.random.default_rng(5)
    n = 400
    x1 = rng.normal(size=n)
    x2 = rng.uniform(1, 3, size=n)
    trials = rng.integers(3, 12, size=n)
    p = 1 / (1 + np.exp(-(-0.3 + 0.8 * x1)))
    succ = rng.binomial(trials, p)
    return pd.DataFrame(
        {
            "x1": x1,
            "x2": x2,
            "g": rng.choice(["u", "v", "w"], size=n),
            "count": rng.poisson(np.exp(0.2 + 0.4 * x1 + 0.1 * x2) * 3),
            "expo": rng.integers(1, 6, size=n).astype(float),
            "w": rng.integers(1, 4, size=n).astype(float),
            "yg": 1.5 + 2.0 * x1 - 0.5 * x2 + rng.normal(scale=0.7, size=n),
            "succ": succ,
            "fail": trials - succ,
            "yb": rng.binomial(1, p),
        }
    )


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """A real ``distributed.LocalCluster`` of two worker processes (one thread, 1 GiB each)
    and its client, started for one test module and stopped after it."""
    distributed = pytest.importorskip("distributed")
    # Dask's shuffles (the grouped tests arrange data with them) log a line per shuffle at
    # warning level; they are expected.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, memory_limit="1GiB",
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster) as c,
    ):  # fmt: skip
        yield c


# Hypothesis profiles for tests/test_properties.py: "ci" (default) keeps the file well under
# a minute; HYPOTHESIS_PROFILE=long runs the long check reported in docs/reliability.md.
def _register_hypothesis_profiles() -> None:
    import os

    from hypothesis import settings

    # CI draws the same examples every run (derandomize): a red CI is then reproducible.
    settings.register_profile(
        "ci", max_examples=40, deadline=None, print_blob=True, derandomize=True, database=None
    )
    settings.register_profile("medium", max_examples=300, deadline=None, print_blob=True)
    settings.register_profile("long", max_examples=2000, deadline=None, print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


_register_hypothesis_profiles()
