"""R users' formulas: ``^`` is R's power and ``y ~ .`` means every other column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

import emglm
from emglm.cli import main


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 300
    out = pd.DataFrame({"x": rng.normal(size=n), "z": rng.normal(size=n)})
    out["y"] = rng.poisson(np.exp(0.3 + 0.2 * out.x - 0.1 * out.x**2 + 0.3 * out.z))
    return out


def _glm(formula: str, df: pd.DataFrame, **kw: object) -> emglm.EMGLMResults:
    return emglm.em_glm(formula, df, "poisson", K=1, se=None, tol=1e-12, **kw)


def test_caret_is_r_power(df: pd.DataFrame) -> None:
    res = _glm("y ~ x + I(x^2) + z", df)
    ref = smf.glm("y ~ x + I(x**2) + z", df, family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(res.params["comp1"].to_numpy(), ref.params.to_numpy(), rtol=1e-7)
    assert list(res.params.index) == ["Intercept", "x", "I(x ** 2)", "z"]
    # predict re-applies the square on new rows
    np.testing.assert_allclose(res.predict(df.iloc[:4]), ref.predict(df.iloc[:4]), rtol=1e-7)
    inter = _glm("y ~ (x + z)^2", df)
    assert list(inter.params.index) == ["Intercept", "x", "z", "x:z"]
    model = emglm.EMGLM.from_formula("y ~ x", df, "poisson", K=2, concomitant="~ I(z^2)")
    assert model.design.z_names == ["Intercept", "I(z ** 2)"]
    np.testing.assert_allclose(model.data.Z[:, 1], df.z.to_numpy() ** 2)


def test_dot_is_every_other_column(df: pd.DataFrame) -> None:
    assert list(_glm("y ~ .", df).params.index) == ["Intercept", "x", "z"]
    assert list(_glm("y ~ . - z", df).params.index) == ["Intercept", "x"]
    odd = df.rename(columns={"z": "z value"}).assign(w=1.0, t=2.0, g=np.arange(300) // 3)
    res = _glm("y ~ .", odd, weights="w", exposure="t", groups="g")
    assert list(res.params.index) == ["Intercept", "x", "Q('z value')"]
    np.testing.assert_allclose(
        res.params["comp1"].to_numpy(),
        _glm("y ~ x + Q('z value')", odd, weights="w", exposure="t", groups="g")
        .params["comp1"].to_numpy(),
    )


def test_dot_with_several_responses_leaves_out_every_response(df: pd.DataFrame) -> None:
    df = df.assign(yn=df.x * 2 + np.random.default_rng(1).normal(size=len(df)))
    res = emglm.em_glm(["yn ~ .", "y ~ ."], df, ["gaussian", "poisson"], K=2, random_state=0,
                       se=None)
    assert list(res.params.index) == [
        "yn:Intercept", "yn:x", "yn:z", "y:Intercept", "y:x", "y:z",
    ]  # fmt: skip


def test_dot_without_other_columns_is_an_error() -> None:
    with pytest.raises(emglm.FormulaError, match="'.' stands for the columns other than"):
        _glm("y ~ .", pd.DataFrame({"y": [1, 2, 3, 4]}))


def test_r_syntax_from_the_cli(df: pd.DataFrame, tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert main(["fit", "--data", str(path), "--formula", "y ~ . + I(x^2)", "-K", "1"]) == 0
    assert "I(x ** 2)" in capsys.readouterr().out
