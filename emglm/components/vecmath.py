"""exp and log that the compiler vectorises, for the compiled passes (numba).

numba calls the C library's scalar ``exp`` and ``log`` (16 ns a value on the benchmark
machine against NumPy's 1.7 ns: no SVML in PyPI's llvmlite). These are written as
polynomials on contiguous rows instead, so that the loops vectorise (AVX2): ``exp`` by
Cody-Waite reduction and a degree-13 polynomial, ``log`` and ``log1p`` by the ``atanh``
series of a reduced argument. Within 2 ulp of NumPy for the ranges used (``exp`` of
arguments in [-708, 709], ``exp(-inf) = 0``; ``log`` of positive normal numbers;
``log1p`` on [0, 1]); ``tests/test_compiled_kernels.py`` checks it.
"""

from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

__all__ = ["exp_rows", "jit", "log1p_rows", "log_reduced", "log_vec"]


def jit(fastmath: bool | set[str] = False) -> Any:
    """numba's ``njit``: without the GIL, cached on disk, NumPy's error model (no checks
    for division by zero, which would keep loops from being vectorised)."""
    return numba.njit(nogil=True, cache=True, error_model="numpy", fastmath=fastmath)


@jit({"contract"})
def exp_rows(a, kk, cc):  # type: ignore[no-untyped-def]
    """``a[k, :cc] = exp(a[k, :cc])`` in place; ``kk`` int64 scratch of ``a``'s shape."""
    for k in range(a.shape[0]):
        row = a[k]
        ib = kk[k]
        for i in range(cc):
            x = row[i]
            xi = min(max(x, -708.0), 709.0)
            kf = math.floor(xi * 1.4426950408889634 + 0.5)
            r = (xi - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10
            q = 1.0 / 6227020800.0
            q = q * r + 1.0 / 479001600.0
            q = q * r + 1.0 / 39916800.0
            q = q * r + 1.0 / 3628800.0
            q = q * r + 1.0 / 362880.0
            q = q * r + 1.0 / 40320.0
            q = q * r + 1.0 / 5040.0
            q = q * r + 1.0 / 720.0
            q = q * r + 1.0 / 120.0
            q = q * r + 1.0 / 24.0
            q = q * r + 1.0 / 6.0
            q = q * r + 0.5
            q = q * r + 1.0
            q = q * r + 1.0
            row[i] = q if x >= -708.0 else 0.0
            ib[i] = (np.int64(kf) + 1023) << 52
        fb = ib.view(np.float64)
        for i in range(cc):
            row[i] *= fb[i]


@jit({"contract"})
def log_reduced(f, e):  # type: ignore[no-untyped-def]
    """``e log(2) + 2 atanh(f)`` for ``|f| <= 0.1716`` (``f = (m - 1) / (m + 1)`` of a
    mantissa ``m`` in [0.707, 1.414]): the series to x^23, within an ulp; ``log 2`` in two
    parts so that ``e log 2`` is exact."""
    s = f * f
    q = 1.0 / 23.0
    q = q * s + 1.0 / 21.0
    q = q * s + 1.0 / 19.0
    q = q * s + 1.0 / 17.0
    q = q * s + 1.0 / 15.0
    q = q * s + 1.0 / 13.0
    q = q * s + 1.0 / 11.0
    q = q * s + 1.0 / 9.0
    q = q * s + 1.0 / 7.0
    q = q * s + 1.0 / 5.0
    q = q * s + 1.0 / 3.0
    return e * 6.93147180369123816490e-01 + (
        (2.0 * f + 2.0 * f * s * q) + e * 1.90821492927058770002e-10
    )


@jit({"contract"})
def log_vec(x, out, kk, cc):  # type: ignore[no-untyped-def]
    """``out[:cc] = log(x[:cc])`` for positive normal ``x``; ``kk`` int64 scratch."""
    bits = x.view(np.int64)
    for i in range(cc):
        kk[i] = (bits[i] & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000
    m = kk.view(np.float64)
    for i in range(cc):
        e = np.float64((bits[i] >> 52) - 1023)
        mi = m[i]
        if mi > 1.4142135623730951:
            mi *= 0.5
            e += 1.0
        f = (mi - 1.0) / (mi + 1.0)
        out[i] = log_reduced(f, e)


@jit({"contract"})
def log1p_rows(u, out, cc):  # type: ignore[no-untyped-def]
    """``out[k, :cc] = log1p(u[k, :cc])`` for ``u`` in [0, 1] (the binomial's
    ``log1p(exp(-|eta|))``). ``log1p(u) = 2 atanh(f)`` with ``f = u / (2 + u)``, and above
    ``sqrt(2) - 1`` ``log1p(u) = log(2) + 2 atanh(f)`` with ``f = (u - 1) / (u + 3)``: ``f``
    comes from ``u`` itself (``1 + u`` is never rounded), ``|f| <= 0.1716``, and the series
    is :func:`log_vec`'s, with one division and no bit operations per value."""
    for k in range(u.shape[0]):
        row = u[k]
        res = out[k]
        for i in range(cc):
            x = row[i]
            high = x > 0.41421356237309503
            f = (x - 1.0) / (x + 3.0) if high else x / (2.0 + x)
            res[i] = log_reduced(f, 1.0 if high else 0.0)
