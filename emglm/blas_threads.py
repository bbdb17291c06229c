"""BLAS on one thread while the passes over the rows run.

The passes (``emglm.components.kernels``) make many small BLAS products per block of rows: (K, block)
by (block, 21) for p <= 16, one (p, block) by (block, p) Gram product per component for
wider designs. A BLAS thread pool only adds overhead to products this small: with
OpenBLAS's default threads a p=30 Gram product of one block took 16.5 ms against 1.7 ms
on one thread, and fits with p > 16 were 6-12 times slower (``benchmarks/
bench_blas_threads.py``, ``docs/performance.md``). The fitting entry points therefore run
on one BLAS thread and give the caller's setting back afterwards; worker processes
(``emglm.parallel``) do the same for their whole life.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from threadpoolctl import threadpool_limits

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Limit BLAS to one thread inside the block; the previous limits are restored on
    exit, also when the block raises.

    Examples
    --------
    >>> from threadpoolctl import threadpool_info
    >>> with one_blas_thread():
    ...     {lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"}
    {1}
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def single_blas_thread(func: Callable[P, R]) -> Callable[P, R]:
    """Decorator: run ``func`` inside :func:`one_blas_thread`. The undecorated function
    stays available as ``func.__wrapped__`` (the benchmark compares the two)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_blas_thread():
            return func(*args, **kwargs)

    return wrapper
