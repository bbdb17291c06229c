"""Cross-check on the original em.glm data sets with R flexmix's published numbers.

The em.glm data sets are not part of the project; they sit in the shared reference folder
beside the repository (see its README). The test is skipped, with the reason, where that
folder is absent.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emglm

REF = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "emaxglm"
pytestmark = pytest.mark.skipif(not REF.is_dir(), reason=f"em.glm reference data not at {REF}")


def test_sim2_from_true_blocks_matches_flexmix() -> None:
    df = pd.read_csv(REF / "sim2.csv")
    start = (np.arange(len(df)) >= 2500).astype(int)
    res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2, start=start, tol=1e-12)
    assert res.llf == pytest.approx(-8441.8645, abs=5e-5)
    assert res.k_params == 11
    assert res.aic == pytest.approx(16905.7290, abs=1e-4)
    assert res.bic == pytest.approx(16977.4181, abs=1e-4)
    np.testing.assert_allclose(res.mixing, [0.507, 0.493], atol=5e-4)
    np.testing.assert_allclose(
        res.params["comp1"], [-1.57090, -0.10369, -1.76314, -1.43505, -0.00101], atol=1e-5
    )
    np.testing.assert_allclose(
        res.params["comp2"], [-1.36111, 0.27188, -1.37213, -0.58699, -1.05531], atol=1e-5
    )


def test_sim2_single_glm_and_sim1() -> None:
    df2 = pd.read_csv(REF / "sim2.csv")
    glm = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df2, "poisson", K=1, tol=1e-12)
    assert glm.llf == pytest.approx(-41032.5756, abs=1e-4)
    assert glm.bic == pytest.approx(82107.7371, abs=1e-4)
    df1 = pd.read_csv(REF / "sim1.csv")
    one = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df1, "poisson", K=1, tol=1e-12)
    assert one.llf == pytest.approx(-7166.5767, abs=1e-4)
    assert one.aic == pytest.approx(14343.1534, abs=1e-4)


def test_sim3_with_exposure() -> None:
    df = pd.read_csv(REF / "sim3.csv")
    formula = "y ~ " + " + ".join(f"X{i}" for i in range(1, 11)) + " - 1"
    start = (np.arange(len(df)) >= 5000).astype(int)
    res = emglm.em_glm(formula, df, "poisson", K=2, exposure="exposure", start=start, tol=1e-12)
    assert res.llf == pytest.approx(-34631.0126, abs=1e-4)
    assert res.k_params == 21
    assert res.bic == pytest.approx(69455.4424, abs=1e-3)
