"""The design built in chunks of rows equals the one-shot build: factors, interactions,
transforms whose state is learned on all rows, missing rows dropped, offsets."""

from __future__ import annotations

import numpy as np
import pandas as pd
import patsy
import pytest

from emglm.data import design_chunks, formula
from emglm.families import get_family

FORMULA = "y ~ C(g) * x + center(x2) + standardize(x) + np.log(x2) + h + x3 + offset(np.log(t))"
RHS = "C(g) * x + center(x2) + standardize(x) + np.log(x2) + h + x3"
CONCOMITANT = "~ center(z) + C(g) + v"


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(8)
    n = 503
    df = pd.DataFrame(
        {
            "y": rng.poisson(3.0, size=n).astype(float),
            "x": rng.normal(size=n),
            "x2": rng.uniform(0.5, 4.0, size=n),
            "g": rng.choice(["a", "b", "c"], size=n).astype(object),
            "h": pd.Categorical(rng.choice(["lo", "hi"], size=n), categories=["lo", "hi"]),
            "t": rng.uniform(1.0, 2.0, size=n),
            "x3": rng.normal(size=n),
            "z": rng.normal(size=n),
            "v": rng.normal(size=n),
        },
        index=[f"r{i}" for i in range(n)],
    )
    # Missing in the response, a covariate, a factor, an offset term and the concomitant
    # formula: center() and standardize() still learn their state on these rows.
    df.loc["r3", "y"] = np.nan
    df.loc["r250", "x3"] = np.nan
    df.loc["r260", "x2"] = np.nan  # in center(x2): its mean skips the missing value
    df.loc["r251", "g"] = None
    df.loc["r499", "t"] = np.nan
    df.loc["r100", "v"] = np.nan
    return df


def _build(df: pd.DataFrame, chunk_bytes: int, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN202
    monkeypatch.setattr(design_chunks, "CHUNK_BYTES", chunk_bytes)
    extra = np.ones(len(df))
    extra[400] = np.nan  # missing in the offset= argument
    return formula.build(
        FORMULA, df, get_family("poisson"), offset=extra, concomitant=CONCOMITANT
    )


def test_chunked_equals_one_shot(frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    before = frame.copy()
    design, whole = _build(frame, 1 << 40, monkeypatch)  # one chunk
    width = 1 + len(design.x_names) + 1 + len(design.z_names)  # y, X, offset term, Z
    _, chunked = _build(frame, 8 * width * 7, monkeypatch)  # chunks of 7 rows
    pd.testing.assert_frame_equal(frame, before)
    assert design_chunks.chunk_rows(width) == 7
    for name in ("y", "X", "offset", "trials", "weights", "Z"):
        np.testing.assert_array_equal(getattr(chunked, name), getattr(whole, name), err_msg=name)
    assert chunked.X.flags.f_contiguous and chunked.Z.flags.f_contiguous
    dropped = {"r3", "r250", "r260", "r251", "r499", "r100", "r400"}
    assert chunked.n_dropped == len(dropped)
    assert list(chunked.row_index) == [i for i in frame.index if i not in dropped]


def test_same_as_patsy_one_shot_dmatrix(
    frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    design, arrays = _build(frame, 8 * 17 * 5, monkeypatch)
    # patsy's own one-shot build: the transforms learn their state on all rows with a
    # value in their own variables, whatever is missing elsewhere
    # (center and standardize are the package's, as in its formulas).
    ref = patsy.dmatrix(
        RHS, frame.reset_index(drop=True), eval_env=formula.capture_env(0), return_type="dataframe"
    )
    kept = [frame.index.get_loc(i) for i in arrays.row_index]
    np.testing.assert_array_equal(arrays.X, ref.loc[kept].to_numpy())
    assert design.x_names == list(ref.columns)
    np.testing.assert_array_equal(arrays.offset, np.log(frame.t.to_numpy()[kept]) + 1.0)
    np.testing.assert_array_equal(arrays.y, frame.y.to_numpy()[kept])
    assert design.z_names == ["Intercept", "C(g)[T.b]", "C(g)[T.c]", "center(z)", "v"]
    z = frame.z.to_numpy()
    np.testing.assert_allclose(arrays.Z[:, 3], z[kept] - z.mean(), rtol=0, atol=1e-14)
    assert abs(z.mean() - z[kept].mean()) > 1e-5  # the mean of all rows, not of kept rows


def test_no_row_dropped_gives_the_buffers_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(design_chunks, "CHUNK_BYTES", 8 * 3 * 4)
    df = pd.DataFrame({"y": np.arange(10.0), "x": np.linspace(0, 1, 10)})
    _, arrays = formula.build("y ~ x", df, get_family("gaussian"))
    np.testing.assert_array_equal(arrays.X, np.column_stack([np.ones(10), df.x]))
    assert arrays.X.flags.f_contiguous and arrays.n_dropped == 0
    assert arrays.X.base is not None and arrays.X.base.size == 20  # no copy was made


def test_compaction_keeps_every_kept_row() -> None:
    rng = np.random.default_rng(0)
    n, w = 37, 4
    full = rng.normal(size=(n, w))
    keep = rng.uniform(size=n) < 0.6
    buf = np.asfortranarray(full).T.ravel().copy()  # column after column
    out = design_chunks._compact(buf, w, keep)
    np.testing.assert_array_equal(out, full[keep])
    assert out.flags.f_contiguous
