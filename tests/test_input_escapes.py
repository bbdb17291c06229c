"""Inputs that used to escape the checks: each gets a clear emglm error naming the column or
value (before fitting), or a documented handling; the caller's data is never changed."""

from __future__ import annotations

import copy
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm import FormulaError, InputError, InputTypeError, cli

N = 200


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=N)
    lab = np.arange(N) >= N // 2
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(np.where(lab, 2.0 + 0.4 * x, 0.3 - 0.4 * x))).astype(float),
            "x": x,
            "z": rng.normal(size=N) + lab,
            "e": rng.uniform(1.0, 2.0, N),
            "o": rng.normal(scale=0.1, size=N),
            "g": rng.choice(["a", "b"], N),
            "yg": np.where(lab, 2.0, -1.0) + x + rng.normal(scale=0.5, size=N),
            "yb": rng.random(N) < 0.4,
        }
    )


def _unchanged(data: pd.DataFrame, call: Callable[[], Any]) -> Any:
    """Run ``call`` and check that ``data`` is exactly as before (values and dtypes)."""
    before = copy.deepcopy(data)
    try:
        return call()
    finally:
        pd.testing.assert_frame_equal(data, before, check_exact=True)


def _raises(data: pd.DataFrame, error: type[Exception], match: str, call: Callable[[], Any]):
    with pytest.raises(error, match=match) as info:
        _unchanged(data, call)
    return info


def _fit(data: pd.DataFrame, formula: str = "y ~ x", family: str = "poisson", **kw: Any):
    kw.setdefault("K", 2)
    return emglm.em_glm(formula, data, family, random_state=0, n_starts=2, se=None, **kw)


# --- pandas nullable dtypes: pd.NA is a missing value, like NaN -----------------------------


def _with_na(data: pd.DataFrame, column: str, dtype: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``data`` with ``column`` in ``dtype`` and pd.NA at row 5, and its NaN float twin."""
    values = data[column].round() if dtype == "Int64" else data[column]
    nullable = data.assign(**{column: values.astype(dtype)})
    nullable.loc[5, column] = pd.NA
    plain = data.assign(**{column: values.astype(float)})
    plain.loc[5, column] = np.nan
    return nullable, plain


@pytest.mark.parametrize("dtype", ["Int64", "Float64"])
@pytest.mark.parametrize(
    ("column", "kwargs"),
    [("y", {}), ("x", {}), ("z", {"concomitant": "~ z"}), ("e", {"exposure": "e"})],
)
def test_nullable_numbers_with_na_are_missing(
    df: pd.DataFrame, dtype: str, column: str, kwargs: dict
) -> None:
    nullable, plain = _with_na(df, column, dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emglm.EMGLMWarning)
        res = _unchanged(nullable, lambda: _fit(nullable, **kwargs))
        ref = _fit(plain, **kwargs)
    assert res.n_dropped == 1 and 5 not in res.posterior.index
    assert res.llf == ref.llf
    np.testing.assert_array_equal(res.params, ref.params)


@pytest.mark.parametrize("dtype", ["boolean", "string"])
def test_nullable_factor_with_na_is_missing(df: pd.DataFrame, dtype: str) -> None:
    column = "yb" if dtype == "boolean" else "g"
    nullable = df.assign(**{column: df[column].astype(dtype)})
    nullable.loc[5, column] = pd.NA
    plain = df.drop(index=5)
    res = _unchanged(nullable, lambda: _fit(nullable, f"y ~ x + {column}"))
    ref = _fit(plain, f"y ~ x + {column}")
    assert res.n_dropped == 1
    assert list(res.params.index) == list(ref.params.index)
    assert res.llf == pytest.approx(ref.llf, rel=1e-12)


def test_nullable_boolean_response(df: pd.DataFrame) -> None:
    # One component: a two-component mixture of 0/1 noise separates (and warns).
    nullable = df.assign(yb=df.yb.astype("boolean"))
    res = _unchanged(nullable, lambda: _fit(nullable, "yb ~ x", "binomial", K=1))
    ref = _fit(df, "yb ~ x", "binomial", K=1)
    assert res.llf == ref.llf and res.record.data.y.tolist() == df.yb.astype(float).tolist()
    nullable.loc[7, "yb"] = pd.NA
    res = _unchanged(nullable, lambda: _fit(nullable, "yb ~ x", "binomial", K=1))
    assert res.n_dropped == 1 and 7 not in res.posterior.index
    assert res.llf == pytest.approx(_fit(df.drop(index=7), "yb ~ x", "binomial", K=1).llf, rel=1e-12)


def test_predict_with_nullable_dtypes(df: pd.DataFrame) -> None:
    res = _fit(df, "y ~ x + g", concomitant="~ z")
    new = df.head(4).astype({"x": "Float64", "z": "Float64", "g": "string"})
    pd.testing.assert_series_equal(
        _unchanged(new, lambda: res.predict(new)), res.predict(df.head(4))
    )
    for column in ("x", "z", "g"):
        bad = new.copy()
        bad.loc[2, column] = pd.NA
        _raises(bad, InputError, f"newdata column '{column}' has missing values \\(at rows \\[2\\]",
                lambda: res.predict(bad))  # fmt: skip


# --- dtypes a formula cannot use ---------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "what"),
    [
        (pd.date_range("2020-01-01", periods=N, freq="D", tz="UTC"), "dates and times"),
        (pd.date_range("2020-01-01", periods=N, freq="D"), "dates and times"),
        (pd.period_range("2020-01", periods=N, freq="M"), "periods"),
        (pd.to_timedelta(np.arange(N), unit="h"), "time spans"),
        (np.arange(N) + 1j, "complex numbers"),
    ],
)
@pytest.mark.parametrize("where", ["covariate", "concomitant"])
def test_unusable_dtypes_are_refused(df: pd.DataFrame, values: Any, what: str, where: str) -> None:
    data = df.assign(t=values)
    formula, kw = ("y ~ x + t", {}) if where == "covariate" else ("y ~ x", {"concomitant": "~ t"})
    _raises(data, InputTypeError, f"column 't' holds {what} .*allowed are numbers, booleans",
            lambda: _fit(data, formula, **kw))  # fmt: skip


def test_unused_date_column_is_fine(df: pd.DataFrame) -> None:
    data = df.assign(t=pd.date_range("2020-01-01", periods=N, freq="D", tz="UTC"))
    assert _fit(data).llf == _fit(df).llf


# --- factors: categorical, bool, strings that are not numbers, or C(x) ---------------------


@pytest.mark.parametrize(
    ("values", "match"),
    [
        (np.tile(["1", "2", "3", "4"], N // 4), r"column 's' holds numbers stored as strings"),
        (pd.Series([1, "a"] * (N // 2), dtype=object), r"column 's' mixes values of sev"),
        (pd.Series([1, 2.5] * (N // 2), dtype=object), r"column 's' holds numbers in an"),
    ],
)
def test_ambiguous_factor_columns_are_refused(df: pd.DataFrame, values: Any, match: str) -> None:
    data = df.assign(s=values)
    for kw in ({"formula": "y ~ x + s"}, {"concomitant": "~ s"}):
        _raises(data, InputTypeError, match + r".*pd.to_numeric\(df\['s'\]\).*C\(s\)",
                lambda kw=kw: _fit(data, **kw))  # fmt: skip
    # written C(s), or categorical, the column is a factor on purpose
    res = _unchanged(data, lambda: _fit(data, "y ~ x + C(s)"))
    ref = _fit(data.assign(s=data.s.astype(str).astype("category")), "y ~ x + s")
    assert res.llf == pytest.approx(ref.llf, rel=1e-10)


def test_string_factors_still_work(df: pd.DataFrame) -> None:
    res = _fit(df, "y ~ x + g")
    assert "g[T.b]" in res.params.index


def test_offset_of_a_string_column_is_refused(df: pd.DataFrame) -> None:
    _raises(df, FormulaError, r"the term 'offset\(g\)'.*offset of a factor.*must be numeric",
            lambda: _fit(df, "y ~ x + offset(g)"))  # fmt: skip


# --- center / standardize skip missing values ----------------------------------------------


@pytest.mark.parametrize("transform", ["center", "standardize", "scale"])
def test_center_and_standardize_with_a_missing_value(df: pd.DataFrame, transform: str) -> None:
    data = df.copy()
    data.loc[3, "x"] = np.nan
    res = _unchanged(data, lambda: _fit(data, f"y ~ {transform}(x)"))
    assert res.n_dropped == 1
    x = data.x.drop(index=3).to_numpy()
    want = x - x.mean()
    if transform != "center":
        want = want / x.std()
    np.testing.assert_allclose(res.record.data.X[:, 1], want, rtol=1e-12, atol=1e-14)
    # predict applies the fitted mean (and sd), not the new data's
    new = pd.DataFrame({"x": [data.x.mean()]})
    eta = res.predict(new, which="linear").to_numpy()
    np.testing.assert_allclose(eta, res.params.loc["Intercept"].to_numpy()[None, :], atol=1e-12)


# --- a Gaussian response without spread -----------------------------------------------------


@pytest.mark.parametrize("K", [1, 2])
@pytest.mark.parametrize("formula", ["yg ~ x", "yg ~ 1"])
def test_constant_gaussian_response_is_refused(df: pd.DataFrame, K: int, formula: str) -> None:
    data = df.assign(yg=2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning before the error
        _raises(data, InputError, r"gaussian response 'yg' is 2.5 in every row: its variance",
                lambda: _fit(data, formula, "gaussian", K=K))  # fmt: skip


# --- start as a DataFrame ------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "shown"), [(np.nan, "nan"), ("a", "'a'"), (np.inf, "inf")])
def test_start_dataframe_with_bad_cells(df: pd.DataFrame, bad: Any, shown: str) -> None:
    model = emglm.EMGLM.from_formula("y ~ x", df, "poisson", 2)
    start = pd.DataFrame({"comp1": [0.3, -0.4], "comp2": [2.0, 0.4]}, index=["Intercept", "x"])
    start = start.astype(object)
    start.loc["x", "comp2"] = bad
    _raises(start, InputError, f"start DataFrame column 'comp2' has {shown} at row 'x'; every",
            lambda: model.fit(start=start, se=None))  # fmt: skip


# --- predict refuses what the fit refuses --------------------------------------------------


@pytest.fixture
def fitted(df: pd.DataFrame):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emglm.EMGLMWarning)
        return _fit(df, "y ~ x + offset(np.log(e))", offset="o", concomitant="~ z")


@pytest.mark.parametrize(
    ("column", "value", "error", "match"),
    [
        ("x", np.inf, InputError, r"covariate 'x' is not finite \(inf or NaN\) in newdata at "),
        ("x", np.nan, InputError, r"newdata column 'x' has missing values \(at rows \[1\]\)"),
        ("x", "abc", InputTypeError, r"column 'x' mixes values of several types .*str 'abc'"),
        ("z", np.inf, InputError, r"concomitant covariate 'z' is not finite"),
        ("o", np.inf, InputError, r"offset column 'o' is not finite .* at rows \[1\]"),
        ("o", np.nan, InputError, r"offset column 'o' is not finite"),
        ("o", "abc", InputTypeError, r"offset \(column 'o'\) must be numeric"),
        ("e", np.inf, InputError, r"offset term 'offset\(np.log\(e\)\)' is not finite"),
        ("e", 0.0, FormulaError, r"the term 'offset\(np.log\(e\)\)'.*divide by zero"),
        ("e", -1.0, FormulaError, r"the term 'offset\(np.log\(e\)\)'.*invalid value"),
    ],
)
def test_predict_refuses_bad_newdata(
    fitted, df: pd.DataFrame, column: str, value: Any, error: type, match: str
) -> None:
    new = df.head(3).astype({column: object})
    new.loc[1, column] = value
    if not isinstance(value, str):
        new[column] = new[column].astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning, no garbage prediction
        _raises(new, error, match, lambda: fitted.predict(new))


@pytest.mark.parametrize("name", ["offset", "exposure"])
@pytest.mark.parametrize(
    ("value", "error", "match"),
    [(np.inf, InputError, "is not finite"), (np.nan, InputError, "is not finite"),
     ("a", InputTypeError, r"\(array\) must be numeric")],
)  # fmt: skip
def test_predict_refuses_bad_offset_and_exposure_arrays(
    df: pd.DataFrame, name: str, value: Any, error: type, match: str
) -> None:
    res = _fit(df, **{name: df.e.to_numpy()})
    new = df.head(3)
    arr = np.array([1.0, value, 1.5], dtype=object)
    _raises(new, error, f"{name} {match}", lambda: res.predict(new, **{name: arr}))


# --- numpy floating-point trouble in a formula -------------------------------------------------


@pytest.mark.parametrize(
    ("value", "cause"), [(0.0, "divide by zero"), (-1.0, "invalid value")]
)  # fmt: skip
@pytest.mark.parametrize("where", ["formula", "concomitant"])
def test_log_of_non_positive_values_names_the_term(
    df: pd.DataFrame, value: float, cause: str, where: str
) -> None:
    data = df.copy()
    data.loc[4, "e"] = value
    kw = {"formula": "y ~ x + np.log(e)"} if where == "formula" else {"concomitant": "~ np.log(e)"}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the NumPy RuntimeWarning does not escape
        _raises(data, FormulaError, rf"the term 'np.log\(e\)' of formula .*\({cause}",
                lambda: _fit(data, **kw))  # fmt: skip


def test_log_of_missing_value_is_still_a_missing_row(df: pd.DataFrame) -> None:
    data = df.copy()
    data.loc[4, "e"] = np.nan
    data.loc[6, "e"] = -1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert _fit(data, "y ~ x + np.log(np.where(e > 0, e, np.nan))").n_dropped == 2


# --- options ---------------------------------------------------------------------------------


def test_large_k_gets_a_default_minprior_that_fits(df: pd.DataFrame) -> None:
    from emglm.options import default_minprior

    assert [default_minprior(k) for k in (2, 10, 20, 50)] == [0.05, 0.05, 0.025, 0.01]
    big = pd.concat([df] * 10, ignore_index=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emglm.EMGLMWarning)
        res = _unchanged(big, lambda: emglm.em_glm("y ~ 1", big, "poisson", 20, n_starts=1,
                                                   max_iter=3, se=None, random_state=0))  # fmt: skip
    assert res.n_iter <= 3
    msg = r"minprior must be .* got 0.05 \(K=20\); leave it unset \(the default for K=20 is 0.025"
    _raises(big, InputError, msg, lambda: emglm.em_glm("y ~ 1", big, "poisson", 20, minprior=0.05))


@pytest.mark.parametrize("alpha", [np.float32(0.05), np.float64(0.05), 0.05])
def test_summary_accepts_numpy_alpha(df: pd.DataFrame, alpha: Any) -> None:
    res = emglm.em_glm("y ~ x", df, "poisson", 2, random_state=0, n_starts=2)
    assert str(res.summary(alpha=alpha)) == str(res.summary())
    assert "[0.025" in str(res.summary(alpha=alpha))
    lo = res.conf_int(alpha=alpha)
    np.testing.assert_allclose(lo.to_numpy(), res.conf_int().to_numpy(), rtol=1e-6)


@pytest.mark.parametrize("alpha", [np.bool_(True), np.float32(1.5), "0.05"])
def test_summary_refuses_bad_alpha(fitted, alpha: Any) -> None:
    with pytest.raises(InputError, match=r"alpha must be a number strictly between 0 and 1; got"):
        fitted.summary(alpha=alpha)


# --- the command line and the bootstrap keep their promises --------------------------------


def test_cli_fit_error_is_one_line_and_exit_2(tmp_path: Path, capsys) -> None:
    rng = np.random.default_rng(7)
    data = pd.DataFrame({"x": rng.normal(size=30)})
    data["y"] = rng.poisson(3, size=30)
    path = tmp_path / "small.csv"
    data.to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "y ~ x", "-K", "15", "--seed", "1"]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("emglm: error: all 150 starts failed (run 1: a component emptied")
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_bootstrap_counts_replicates_that_drop_a_component() -> None:
    rng = np.random.default_rng(1)
    lab = rng.choice(3, 120, p=[0.47, 0.47, 0.06])
    x = rng.normal(size=120)
    data = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.r_[0.5, 2.0, 3.5][lab] + 0.3 * x))})
    with pytest.warns(emglm.BootstrapWarning) as record:
        res = _unchanged(data, lambda: emglm.em_glm(
            "y ~ x", data, "poisson", 3, start=lab, se="bootstrap", n_boot=40, random_state=1
        ))  # fmt: skip
    n_failed = res.covariance.n_failed
    assert res.K == 3 and 4 < n_failed < 40
    assert res.covariance.replicates.shape[0] == 40 - n_failed
    assert len(record) == 1 and f"{n_failed} of 40 bootstrap replicates failed" in str(
        record[0].message
    )
    assert np.all(np.isfinite(res.bse.to_numpy()))


def test_duplicated_column_names_are_refused(df: pd.DataFrame) -> None:
    data = pd.concat([df, df[["x"]]], axis=1)
    _raises(data, InputError, r"data has several columns named 'x'", lambda: _fit(data))
