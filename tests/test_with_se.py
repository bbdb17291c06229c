"""Standard errors after the fit: ``res.with_se(...)`` without refitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm

F = "y ~ V1 + V2 + V3 + V4 + V5 - 1"


@pytest.fixture(scope="module")
def sim2() -> pd.DataFrame:
    return emglm.datasets.load_sim2()


def test_louis_after_the_fit_equals_louis_in_the_fit(sim2: pd.DataFrame) -> None:
    with_se = emglm.em_glm(F, sim2, "poisson", K=2, random_state=1)
    without = emglm.em_glm(F, sim2, "poisson", K=2, random_state=1, se=None)
    assert without.cov_type == "none"
    later = without.with_se()
    assert later.cov_type == "louis" and later.llf == without.llf
    np.testing.assert_array_equal(later.cov_params().to_numpy(), with_se.cov_params().to_numpy())
    assert str(later.summary()) == str(with_se.summary())
    with pytest.raises(emglm.InputError, match="standard errors were not computed"):
        without.bse  # noqa: B018 - the original results are unchanged


def test_bootstrap_after_the_fit_and_on_the_best_of_select_k(sim2: pd.DataFrame) -> None:
    res = emglm.em_glm(F, sim2, "poisson", K=2, random_state=1, se=None)
    boot = res.with_se("bootstrap", n_boot=30, random_state=0)
    again = res.with_se("bootstrap", n_boot=30, random_state=0)
    assert boot.covariance.n_boot == 30 and boot.covariance.n_failed == 0
    np.testing.assert_array_equal(boot.bse.to_numpy(), again.bse.to_numpy())
    louis = res.with_se().bse.to_numpy()
    ratio = boot.bse.to_numpy() / louis
    assert np.all((ratio > 0.5) & (ratio < 2.0))  # 30 replicates: about 13% Monte Carlo error
    sel = emglm.select_k(F, sim2, "poisson", K=[1, 2], random_state=0, n_starts=3)
    best = sel.best.with_se()
    assert best.K == 2 and np.all(best.bse.to_numpy() > 0)


def test_with_se_on_a_grouped_fit_and_bad_input() -> None:
    rng = np.random.default_rng(0)
    gid = np.repeat(np.arange(80), 5)
    lab = rng.integers(0, 2, 80)[gid]
    x = rng.normal(size=400)
    df = pd.DataFrame({"y": rng.poisson(np.exp(np.where(lab == 0, 1 + 0.5 * x, 1.6 - 0.5 * x))),
                       "x": x, "id": gid})
    fit = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0)
    later = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0, se=None).with_se()
    np.testing.assert_array_equal(later.bse.to_numpy(), fit.bse.to_numpy())
    with pytest.raises(emglm.InputError, match="se='wald' is not allowed; choose one of 'louis', 'bootstrap'"):
        fit.with_se("wald")
    with pytest.raises(emglm.InputError, match="bootstrap='wild' is not allowed"):
        fit.with_se("bootstrap", bootstrap="wild")
