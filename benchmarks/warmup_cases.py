"""The warm-up suite: real data sets from R packages and simulated hard cases.

Each case is a model (formula, family, K, optional concomitant formula) on one data set.
The real data sets are CSV files in ``benchmarks/warmup_suite/`` exported from R by
``benchmarks/warmup_suite/export.R`` (AER, MASS, pscl, datasets); the simulated ones are
drawn here from fixed seeds. Their best known optima are in
``benchmarks/warmup_suite/best.json`` (``benchmarks/warmup_search.py`` and
``benchmarks/warmup_suite/flexmix_search.R``).

Used by ``benchmarks/bench_warmup.py`` and ``tests/test_warmup_suite.py``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

SUITE_DIR = Path(__file__).resolve().parent / "warmup_suite"
BEST_FILE = SUITE_DIR / "best.json"


@dataclass(frozen=True)
class Case:
    """One model of the suite; ``source`` says where the data come from."""

    name: str
    source: str
    formula: str
    family: str
    K: int
    load: Callable[[], pd.DataFrame]
    concomitant: str | None = None
    # The same model in R flexmix's notation, when flexmix can fit it (else None).
    r_formula: str | None = None

    def data(self) -> pd.DataFrame:
        return self.load()


def _csv(name: str) -> Callable[[], pd.DataFrame]:
    return lambda: pd.read_csv(SUITE_DIR / f"{name}.csv")


# --- simulated hard cases -------------------------------------------------------------


def _labels(rng: np.random.Generator, n: int, props: list[float]) -> np.ndarray:
    """Component labels with exactly the given shares (rounded), in random order."""
    counts = np.floor(np.asarray(props) * n).astype(int)
    counts[0] += n - counts.sum()
    return rng.permutation(np.repeat(np.arange(len(props)), counts))


def sim_close() -> pd.DataFrame:
    """Three Poisson regressions whose lines are close: intercepts 1.0, 1.4 and 1.8,
    slopes 0.6, 0.2 and -0.2 on x ~ U(0, 2); equal sizes, 1200 rows."""
    rng = np.random.default_rng(1401)
    n = 1200
    x = rng.uniform(0, 2, n)
    z = _labels(rng, n, [1 / 3, 1 / 3, 1 / 3])
    a, b = np.array([1.0, 1.4, 1.8]), np.array([0.6, 0.2, -0.2])
    return pd.DataFrame({"y": rng.poisson(np.exp(a[z] + b[z] * x)), "x": x})


def sim_unequal() -> pd.DataFrame:
    """Three Gaussian regressions of very unequal size (80% / 14% / 6%), the small ones
    inside the large one's cloud: y = 1 + 2x (sd 1.5), y = 2 - 0.5x (sd 0.4),
    y = 0.5x (sd 0.3), x ~ N(0, 1); 1000 rows."""
    rng = np.random.default_rng(1402)
    n = 1000
    x = rng.normal(size=n)
    z = _labels(rng, n, [0.8, 0.14, 0.06])
    a, b = np.array([1.0, 2.0, 0.0]), np.array([2.0, -0.5, 0.5])
    sd = np.array([1.5, 0.4, 0.3])
    return pd.DataFrame({"y": rng.normal(a[z] + b[z] * x, sd[z]), "x": x})


def sim_k4_poisson() -> pd.DataFrame:
    """Four Poisson regressions (shares 0.4, 0.3, 0.2, 0.1), two covariates; 2000 rows."""
    rng = np.random.default_rng(1403)
    n = 2000
    x1, x2 = rng.normal(size=n), rng.uniform(-1, 1, n)
    z = _labels(rng, n, [0.4, 0.3, 0.2, 0.1])
    b = np.array([[0.5, 0.8, 0.0], [1.5, -0.5, 0.5], [2.5, 0.2, -0.6], [1.0, 0.0, 1.5]])
    eta = b[z, 0] + b[z, 1] * x1 + b[z, 2] * x2
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x1": x1, "x2": x2})


def sim_k5_gaussian() -> pd.DataFrame:
    """Five Gaussian regression lines crossing in x ~ U(-2, 2), sd 0.3-1.2, equal sizes;
    1500 rows."""
    rng = np.random.default_rng(1404)
    n = 1500
    x = rng.uniform(-2, 2, n)
    z = _labels(rng, n, [0.2] * 5)
    a = np.array([0.0, 2.0, -2.0, 4.0, 1.0])
    b = np.array([1.0, -1.0, 0.5, 0.0, 2.0])
    sd = np.array([0.3, 0.6, 0.9, 1.2, 0.5])
    return pd.DataFrame({"y": rng.normal(a[z] + b[z] * x, sd[z]), "x": x})


def sim_variances() -> pd.DataFrame:
    """Three Gaussian regressions along nearly the same line with very different
    variances (sd 0.1, 1 and 5): y = 2 + x, 2.3 + 0.8x and 1.5 + 1.2x, shares
    0.4 / 0.35 / 0.25; 800 rows."""
    rng = np.random.default_rng(1405)
    n = 800
    x = rng.normal(size=n)
    z = _labels(rng, n, [0.4, 0.35, 0.25])
    a, b = np.array([2.0, 2.3, 1.5]), np.array([1.0, 0.8, 1.2])
    sd = np.array([0.1, 1.0, 5.0])
    return pd.DataFrame({"y": rng.normal(a[z] + b[z] * x, sd[z]), "x": x})


def sim_binomial_k3() -> pd.DataFrame:
    """Three logistic regressions on 10 trials each (shares 0.5, 0.3, 0.2) with a
    concomitant covariate w that shifts the shares; 900 rows."""
    rng = np.random.default_rng(1406)
    n = 900
    x, w = rng.normal(size=n), rng.normal(size=n)
    logits = np.c_[np.zeros(n), -0.5 + 1.0 * w, -1.0 - 1.0 * w]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    z = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    b = np.array([[-1.5, 1.0], [0.0, -1.0], [1.5, 0.3]])
    prob = 1 / (1 + np.exp(-(b[z, 0] + b[z, 1] * x)))
    succ = rng.binomial(10, prob)
    return pd.DataFrame({"succ": succ, "fail": 10 - succ, "x": x, "w": w})


CASES: tuple[Case, ...] = (
    Case(
        "doctorvisits", "AER::DoctorVisits",
        "visits ~ gender + age + income + illness + reduced + health", "poisson", 2,
        _csv("doctorvisits"),
        r_formula="visits ~ gender + age + income + illness + reduced + health",
    ),
    Case(
        "nmes1988", "AER::NMES1988",
        "visits ~ health + chronic + adl + age + gender + school + insurance", "poisson", 3,
        _csv("nmes1988"),
        r_formula="visits ~ health + chronic + adl + age + gender + school + insurance",
    ),
    Case(
        "recreation", "AER::RecreationDemand",
        "trips ~ quality + ski + income + userfee + costC + costS + costH", "poisson", 3,
        _csv("recreation"),
        r_formula="trips ~ quality + ski + income + userfee + costC + costS + costH",
    ),
    Case(
        "biochemists", "pscl::bioChemists",
        "art ~ fem + mar + kid5 + phd + ment", "poisson", 2, _csv("biochemists"),
        concomitant="~ fem + mar", r_formula="art ~ fem + mar + kid5 + phd + ment",
    ),
    Case(
        "faithful", "datasets::faithful", "eruptions ~ waiting", "gaussian", 2,
        _csv("faithful"), r_formula="eruptions ~ waiting",
    ),
    Case(
        "galaxies", "MASS::galaxies (km/s / 1000)", "velocity ~ 1", "gaussian", 3,
        _csv("galaxies"), r_formula="velocity ~ 1",
    ),
    Case(
        "boston", "MASS::Boston", "medv ~ lstat + rm", "gaussian", 3, _csv("boston"),
        r_formula="medv ~ lstat + rm",
    ),
    Case(
        "quine", "MASS::quine", "Days ~ Eth + Sex + Age + Lrn", "poisson", 3, _csv("quine"),
        r_formula="Days ~ Eth + Sex + Age + Lrn",
    ),
    Case("sim_close", "simulated", "y ~ x", "poisson", 3, sim_close, r_formula="y ~ x"),
    Case("sim_unequal", "simulated", "y ~ x", "gaussian", 3, sim_unequal, r_formula="y ~ x"),
    Case(
        "sim_k4_poisson", "simulated", "y ~ x1 + x2", "poisson", 4, sim_k4_poisson,
        r_formula="y ~ x1 + x2",
    ),
    Case("sim_k5_gaussian", "simulated", "y ~ x", "gaussian", 5, sim_k5_gaussian,
         r_formula="y ~ x"),
    Case("sim_variances", "simulated", "y ~ x", "gaussian", 3, sim_variances, r_formula="y ~ x"),
    Case(
        "sim_binomial_k3", "simulated", "succ + fail ~ x", "binomial", 3, sim_binomial_k3,
        concomitant="~ w", r_formula="cbind(succ, fail) ~ x",
    ),
)  # fmt: skip

BY_NAME = {c.name: c for c in CASES}


def best_known() -> dict[str, dict[str, object]]:
    """The best known optimum of every case (``best.json``)."""
    with open(BEST_FILE) as fh:
        return json.load(fh)["cases"]
