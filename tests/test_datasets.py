"""Tests of emglm.datasets: shipped files, simulators, truth and packaging."""

from __future__ import annotations

import doctest
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import emglm.datasets as ds
from emglm.datasets import _io, _params, _simulate
from emglm.datasets.__main__ import main

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_PARAMS = ROOT.parent / "shared" / "reference-data" / "emaxglm" / "true_params.json"
LOADERS = {"sim1": ds.load_sim1, "sim2": ds.load_sim2, "sim3": ds.load_sim3}
SIMULATORS = {"sim1": ds.simulate_sim1, "sim2": ds.simulate_sim2, "sim3": ds.simulate_sim3}
SHAPES = {"sim1": (5000, 6), "sim2": (5000, 6), "sim3": (10000, 12)}


# --- shipped files -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ds.SIM_NAMES)
def test_shape_columns_dtypes(name: str) -> None:
    df = LOADERS[name]()
    assert df.shape == SHAPES[name]
    assert list(df.columns) == ds.sim_columns(name)
    for col in df.columns:
        expected = "int64" if col in ("y", "exposure") else "float64"
        assert str(df[col].dtype) == expected, col
    assert (df["y"] >= 0).all()
    assert not df.isna().any().any()


def test_column_order_matches_emax_glm() -> None:
    assert ds.sim_columns("sim1") == ["V1", "V2", "V3", "V4", "V5", "y"]
    assert ds.sim_columns("sim2") == ds.sim_columns("sim1")
    assert ds.sim_columns("sim3") == [f"X{j}" for j in range(1, 11)] + ["y", "exposure"]


@pytest.mark.parametrize("name", ds.SIM_NAMES)
def test_loaders_return_fresh_frames(name: str) -> None:
    a = LOADERS[name]()
    a.iloc[0, 0] = 1e9
    b = LOADERS[name]()
    assert b.iloc[0, 0] != 1e9


@pytest.mark.parametrize("name", ds.SIM_NAMES)
def test_files_are_exactly_the_seeded_simulation(name: str) -> None:
    pd.testing.assert_frame_equal(LOADERS[name](), SIMULATORS[name](ds.SEEDS[name]))


def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0
    for name in ds.SIM_NAMES:
        new = (tmp_path / f"{name}.csv").read_bytes()
        assert new == (ROOT / "data" / f"{name}.csv").read_bytes(), name
        assert b"\r" not in new


def test_regenerate_is_repeatable(tmp_path: Path) -> None:
    first = [p.read_bytes() for p in ds.regenerate(tmp_path / "a")]
    second = [p.read_bytes() for p in ds.regenerate(tmp_path / "b")]
    assert first == second


# --- truth ---------------------------------------------------------------------------------


def test_true_params_values() -> None:
    p1 = ds.true_params("sim1")
    assert p1.shape == (5, 1) and list(p1.columns) == ["comp1"]
    assert list(p1.index) == ["V1", "V2", "V3", "V4", "V5"]
    assert p1.loc["V4", "comp1"] == 1.599959093249199
    p2 = ds.true_params("sim2")
    assert p2.shape == (5, 2) and list(p2.columns) == ["comp1", "comp2"]
    assert p2.loc["V1", "comp1"] == -1.3547492344856658
    assert p2.loc["V5", "comp2"] == -0.0009747832751496141
    p3 = ds.true_params("sim3")
    assert p3.shape == (10, 2) and list(p3.index) == [f"X{j}" for j in range(1, 11)]
    assert p3.loc["X2", "comp1"] == 1.467441810267699
    assert p3.loc["X10", "comp2"] == -0.659963314120387
    p2.iloc[0, 0] = 0.0
    assert ds.true_params("sim2").iloc[0, 0] == -1.3547492344856658


@pytest.mark.skipif(not REFERENCE_PARAMS.is_file(), reason="reference true_params.json absent")
def test_true_params_match_reference_json() -> None:
    ref = json.loads(REFERENCE_PARAMS.read_text())
    assert ds.true_params("sim1")["comp1"].tolist() == ref["sim1"]["params"]
    for name in ("sim2", "sim3"):
        tp = ds.true_params(name)
        assert tp["comp1"].tolist() == ref[name]["p1"]
        assert tp["comp2"].tolist() == ref[name]["p2"]
    for name in ds.SIM_NAMES:
        assert ds.sim_columns(name) == ref[name]["columns"]
        assert LOADERS[name]().shape[0] == ref[name]["rows"]


def test_true_weights_and_labels() -> None:
    assert ds.true_weights("sim1").tolist() == [1.0]
    for name in ("sim2", "sim3"):
        w = ds.true_weights(name)
        assert list(w.index) == ["comp1", "comp2"] and w.tolist() == [0.5, 0.5]
    assert (ds.true_labels("sim1") == 0).all()
    lab2 = ds.true_labels("sim2")
    assert lab2.dtype == np.int64 and lab2.shape == (5000,)
    assert (lab2[:2500] == 0).all() and (lab2[2500:] == 1).all()
    lab3 = ds.true_labels("sim3")
    assert (lab3[:5000] == 0).all() and (lab3[5000:] == 1).all()


@pytest.mark.parametrize("func", [ds.true_params, ds.true_weights, ds.true_labels, ds.sim_columns])
def test_unknown_name(func: Callable[[str], object]) -> None:
    with pytest.raises(ValueError, match="sim4"):
        func("sim4")


# --- the simulators recover their truth ----------------------------------------------------


def _poisson_fit(df: pd.DataFrame, name: str) -> np.ndarray:
    covariates = list(ds.true_params(name).index)
    offset = np.log(df["exposure"].to_numpy()) if "exposure" in df else None
    model = sm.GLM(df["y"], df[covariates], family=sm.families.Poisson(), offset=offset)
    return np.asarray(model.fit().params)


@pytest.mark.parametrize("name", ds.SIM_NAMES)
def test_glm_per_block_recovers_true_params(name: str) -> None:
    df = LOADERS[name]()
    labels = ds.true_labels(name)
    truth = ds.true_params(name)
    for k, comp in enumerate(truth.columns):
        est = _poisson_fit(df[labels == k], name)
        np.testing.assert_allclose(est, truth[comp].to_numpy(), atol=0.05, err_msg=comp)


def test_sim2_blocks_differ() -> None:
    # A fit on block 1 should be far from p2 (and vice versa): the blocks really differ.
    df = ds.load_sim2()
    labels = ds.true_labels("sim2")
    p = ds.true_params("sim2")
    assert np.abs(_poisson_fit(df[labels == 0], "sim2") - p["comp2"].to_numpy()).max() > 0.5
    assert np.abs(_poisson_fit(df[labels == 1], "sim2") - p["comp1"].to_numpy()).max() > 0.5


def test_sim3_exposure() -> None:
    e = ds.load_sim3()["exposure"]
    assert e.dtype == np.int64
    assert e.min() == 10 and e.max() == 30
    assert set(e.unique()) == set(range(10, 31))


def test_sim_simulators_accept_generator_and_seed() -> None:
    a = ds.simulate_sim2(np.random.default_rng(5))
    b = ds.simulate_sim2(5)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(ds.simulate_sim2(6))


# --- worked examples -----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_two_slopes(seed: int) -> None:
    df = ds.simulate_two_slopes(seed)
    assert df.shape == (100, 3) and list(df.columns) == ["x", "y", "label"]
    assert df["x"].tolist() == list(range(1, 51)) * 2
    assert set(df["label"].unique()) == {0, 1}
    for k, slope in enumerate((0.3, 1.0)):
        sub = df[df["label"] == k]
        est = (sub["x"] * sub["y"]).sum() / (sub["x"] ** 2).sum()
        assert abs(est - slope) < 0.03
        resid = sub["y"] - slope * sub["x"]
        assert 0.6 < resid.std() < 1.5
    pd.testing.assert_frame_equal(df, ds.simulate_two_slopes(seed))


def test_two_regressions() -> None:
    df = ds.simulate_two_regressions(np.random.default_rng(3), n=4000)
    assert df.shape == (4000, 3) and list(df.columns) == ["x", "y", "label"]
    assert (df["label"][:2000] == 0).all() and (df["label"][2000:] == 1).all()
    assert df["x"].between(0, 10).all()
    for k, (b0, b1, sigma) in enumerate(((10.0, 3.0, 2.0), (3.0, -1.0, 0.25))):
        sub = df[df["label"] == k]
        slope, intercept = np.polyfit(sub["x"], sub["y"], 1)
        resid = sub["y"] - intercept - slope * sub["x"]
        assert abs(intercept - b0) < 6 * sigma / np.sqrt(len(sub))
        assert abs(slope - b1) < 0.05
        assert abs(resid.std() / sigma - 1) < 0.1
    assert ds.simulate_two_regressions(0).shape == (200, 3)
    with pytest.raises(ValueError):
        ds.simulate_two_regressions(0, n=1)


def test_gaussian_mixture_1d() -> None:
    df = ds.simulate_gaussian_mixture_1d(7)
    assert df.shape == (400, 2) and list(df.columns) == ["y", "label"]
    assert df["label"].value_counts().sort_index().tolist() == [100, 100, 100, 100]
    stats = df.groupby("label")["y"].agg(["mean", "std"])
    np.testing.assert_allclose(stats["mean"], [-6, -2, 2, 6], atol=0.3)
    np.testing.assert_allclose(stats["std"], 0.8, atol=0.15)
    small = ds.simulate_gaussian_mixture_1d(7, n=10)["label"].tolist()
    assert small == [0, 0, 0, 1, 1, 2, 2, 2, 3, 3]


def test_peppered_moth() -> None:
    moths = ds.peppered_moth()
    assert moths["phenotype"].tolist() == ["carbonaria", "insularia", "typica"]
    assert moths["count"].tolist() == [85, 196, 341]
    assert moths["count"].dtype == np.int64 and moths["count"].sum() == 622


# --- docs and packaging --------------------------------------------------------------------


@pytest.mark.parametrize("module", [ds, _params, _simulate, _io], ids=lambda m: m.__name__)
def test_docstring_examples(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0


def test_wheel_ships_and_loads_the_data(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(ROOT / "pyproject.toml", src)
    readme = ROOT / "README.md"
    if readme.is_file():
        shutil.copy(readme, src)
    else:  # the build needs the readme named in pyproject.toml
        (src / "README.md").write_text("emglm\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "emglm", src / "emglm", ignore=ignore)
    shutil.copytree(ROOT / "data", src / "data", ignore=ignore)
    out = tmp_path / "wheel"
    cmd = [sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "-q", "-w", str(out)]
    subprocess.run(cmd, check=True, capture_output=True)
    (wheel,) = out.glob("emglm-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        for name in ds.SIM_NAMES:
            member = f"emglm/datasets/_data/{name}.csv"
            assert member in names
            assert zf.read(member) == (ROOT / "data" / f"{name}.csv").read_bytes()
        site = tmp_path / "site"
        zf.extractall(site)
    # Import from the unpacked wheel only: no source checkout, so no data/ fallback.
    code = (
        "import emglm.datasets as d, pathlib; "
        "assert not d.repo_data_dir().exists(); "
        "assert d.load_sim2().shape == (5000, 6); "
        "print(pathlib.Path(d.__file__).parent)"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    run = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert Path(run.stdout.strip()) == site / "emglm" / "datasets"
