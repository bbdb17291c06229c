"""Compiled passes over the rows of the design (numba): the hot loops of EM on every core.

One pass reads ``X`` once. Its rows are cut into blocks of a fixed size (set by ``p``
only) and the blocks into at most ``_CHUNKS`` consecutive chunks; the chunks run in
parallel (compiled, without the GIL), each summing its blocks in order into its own
slot, and the slots are added in chunk order at the end. The sums are therefore the same
whatever the number of threads (``numba.set_num_threads``). On a block everything for all
K components is done while it is in the cache: linear predictors, log-densities,
log-sum-exp, posteriors, working weights and responses, the Gram matrices and right-hand
sides, the log-likelihoods and the column sums of the M-step weights.

``exp`` and ``log`` are :mod:`emglm.components.vecmath`'s, written so that the compiler
vectorises them.

Family codes (:data:`FAMILY_CODES`): the log-density, mean and IRLS factors of Poisson/log,
binomial/logit and Gaussian/identity, as :mod:`emglm.families` defines them (``eta``
clipped where ``linkinv`` clips the mean). Other families use the NumPy path of
:mod:`emglm.components.kernels`.

Optional inputs are passed as arrays of length 0 (no offset, one trial per row, no data
constant, unit case weights), so that each function compiles once per layout of ``X``.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numba
import numpy as np

from emglm.components.vecmath import exp_rows, jit, log1p_rows, log_vec

__all__ = [
    "FAMILY_CODES",
    "e_step",
    "gaussian_rss",
    "grams",
    "irls_equations",
    "least_squares",
    "log_densities",
]

POISSON_LOG, BINOMIAL_LOGIT, GAUSSIAN_IDENTITY = 0, 1, 2
#: :attr:`Family.fast_path` names with a compiled kernel, and their codes.
FAMILY_CODES = {"poisson_log": POISSON_LOG, "binomial_logit": BINOMIAL_LOGIT,
                "gaussian_identity": GAUSSIAN_IDENTITY}  # fmt: skip

_ETA_MAX = 300.0  # emglm.families.base._ETA_MAX
_LOGIT_MAX = float(np.log1p(-1e-12) - np.log(1e-12))  # emglm.families.base._LOGIT_MAX
# At most this many chunks: enough to balance any thread count up to 32, few enough that
# their partial Gram matrices stay small.
_CHUNKS = 64
# Fewer chunks than this per thread (a design of a few blocks) run on the calling thread.
_MIN_CHUNKS_PER_THREAD = 2

# Reductions over a block may be re-associated (vectorised): the same code runs on the same
# block whatever the thread, so results still do not depend on the number of threads.
_SUMS = {"reassoc", "contract", "nsz"}


def block_rows(p: int) -> int:
    """Rows per block: the block of ``X`` and the (K, block) temporaries stay in L2."""
    return int(min(2048, max(256, (1 << 15) // max(p, 1))))


# --- per-block pieces ----------------------------------------------------------------------
@jit()
def _load(X, sr, sc, lo, cc, xb):  # type: ignore[no-untyped-def]
    """Rows ``lo:lo+cc`` of the design into ``xb[:, :cc]`` (p, c). ``X`` is the design's
    memory in order, element (i, j) at ``X[i sr + j sc]`` (one compiled variant serves
    C- and Fortran-ordered designs)."""
    for j in range(xb.shape[0]):
        if sr == 1:
            start = j * sc + lo
            for i in range(cc):
                xb[j, i] = X[start + i]
        else:
            for i in range(cc):
                xb[j, i] = X[(lo + i) * sr + j * sc]


@jit({"contract"})
def _eta(xb, coef, off, lo, cc, eta):  # type: ignore[no-untyped-def]
    """``eta[k, :cc] = coef[k] @ xb[:, :cc] + off[lo:lo+cc]``."""
    for k in range(coef.shape[0]):
        for i in range(cc):
            eta[k, i] = off[lo + i] if off.size else 0.0
        for j in range(xb.shape[0]):
            b = coef[k, j]
            if b != 0.0:
                for i in range(cc):
                    eta[k, i] += b * xb[j, i]


@jit()
def _density(fam, eta, y, tr, scale, lo, cc, want_mu, ll, mu, kk):  # type: ignore[no-untyped-def]
    """Log-densities without the data constant into ``ll``; with ``want_mu`` the means into
    ``mu`` (Gaussian/identity: ``mu`` is ``eta``, not written). ``eta`` is not changed."""
    n_comp = eta.shape[0]
    if fam == POISSON_LOG:
        for k in range(n_comp):
            for i in range(cc):
                mu[k, i] = min(max(eta[k, i], -_ETA_MAX), _ETA_MAX)
        exp_rows(mu, kk, cc)
        for k in range(n_comp):
            for i in range(cc):
                e = min(max(eta[k, i], -_ETA_MAX), _ETA_MAX)
                ll[k, i] = e * y[lo + i] - mu[k, i]
    elif fam == BINOMIAL_LOGIT:
        # s min(eta, 0) - (t - s) max(eta, 0) - t log1p(exp(-|eta|)), as
        # emglm.families.binomial._binomial_logit; mean exp(min(eta, 0)) / (1 + u).
        for k in range(n_comp):
            for i in range(cc):
                e = min(max(eta[k, i], -_LOGIT_MAX), _LOGIT_MAX)
                mu[k, i] = -abs(e)
        exp_rows(mu, kk, cc)  # u = exp(-|eta|)
        log1p_rows(mu, ll, cc)
        for k in range(n_comp):
            for i in range(cc):
                t = tr[lo + i] if tr.size else 1.0
                s = y[lo + i] * t
                e = min(max(eta[k, i], -_LOGIT_MAX), _LOGIT_MAX)
                ll[k, i] = -t * ll[k, i] - (t - s) * max(e, 0.0) + s * min(e, 0.0)
        if want_mu:
            # exp(min(eta, 0)) is u where eta <= 0 and 1 elsewhere: no second exp.
            for k in range(n_comp):
                for i in range(cc):
                    u = mu[k, i]
                    mu[k, i] = (u if eta[k, i] <= 0.0 else 1.0) / (1.0 + u)
    else:  # GAUSSIAN_IDENTITY
        for k in range(n_comp):
            inv = 1.0 / scale[k]
            half_log = 0.5 * math.log(scale[k])
            for i in range(cc):
                t = tr[lo + i] if tr.size else 1.0
                r = y[lo + i] - eta[k, i]
                ll[k, i] = -0.5 * (r * r * (t * inv)) - half_log


@jit(_SUMS)
def _gram_add(xb, A, cc, tmp, G):  # type: ignore[no-untyped-def]
    """``G[k] += xb[:, :cc] diag(A[k, :cc]) xb[:, :cc]'`` on and above the diagonal: the
    symmetric rank-``cc`` update, each product of a pair of columns formed once."""
    p = xb.shape[0]
    for k in range(A.shape[0]):
        for a in range(p):
            for i in range(cc):
                tmp[i] = A[k, i] * xb[a, i]
            b = a
            while b + 4 <= p:  # four columns per sweep of tmp: fewer loads per product
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                for i in range(cc):
                    t = tmp[i]
                    s0 += t * xb[b, i]
                    s1 += t * xb[b + 1, i]
                    s2 += t * xb[b + 2, i]
                    s3 += t * xb[b + 3, i]
                G[k, a, b] += s0
                G[k, a, b + 1] += s1
                G[k, a, b + 2] += s2
                G[k, a, b + 3] += s3
                b += 4
            while b < p:
                s0 = 0.0
                for i in range(cc):
                    s0 += tmp[i] * xb[b, i]
                G[k, a, b] += s0
                b += 1


@jit(_SUMS)
def _rhs_add(xb, B, cc, R):  # type: ignore[no-untyped-def]
    """``R[k] += xb[:, :cc] @ B[k, :cc]``."""
    for k in range(B.shape[0]):
        for j in range(xb.shape[0]):
            s = 0.0
            for i in range(cc):
                s += B[k, i] * xb[j, i]
            R[k, j] += s


@jit(_SUMS)
def _dot_add(ll, W, wlo, const, lo, cc, out):  # type: ignore[no-untyped-def]
    """``out[k] += sum_i W[k, wlo + i] (ll[k, i] + const[lo + i])``."""
    for k in range(ll.shape[0]):
        s = 0.0
        if const.size:
            for i in range(cc):
                s += W[k, wlo + i] * (ll[k, i] + const[lo + i])
        else:
            for i in range(cc):
                s += W[k, wlo + i] * ll[k, i]
        out[k] += s


@jit(_SUMS)
def _rss_add(eta, y, A, lo, cc, out):  # type: ignore[no-untyped-def]
    """``out[k] += sum_i A[k, i] (y[lo + i] - eta[k, i])^2`` (identity link: ``eta`` is
    the mean)."""
    for k in range(eta.shape[0]):
        s = 0.0
        for i in range(cc):
            r = y[lo + i] - eta[k, i]
            s += A[k, i] * (r * r)
        out[k] += s


@jit()
def _working(fam, eta, mu, Wb, y, off, lo, cc, A, AZ):  # type: ignore[no-untyped-def]
    """IRLS working weights ``A = Wb a`` and ``A z = Wb (y - mu) r + A (eta - offset)``
    (``Wb`` the M-step weights times trials; canonical links: ``a = V(mu)``, ``r = 1``)."""
    for k in range(eta.shape[0]):
        for i in range(cc):
            wb = Wb[k, i]
            e = eta[k, i] - off[lo + i] if off.size else eta[k, i]
            if fam == POISSON_LOG:
                m = mu[k, i]
                a = wb * m
            elif fam == BINOMIAL_LOGIT:
                m = mu[k, i]
                a = wb * m
                a -= a * m
            else:
                m = eta[k, i]
                a = wb
            A[k, i] = a
            AZ[k, i] = (y[lo + i] - m) * wb + e * a


@jit()
def _scale_rows(W, wlo, tr, lo, cc, out):  # type: ignore[no-untyped-def]
    """``out[k, :cc] = W[k, wlo:wlo+cc] * trials``."""
    for k in range(W.shape[0]):
        for i in range(cc):
            out[k, i] = W[k, wlo + i] * tr[lo + i] if tr.size else W[k, wlo + i]


@jit()
def _chunk(ch, n_blocks, n_chunks):  # type: ignore[no-untyped-def]
    return ch * n_blocks // n_chunks, (ch + 1) * n_blocks // n_chunks


# --- the passes -------------------------------------------------------------------------------
# Each pass is a compiled chunk function (the blocks of one chunk, in order, summed into that
# chunk's slot of the partial sums), run on the chunks by a pool of threads: the compiled
# code releases the GIL, so the threads run on every core. (numba's own parallel loop,
# prange, did the same but compiled in 31 s instead of 8 s for the E-step pass alone.)
_POOL: ThreadPoolExecutor | None = None


def _read_only(*arrays):  # type: ignore[no-untyped-def]
    """Read-only views of a pass's inputs. numba compiles a function again for each
    combination of writeable and read-only arguments (a read-only posterior, a user's
    read-only column), 12 s each for the E-step pass: with every input read-only there is
    one variant per layout."""
    out = []
    for a in arrays:
        view = a.view()
        view.flags.writeable = False
        out.append(view)
    return out


def _flat(X):  # type: ignore[no-untyped-def]
    """The design as :func:`_load` reads it: its memory in order (read-only), n, p and the
    strides of rows and columns in elements."""
    n, p = X.shape
    if X.flags.f_contiguous:
        return (*_read_only(X.ravel(order="F")), n, p, 1, n)
    return (*_read_only(X.ravel(order="C")), n, p, p, 1)


def _forget_pool() -> None:
    """In a forked child the pool's threads do not exist: start a new pool when needed."""
    global _POOL
    _POOL = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool)


def _n_chunks(n: int, c: int) -> int:
    return min((n + c - 1) // c, _CHUNKS)


def _run(chunk_fn, n_chunks, args):  # type: ignore[no-untyped-def]
    """``chunk_fn(ch0, ch1, *args)`` over all chunks on ``numba.get_num_threads()`` threads
    (the calling one among them). Each thread takes the next chunks not yet taken, as many
    as half the remaining ones shared among the threads (guided scheduling): a few calls
    per thread, and at the end single chunks, so that no thread waits long for another
    (a fixed share of 6 chunks left the caller waiting ~1 ms of a 5 ms pass at n=1e5)."""
    global _POOL
    workers = min(numba.get_num_threads(), n_chunks // _MIN_CHUNKS_PER_THREAD)
    if workers <= 1:
        chunk_fn(0, n_chunks, *args)
        return
    if _POOL is None:
        _POOL = ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1), "emglm-pass")
    taken = [0]
    lock = threading.Lock()

    def work() -> None:
        while True:
            with lock:
                ch0 = taken[0]
                ch1 = min(n_chunks, ch0 + max(1, (n_chunks - ch0) // (2 * workers)))
                taken[0] = ch1
            if ch0 >= n_chunks:
                return
            chunk_fn(ch0, ch1, *args)

    helpers = [_POOL.submit(work) for _ in range(workers - 1)]
    work()
    for job in helpers:
        job.result()


def _sum_chunks(part):  # type: ignore[no-untyped-def]
    """The chunks' partial sums added in chunk order."""
    if part.ndim > 1:
        # NumPy adds the rows of a reduction over the first axis one after the other, in
        # order: the loop below in one call (it cost 8% of an iteration at n=1e5).
        return part.sum(axis=0)
    out = 0.0
    for ch in range(part.shape[0]):
        out += part[ch]
    return np.float64(out)


@functools.cache
def _lower(p: int) -> tuple[Any, Any]:
    return np.tril_indices(p, -1)


def _symmetric(part):  # type: ignore[no-untyped-def]
    """The chunks' upper triangles (chunks, K, p, p) summed in chunk order, mirrored."""
    G = _sum_chunks(part)
    lower = _lower(G.shape[1])
    G[:, lower[0], lower[1]] = G[:, lower[1], lower[0]]
    return G


@jit()
def _e_chunk(ch0, ch1, X, n, p, sr, sc, y, off, tr, const, wts, fam, coef, scale, prior, check_w, linearise,
             post_t, c, n_chunks, part_llf, part_sum, part_chk, part_obj, part_g, part_r, part_rss):  # type: ignore[no-untyped-def]  # fmt: skip
    n_comp = coef.shape[0]
    n_blocks = (n + c - 1) // c
    shared = prior.shape[0] == 1
    xb = np.empty((p, c))
    eta = np.empty((n_comp, c))
    mu = np.empty((n_comp, c))
    ll = np.empty((n_comp, c))
    jb = np.empty((n_comp, c))
    kk = np.empty((n_comp, c), dtype=np.int64)
    w = np.empty(c)
    top = np.empty(c)
    total = np.empty(c)
    norm = np.empty(c)
    for ch in range(ch0, ch1):
        b0, b1 = _chunk(ch, n_blocks, n_chunks)
        for b in range(b0, b1):
            lo = b * c
            cc = min(c, n - lo)
            _load(X, sr, sc, lo, cc, xb)
            _eta(xb, coef, off, lo, cc, eta)
            _density(fam, eta, y, tr, scale, lo, cc, linearise, ll, mu, kk)
            if check_w.shape[1]:
                _dot_add(ll, check_w, lo, const, lo, cc, part_chk[ch])
            for i in range(cc):
                top[i] = -np.inf
            for k in range(n_comp):
                for i in range(cc):
                    v = ll[k, i] + (prior[0, k] if shared else prior[lo + i, k])
                    jb[k, i] = v
                    top[i] = max(top[i], v)
            for i in range(cc):
                if not np.isfinite(top[i]):
                    top[i] = 0.0  # all -inf: 0 instead of -inf - -inf = NaN
            for k in range(n_comp):
                for i in range(cc):
                    jb[k, i] -= top[i]
            exp_rows(jb, kk, cc)
            for i in range(cc):
                total[i] = 0.0
            for k in range(n_comp):
                for i in range(cc):
                    total[i] += jb[k, i]
            for i in range(cc):
                if total[i] == 0.0:  # uniform posteriors and -inf for an impossible row
                    for k in range(n_comp):
                        jb[k, i] = 1.0
                    total[i] = n_comp
                    top[i] = -np.inf
            log_vec(total, norm, kk[0], cc)
            s = 0.0
            for i in range(cc):
                v = norm[i] + top[i]
                if const.size:
                    v += const[lo + i]
                s += v * wts[lo + i] if wts.size else v
            part_llf[ch] += s
            for k in range(n_comp):
                sk = 0.0
                for i in range(cc):
                    q = jb[k, i] / total[i]
                    post_t[k, lo + i] = q
                    if wts.size:
                        q *= wts[lo + i]
                    jb[k, i] = q  # the M-step weight
                    sk += q
                part_sum[ch, k] += sk
            if linearise:
                _dot_add(ll, jb, 0, const, lo, cc, part_obj[ch])
                _scale_rows(jb, 0, tr, lo, cc, jb)
                if fam == GAUSSIAN_IDENTITY:
                    _rss_add(eta, y, jb, lo, cc, part_rss[ch])
                _working(fam, eta, mu, jb, y, off, lo, cc, ll, mu)
                _gram_add(xb, ll, cc, w, part_g[ch])
                _rhs_add(xb, mu, cc, part_r[ch])


def e_step(X, y, off, tr, const, wts, fam, coef, scale, prior, check_w, linearise, post_t, c):  # type: ignore[no-untyped-def]
    """The E-step pass: posteriors written into ``post_t`` (K, n), and
    ``(llf, weight sums, check, grams, rhs, objective, rss)``.

    ``prior`` is the log prior (1, K) or (n, K). The weight sums are the column sums of the
    M-step weights ``wts * posterior``. With ``check_w`` (K, n) (else (K, 0)) ``check`` is
    ``sum_i check_w[k, i] log f_k(y_i)``; with ``linearise`` the IRLS normal equations at
    ``coef`` with the M-step weights and their objective, and for Gaussian/identity the
    residual sums of squares ``sum_i w_i tau_ik t_i (y_i - mu_ik)^2`` at ``coef`` (else
    zeros)."""
    n, p = X.shape
    n_comp = coef.shape[0]
    n_chunks = _n_chunks(n, c)
    y, off, tr, const, wts, coef, scale, prior, check_w = _read_only(
        y, off, tr, const, wts, coef, scale, prior, check_w
    )
    part_llf = np.zeros(n_chunks)
    part_sum = np.zeros((n_chunks, n_comp))
    part_chk = np.zeros((n_chunks, n_comp))
    part_obj = np.zeros((n_chunks, n_comp))
    lp = p if linearise else 0
    part_g = np.zeros((n_chunks, n_comp, lp, lp))
    part_r = np.zeros((n_chunks, n_comp, lp))
    part_rss = np.zeros((n_chunks, n_comp))
    _run(_e_chunk, n_chunks, (*_flat(X), y, off, tr, const, wts, fam, coef, scale, prior, check_w,
         linearise, post_t, c, n_chunks, part_llf, part_sum, part_chk, part_obj, part_g,
         part_r, part_rss))  # fmt: skip
    return (float(_sum_chunks(part_llf)), _sum_chunks(part_sum), _sum_chunks(part_chk),
            _symmetric(part_g), _sum_chunks(part_r), _sum_chunks(part_obj),
            _sum_chunks(part_rss))  # fmt: skip


@jit()
def _irls_chunk(ch0, ch1, X, n, p, sr, sc, y, off, tr, const, fam, W_t, coef, scale, eta0, linearise, c,
                n_chunks, part_obj, part_g, part_r):  # type: ignore[no-untyped-def]  # fmt: skip
    n_comp = coef.shape[0]
    n_blocks = (n + c - 1) // c
    xb = np.empty((p, c))
    eta = np.empty((n_comp, c))
    mu = np.empty((n_comp, c))
    ll = np.empty((n_comp, c))
    wb = np.empty((n_comp, c))
    kk = np.empty((n_comp, c), dtype=np.int64)
    w = np.empty(c)
    for ch in range(ch0, ch1):
        b0, b1 = _chunk(ch, n_blocks, n_chunks)
        for b in range(b0, b1):
            lo = b * c
            cc = min(c, n - lo)
            _load(X, sr, sc, lo, cc, xb)
            if eta0.size:
                for k in range(n_comp):
                    for i in range(cc):
                        eta[k, i] = eta0[lo + i]
            else:
                _eta(xb, coef, off, lo, cc, eta)
            _density(fam, eta, y, tr, scale, lo, cc, linearise, ll, mu, kk)
            _dot_add(ll, W_t, lo, const, lo, cc, part_obj[ch])
            if linearise:
                _scale_rows(W_t, lo, tr, lo, cc, wb)
                _working(fam, eta, mu, wb, y, off, lo, cc, ll, mu)
                _gram_add(xb, ll, cc, w, part_g[ch])
                _rhs_add(xb, mu, cc, part_r[ch])


def irls_equations(X, y, off, tr, const, fam, W_t, coef, scale, eta0, linearise, c):  # type: ignore[no-untyped-def]
    """``sum_i W_t[k, i] log f_k(y_i)`` (K,) at ``coef``; with ``linearise`` also the IRLS
    Gram matrices (K, p, p) and right-hand sides (K, p) with the weights ``W_t`` (K, n).
    ``eta0`` (n,), when not empty, is the linear predictor of every component."""
    n, p = X.shape
    n_comp = coef.shape[0]
    n_chunks = _n_chunks(n, c)
    y, off, tr, const, W_t, coef, scale, eta0 = _read_only(
        y, off, tr, const, W_t, coef, scale, eta0
    )
    part_obj = np.zeros((n_chunks, n_comp))
    lp = p if linearise else 0
    part_g = np.zeros((n_chunks, n_comp, lp, lp))
    part_r = np.zeros((n_chunks, n_comp, lp))
    _run(_irls_chunk, n_chunks, (*_flat(X), y, off, tr, const, fam, W_t, coef, scale, eta0, linearise,
         c, n_chunks, part_obj, part_g, part_r))  # fmt: skip
    return _symmetric(part_g), _sum_chunks(part_r), _sum_chunks(part_obj)


@jit()
def _ls_chunk(ch0, ch1, X, n, p, sr, sc, y, off, tr, W_t, with_rhs, c, n_chunks, part_g, part_r):  # type: ignore[no-untyped-def]
    n_comp = W_t.shape[0]
    n_blocks = (n + c - 1) // c
    xb = np.empty((p, c))
    A = np.empty((n_comp, c))
    B = np.empty((n_comp, c))
    w = np.empty(c)
    for ch in range(ch0, ch1):
        b0, b1 = _chunk(ch, n_blocks, n_chunks)
        for b in range(b0, b1):
            lo = b * c
            cc = min(c, n - lo)
            _load(X, sr, sc, lo, cc, xb)
            _scale_rows(W_t, lo, tr, lo, cc, A)
            _gram_add(xb, A, cc, w, part_g[ch])
            if with_rhs:
                for k in range(n_comp):
                    for i in range(cc):
                        r = y[lo + i] - off[lo + i] if off.size else y[lo + i]
                        B[k, i] = A[k, i] * r
                _rhs_add(xb, B, cc, part_r[ch])


def least_squares(X, y, off, tr, W_t, with_rhs, c):  # type: ignore[no-untyped-def]
    """``X' A_k X`` (K, p, p) with ``A_k = W_t[k] * trials``; with ``with_rhs`` also
    ``X' A_k (y - offset)`` (K, p) (else (K, 0))."""
    n, p = X.shape
    n_comp = W_t.shape[0]
    n_chunks = _n_chunks(n, c)
    y, off, tr, W_t = _read_only(y, off, tr, W_t)
    part_g = np.zeros((n_chunks, n_comp, p, p))
    part_r = np.zeros((n_chunks, n_comp, p if with_rhs else 0))
    _run(_ls_chunk, n_chunks, (*_flat(X), y, off, tr, W_t, with_rhs, c, n_chunks, part_g, part_r))
    return _symmetric(part_g), _sum_chunks(part_r)


@jit()
def _logd_chunk(ch0, ch1, X, n, p, sr, sc, y, off, tr, const, fam, coef, scale, out_t, c, n_chunks):  # type: ignore[no-untyped-def]
    n_comp = coef.shape[0]
    n_blocks = (n + c - 1) // c
    xb = np.empty((p, c))
    eta = np.empty((n_comp, c))
    mu = np.empty((n_comp, c))
    ll = np.empty((n_comp, c))
    kk = np.empty((n_comp, c), dtype=np.int64)
    for ch in range(ch0, ch1):
        b0, b1 = _chunk(ch, n_blocks, n_chunks)
        for b in range(b0, b1):
            lo = b * c
            cc = min(c, n - lo)
            _load(X, sr, sc, lo, cc, xb)
            _eta(xb, coef, off, lo, cc, eta)
            want_mu = False
            _density(fam, eta, y, tr, scale, lo, cc, want_mu, ll, mu, kk)
            for k in range(n_comp):
                for i in range(cc):
                    out_t[k, lo + i] = ll[k, i] + const[lo + i] if const.size else ll[k, i]


def log_densities(X, y, off, tr, const, fam, coef, scale, out_t, c):  # type: ignore[no-untyped-def]
    """``log f_k(y_i)`` with the data constant, written into ``out_t`` (K, n)."""
    n_chunks = _n_chunks(X.shape[0], c)
    y, off, tr, const, coef, scale = _read_only(y, off, tr, const, coef, scale)
    _run(
        _logd_chunk, n_chunks, (*_flat(X), y, off, tr, const, fam, coef, scale, out_t, c, n_chunks)
    )


@jit()
def _rss_chunk(ch0, ch1, X, n, p, sr, sc, y, off, tr, W_t, coef, c, n_chunks, part):  # type: ignore[no-untyped-def]
    n_comp = coef.shape[0]
    n_blocks = (n + c - 1) // c
    xb = np.empty((p, c))
    eta = np.empty((n_comp, c))
    for ch in range(ch0, ch1):
        b0, b1 = _chunk(ch, n_blocks, n_chunks)
        for b in range(b0, b1):
            lo = b * c
            cc = min(c, n - lo)
            _load(X, sr, sc, lo, cc, xb)
            _eta(xb, coef, off, lo, cc, eta)
            for k in range(n_comp):
                s = 0.0
                for i in range(cc):
                    r = y[lo + i] - eta[k, i]
                    t = tr[lo + i] if tr.size else 1.0
                    s += W_t[k, lo + i] * (r * r * t)
                part[ch, k] += s


def gaussian_rss(X, y, off, tr, W_t, coef, c):  # type: ignore[no-untyped-def]
    """``sum_i W_t[k, i] t_i (y_i - x_i' coef_k - offset_i)^2`` (K,) (identity link)."""
    n_chunks = _n_chunks(X.shape[0], c)
    y, off, tr, W_t, coef = _read_only(y, off, tr, W_t, coef)
    part = np.zeros((n_chunks, coef.shape[0]))
    _run(_rss_chunk, n_chunks, (*_flat(X), y, off, tr, W_t, coef, c, n_chunks, part))
    return _sum_chunks(part)


def grams(X, W_t, c):  # type: ignore[no-untyped-def]
    """``X' diag(W_t[k]) X`` (K, p, p)."""
    empty = np.empty(0)
    return least_squares(X, empty, empty, empty, W_t, False, c)[0]
