"""Passes over the rows of the design: the hot loops of EM.

One EM iteration reads the design ``X`` (n, p) a few times. Each function here reads it
once and does all the work for all K components on a block of rows while it is in the CPU
cache. For Poisson/log, binomial/logit and Gaussian/identity components (the families'
:attr:`~emglm.families.Family.fast_path`) the passes are compiled
(:mod:`emglm.components.compiled`): they run on every core without the GIL and give the
same result whatever the number of threads. Other families (any statsmodels family and
link) take the NumPy path below: blocks of about 512 KB of ``X`` with reused (K, block)
temporaries, matrix products through BLAS.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.components import compiled
from emglm.data.arrays import column_sums, record_column_sums
from emglm.families import Family

__all__ = [
    "column_sums",
    "e_step_pass",
    "irls_normal_equations",
    "log_densities",
    "weighted_grams",
]

Array = NDArray[np.float64]

# Target bytes of one block of X: a few (block, K) temporaries beside it still fit in L2.
# 512 KB was 8-15% faster per EM iteration than 256 KB or 1 MB (2 MB L2 per core), and
# twice 128 KB's rows halve the Python overhead per row.
_BLOCK_BYTES = 1 << 19
_MIN_BLOCK = 512


def block_rows(p: int) -> int:
    """Rows per block for a design with ``p`` columns."""
    return max(_MIN_BLOCK, _BLOCK_BYTES // (8 * max(p, 1)))


# --- the compiled path ----------------------------------------------------------------------
_EMPTY = np.empty(0)


def _code(family: Family) -> int | None:
    """The compiled kernel of ``family``, or ``None`` for the NumPy path."""
    name = family.fast_path
    return None if name is None else compiled.FAMILY_CODES.get(name)


def _rows(p: int) -> int:
    """Rows per compiled block (fewer when :data:`_BLOCK_BYTES` is lowered, as in tests)."""
    return min(compiled.block_rows(p), block_rows(p))


def _design(X: Array) -> Array:
    """``X`` as the compiled passes take it: float64, C- or Fortran-contiguous."""
    if X.dtype == np.float64 and (X.flags.f_contiguous or X.flags.c_contiguous):
        return X
    return np.asfortranarray(X, dtype=np.float64)


def _vec(a: Array | None) -> Array:
    """An optional row vector: ``None`` is the empty array."""
    return _EMPTY if a is None else np.ascontiguousarray(a, dtype=np.float64)


def _by_component(W: Array) -> Array:
    """(n, K) weights as a C-contiguous (K, n) array (a view of Fortran-ordered ``W``)."""
    Wt = W.T
    if Wt.flags.c_contiguous and Wt.dtype == np.float64:
        return Wt
    return np.ascontiguousarray(Wt, dtype=np.float64)


def _per_component(values: Array | float, n_comp: int) -> Array:
    return np.ascontiguousarray(
        np.broadcast_to(np.asarray(values, dtype=np.float64).reshape(-1), (n_comp,))
    )


def _constant(family: Family, y: Array, trials: Array | None, const: Array | None) -> Array:
    """The data constant the compiled log-densities add (computed when not given)."""
    if const is None:
        const = family.loglik_constant(y, np.ones_like(y) if trials is None else trials)
    return _vec(const)


# Posterior buffers of each design, reused once nothing outside refers to them: a fresh
# (n, K) array costs its page faults at every E-step (30-80 ms at n=1e7, K=3).
_POOL: dict[int, list[Array]] = {}
_POOL_SIZE = 4


def _posterior_buffer(X: Array, n: int, n_comp: int) -> Array:
    """A writeable Fortran-ordered (n, K) array for the posteriors of a pass over ``X``."""
    key = id(X)
    bufs = _POOL.get(key)
    if bufs is None:
        bufs = _POOL[key] = []
        weakref.finalize(X, _POOL.pop, key, None)
    for buf in bufs:
        # Referred to by the list, the loop variable and getrefcount's argument only.
        if buf.shape == (n, n_comp) and sys.getrefcount(buf) <= 3:
            buf.flags.writeable = True
            return buf
    out = np.empty((n, n_comp), order="F")
    if len(bufs) < _POOL_SIZE:
        bufs.append(out)
    return out


def row_blocks(n: int, p: int) -> Iterator[slice]:
    """Consecutive row slices covering ``range(n)``."""
    step = block_rows(p)
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


def _blocks(X: Array) -> Iterator[tuple[slice, Array]]:
    """Row slices of ``X`` with each block as a (p, block) array whose rows are contiguous,
    so that scaling its columns by per-row weights runs along contiguous memory. A
    Fortran-ordered ``X`` (as pandas hands out) is used in place; a C-ordered one is copied
    one block at a time."""
    n, p = X.shape
    fortran = X.flags.f_contiguous
    for sl in row_blocks(n, p):
        yield sl, X[sl].T if fortran else np.ascontiguousarray(X[sl].T)


class _Grams:
    """Accumulates ``X' diag(A_k) X`` for K weight rows ``A`` (K, block) block by block, and
    optionally right-hand sides ``X' b_k`` for K rows ``b``.

    For few columns the p(p+1)/2 products of pairs of columns are formed once per block and
    one matrix product with ``A`` gives all K packed Gram matrices: the block is scaled
    once, not once per component. A column of ones (the intercept, ``ones_col``) needs no
    products: its pairs are the columns themselves, so its Gram entries ``X' A_k`` come
    from the same matrix product as the right-hand sides (:meth:`add_stacked`). For many
    columns each component is one BLAS product.

    ``lhs`` is a (2K, block) buffer for callers of :meth:`add_stacked`: the weights in its
    first K rows, the right-hand side rows in the last K.
    """

    _PACKED_MAX_P = 16

    def __init__(self, p: int, n_comp: int, block: int, ones_col: int | None = None) -> None:
        self.p = p
        self.k = n_comp
        self.packed = p <= self._PACKED_MAX_P
        self.ones_col = ones_col if self.packed else None
        self.lhs = np.empty((2 * n_comp, block))
        self.rhs = np.zeros((n_comp, p))
        self.lin = np.zeros((n_comp, p))  # X' A_k, the Gram row of the column of ones
        if self.packed:
            # For each column i (not the column of ones): the runs of columns j >= i
            # (skipping the column of ones) whose products with column i are rows of buf.
            self.runs: list[tuple[int, list[tuple[int, int]]]] = []
            rows_i: list[int] = []
            rows_j: list[int] = []
            for i in range(p):
                if i == self.ones_col:
                    continue
                cut = self.ones_col if self.ones_col is not None and self.ones_col > i else p
                runs = [(i, cut)] + ([(cut + 1, p)] if cut + 1 < p else [])
                runs = [(a, b) for a, b in runs if b > a]
                self.runs.append((i, runs))
                for a, b in runs:
                    rows_i += [i] * (b - a)
                    rows_j += list(range(a, b))
            self.pairs = (np.array(rows_i, dtype=int), np.array(rows_j, dtype=int))
            self.flat = np.zeros((n_comp, len(rows_i)))
            self.buf = np.empty((len(rows_i), block))
        else:
            self.grams = np.zeros((n_comp, p, p))
            self.buf = np.empty((p, block))

    def add(self, XbT: Array, A: Array) -> None:
        """Add one block's Gram matrices: ``XbT`` (p, c) contiguous, ``A`` (K, c)."""
        self._add_products(XbT, A)
        if self.ones_col is not None:
            self.lin += A @ XbT.T

    def add_stacked(self, XbT: Array, c: int) -> None:
        """Add one block's Gram matrices and right-hand sides from ``lhs[:, :c]``: weights
        ``A`` in its first K rows, right-hand side rows ``b`` in the last K."""
        A = self.lhs[: self.k, :c]
        if self.ones_col is None:
            self.rhs += self.lhs[self.k :, :c] @ XbT.T
        else:
            both = self.lhs[:, :c] @ XbT.T  # one product for X' A_k and X' b_k
            self.lin += both[: self.k]
            self.rhs += both[self.k :]
        self._add_products(XbT, A)

    def _add_products(self, XbT: Array, A: Array) -> None:
        c = XbT.shape[1]
        b = self.buf[:, :c]
        if self.packed:
            row = 0
            for i, runs in self.runs:
                for lo, hi in runs:
                    np.multiply(XbT[i], XbT[lo:hi], out=b[row : row + hi - lo])
                    row += hi - lo
            self.flat += A @ b.T
        else:
            for k in range(A.shape[0]):
                np.multiply(XbT, A[k], out=b)
                self.grams[k] += b @ XbT.T

    def result(self) -> Array:
        """The (K, p, p) Gram matrices."""
        if not self.packed:
            return self.grams
        grams = np.zeros((self.k, self.p, self.p))
        i, j = self.pairs
        grams[:, i, j] = self.flat
        grams[:, j, i] = self.flat
        if self.ones_col is not None:
            grams[:, self.ones_col, :] = self.lin
            grams[:, :, self.ones_col] = self.lin
        return grams


def ones_column(X: Array) -> int | None:
    """Index of the first column of ``X`` that is all ones (an intercept), or ``None``.

    Examples
    --------
    >>> import numpy as np
    >>> ones_column(np.c_[np.arange(3.0), np.ones(3)])
    1
    >>> ones_column(np.eye(3)) is None
    True
    """
    for j in range(X.shape[1]):
        if X[0, j] == 1.0 and bool(np.all(X[:, j] == 1.0)):
            return j
    return None


def weighted_grams(X: Array, W: Array, ones_col: int | None = None) -> Array:
    """``X' diag(W[:, k]) X`` for every column k of ``W`` (n, K), shape (K, p, p).

    One blocked pass over ``X`` with reused buffers (see :class:`_Grams`); ``ones_col`` is
    the index of a column of ones in ``X`` (:func:`ones_column`), if any.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> W = np.c_[np.ones(6), np.arange(6.0)]
    >>> np.allclose(weighted_grams(X, W)[1], (X.T * W[:, 1]) @ X)
    True
    """
    X = _design(X)
    return np.asarray(compiled.grams(X, _by_component(W), _rows(X.shape[1])))


def _linear_predictor(XbT: Array, coef: Array, offb: Array | None) -> Array:
    """``coef @ Xb' + offset``, shape (K, block): component-major, so that sums and maxima
    over components are elementwise operations on contiguous rows."""
    eta = coef @ XbT
    if offb is not None:
        eta += offb
    return eta


def _offset_rows(offset: Array | None, sl: slice) -> Array | None:
    """One block of the offsets; ``None`` (no offset) stays ``None``."""
    return None if offset is None else offset[sl]


def _trial_rows(trials: Array | None, sl: slice) -> Array | float:
    """One block of the trials; ``None`` (one per row) is the scalar 1.0."""
    return 1.0 if trials is None else trials[sl]


def _as_column(scale: Array | float) -> Array:
    return np.asarray(scale, dtype=float).reshape(-1, 1)


def weighted_loglik(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    family: Family,
    W: Array,
    coef: Array,
    scale: Array,
) -> Array:
    """``sum_i W_ik log f(y_i | x_i' coef_k)`` for every component k, shape (K,).

    ``offset=None`` means no offset and ``trials=None`` one trial per row, in this function
    and the other passes here.
    """
    code = _code(family)
    if code is not None:
        X = _design(X)
        n_comp = coef.shape[0]
        _, _, obj = compiled.irls_equations(
            X, _vec(y), _vec(offset), _vec(trials), _constant(family, y, trials, const),
            code, _by_component(W), np.ascontiguousarray(coef, dtype=np.float64),
            _per_component(scale, n_comp), _EMPTY, False, _rows(X.shape[1]),
        )  # fmt: skip
        return np.asarray(obj)
    out = np.zeros(coef.shape[0])
    scale_col = _as_column(scale)
    for sl, XbT in _blocks(X):
        eta = _linear_predictor(XbT, coef, _offset_rows(offset, sl))
        c = None if const is None else const[sl]
        ll = family.loglik_eta(y[sl], eta, scale_col, _trial_rows(trials, sl), c)
        out += np.einsum("kc,kc->k", ll, W[sl].T)
    return out


def log_densities(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    family: Family,
    coef: Array,
    scale: Array,
) -> Array:
    """``log f(y_i | x_i' coef_k)`` of every row and component, with normalising constants,
    shape (n, K), Fortran-ordered (each block is written along contiguous columns)."""
    n = X.shape[0]
    out = np.empty((n, coef.shape[0]), order="F")
    out_t = out.T
    code = _code(family)
    if code is not None:
        X = _design(X)
        compiled.log_densities(
            X, _vec(y), _vec(offset), _vec(trials), _constant(family, y, trials, const),
            code, np.ascontiguousarray(coef, dtype=np.float64),
            _per_component(scale, coef.shape[0]), out_t, _rows(X.shape[1]),
        )  # fmt: skip
        return out
    scale_col = _as_column(scale)
    for sl, XbT in _blocks(X):
        eta = _linear_predictor(XbT, coef, _offset_rows(offset, sl))
        c = None if const is None else const[sl]
        out_t[:, sl] = family.loglik_eta(y[sl], eta, scale_col, _trial_rows(trials, sl), c)
    return out


def irls_normal_equations(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    family: Family,
    W: Array,
    coef: Array,
    scale: Array,
    eta0: Array | None = None,
    ones_col: int | None = None,
) -> tuple[Array, Array, Array]:
    """One IRLS linearisation of every component at ``coef`` (K, p), in one pass.

    ``eta0`` (n,), when given, is a linear predictor shared by all components that
    replaces ``X @ coef + offset`` (a cold start from the family's starting means).
    ``ones_col`` is the index of a column of ones in ``X`` (:func:`ones_column`), if any.

    Returns the weighted Gram matrices ``X' A_k X`` (K, p, p), the right-hand sides
    ``X' A_k z_k`` (K, p) with IRLS working weights ``A_k = W_k t dmu^2 / V(mu)`` and working
    responses ``z_k``, and the weighted log-likelihoods at ``coef`` (K,).

    ``A_k z_k`` is formed as ``A_k (eta - offset) + W_k t (y - mu) dmu / V(mu)``, which is
    finite even where ``dmu`` underflows.
    """
    n, p = X.shape
    n_comp = coef.shape[0]
    code = _code(family)
    if code is not None:
        X = _design(X)
        grams, rhs, obj = compiled.irls_equations(
            X, _vec(y), _vec(offset), _vec(trials), _constant(family, y, trials, const),
            code, _by_component(W), np.ascontiguousarray(coef, dtype=np.float64),
            _per_component(scale, n_comp), _vec(eta0), True, _rows(p),
        )  # fmt: skip
        return np.asarray(grams), np.asarray(rhs), np.asarray(obj)
    acc = _Grams(p, n_comp, min(block_rows(p), n), ones_col)
    objective = np.zeros(n_comp)
    scale_col = _as_column(scale)
    for sl, XbT in _blocks(X):
        yb, tb, offb = y[sl], _trial_rows(trials, sl), _offset_rows(offset, sl)
        if eta0 is None:
            eta = _linear_predictor(XbT, coef, offb)
        else:
            eta = np.tile(eta0[sl], (n_comp, 1))
        c = None if const is None else const[sl]
        ll, mu = family.loglik_and_mean(yb, eta, scale_col, tb, c)
        WbT = W[sl].T
        objective += np.einsum("kc,kc->k", ll, WbT)
        _linearise_block(acc, XbT, eta, mu, WbT, yb, tb, offb, family, scale_col)
    return acc.result(), acc.rhs, objective


def _linearise_block(
    acc: _Grams,
    XbT: Array,
    eta: Array,
    mu: Array,
    WbT: Array,
    yb: Array,
    tb: Array | float,
    offb: Array | None,
    family: Family,
    scale_col: Array,
) -> None:
    """Add one block's IRLS Gram matrices and right-hand sides (weights ``WbT`` (K, c),
    dispersions ``scale_col`` (K, 1)); ``eta`` is overwritten. The working weights and ``A_k z_k`` are written straight into
    the accumulator's stacked buffer, so that one matrix product gives the right-hand
    sides (and, with a column of ones, that column's Gram entries)."""
    n_comp, c = eta.shape
    work_w = acc.lhs[:n_comp, :c]
    az = acc.lhs[n_comp:, :c]
    Wb = WbT if isinstance(tb, float) and tb == 1.0 else WbT * tb
    # Working weight W t a and score W t (y - mu) r with the family's IRLS factors (a, r),
    # written in place (canonical links: a = V(mu), r = 1).
    np.subtract(yb, mu, out=az)
    az *= Wb  # W t (y - mu)
    family.irls_weights(eta, mu, scale_col, Wb, work_w, az)
    if offb is not None:
        eta -= offb
    eta *= work_w
    az += eta  # now A_k z_k
    acc.add_stacked(XbT, c)


def least_squares_equations(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    W: Array,
    ones_col: int | None = None,
) -> tuple[Array, Array]:
    """Weighted least-squares normal equations of every component, in one pass:
    ``X' A_k X`` (K, p, p) and ``X' A_k (y - offset)`` (K, p) with ``A_k = W_k t``."""
    X = _design(X)
    grams, rhs = compiled.least_squares(
        X, _vec(y), _vec(offset), _vec(trials), _by_component(W), True, _rows(X.shape[1])
    )
    return np.asarray(grams), np.asarray(rhs)


def weighted_rss(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    family: Family,
    W: Array,
    coef: Array,
) -> Array:
    """``sum_i W_ik t_i (y_i - mu_ik)^2`` for every component, shape (K,)."""
    if family.fast_path == "gaussian_identity":
        X = _design(X)
        return np.asarray(
            compiled.gaussian_rss(
                X, _vec(y), _vec(offset), _vec(trials), _by_component(W),
                np.ascontiguousarray(coef, dtype=np.float64), _rows(X.shape[1]),
            )
        )  # fmt: skip
    out = np.zeros(coef.shape[0])
    for sl, XbT in _blocks(X):
        resid = y[sl] - family.linkinv(_linear_predictor(XbT, coef, _offset_rows(offset, sl)))
        resid *= resid
        if trials is not None:
            resid *= trials[sl]
        out += np.einsum("kc,kc->k", resid, W[sl].T)
    return out


def posterior_pass(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    weights: Array | None,
    family: Family,
    coef: Array,
    scale: Array,
    log_prior: Array,
) -> tuple[float, Array]:
    """E-step in one pass: observed-data log-likelihood and posteriors (n, K).

    ``weights`` are the case weights (n,), ``None`` when all are 1. ``log_prior`` is
    (n, K), or (1, K) when the proportions do not depend on covariates.
    The log-sum-exp over components is done in place on each block; a row whose joint
    densities are all ``-inf`` gets ``-inf`` log-likelihood and uniform posteriors rather
    than NaN.
    """
    out = e_step_pass(X, y, offset, trials, const, weights, family, coef, scale, log_prior)
    return out.llf, out.posterior


@dataclass(frozen=True)
class EStepPass:
    """What :func:`e_step_pass` computed.

    Attributes
    ----------
    llf : observed-data log-likelihood.
    posterior : (n, K) posterior probabilities.
    check : (K,) ``sum_i W_ik log f_k(y_i)`` for the ``check_weights`` W, or ``None``.
    linearisation : the IRLS normal equations of every component at ``coef`` with the
        M-step weights ``weights * posterior`` (as :func:`irls_normal_equations`), or
        ``None``.
    """

    llf: float
    posterior: Array
    check: Array | None
    linearisation: tuple[Array, Array, Array] | None
    #: (K,) column sums of the M-step weights ``weights * posterior``, when the pass formed
    #: them.
    weight_sums: Array | None = None
    #: (K,) with ``linearisation`` of a least-squares family (Gaussian, identity link), the
    #: residual sums of squares ``sum_i w_i tau_ik t_i (y_i - mu_ik)^2`` at ``coef``.
    rss: Array | None = None


def e_step_pass(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    weights: Array | None,
    family: Family,
    coef: Array,
    scale: Array,
    log_prior: Array,
    check_weights: Array | None = None,
    linearise: bool = False,
    ones_col: int | None = None,
) -> EStepPass:
    """The E-step, and what else needs the same log-densities, from one read of ``X``.

    With ``check_weights`` W (n, K) it also gives the weighted log-likelihoods
    ``sum_i W_ik log f_k(y_i)`` (:func:`weighted_loglik`): the M-step's step-halving check of
    these coefficients. With ``linearise`` it also gives the first IRLS linearisation of the
    next M-step (:func:`irls_normal_equations` at ``coef`` with the M-step weights
    ``weights * posterior``), formed on each block as soon as its posteriors are known.
    See :func:`posterior_pass` for the E-step itself. The posteriors are Fortran-ordered
    and, from the compiled pass, read-only (their column sums are recorded for
    :func:`column_sums`; the buffer is reused once nothing refers to it).
    """
    code = _code(family)
    if code is not None:
        return _compiled_e_step(
            X, y, offset, trials, const, weights, family, code, coef, scale, log_prior,
            check_weights, linearise,
        )  # fmt: skip
    return _numpy_e_step(
        X, y, offset, trials, const, weights, family, coef, scale, log_prior, check_weights,
        linearise, ones_col,
    )  # fmt: skip


@np.errstate(divide="ignore")  # log(0) = -inf of an impossible row, once for the pass
def _numpy_e_step(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    weights: Array | None,
    family: Family,
    coef: Array,
    scale: Array,
    log_prior: Array,
    check_weights: Array | None,
    linearise: bool,
    ones_col: int | None,
) -> EStepPass:
    """:func:`e_step_pass` for families without a compiled kernel."""
    n, p = X.shape
    n_comp = coef.shape[0]
    # Fortran order: each block's (K, c) posteriors are written along contiguous columns
    # (a transposed write into a C-ordered (n, K) array cost 11% of an iteration).
    posterior = np.empty((n, n_comp), order="F")
    post_t = posterior.T  # (K, n), C-contiguous
    llf = 0.0
    check = np.zeros(n_comp)
    acc = _Grams(p, n_comp, min(block_rows(p), n), ones_col) if linearise else None
    objective = np.zeros(n_comp)
    scale_col = _as_column(scale)
    shared_prior = log_prior.shape[0] == 1
    prior_t = log_prior.T  # (K, 1) or (K, n)
    joint = np.empty((n_comp, min(block_rows(p), n)))
    for sl, XbT in _blocks(X):
        yb, tb, offb = y[sl], _trial_rows(trials, sl), _offset_rows(offset, sl)
        eta = _linear_predictor(XbT, coef, offb)
        # The data constant is the same for every component: added to the row totals only.
        c = None if const is None else 0.0
        if acc is None:
            ll = family.loglik_eta(yb, eta, scale_col, tb, c)
        else:
            ll, mu = family.loglik_and_mean(yb, eta, scale_col, tb, c)
        if check_weights is not None:
            WcT = check_weights[sl].T
            check += np.einsum("kc,kc->k", ll, WcT)
            if const is not None:
                check += WcT @ const[sl]
        jb = joint[:, : ll.shape[1]]
        np.add(ll, prior_t if shared_prior else prior_t[:, sl], out=jb)
        top = jb.max(axis=0)
        # A row whose joint densities are all -inf: 0 instead of -inf - -inf = NaN.
        finite = np.isfinite(top)
        all_finite = bool(finite.all())
        if not all_finite:
            top[~finite] = 0.0
        jb -= top
        np.exp(jb, out=jb)
        total = jb.sum(axis=0)
        norm = np.log(total)  # -inf where total is 0 (log of 0 warnings are off)
        norm += top
        if const is not None:
            norm += const[sl]
        if not all_finite:
            empty = total == 0
            jb[:, empty] = 1.0
            total[empty] = n_comp
        post_b = post_t[:, sl]
        np.divide(jb, total, out=post_b)
        wb = None if weights is None else weights[sl]
        llf += float(norm.sum()) if wb is None else float(np.dot(wb, norm))
        if acc is not None:
            # The M-step weights of this block.
            mw = post_b if wb is None else np.multiply(post_b, wb, out=jb)
            objective += np.einsum("kc,kc->k", ll, mw)
            if const is not None:
                objective += mw @ const[sl]
            _linearise_block(acc, XbT, eta, mu, mw, yb, tb, offb, family, scale_col)
    lin = None if acc is None else (acc.result(), acc.rhs, objective)
    return EStepPass(llf, posterior, None if check_weights is None else check, lin)


def _compiled_e_step(
    X: Array,
    y: Array,
    offset: Array | None,
    trials: Array | None,
    const: Array | None,
    weights: Array | None,
    family: Family,
    code: int,
    coef: Array,
    scale: Array,
    log_prior: Array,
    check_weights: Array | None,
    linearise: bool,
) -> EStepPass:
    """:func:`e_step_pass` by the compiled pass (:func:`compiled.e_step`)."""
    n, p = X.shape
    n_comp = coef.shape[0]
    X = _design(X)
    posterior = _posterior_buffer(X, n, n_comp)
    check_t = np.empty((n_comp, 0)) if check_weights is None else _by_component(check_weights)
    llf, sums, check, grams, rhs, objective, rss = compiled.e_step(
        X, _vec(y), _vec(offset), _vec(trials), _constant(family, y, trials, const),
        _vec(weights), code, np.ascontiguousarray(coef, dtype=np.float64),
        _per_component(scale, n_comp), np.ascontiguousarray(log_prior, dtype=np.float64),
        check_t, linearise, posterior.T, _rows(p),
    )  # fmt: skip
    posterior.flags.writeable = False
    sums = np.asarray(sums)
    if weights is None:
        record_column_sums(posterior, sums)
    lin = (np.asarray(grams), np.asarray(rhs), np.asarray(objective)) if linearise else None
    least_squares = linearise and code == compiled.GAUSSIAN_IDENTITY
    return EStepPass(
        float(llf), posterior, None if check_weights is None else np.asarray(check), lin, sums,
        np.asarray(rss) if least_squares else None,
    )  # fmt: skip
