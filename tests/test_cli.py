"""The command line: a summary on success, one line and a non-zero exit on bad input."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from emglm import cli


def test_fit_prints_summary(poisson_df: pd.DataFrame, tmp_path: Path, capsys) -> None:
    path = tmp_path / "claims.csv"
    poisson_df.to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "y ~ x", "--family", "poisson", "-K", "2"]
    assert cli.main(argv + ["--exposure", "expo", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    import emglm

    res = emglm.em_glm("y ~ x", poisson_df, "poisson", 2, exposure="expo", random_state=3)
    assert f"{res.llf:.4f}" in out and "Component comp2" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fit", "--data", "nothere.csv", "--formula", "y ~ x"], "cannot read 'nothere.csv'"),
        (["fit", "--formula", "y ~ x"], "the following arguments are required: --data"),
        (["fit", "--data", "{csv}", "--formula", "y ~ q"], "uses 'q', which is not a column"),
        (["fit", "--data", "{csv}", "--formula", "y ~ x", "--family", "gamma2"], "unknown family"),
        (["fit", "--data", "{csv}", "--formula", "y ~ x", "-K", "two"], "invalid int value"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_one_line(
    argv: list[str], message: str, poisson_df: pd.DataFrame, tmp_path: Path, capsys
) -> None:
    path = tmp_path / "d.csv"
    poisson_df.to_csv(path, index=False)
    argv = [a.replace("{csv}", str(path)) for a in argv]
    with pytest.raises(SystemExit) as exc:
        raise SystemExit(cli.main(argv))
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_demo_runs_as_module() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "emglm", "demo"], capture_output=True, text=True, check=True
    )
    assert "Finite mixture of GLMs" in out.stdout and "Component comp2" in out.stdout
