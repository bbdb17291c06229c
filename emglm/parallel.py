"""Worker processes for the work that splits into independent fits: the warm-up's short
runs and the bootstrap's replicates (``n_jobs``)."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor


def _one_blas_thread() -> None:
    """Start of each worker: BLAS runs on one thread.

    The workers already keep the cores asked for busy; BLAS thread pools on top of them
    compete for the same cores. Measured with ``benchmarks/bench_jobs.py`` on two cores:
    the bootstrap on two workers took 1.3 times as long as on one process with BLAS's own
    threads left on, and under half as long with one BLAS thread per worker.
    """
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def worker_pool(n_jobs: int) -> ProcessPoolExecutor:
    """A pool of ``n_jobs`` worker processes, each with one BLAS thread.

    Examples
    --------
    >>> with worker_pool(2) as pool:
    ...     list(pool.map(abs, [-1, -2]))
    [1, 2]
    """
    return ProcessPoolExecutor(max_workers=n_jobs, initializer=_one_blas_thread)
