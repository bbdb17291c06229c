"""Simulators: the emax.glm Poisson designs and a few small worked examples.

Every simulator is a pure function of its random source: pass a
:class:`numpy.random.Generator` or an integer seed (anything
:func:`numpy.random.default_rng` accepts). The same seed always gives the same data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emglm.datasets._params import _coefs, sim_columns, true_labels

__all__ = [
    "peppered_moth",
    "simulate_gaussian_mixture_1d",
    "simulate_sim1",
    "simulate_sim2",
    "simulate_sim3",
    "simulate_two_regressions",
    "simulate_two_slopes",
]

RNGLike = np.random.Generator | int


def _linear_predictor(
    x: np.ndarray, labels: np.ndarray, coefs: tuple[np.ndarray, ...]
) -> np.ndarray:
    """Row-wise ``x @ coefs[label]``, summed column by column (no BLAS, same bits everywhere)."""
    beta = np.stack(coefs)[labels]  # (n, p)
    eta = np.zeros(x.shape[0])
    for j in range(x.shape[1]):
        eta += x[:, j] * beta[:, j]
    return eta


def _poisson_sim(name: str, rng: RNGLike) -> pd.DataFrame:
    gen = np.random.default_rng(rng)
    cols = sim_columns(name)
    labels = true_labels(name)
    n, p = labels.size, len(_coefs(name)[0])
    x = gen.standard_normal((n, p))
    mu = np.exp(_linear_predictor(x, labels, _coefs(name)))
    df = pd.DataFrame(x, columns=pd.Index(cols[:p]))
    if name == "sim3":
        exposure = gen.integers(10, 30, size=n, endpoint=True).astype("int64")
        df["y"] = gen.poisson(exposure * mu).astype("int64")
        df["exposure"] = exposure
    else:
        df["y"] = gen.poisson(mu).astype("int64")
    return df


def simulate_sim1(rng: RNGLike) -> pd.DataFrame:
    """Simulate a dataset with the design of emax.glm's ``sim.1`` (one Poisson GLM).

    5000 rows; ``V1``..``V5`` iid N(0, 1); ``y ~ Poisson(exp(X b))`` with ``b =
    true_params("sim1")`` and no intercept. Draw order: the 5000x5 normal matrix (row-major),
    then the 5000 Poisson counts.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed. ``SEEDS["sim1"]`` reproduces ``data/sim1.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``V1``..``V5`` (float64) and ``y`` (int64).

    Examples
    --------
    >>> from emglm.datasets import simulate_sim1
    >>> df = simulate_sim1(0)
    >>> df.shape, list(df.columns)
    ((5000, 6), ['V1', 'V2', 'V3', 'V4', 'V5', 'y'])
    """
    return _poisson_sim("sim1", rng)


def simulate_sim2(rng: RNGLike) -> pd.DataFrame:
    """Simulate a dataset with the design of emax.glm's ``sim.2`` (two Poisson GLMs).

    5000 rows; ``V1``..``V5`` iid N(0, 1); rows 1-2500 follow ``y ~ Poisson(exp(X p1))`` and
    rows 2501-5000 ``y ~ Poisson(exp(X p2))`` with ``p1, p2 = true_params("sim2")`` and no
    intercept. No label column: see :func:`true_labels`. Draw order as in
    :func:`simulate_sim1`.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed. ``SEEDS["sim2"]`` reproduces ``data/sim2.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``V1``..``V5`` (float64) and ``y`` (int64).

    Examples
    --------
    >>> from emglm.datasets import simulate_sim2
    >>> simulate_sim2(0).shape
    (5000, 6)
    """
    return _poisson_sim("sim2", rng)


def simulate_sim3(rng: RNGLike) -> pd.DataFrame:
    """Simulate a dataset with the design of emax.glm's ``sim.3`` (two Poisson GLMs, exposure).

    10000 rows; ``X1``..``X10`` iid N(0, 1); ``exposure`` uniform on the integers 10..30;
    rows 1-5000 follow ``y ~ Poisson(exposure * exp(X p1))`` and rows 5001-10000
    ``y ~ Poisson(exposure * exp(X p2))`` with ``p1, p2 = true_params("sim3")``, no intercept.
    Fit it with offset ``log(exposure)``. Draw order: the 10000x10 normal matrix, the
    exposures, then the counts.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed. ``SEEDS["sim3"]`` reproduces ``data/sim3.csv``.

    Returns
    -------
    pandas.DataFrame
        Columns ``X1``..``X10`` (float64), ``y`` and ``exposure`` (int64).

    Examples
    --------
    >>> from emglm.datasets import simulate_sim3
    >>> df = simulate_sim3(0)
    >>> df.shape, int(df["exposure"].min()) >= 10, int(df["exposure"].max()) <= 30
    ((10000, 12), True, True)
    """
    return _poisson_sim("sim3", rng)


def simulate_two_slopes(rng: RNGLike) -> pd.DataFrame:
    """Two regression lines through the origin with slopes 0.3 and 1.0.

    The classic blog illustration of EM for mixtures of regressions (John Myles White, "EM
    and Regression Mixture Modeling", 2010): N = 100, ``x = 1, ..., 50`` twice, each row's
    class drawn independently with probability 1/2, ``y = slope[class] * x + e`` with
    slopes (0.3, 1.0), no intercept and ``e ~ N(0, 1)``. Draw order: the 100 labels, then the
    100 noise terms.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed.

    Returns
    -------
    pandas.DataFrame
        100 rows: ``x`` (float64), ``y`` (float64) and ``label`` (int64; 0 is slope 0.3,
        1 is slope 1.0).

    Examples
    --------
    >>> from emglm.datasets import simulate_two_slopes
    >>> df = simulate_two_slopes(1)
    >>> df.shape, df["x"].iloc[[0, 49, 50, 99]].tolist()
    ((100, 3), [1.0, 50.0, 1.0, 50.0])
    """
    gen = np.random.default_rng(rng)
    x = np.tile(np.arange(1.0, 51.0), 2)
    label = gen.integers(0, 2, size=x.size).astype("int64")
    y = np.array([0.3, 1.0])[label] * x + gen.standard_normal(x.size)
    return pd.DataFrame({"x": x, "y": y, "label": label})


def simulate_two_regressions(rng: RNGLike, n: int = 200) -> pd.DataFrame:
    """Two Gaussian regressions with different intercepts, slopes and noise levels.

    The example of a Cross Validated question on EM for a two-line mixture ("Understanding
    expectation maximization for simple 2 linear mixture case", 2011): ``x ~ U(0, 10)``;
    component 0 is ``y = 10 + 3 x + 2 e``, component 1 is ``y = 3 - x + 0.25 e`` with
    ``e ~ N(0, 1)``. The first ``n // 2`` rows are component 0, the rest component 1 (the
    question used 100 + 100). Draw order: the ``n`` values of ``x``, then the ``n`` noise terms.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed.
    n : int, default 200
        Total number of rows (at least 2).

    Returns
    -------
    pandas.DataFrame
        ``x``, ``y`` (float64) and ``label`` (int64).

    Examples
    --------
    >>> from emglm.datasets import simulate_two_regressions
    >>> df = simulate_two_regressions(1, n=50)
    >>> df.shape, df["label"].value_counts().sort_index().tolist()
    ((50, 3), [25, 25])
    """
    if n < 2:
        raise ValueError(f"n must be at least 2, got {n}")
    gen = np.random.default_rng(rng)
    label = (np.arange(n) >= n // 2).astype("int64")
    x = gen.uniform(0.0, 10.0, size=n)
    intercept, slope, sigma = (np.array(v)[label] for v in ([10.0, 3.0], [3.0, -1.0], [2.0, 0.25]))
    y = intercept + slope * x + sigma * gen.standard_normal(n)
    return pd.DataFrame({"x": x, "y": y, "label": label})


def simulate_gaussian_mixture_1d(rng: RNGLike, n: int = 400) -> pd.DataFrame:
    """A well-separated one-dimensional mixture of four Gaussians with equal weights.

    The textbook first example of EM for mixtures: means -6, -2, 2, 6 and common standard
    deviation 0.8 (neighbouring means 5 sd apart). Component ``k`` fills the ``k``-th quarter
    of the rows (``label = 4 * i // n``), so the weights are as equal as ``n`` allows.

    Parameters
    ----------
    rng : numpy.random.Generator or int
        Random source or seed.
    n : int, default 400
        Number of rows (at least 4).

    Returns
    -------
    pandas.DataFrame
        ``y`` (float64) and ``label`` (int64, 0..3 in order of the means).

    Examples
    --------
    >>> from emglm.datasets import simulate_gaussian_mixture_1d
    >>> df = simulate_gaussian_mixture_1d(1)
    >>> df.shape, df.groupby("label")["y"].mean().round().tolist()
    ((400, 2), [-6.0, -2.0, 2.0, 6.0])
    """
    if n < 4:
        raise ValueError(f"n must be at least 4, got {n}")
    gen = np.random.default_rng(rng)
    label = (4 * np.arange(n) // n).astype("int64")
    y = np.array([-6.0, -2.0, 2.0, 6.0])[label] + 0.8 * gen.standard_normal(n)
    return pd.DataFrame({"y": y, "label": label})


def peppered_moth() -> pd.DataFrame:
    """Observed phenotype counts of the peppered moth (*Biston betularia*).

    The allele-frequency example for EM of Givens and Hoeting, *Computational Statistics*
    (Wiley), chapter 4: one gene with alleles C, I, T (C dominant to I, I dominant to T)
    gives six genotypes but only three observable phenotypes, carbonaria (CC, CI, CT),
    insularia (II, IT) and typica (TT). The genotypes are the missing data.

    Returns
    -------
    pandas.DataFrame
        Columns ``phenotype`` and ``count`` (int64); 622 moths in all.

    Examples
    --------
    >>> from emglm.datasets import peppered_moth
    >>> moths = peppered_moth()
    >>> moths["phenotype"].tolist(), moths["count"].tolist()
    (['carbonaria', 'insularia', 'typica'], [85, 196, 341])
    """
    return pd.DataFrame(
        {
            "phenotype": ["carbonaria", "insularia", "typica"],
            "count": np.array([85, 196, 341], dtype="int64"),
        }
    )
