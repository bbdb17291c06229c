"""Choosing K with select_k."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

import emglm
from emglm.datasets import load_sim1, load_sim2, simulate_two_regressions

F = "y ~ V1 + V2 + V3 + V4 + V5 - 1"
COLUMNS = ["K_fitted", "llf", "k_params", "aic", "bic", "icl", "converged"]


def test_select_k_picks_one_component_on_sim1():
    df = load_sim1()
    sel = emglm.select_k(F, df, "poisson", K=range(1, 4), random_state=1, n_starts=4)
    assert sel.best_k == 1 and sel.best is sel.fits[1]
    tab = sel.table
    assert list(tab.columns) == COLUMNS and tab.index.tolist() == [1, 2, 3]
    # K = 1 is the Poisson GLM: same log-likelihood as statsmodels
    glm = sm.GLM(df["y"], df[["V1", "V2", "V3", "V4", "V5"]], family=sm.families.Poisson()).fit()
    assert tab.loc[1, "llf"] == pytest.approx(glm.llf, rel=1e-9)
    assert tab.loc[1, "bic"] == pytest.approx(-2 * glm.llf + np.log(5000) * 5, rel=1e-9)
    assert tab["k_params"].tolist() == [5, 11, 17]
    for k in (1, 2, 3):
        res = sel.fits[k]
        assert tab.loc[k, "aic"] == pytest.approx(res.aic) and tab.loc[k, "icl"] == res.icl
    assert "K=1 chosen" in str(sel)


def test_select_k_picks_two_components_on_sim2():
    df = load_sim2()
    sel = emglm.select_k(F, df, "poisson", K=[3, 1, 2], random_state=2)
    assert sel.table.index.tolist() == [1, 2, 3]
    assert sel.best_k == 2 and int(sel.table["bic"].idxmin()) == 2
    best = emglm.em_glm(F, df, "poisson", K=2, start=emglm.datasets.true_labels("sim2"))
    assert sel.best.llf == pytest.approx(best.llf, abs=1e-3)
    assert sel.table["converged"].all()


def test_select_k_reports_dropped_components():
    # Three components requested on two-component data, with a prior floor that the third
    # cannot keep: the table shows K_fitted = 2 for K = 3.
    df = simulate_two_regressions(11)
    with pytest.warns(emglm.DegenerateComponentWarning, match="dropped"):
        sel = emglm.select_k(
            "y ~ x", df, "gaussian", K=[2, 3], random_state=0, n_starts=3, minprior=0.3
        )
    assert sel.table.loc[3, "K_fitted"] == 2 and sel.table.loc[2, "K_fitted"] == 2
    assert sel.table.loc[3, "llf"] == pytest.approx(sel.table.loc[2, "llf"], rel=1e-8)


def test_select_k_bad_input():
    df = load_sim1()
    with pytest.raises(emglm.InputError, match="criterion='cv'.*'bic', 'aic', 'icl'"):
        emglm.select_k(F, df, "poisson", K=[1, 2], criterion="cv")
    with pytest.raises(emglm.InputError, match="positive integers; found 0"):
        emglm.select_k(F, df, "poisson", K=[0, 1])
    with pytest.raises(emglm.InputError, match="K is empty"):
        emglm.select_k(F, df, "poisson", K=[])
    with pytest.raises(emglm.InputTypeError, match=r"unknown option\(s\) \['n_boots'\]"):
        emglm.select_k(F, df, "poisson", K=[1], n_boots=10)
