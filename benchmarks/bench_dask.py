"""Fitting from a parquet data set larger than the Dask workers' memory (docs/scale.md).

Writes a K=3, p=6 Poisson mixture (intercept and five covariates) as parquet files of
``--rows-per-file`` rows, at least ``--factor`` times the workers' total memory limit on
disk, then measures, in one run on this machine:

1. seconds per EM iteration of ``em_glm`` on all of it with ``--workers`` workers of
   ``--memory`` each (the design blocks do not fit, so every pass reads the files again);
   that no worker ran out of memory (the same worker processes at the end, their peak
   resident memory);
2. the time per row and iteration against the in-memory engine on a subsample of
   ``--sub-files`` files (the same start and iterations);
3. the speed-up from 1 to 2 workers on ``--speedup-files`` files.

Every fit starts from the same parameters (near the truth) and runs a bounded number of EM
iterations (``--iters``, SQUAREM's M-steps), ``se=None``: the point is the cost per pass.
Run it with ``nice``:

    nice -n 10 python benchmarks/bench_dask.py --out /tmp/emglm-bench
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import emglm
from emglm.components.glm import GLMParams
from emglm.engine.em import MixtureParams

COEF = np.array(
    [
        [1.0, 0.3, -0.2, 0.1, 0.2, -0.1],
        [2.0, -0.2, 0.1, 0.3, -0.1, 0.2],
        [0.2, 0.1, 0.3, -0.3, 0.1, 0.1],
    ]
)
PI = np.array([0.5, 0.3, 0.2])
FORMULA = "y ~ x1 + x2 + x3 + x4 + x5"


def write(out: Path, n_files: int, rows: int, distinct: int) -> int:
    """Write ``n_files`` parquet files of ``rows`` rows, the first ``distinct`` of them
    drawn and the others copies of those (drawing is slow on 2 cores; a pass costs the
    same); returns their bytes."""
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for i in range(n_files):
        path = out / f"part-{i:05d}.parquet"
        if not path.exists() and i >= distinct:
            shutil.copyfile(out / f"part-{i % distinct:05d}.parquet", path)
        elif not path.exists():
            rng = np.random.default_rng(1000 + i)
            x = rng.normal(size=(rows, 5))
            lab = rng.choice(3, size=rows, p=PI)
            eta = COEF[lab, 0] + np.einsum("ij,ij->i", x, COEF[lab, 1:])
            frame = pd.DataFrame(x, columns=[f"x{j}" for j in range(1, 6)])
            frame.insert(0, "y", rng.poisson(np.exp(eta)).astype(np.int64))
            frame.to_parquet(path, index=False)
        total += path.stat().st_size
    return total


def start() -> MixtureParams:
    """The start every fit uses: the truth, perturbed."""
    coef = COEF * 0.9 + 0.05
    gamma = np.log(np.array([0.45, 0.33, 0.22]))
    return MixtureParams(GLMParams(coef, np.ones(3)), (gamma - gamma[0])[None, :])


def _watch_memory(dask_worker: Any) -> None:
    """On a worker: sample its resident memory every 50 ms into the worker object
    (``ru_maxrss`` would report the parent's, inherited across the spawn)."""
    import threading

    import psutil

    worker, proc = dask_worker, psutil.Process()
    worker.peak_rss = 0  # type: ignore[attr-defined]

    def loop() -> None:
        while True:
            worker.peak_rss = max(worker.peak_rss, proc.memory_info().rss)  # type: ignore[attr-defined]
            time.sleep(0.05)

    threading.Thread(target=loop, daemon=True).start()


def _peak_memory(dask_worker: Any) -> int:
    return int(dask_worker.peak_rss)


def fit_dask(files: list[str], workers: int, memory: str, iters: int) -> dict[str, float]:
    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, memory_limit=memory,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):  # fmt: skip
        pids = client.run(os.getpid)
        client.run(_watch_memory)
        ddf = dd.read_parquet(files)
        t0 = time.perf_counter()
        res = emglm.em_glm(FORMULA, ddf, "poisson", 3, start=start(), max_iter=iters, se=None)
        seconds = time.perf_counter() - t0
        peak = client.run(_peak_memory)
        same = client.run(os.getpid) == pids
    return {
        "seconds": seconds,
        "n_iter": res.n_iter,
        "passes": res.n_passes,
        "pass_seconds": list(res.pass_seconds),
        "rows": res.nobs,
        "llf": res.llf,
        "peak_worker_bytes": max(peak.values()),
        "workers_survived": float(same),
    }


def fit_memory(files: list[str], iters: int) -> dict[str, float]:
    frame = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    t0 = time.perf_counter()
    res = emglm.em_glm(FORMULA, frame, "poisson", 3, start=start(), max_iter=iters, se=None)
    return {"seconds": time.perf_counter() - t0, "n_iter": res.n_iter, "rows": res.nobs,
            "llf": res.llf}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="/tmp/emglm-bench")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory", default="768MiB")
    parser.add_argument("--factor", type=float, default=3.0)
    parser.add_argument("--rows-per-file", type=int, default=500_000)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--big-iters", type=int, default=1, help="EM iterations on all data")
    parser.add_argument("--sub-files", type=int, default=4)
    parser.add_argument("--speedup-files", type=int, default=8)
    parser.add_argument("--distinct", type=int, default=8, help="files drawn; others copies")
    parser.add_argument("--keep", action="store_true", help="keep the parquet files")
    parser.add_argument(
        "--skip-all", action="store_true",
        help="skip the fit on all the data (measure only the subsample and the speed-up)",
    )  # fmt: skip
    args = parser.parse_args()
    import dask.utils

    from emglm.cluster import fit as cluster_fit

    # Every fit here reads the files in every pass (the out-of-core path), also the
    # smaller ones whose design blocks would fit in the workers' memory.
    cluster_fit.PERSIST_SHARE = 0.0
    memory = dask.utils.parse_bytes(args.memory) * args.workers
    out = Path(args.out)
    per_file = write(out, 1, args.rows_per_file, args.distinct)
    n_files = int(np.ceil(args.factor * memory / per_file)) + 1
    t0 = time.perf_counter()
    disk = write(out, n_files, args.rows_per_file, args.distinct)
    print(f"wrote {n_files} files, {disk / 2**30:.2f} GiB ({disk / memory:.2f} x the "
          f"workers' {memory / 2**30:.2f} GiB) in {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip
    files = sorted(str(p) for p in out.glob("part-*.parquet"))[:n_files]
    report: dict[str, object] = {"disk_bytes": disk, "memory_limit_total": memory,
                                 "files": n_files, "rows_per_file": args.rows_per_file}  # fmt: skip
    sub = files[: args.sub_files]
    report["sub_memory"] = fit_memory(sub, args.iters)
    report["sub_dask"] = fit_dask(sub, args.workers, args.memory, args.iters)
    print("subsample:", report["sub_memory"], report["sub_dask"], flush=True)
    few = files[: args.speedup_files]
    report["one_worker"] = fit_dask(few, 1, args.memory, args.iters)
    report["two_workers"] = fit_dask(few, 2, args.memory, args.iters)
    print("speed-up:", report["one_worker"], report["two_workers"], flush=True)
    if not args.skip_all:
        big = fit_dask(files, args.workers, args.memory, args.big_iters)
        report["all"] = big
        print("all data:", big, flush=True)
    print(json.dumps(report, indent=1))
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
