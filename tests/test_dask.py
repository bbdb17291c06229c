"""Fits on a Dask DataFrame equal the in-memory fits (issue 16), on a real
``distributed.LocalCluster`` with two worker processes started and stopped here."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest

dd = pytest.importorskip("dask.dataframe")
distributed = pytest.importorskip("distributed")

from dask_checks import (  # noqa: E402
    PARAM_ATOL,
    assert_same_criteria,
    assert_same_estimates,
    glm_start,
)

import emglm  # noqa: E402
from emglm.cluster import mapreduce  # noqa: E402
from emglm.exceptions import InputError  # noqa: E402


def _frame(n: int = 3000, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = rng.normal(size=n)
    lab = rng.random(n) < 1 / (1 + np.exp(-1.2 * z))
    expo = rng.uniform(0.5, 2.0, n)
    eta = np.where(lab, 1.0 + 0.5 * x, -0.5 * x) + np.log(expo)
    trials = rng.integers(2, 9, n)
    p = 1 / (1 + np.exp(-np.where(lab, 1.0 + x, -1.0 - 0.5 * x)))
    succ = rng.binomial(trials, p)
    return pd.DataFrame(
        {
            "y": rng.poisson(np.exp(eta)),
            "yg": np.where(lab, 2.0 + x, -1.0 - x) + rng.normal(0, 0.7, n) + 0.3 * x,
            "succ": succ,
            "fail": trials - succ,
            "x": x,
            "z": z,
            "expo": expo,
            "off": 0.3 * x,
            "w": rng.integers(1, 4, n).astype(float),
            "g": pd.Categorical(rng.choice(["a", "b", "c"], n)),
        }
    )


def _same_fit(mem, dist) -> None:
    assert_same_estimates(mem, dist)
    assert dist.n_dropped == mem.n_dropped
    assert_same_criteria(mem, dist, ("aic", "bic", "icl", "icl_entropy", "clogl"))
    np.testing.assert_allclose(dist.mixing.to_numpy(), mem.mixing.to_numpy(), atol=PARAM_ATOL)


def test_without_a_client_a_local_cluster_is_started_and_closed() -> None:
    # First in this file: before the module's cluster exists there is no current client.
    with pytest.raises(ValueError):
        distributed.default_client()
    df = _frame(n=600, seed=8)
    # No start: the warm-up runs in memory on the sample (here every partition, in random
    # order), the long run on the cluster; it reaches the in-memory optimum.
    kw = dict(tol=1e-10, se=None, random_state=0, n_starts=3)
    dist = emglm.em_glm("y ~ x", dd.from_pandas(df, npartitions=2), "poisson", 2, **kw)
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, **kw)
    assert dist.warmup is not None and len(dist.warmup.table) == 3
    assert dist.sample_rows == 600 and dist.init == "mixed"
    assert abs(dist.llf - mem.llf) <= 1e-8 * abs(mem.llf)
    np.testing.assert_allclose(dist.params.to_numpy(), mem.params.to_numpy(), atol=1e-5)
    with pytest.raises(ValueError):  # closed after the fit
        distributed.default_client()


def test_poisson_exposure_weights_concomitant(client) -> None:
    df = _frame()
    kw = dict(
        exposure="expo", weights="w", concomitant="~ z", tol=1e-10,
        start=glm_start([[0.95, 0.45], [0.05, -0.45]], [[0.0, 0.0], [0.0, -1.1]]),
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x", df, "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x", dd.from_pandas(df, npartitions=4), "poisson", 2, **kw)
    _same_fit(mem, dist)
    np.testing.assert_allclose(dist.bse.to_numpy(), mem.bse.to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(dist.mixing_bse.to_numpy(), mem.mixing_bse.to_numpy(), rtol=1e-6)

    # The summary has the in-memory form: the same tables, rows and labels.
    def labels(res) -> list[str]:
        return [line.split()[0] for line in str(res.summary()).splitlines() if line.split()]

    assert labels(dist) == labels(mem)
    pd.testing.assert_frame_equal(dist.cluster_table(), mem.cluster_table(), atol=1e-6)
    # Per-row outputs are lazy Dask objects holding the in-memory values.
    post = dist.posterior
    assert isinstance(post, dd.DataFrame)
    pd.testing.assert_frame_equal(post.compute(), mem.posterior, atol=1e-6)
    pd.testing.assert_series_equal(dist.classes.compute(), mem.classes)
    pd.testing.assert_series_equal(dist.predict().compute(), mem.predict(), atol=1e-6)
    pearson = dist.resid("pearson").compute()
    pd.testing.assert_series_equal(pearson, mem.resid("pearson"), atol=1e-6)
    new = df.iloc[:7]
    pd.testing.assert_frame_equal(dist.predict(new, "prob"), mem.predict(new, "prob"), atol=1e-6)


def test_gaussian_offset_weights_categorical_and_missing(client) -> None:
    df = _frame(seed=4)
    df.loc[[5, 17, 900], "x"] = np.nan  # dropped rows, as in memory
    kw = dict(
        offset="off", weights="w", tol=1e-10, se=None,
        start={"params": [[1.9, 0.0, 0.0, 0.9], [-0.9, 0.0, 0.0, -0.9]],
               "mixing": [0.5, 0.5], "scale": [0.6, 0.6]},
    )  # fmt: skip
    mem = emglm.em_glm("yg ~ g + x", df, "gaussian", 2, **kw)
    dist = emglm.em_glm("yg ~ g + x", dd.from_pandas(df, npartitions=3), "gaussian", 2, **kw)
    assert mem.n_dropped == 3
    _same_fit(mem, dist)


def test_binomial_trials_concomitant(client) -> None:
    df = _frame(seed=5)
    kw = dict(
        concomitant="~ z", tol=1e-10, se=None,
        start=glm_start([[0.9, 0.9], [-0.9, -0.4]], [[0.0, 0.0], [0.0, -1.1]]),
    )  # fmt: skip
    formula = "cbind(succ, fail) ~ x"
    mem = emglm.em_glm(formula, df, "binomial", 2, **kw)
    dist = emglm.em_glm(formula, dd.from_pandas(df, npartitions=4), "binomial", 2, **kw)
    _same_fit(mem, dist)


def test_partition_without_rows(client) -> None:
    df = _frame(n=2000, seed=6)
    ddf = dd.from_pandas(df, npartitions=4)
    keep = np.ones(len(df), dtype=bool)
    keep[ddf.divisions[1] : ddf.divisions[2]] = False  # the second partition, all of it
    df["keep"] = keep
    ddf = dd.from_pandas(df, npartitions=4)
    assert (ddf[ddf.keep].map_partitions(len).compute() == 0).sum() == 1
    kw = dict(
        tol=1e-10, se=None, accel=None,  # plain EM too
        start=glm_start([[0.95, 0.45], [0.05, -0.45]], [[0.0, 0.0]]),
    )  # fmt: skip
    mem = emglm.em_glm("y ~ x", df[df.keep], "poisson", 2, **kw)
    dist = emglm.em_glm("y ~ x", ddf[ddf.keep], "poisson", 2, **kw)
    _same_fit(mem, dist)


def test_worker_dies_during_fit(client, monkeypatch) -> None:
    df = _frame(n=2000, seed=7)
    ddf = dd.from_pandas(df, npartitions=4)
    kw = dict(tol=1e-10, se=None, start=glm_start([[0.95, 0.45], [0.05, -0.45]], [[0.0, 0.0]]))
    quiet = emglm.em_glm("y ~ x", ddf, "poisson", 2, **kw)
    original = mapreduce.PassRunner.run_pass
    killed: list[int] = []

    def run_pass(self, jobs):  # type: ignore[no-untyped-def]
        if self.n_passes == 6 and not killed:
            # One worker process is killed while this pass runs; its nanny starts it again
            # and the scheduler reruns its tasks (and rebuilds the design blocks it held).
            victim = sorted(self.client.scheduler_info()["workers"])[0]
            pid = self.client.run(os.getpid, workers=[victim])[victim]
            killed.append(pid)
            threading.Timer(0.01, os.kill, (pid, signal.SIGKILL)).start()
        return original(self, jobs)

    monkeypatch.setattr(mapreduce.PassRunner, "run_pass", run_pass)
    again = emglm.em_glm("y ~ x", ddf, "poisson", 2, **kw)
    assert killed, "no worker was stopped"
    client.wait_for_workers(2, timeout=60)
    assert killed[0] not in client.run(os.getpid).values()  # a new process
    assert again.llf == quiet.llf and again.n_iter == quiet.n_iter
    np.testing.assert_array_equal(again.params.to_numpy(), quiet.params.to_numpy())


def test_unknown_categories_and_strings_are_refused(client) -> None:
    df = _frame(n=300)
    ddf = dd.from_pandas(df, npartitions=2)
    ddf["g"] = ddf["g"].cat.as_unknown()
    with pytest.raises(InputError, match=r"column 'g' is categorical with unknown categories.*"
                       r"data\.categorize\(columns=\['g'\]\)"):  # fmt: skip
        emglm.em_glm("y ~ x + g", ddf, "poisson", 2)
    text = dd.from_pandas(df.assign(g=df.g.astype(str)), npartitions=2)
    with pytest.raises(InputError, match=r"column 'g' holds strings.*categorize"):
        emglm.em_glm("y ~ x + g", text, "poisson", 2)


@pytest.mark.parametrize(
    ("keywords", "message"),
    [
        ({"method": "cem"}, r"method='cem' is not supported on Dask yet"),
        ({"se": "bootstrap"}, r"se='bootstrap' is not supported on Dask yet"),
        ({"weights": np.ones(300)}, r"weights= must be a column name of a Dask DataFrame"),
    ],
)
def test_what_is_not_supported_yet(client, keywords, message) -> None:
    ddf = dd.from_pandas(_frame(n=300), npartitions=2)
    with pytest.raises((InputError, TypeError), match=message):
        emglm.em_glm("y ~ x", ddf, "poisson", 2, **keywords)


def test_concomitant_separation_warns_as_in_memory(client) -> None:
    # Concomitant z splits the components exactly: the likelihood still rises as the
    # mixing log-odds grow. On partitions the check is the in-memory one on sums (the
    # smallest prior, then the llf along growing log-odds), and it says the same.
    rng = np.random.default_rng(3)
    z, x = rng.normal(size=300), rng.normal(size=300)
    lab = (z > 0).astype(int)
    y = rng.poisson(np.exp(np.where(lab == 1, 2.5 + 0.3 * x, 0.5 - 0.2 * x)))
    df = pd.DataFrame({"y": y, "x": x, "z": z})
    kw = dict(concomitant="~ z", se=None)
    with pytest.warns(emglm.SeparationWarning, match="still rises"):
        mem = emglm.em_glm("y ~ x", df, "poisson", 2, start=lab, **kw)
    with pytest.warns(emglm.SeparationWarning, match="still rises") as rec:
        dist = emglm.em_glm(
            "y ~ x", dd.from_pandas(df, npartitions=3), "poisson", 2, start=mem, **kw
        )
    assert {r.category for r in rec} == {emglm.SeparationWarning}
    assert np.isfinite(dist.llf) and dist.llf >= mem.llf - 1e-8 * abs(mem.llf)
    assert np.isfinite(dist.mixing.to_numpy()).all()
