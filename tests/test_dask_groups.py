"""Grouped observations (``y ~ x | id``, ``groups="id"``) on a Dask DataFrame equal the
in-memory grouped fits (issue 16), on a real ``distributed.LocalCluster`` with two worker
processes; a group that spans partitions is refused before anything is fitted."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from dask_checks import (  # noqa: E402
    BSE_RTOL,
    PARAM_ATOL,
    assert_same_criteria,
    assert_same_estimates,
    glm_start,
)

import emglm  # noqa: E402
from emglm.cluster import fit as cluster_fit  # noqa: E402
from emglm.cluster import group_spans, mapreduce  # noqa: E402
from emglm.cluster.partition import PartitionSpec  # noqa: E402
from emglm.data import formula as formula_mod  # noqa: E402
from emglm.exceptions import InputError, InputTypeError  # noqa: E402


def _frame(n_groups: int = 300, seed: int = 1) -> pd.DataFrame:
    """Groups of 2-7 rows in order; a group-level covariate ``z`` that drives the class,
    group-level case weights ``w``, string group labels."""
    rng = np.random.default_rng(seed)
    gid = np.repeat(np.arange(n_groups), rng.integers(2, 8, n_groups))
    n = gid.size
    zg = rng.normal(size=n_groups)
    lab = (rng.random(n_groups) < 1 / (1 + np.exp(-1.2 * zg)))[gid]
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(np.where(lab, 1.0 + 0.5 * x, -0.5 * x))),
            "yg": np.where(lab, 2.0 + x, -1.0 - x) + rng.normal(0, 0.7, n) + 0.3 * x,
            "x": x,
            "off": 0.3 * x,
            "z": zg[gid],
            "w": rng.integers(1, 4, n_groups)[gid].astype(float),
            "id": np.array([f"s{g}" for g in range(n_groups)])[gid],
        }
    )


def _whole_groups(df: pd.DataFrame, n_parts: int):
    """A Dask DataFrame of ``n_parts`` partitions, each holding whole groups."""
    cuts = np.array_split(df["id"].unique(), n_parts)
    return dd.concat([dd.from_pandas(df[df["id"].isin(c)], npartitions=1) for c in cuts])


def _same_grouped_fit(mem, dist, bse: bool) -> None:
    # nobs counts rows (flexmix's nobs(), BIC's n); the units of the fit are the groups.
    assert_same_estimates(mem, dist)
    assert dist.sums.n_groups == mem.record.data.groups.n_groups
    assert_same_criteria(mem, dist, ("aic", "bic", "icl", "icl_entropy", "clogl"))
    np.testing.assert_allclose(dist.mixing.to_numpy(), mem.mixing.to_numpy(), atol=PARAM_ATOL)
    pd.testing.assert_frame_equal(dist.cluster_table(), mem.cluster_table(), atol=1e-6)
    if bse:
        np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=BSE_RTOL)
        np.testing.assert_allclose(
            dist.mixing_bse.to_numpy(), mem.mixing_bse.to_numpy(), rtol=BSE_RTOL
        )


def test_poisson_formula_groups_weights_and_group_level_concomitant(client) -> None:
    df = _frame()
    kw = dict(
        weights="w", concomitant="~ z", tol=1e-10,
        start=glm_start([[0.9, 0.4], [0.1, -0.4]], [[0.0, 0.0], [0.0, -1.0]]),
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x | id", df, "poisson", 2, **kw)
    ddf = _whole_groups(df, 4)
    dist = emglm.em_glm("y ~ x | id", ddf, "poisson", 2, **kw)
    assert mem.record.data.groups.n_groups == 300 and mem.nobs == df["w"].sum()
    _same_grouped_fit(mem, dist, bse=True)
    # The summary is the in-memory one; per-row posteriors are the groups', row by row.
    assert [ln.split()[:1] for ln in str(dist.summary()).splitlines()] == [
        ln.split()[:1] for ln in str(mem.summary()).splitlines()
    ]
    post = dist.posterior.compute()
    pd.testing.assert_frame_equal(post, mem.posterior, atol=1e-6)
    assert post.groupby(df["id"]).nunique().max().max() == 1
    pd.testing.assert_series_equal(dist.classes.compute(), mem.classes)


def test_gaussian_groups_keyword_with_offset(client) -> None:
    df = _frame(seed=2)
    kw = dict(
        groups="id", offset="off", tol=1e-10,
        start={"params": [[1.9, 0.9], [-0.9, -0.9]], "mixing": [0.5, 0.5], "scale": [0.6, 0.6]},
    )  # fmt: skip
    mem = emglm.em_glm("yg ~ x", df, "gaussian", 2, **kw)
    dist = emglm.em_glm("yg ~ x", _whole_groups(df, 5), "gaussian", 2, **kw)
    _same_grouped_fit(mem, dist, bse=True)


def test_minprior_counts_groups_as_in_memory(client) -> None:
    # A third component with a small start weight is dropped at the first iteration: the
    # rule compares its weight summed over groups with minprior x the number of groups.
    df = _frame(seed=3)
    kw = dict(
        tol=1e-10, se=None, minprior=0.1,
        start=glm_start([[0.9, 0.4], [0.1, -0.4], [0.5, 0.0]], [[0.0, 0.0, -3.0]]),
    )  # fmt: skip
    with pytest.warns(emglm.DegenerateComponentWarning, match=r"fell below 30 = max"):
        mem = emglm.em_glm("y ~ x | id", df, "poisson", 3, **kw)
    with pytest.warns(emglm.DegenerateComponentWarning, match=r"fell below 30 = max"):
        dist = emglm.em_glm("y ~ x | id", _whole_groups(df, 4), "poisson", 3, **kw)
    assert mem.K == dist.K == 2
    pd.testing.assert_frame_equal(dist.drops, mem.drops, rtol=1e-8)
    _same_grouped_fit(mem, dist, bse=False)


def _spanning(df: pd.DataFrame):
    """Four partitions of whole groups, except that the last row of group 's80' (in the
    second partition) is moved to the third."""
    ddf = _whole_groups(df, 4)
    parts = [p.compute() for p in ddf.partitions]
    assert "s80" in set(parts[1]["id"]) and "s80" not in set(parts[2]["id"])
    moved = parts[1].index[parts[1]["id"] == "s80"][-1]
    parts[2] = pd.concat([parts[1].loc[[moved]], parts[2]])
    parts[1] = parts[1].drop(index=moved)
    return dd.concat([dd.from_pandas(p, npartitions=1, sort=False) for p in parts])


def test_group_spanning_partitions_is_refused_before_fitting_then_arranged(
    client, monkeypatch
) -> None:
    df = _frame(seed=4)
    bad = _spanning(df)
    message = (
        "group 's80' of the grouping column 'id' has rows in partitions 1 and 2 of the Dask "
        "DataFrame: all rows of a group share one latent class, so every group must lie "
        "within one partition. Arrange the data so before fitting: data = "
        "data.set_index('id') (sorted by the group; the grouping column is then the index, "
        "which groups='id' or '| id' still names) or data = data.shuffle(on='id')"
    )
    passes: list[int] = []
    original = mapreduce.PassRunner.run_pass

    def run_pass(self, jobs):  # type: ignore[no-untyped-def]
        passes.append(len(jobs))
        return original(self, jobs)

    def no_start(*args):  # type: ignore[no-untyped-def]
        raise AssertionError("the warm-up ran before the check")

    with monkeypatch.context() as m:
        m.setattr(mapreduce.PassRunner, "run_pass", run_pass)
        m.setattr(cluster_fit, "_start", no_start)
        for kw in ({}, {"groups": "id"}):
            formula = "y ~ x | id" if not kw else "y ~ x"
            with pytest.raises(InputError, match="^" + re.escape(message) + "$"):
                emglm.em_glm(formula, bad, "poisson", 2, **kw)
    assert passes == []  # refused before any EM pass

    # Arranged as the message says, the fits are the in-memory one.
    kw = dict(tol=1e-10, se=None, start=glm_start([[0.9, 0.4], [0.1, -0.4]], [[0.0, 0.0]]))
    mem = emglm.em_glm("y ~ x | id", df, "poisson", 2, **kw)
    by_index = emglm.em_glm("y ~ x | id", bad.set_index("id"), "poisson", 2, **kw)
    shuffled = emglm.em_glm("y ~ x", bad.shuffle(on="id"), "poisson", 2, groups="id", **kw)
    for dist in (by_index, shuffled):
        _same_grouped_fit(mem, dist, bse=False)
    # With the groups as the index, the lazy outputs keep that index.
    post = by_index.posterior.compute()
    assert post.index.name == "id" and len(post) == len(df)
    expected = mem.posterior.set_axis(df["id"].to_numpy()).sort_index()
    np.testing.assert_allclose(post.sort_index().to_numpy(), expected.to_numpy(), atol=1e-6)


def test_group_index_spanning_partitions_is_refused(client) -> None:
    # The groups as an unsorted index: two partitions cut within group 's40'.
    df = _frame(n_groups=120, seed=5)
    cut = int(np.flatnonzero(df["id"] == "s40")[0]) + 1
    pieces = [df.iloc[:cut], df.iloc[cut:]]
    bad = dd.concat([dd.from_pandas(p.set_index("id"), npartitions=1, sort=False) for p in pieces])
    with pytest.raises(InputError) as info:
        emglm.em_glm("y ~ x | id", bad, "poisson", 2, se=None)
    text = str(info.value)
    assert text.startswith("group 's40' of the index 'id' has rows in partitions 0 and 1 ")
    assert text.endswith(
        "data = data.reset_index().set_index('id') (sorted by the group) or "
        "data = data.shuffle(on_index=True)"
    )
    # Arranged, and without a start: the warm-up runs on the sample of whole partitions
    # (here all of them, whole groups) and the long run reaches the in-memory optimum.
    kw = dict(tol=1e-10, se=None, n_starts=3, random_state=0)
    mem = emglm.em_glm("y ~ x | id", df, "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x | id", bad.shuffle(on_index=True), "poisson", 2, **kw)
    assert dist.warmup is not None and len(dist.warmup.table) == 3
    _same_grouped_fit(mem, dist, bse=False)


def test_each_partition_checks_its_groups(client, monkeypatch) -> None:
    # The sample is one partition; a group of another partition whose concomitant
    # covariate varies is refused by the in-memory check, made as that partition is built.
    df = _frame(n_groups=40, seed=7)
    rows = np.flatnonzero(df["id"] == "s35")
    df.loc[rows[-1], "z"] += 1.0
    monkeypatch.setattr(cluster_fit, "sample_partitions", lambda data, rows, rng: (
        data.partitions[0].compute(), 1))  # fmt: skip
    with pytest.raises(InputError, match=r"^the concomitant covariates vary within group s35: "):
        emglm.em_glm("y ~ x | id", _whole_groups(df, 2), "poisson", 2, concomitant="~ z")


class _Keys:
    """A stand-in for the pass runner: the partitions' hashed group keys."""

    def __init__(self, keys: list[np.ndarray]) -> None:
        self.keys = keys

    def map_parts(self, func):  # type: ignore[no-untyped-def]
        return self.keys


def test_a_hash_collision_is_not_a_spanning_group(client) -> None:
    # Two partitions report the same key, but no label is in both (two labels whose hashes
    # collide): the labels are looked up and the check passes; a real shared label fails.
    df = _frame(n_groups=20, seed=6)
    ddf = _whole_groups(df, 2)
    model = emglm.EMGLM.from_formula("y ~ x | id", df, "poisson", 2)
    d = model.design
    infos = formula_mod.learned_infos(d.formula, df, eval_env=d.eval_env, used=["id"])
    spec = PartitionSpec(d.formula, infos, d, model.family, None, None, None, None, "id")
    key = int(pd.util.hash_array(np.array(["s3"])).view(np.int64)[0])
    group_spans.check_within_partitions(_Keys([np.array([key]), np.array([key])]), ddf, spec)
    both = dd.concat([ddf.partitions[0], ddf.partitions[0]])
    with pytest.raises(InputError, match=r"^group 's3' of the grouping column 'id' has rows in "):
        group_spans.check_within_partitions(_Keys([np.array([key]), np.array([key])]), both, spec)


def test_groups_must_be_a_column_name(client) -> None:
    ddf = dd.from_pandas(_frame(n_groups=50), npartitions=2)
    with pytest.raises(InputTypeError, match=r"groups= must be a column name of a Dask"):
        emglm.em_glm("y ~ x", ddf, "poisson", 2, groups=np.arange(len(ddf)))


def test_groups_with_shared_coefficients(client) -> None:
    # Grouped observations and a coefficient common to both components (fixed=): both
    # features of the Dask backend at once give the in-memory fit.
    df = _frame(seed=4)
    df["u"] = np.random.default_rng(5).normal(size=len(df))
    df["y"] = np.random.default_rng(6).poisson(np.exp(np.log(df["y"] + 0.5) + 0.3 * df["u"]))
    kw = dict(
        fixed="~ u", tol=1e-10,
        start={"params": [[0.9, 0.4, 0.3], [0.1, -0.4, 0.3]], "mixing": [0.5, 0.5]},
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x | id", df, "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x | id", _whole_groups(df, 4), "poisson", 2, **kw)
    _same_grouped_fit(mem, dist, bse=True)
    assert dist.params.loc["u", "comp1"] == dist.params.loc["u", "comp2"]
    assert "Shared by all components" in str(dist.summary())
