"""Worker processes (``n_jobs``) run BLAS on one thread each."""

from __future__ import annotations

from threadpoolctl import threadpool_info

from emglm.parallel import worker_pool


def _blas_threads() -> list[int]:
    return [int(lib["num_threads"]) for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_workers_run_blas_on_one_thread() -> None:
    with worker_pool(2) as pool:
        threads = pool.submit(_blas_threads).result()
    assert threads, "no BLAS library found in the worker"
    assert all(t == 1 for t in threads)
