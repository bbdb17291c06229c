"""Bad input: a clear ValueError/TypeError subclass naming the value, before any fitting."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm import FormulaError, InputError, InputTypeError


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 50
    return pd.DataFrame(
        {
            "y": rng.poisson(3, n),
            "x": rng.normal(size=n),
            "s": rng.integers(0, 5, n),
            "f": rng.integers(0, 5, n),
            "b": rng.integers(0, 2, n),
            "e": rng.uniform(1, 2, n),
        }
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"family": "poison"}, InputError, "unknown family 'poison'.*'poisson', 'gaussian'"),
        ({"family": 3}, InputTypeError, "family must be"),
        ({"K": 0}, InputError, "K must be a positive integer; got 0"),
        ({"K": 2.5}, InputTypeError, "K must be a positive integer, not 2.5"),
        ({"K": True}, InputTypeError, "K must be a positive integer"),
        ({"K": 51}, InputError, "K=51 is larger than the number of rows"),
        ({"formula_": "y ~ x + nothere"}, FormulaError, "'nothere'.*columns are: y, x"),
        ({"formula_": "y x"}, FormulaError, "has no '~'"),
        ({"formula_": "y ~ x +"}, FormulaError, "cannot parse"),
        ({"formula_": 3}, InputTypeError, "formula must be a string"),
        ({"tol": 0}, InputError, "tol must be a positive number; got 0"),
        ({"tol": -1e-3}, InputError, "tol must be a positive"),
        ({"method": "newton"}, InputError, "method='newton' is not allowed; choose one of 'em'"),
        ({"se": "hessian"}, InputError, "se='hessian' is not allowed"),
        ({"init": "kmeans"}, InputError, "init='kmeans' is not allowed; choose one of"),
        ({"max_iter": 0}, InputError, "max_iter must be a positive integer"),
        ({"weights": "nothere"}, InputError, "weights='nothere' is not a column"),
        ({"weights": np.ones(3)}, InputError, r"weights must have one value per row of data \(50\)"),
        ({"weights": -np.ones(50)}, InputError, "weights must be finite and non-negative"),
        ({"exposure": np.zeros(50)}, InputError, "exposure must be positive"),
        ({"offset": np.full(50, np.inf)}, InputError, "offset holds non-finite"),
        ({"start": np.zeros((3, 3))}, InputError, r"start has shape \(3, 3\); expected parameters"),
        ({"start": np.full(50, 2)}, InputError, r"start labels must be integers 0..1; found \[2"),
        ({"start": "abc"}, InputTypeError, "start must be parameters"),
    ],
)
def test_bad_arguments(df: pd.DataFrame, kwargs: dict, error: type, match: str) -> None:
    args = {"formula_": "y ~ x", "data": df, "family": "poisson", "K": 2}
    args.update(kwargs)
    before = df.copy()
    with pytest.raises(error, match=match):
        emglm.em_glm(
            args.pop("formula_"), args.pop("data"), args.pop("family"), args.pop("K"), **args
        )
    pd.testing.assert_frame_equal(df, before)


def test_errors_are_value_or_type_errors() -> None:
    assert issubclass(InputError, ValueError) and issubclass(FormulaError, ValueError)
    assert issubclass(InputTypeError, TypeError)


def test_data_must_be_a_nonempty_dataframe(df: pd.DataFrame) -> None:
    with pytest.raises(InputTypeError, match="data must be a pandas DataFrame, not dict"):
        emglm.em_glm("y ~ x", df.to_dict(), "poisson", 2)
    with pytest.raises(InputError, match="data has no rows"):
        emglm.em_glm("y ~ x", df.iloc[:0], "poisson", 2)


def test_every_row_missing(df: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="every row has a missing value"):
        emglm.em_glm("y ~ x", df.assign(x=np.nan), "poisson", 2)


def test_non_finite_values_named(df: pd.DataFrame) -> None:
    bad = df.assign(x=df.x.where(df.index != 4, np.inf))
    with pytest.raises(InputError, match="covariate 'x' holds non-finite values"):
        emglm.em_glm("y ~ x", bad, "poisson", 2)


def test_poisson_counts(df: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="non-negative integer counts; found -1"):
        emglm.em_glm("y ~ x", df.assign(y=np.where(df.index == 0, -1, df.y)), "poisson", 2)
    with pytest.raises(InputError, match="non-negative integer counts; found 0.5"):
        emglm.em_glm("y ~ x", df.assign(y=np.where(df.index == 0, 0.5, df.y)), "poisson", 2)


def test_binomial_responses(df: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="must lie in \\[0, 1\\].*found 2"):
        emglm.em_glm("s ~ x", df.assign(s=df.s.clip(2, 2)), "binomial", 2)
    with pytest.raises(InputError, match="failures must be non-negative"):
        emglm.em_glm("cbind(s, f) ~ x", df.assign(f=-df.f - 1), "binomial", 2)
    with pytest.raises(FormulaError, match="two columns .* binomial family only"):
        emglm.em_glm("cbind(s, f) ~ x", df, "poisson", 2)
    with pytest.raises(FormulaError, match="categorical with levels"):
        emglm.em_glm("g ~ x", df.assign(g=np.where(df.b == 1, "u", "v")), "binomial", 2)


def test_start_posteriors_checked(df: pd.DataFrame) -> None:
    with pytest.raises(InputError, match="rows summing to 1"):
        emglm.em_glm("y ~ x", df, "poisson", 2, start=np.full((50, 2), 0.7))


def test_library_errors_never_leak(df: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="cannot evaluate formula"):
        emglm.em_glm("y ~ C(b, levels=[5])", df, "poisson", 2)


def test_collinear_and_constant_columns_named(df: pd.DataFrame) -> None:
    with pytest.raises(InputError, match=r"collinear columns: 'I\(2 \* x\)' is constant or a linear"):
        emglm.em_glm("y ~ x + I(2 * x)", df, "poisson", 2)
    with pytest.raises(InputError, match="'c', 'z' are constant"):
        emglm.em_glm("y ~ x + c + z", df.assign(c=3.0, z=0.0), "poisson", 2)


def test_results_pickle_and_predict(df: pd.DataFrame) -> None:
    import pickle

    res = emglm.em_glm(
        "y ~ center(x) + C(b) + offset(np.log(e))", df, "poisson", 2, random_state=0
    )
    back = pickle.loads(pickle.dumps(res))
    assert back.llf == res.llf
    pd.testing.assert_frame_equal(back.params, res.params)
    new = df.head(5).assign(x=df.x.head(5) + 1.0)
    pd.testing.assert_series_equal(back.predict(new), res.predict(new))
