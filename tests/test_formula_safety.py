"""Formulas and code: safe formulas on the command line (and with ``safe_formula=True``)
run nothing but allowed expressions; pickled results evaluate no formula code on load."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm import cli
from emglm.data import formula_safety
from emglm.exceptions import FormulaError

CALLS = [0]


def counted(v: pd.Series) -> pd.Series:
    """A formula function that counts its calls."""
    CALLS[0] += 1
    return v


@pytest.fixture
def df() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 240
    x = rng.normal(size=n)
    lab = np.arange(n) >= n // 2
    t = rng.uniform(1.0, 3.0, size=n)
    s = rng.binomial(8, np.where(lab, 0.3, 0.7))
    return pd.DataFrame(
        {
            "y": rng.poisson(t * np.exp(np.where(lab, 1.0 + 0.4 * x, 2.0 - 0.3 * x))),
            "x": x,
            "x2": rng.uniform(1.0, 4.0, size=n),
            "g": rng.choice(["a", "b", "c"], size=n),
            "t": t,
            "z": rng.normal(size=n) + lab,
            "s": s,
            "f": 8 - s,
        }
    )


def _run_cli(args: list[str], csv: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = cli.main(["fit", "--data", str(csv), *args])
    captured = capsys.readouterr()
    return code, captured.err if code else captured.out


@pytest.fixture
def csv(df: pd.DataFrame, tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_cli_refuses_import_with_one_line(csv: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _run_cli(["--formula", "y ~ I(__import__('os').getcwd())"], csv, capsys)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("emglm: error: formula ") and "uses '__import__'" in err


def _touch_formula(flag: Path, rhs: bool = True) -> str:
    term = f"I(__import__('pathlib').Path({str(flag)!r}).touch() or x)"
    return f"y ~ {term}" if rhs else f"~ {term}"


def test_the_file_formula_runs_code_in_the_python_api(df: pd.DataFrame, tmp_path: Path) -> None:
    # The convention of the Python API (as statsmodels): a formula is code. This shows that
    # the formulas the next tests refuse would have created their file.
    flag = tmp_path / "ran"
    res = emglm.em_glm(_touch_formula(flag), df, "poisson", K=1, se=None)  # None or x is x
    assert flag.exists() and res.params.shape == (2, 1)


def test_cli_runs_no_code_of_a_refused_formula(
    csv: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flag = tmp_path / "ran"
    code, err = _run_cli(["--formula", _touch_formula(flag), "-K", "1"], csv, capsys)
    assert code == 2 and err.count("\n") == 1 and "uses '__import__'" in err
    assert not flag.exists()
    code, err = _run_cli(
        ["--formula", "y ~ x", "--concomitant", _touch_formula(flag, rhs=False)], csv, capsys
    )
    assert code == 2 and err.count("\n") == 1
    assert "formula \"~ I(__import__" in err and "uses '__import__'" in err
    assert not flag.exists()


def test_python_api_safe_formula_refuses_too(df: pd.DataFrame, tmp_path: Path) -> None:
    flag = tmp_path / "ran"
    with pytest.raises(FormulaError, match="uses '__import__', which is not a column"):
        emglm.em_glm(_touch_formula(flag), df, "poisson", K=1, safe_formula=True)
    with pytest.raises(FormulaError, match="uses '__import__'"):
        emglm.em_glm(
            "y ~ x", df, "poisson", K=2, concomitant=_touch_formula(flag, False), safe_formula=True
        )
    assert not flag.exists()
    with pytest.raises(emglm.InputTypeError, match="safe_formula must be True or False"):
        emglm.em_glm("y ~ x", df, "poisson", K=1, safe_formula="yes")


@pytest.mark.parametrize(
    ("term", "message"),
    [
        ("open('f', 'w')", "uses 'open', which is not a column"),
        ("counted(x)", "uses 'counted', which is not a column"),
        ("x.to_csv('f')", "attribute access '.to_csv' is not allowed"),
        ("np.savetxt('f', x)", "np.savetxt is not an allowed NumPy function"),
        ("np.multiply.outer(x, x)", "attribute access '.outer' is not allowed"),
        ("np.__loader__", "np.__loader__ is not an allowed NumPy function"),
        ("I(().__class__)", "attribute access '.__class__' is not allowed"),
        ("I(x[0])", "Subscript is not allowed"),
        ("I((lambda: 1)())", "only the documented transforms"),
        ("I([x for x in x])", "ListComp is not allowed"),
        ("I(f'{x}')", "JoinedStr is not allowed"),
        ("I(9**9**9)", "a constant exponent must be a number of at most 1024"),
        ("I(x + 2**99999)", "a constant exponent must be a number of at most 1024"),
        ("I(1 << 99999)", "LShift is not allowed"),
        ("I('a' * 10**9)", "arithmetic on string or list literals"),
        ("Q('__builtins__')", "Q() takes one quoted column name"),
        ("I(__builtins__)", "uses '__builtins__'"),
        ("np.log(*x)", "*arguments are not allowed"),
        ("C(g, **{'levels': 1})", "**arguments"),
    ],
)
def test_refused_expressions(df: pd.DataFrame, term: str, message: str) -> None:
    before = CALLS[0]
    with pytest.raises(FormulaError, match=re.escape(message)):
        emglm.em_glm(f"y ~ x + {term}", df, "poisson", K=1, safe_formula=True)
    assert CALLS[0] == before


def test_no_builtins_in_the_safe_environment() -> None:
    env = formula_safety.NoBuiltinsEnvironment([{"a": 2}])
    assert env.eval("a * 3") == 6
    with pytest.raises(NameError, match="__import__"):
        env.eval("__import__('os')")
    assert isinstance(env.subset(["a"]), formula_safety.NoBuiltinsEnvironment)


def _llf(out: str) -> float:
    line = next(line for line in out.splitlines() if "Log-Likelihood:" in line)
    return float(line.split("Log-Likelihood:")[1])


@pytest.mark.parametrize(
    ("args", "family", "kw"),
    [
        (["--formula", "y ~ x + np.log(x2) + C(g)"], "poisson", {}),
        (["--formula", "cbind(s, f) ~ x"], "binomial", {}),
        (["--formula", "y ~ x + offset(np.log(t))"], "poisson", {}),
        (["--formula", "y ~ I(x**2) + center(x2) + standardize(z) + scale(x)"], "poisson", {}),
        (["--formula", "y ~ np.sqrt(x2) + C(g, Treatment('b')) + log(t)"], "poisson", {}),
        (["--formula", "y ~ x", "--concomitant", "~ center(z)"], "poisson", {}),
        (["--formula", "y ~ x | g"], "poisson", {}),
    ],
)
def test_cli_normal_formulas_work(
    args: list[str],
    family: str,
    kw: dict[str, str],
    df: pd.DataFrame,
    csv: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out = _run_cli([*args, "--family", family, "-K", "2", "--seed", "4"], csv, capsys)
    assert code == 0, out
    formula_ = args[1]
    conc = args[3] if len(args) > 2 else None
    # The same fit as the Python API's, whose formulas run in the caller's namespace.
    res = emglm.em_glm(formula_, pd.read_csv(csv), family, 2, concomitant=conc, random_state=4)
    assert _llf(out) == pytest.approx(res.llf, abs=1e-4)
    for name in res.params.index:
        assert name in out


def test_unpickling_evaluates_no_formula_code(df: pd.DataFrame) -> None:
    res = emglm.em_glm(
        "y ~ counted(x) + center(x2) + C(g) + offset(np.log(t))",
        df,
        "poisson",
        2,
        concomitant="~ counted(z)",
        random_state=0,
    )
    blob = pickle.dumps(res)
    before = CALLS[0]
    back = pickle.loads(blob)
    assert CALLS[0] == before  # loading ran no formula code
    new = df.head(7).assign(x=df.x.head(7) + 0.5)
    pd.testing.assert_series_equal(back.predict(new), res.predict(new))
    pd.testing.assert_frame_equal(back.predict(new, which="prob"), res.predict(new, which="prob"))
    assert CALLS[0] > before  # predict applies the formula (and so calls counted)
    assert back.record.design.x_names == res.record.design.x_names


def test_unpickling_a_safe_fit_keeps_it_safe(df: pd.DataFrame) -> None:
    res = emglm.em_glm(
        "y ~ standardize(x) + C(g)", df, "poisson", 1, safe_formula=True, random_state=0
    )
    back = pickle.loads(pickle.dumps(res))
    env = back.record.design.x_info.factor_infos
    assert all(
        isinstance(info.state["eval_env"], formula_safety.NoBuiltinsEnvironment)
        for info in env.values()
    )
    new = df.sample(9, random_state=1)
    np.testing.assert_array_equal(back.predict(new), res.predict(new))


def test_small_em_and_select_k_take_safe_formula(df: pd.DataFrame) -> None:
    with pytest.raises(FormulaError, match="uses 'counted'"):
        emglm.small_em("y ~ counted(x)", df, "poisson", K=2, repeats=2, safe_formula=True)
    with pytest.raises(FormulaError, match="uses 'counted'"):
        emglm.select_k("y ~ counted(x)", df, "poisson", K=[1, 2], safe_formula=True)
    sel = emglm.select_k("y ~ np.log1p(x2)", df, "poisson", K=[1], safe_formula=True)
    assert "np.log1p(x2)" in sel.best.params.index


def test_an_old_pickle_is_refused_without_running_its_formula(df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ counted(x)", df, "poisson", 1, random_state=0)
    design = res.record.design
    old_state = {k: v for k, v in design.__getstate__().items() if k != "frozen"}
    old_state["env_vars"] = {"counted": counted}  # what older versions stored instead
    before = CALLS[0]
    fresh = object.__new__(type(design))
    with pytest.raises(emglm.InputError, match="pickled by an older version of emglm"):
        fresh.__setstate__(old_state)
    assert CALLS[0] == before
