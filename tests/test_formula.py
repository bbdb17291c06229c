"""The formula front end: patsy terms, binomial responses, offsets, weights, missing rows,
and re-applying the design to new data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import emglm
from emglm.data import formula as formula_mod
from emglm.exceptions import InputError
from emglm.families import get_family


def test_patsy_terms_match_statsmodels(glm_df: pd.DataFrame) -> None:
    formula = "count ~ C(g) * x1 + np.log(x2) + I(x1**2)"
    res = emglm.em_glm(formula, glm_df, "poisson", K=1, tol=1e-12)
    ref = smf.glm(formula, glm_df, family=sm.families.Poisson()).fit(tol=1e-12)
    assert list(res.params.index) == list(ref.params.index)
    np.testing.assert_allclose(res.params["comp1"], ref.params, rtol=1e-6)


def test_no_intercept(glm_df: pd.DataFrame) -> None:
    res = emglm.em_glm("count ~ x1 + x2 - 1", glm_df, "poisson", K=1)
    assert list(res.params.index) == ["x1", "x2"]


def test_offsets_three_ways_agree(poisson_df: pd.DataFrame) -> None:
    start = poisson_df.label.to_numpy()
    kw = dict(family="poisson", K=2, start=start, tol=1e-12)
    a = emglm.em_glm("y ~ x + offset(np.log(expo))", poisson_df, **kw)
    b = emglm.em_glm("y ~ x", poisson_df, offset=np.log(poisson_df.expo), **kw)
    c = emglm.em_glm("y ~ x", poisson_df, exposure="expo", **kw)
    half = 0.5 * np.log(poisson_df.expo)
    d = emglm.em_glm("y ~ x + offset(log(expo) / 2)", poisson_df.assign(h=half), offset="h", **kw)
    for other in (b, c, d):
        assert other.llf == pytest.approx(a.llf, rel=1e-12)
        np.testing.assert_allclose(other.params, a.params, rtol=1e-9)
    assert list(a.params.index) == ["Intercept", "x"]


def test_weights_as_column_or_array(poisson_df: pd.DataFrame) -> None:
    start = poisson_df.label.to_numpy()
    a = emglm.em_glm("y ~ x", poisson_df, "poisson", 2, weights="w", start=start)
    b = emglm.em_glm("y ~ x", poisson_df, "poisson", 2, weights=poisson_df.w.to_numpy(), start=start)
    assert a.llf == b.llf
    assert a.nobs == poisson_df.w.sum()


def test_missing_rows_dropped_like_na_omit(poisson_df: pd.DataFrame) -> None:
    df = poisson_df.copy()
    df.index = [f"r{i}" for i in range(len(df))]
    df.loc["r3", "x"] = np.nan
    df.loc["r7", "y"] = np.nan
    df.loc["r9", "expo"] = np.nan
    before = df.copy()
    res = emglm.em_glm("y ~ x", df, "poisson", K=1, exposure="expo")
    pd.testing.assert_frame_equal(df, before)  # the caller's data is untouched
    assert res.n_dropped == 3
    assert res.nobs == len(df) - 3
    assert "r3" not in res.fittedvalues.index and "r4" in res.fittedvalues.index
    assert list(res.posterior.index) == [i for i in df.index if i not in ("r3", "r7", "r9")]
    clean = df.drop(index=["r3", "r7", "r9"])
    ref = emglm.em_glm("y ~ x", clean, "poisson", K=1, exposure="expo")
    assert res.llf == pytest.approx(ref.llf, rel=1e-12)


def test_predict_reapplies_transformations_and_levels(glm_df: pd.DataFrame) -> None:
    formula = "count ~ C(g) + np.log(x2) + x1"
    res = emglm.em_glm(formula, glm_df, "poisson", K=1, exposure="expo", tol=1e-12)
    ref = smf.glm(formula, glm_df, family=sm.families.Poisson(), exposure=glm_df.expo).fit(
        tol=1e-12
    )
    new = glm_df.iloc[[5, 1, 3]].copy()
    new["g"] = ["w", "w", "u"]  # levels in another order than in fitting
    got = res.predict(new)
    want = ref.predict(new, exposure=new.expo)
    np.testing.assert_allclose(got.to_numpy(), want.to_numpy(), rtol=1e-6)
    assert list(got.index) == list(new.index)


def test_predict_kinds(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm(
        "y ~ x", poisson_df, "poisson", K=2, exposure="expo", start=poisson_df.label.to_numpy()
    )
    new = poisson_df.head(4)
    comp = res.predict(new, which="component")
    prob = res.predict(new, which="prob")
    np.testing.assert_allclose(prob.to_numpy(), np.tile(res.mixing.to_numpy(), (4, 1)))
    mean = res.predict(new, which="mean")
    np.testing.assert_allclose(mean, (comp * prob).sum(axis=1))
    lin = res.predict(new, which="linear")
    np.testing.assert_allclose(np.exp(lin), comp)
    np.testing.assert_allclose(res.predict(), res.fittedvalues)
    expected = np.exp(res.params.loc["Intercept"] + res.params.loc["x"] * new.x.iloc[0])
    np.testing.assert_allclose(comp.iloc[0], expected * new.expo.iloc[0])


def test_predict_errors(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x + C(g)", poisson_df, "poisson", K=1)
    with pytest.raises(emglm.InputError, match="'z'"):
        res.predict(poisson_df.assign(g="z").head(2))
    with pytest.raises(emglm.FormulaError, match="'x'"):
        res.predict(poisson_df.drop(columns="x"))
    with pytest.raises(emglm.InputError, match="which='var'"):
        res.predict(which="var")
    arr = emglm.em_glm("y ~ x", poisson_df, "poisson", K=1, offset=np.log(poisson_df.expo))
    with pytest.raises(emglm.InputError, match="offset="):
        arr.predict(poisson_df.head(2))
    np.testing.assert_allclose(
        arr.predict(poisson_df.head(2), offset=np.log(poisson_df.expo.head(2))),
        arr.fittedvalues.head(2),
    )


def test_caller_namespace_is_visible(glm_df: pd.DataFrame) -> None:
    def centred(v: pd.Series) -> pd.Series:
        return v - v.mean()

    res = emglm.em_glm("count ~ centred(x1)", glm_df, "poisson", K=1)
    assert "centred(x1)" in res.params.index


@pytest.mark.parametrize(
    ("family", "whole", "part", "bad"),
    [
        ("poisson", [0, 2, 5, 1], [0, 0, 0], [0, -1, 2]),
        ("binomial", [0, 1, 1, 0], [1, 1, 1], [0, 2, 1]),
        ("gaussian", [0.5, 2.0, 1.0, 3.0], [1.0, 1.0, 1.0], None),
    ],
)
def test_a_part_is_checked_beside_reference_rows(family, whole, part, bad) -> None:
    # A partition of a larger data set (design information learned on the whole) may be
    # constant where the whole is not; only values outside the support are refused.
    fam = get_family(family)
    df = pd.DataFrame({"y": whole, "x": np.arange(4.0)})
    _, arrays = formula_mod.build("y ~ x", df, fam)
    infos = formula_mod.learned_infos("y ~ x", df)
    ref = formula_mod.reference_rows(arrays.y, arrays.trials)
    piece = pd.DataFrame({"y": part, "x": [0.5, 1.5, 2.5]})
    with pytest.raises(InputError, match="in every row"):
        formula_mod.build("y ~ x", piece, fam, infos=infos)
    _, got = formula_mod.build("y ~ x", piece, fam, infos=infos, checked_beside=ref)
    np.testing.assert_array_equal(got.y, np.asarray(part, dtype=float))
    if bad is not None:
        with pytest.raises(InputError, match="non-negative integer counts|must lie in"):
            formula_mod.build("y ~ x", piece.assign(y=bad), fam, infos=infos, checked_beside=ref)
