"""Passes over the rows of the design: the hot loops of EM, blocked for the cache.

One EM iteration reads the design ``X`` (n, p) a few times. Each function here reads it
once, in blocks of rows small enough to stay in the CPU cache, and does all the work for
all K components on a block before moving on: the (block, K) temporaries (linear
predictors, means, working weights) never reach main memory and are allocated once per
pass, not once per component and step. Matrix products go through BLAS (``@``); the sums
over blocks are exact in the sense of floating point re-association only.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from emglm.families import Family

Array = NDArray[np.float64]

# Target bytes of one block of X: a few (block, K) temporaries beside it still fit in L2.
# 512 KB was 8-15% faster per EM iteration than 256 KB or 1 MB (2 MB L2 per core), and
# twice 128 KB's rows halve the Python overhead per row.
_BLOCK_BYTES = 1 << 19
_MIN_BLOCK = 512
_TINY = 1e-300


def block_rows(p: int) -> int:
    """Rows per block for a design with ``p`` columns."""
    return max(_MIN_BLOCK, _BLOCK_BYTES // (8 * max(p, 1)))


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
    """Accumulates ``X' diag(A_k) X`` for K weight rows ``A`` (K, block) block by block.

    For few columns the p(p+1)/2 products of pairs of columns are formed once per block and
    one matrix product with ``A`` gives all K packed Gram matrices: the block is scaled
    once, not once per component. For many columns each component is one BLAS product.
    """

    _PACKED_MAX_P = 16

    def __init__(self, p: int, n_comp: int, block: int) -> None:
        self.p = p
        self.packed = p <= self._PACKED_MAX_P
        if self.packed:
            self.upper = np.triu_indices(p)
            self.flat = np.zeros((n_comp, self.upper[0].size))
            self.buf = np.empty((self.upper[0].size, block))
        else:
            self.grams = np.zeros((n_comp, p, p))
            self.buf = np.empty((p, block))

    def add(self, XbT: Array, A: Array) -> None:
        """Add one block: ``XbT`` (p, c) contiguous, ``A`` (K, c)."""
        c = XbT.shape[1]
        b = self.buf[:, :c]
        if self.packed:
            row = 0
            for i in range(self.p):
                np.multiply(XbT[i], XbT[i:], out=b[row : row + self.p - i])
                row += self.p - i
            self.flat += A @ b.T
        else:
            for k in range(A.shape[0]):
                np.multiply(XbT, A[k], out=b)
                self.grams[k] += b @ XbT.T

    def result(self) -> Array:
        """The (K, p, p) Gram matrices."""
        if not self.packed:
            return self.grams
        grams = np.zeros((self.flat.shape[0], self.p, self.p))
        i, j = self.upper
        grams[:, i, j] = self.flat
        grams[:, j, i] = self.flat
        return grams


def weighted_grams(X: Array, W: Array) -> Array:
    """``X' diag(W[:, k]) X`` for every column k of ``W`` (n, K), shape (K, p, p).

    One blocked pass over ``X`` with reused buffers (see :class:`_Grams`).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> W = np.c_[np.ones(6), np.arange(6.0)]
    >>> np.allclose(weighted_grams(X, W)[1], (X.T * W[:, 1]) @ X)
    True
    """
    n, p = X.shape
    acc = _Grams(p, W.shape[1], min(block_rows(p), n))
    for sl, XbT in _blocks(X):
        acc.add(XbT, np.ascontiguousarray(W[sl].T))
    return acc.result()


def column_sums(A: Array) -> Array:
    """``A.sum(axis=0)`` of a tall (n, K) array through BLAS, in blocks of rows.

    NumPy's reduction over the long axis of a C-ordered (n, 3) array runs about ten times
    slower than a matrix-vector product with ones (measured: 210 against 25 ms at n=1e7),
    and the M-step needs these sums every iteration.
    """
    step = 1 << 16
    ones = np.ones(min(step, A.shape[0]))
    total = np.zeros(A.shape[1:])
    for start in range(0, A.shape[0], step):
        block = A[start : start + step]
        total += ones[: block.shape[0]] @ block
    return total


def _linear_predictor(XbT: Array, coef: Array, offb: Array) -> Array:
    """``coef @ Xb' + offset``, shape (K, block): component-major, so that sums and maxima
    over components are elementwise operations on contiguous rows."""
    eta = coef @ XbT
    eta += offb
    return eta


def _as_column(scale: Array | float) -> Array:
    return np.asarray(scale, dtype=float).reshape(-1, 1)


def weighted_loglik(
    X: Array,
    y: Array,
    offset: Array,
    trials: Array,
    const: Array | None,
    family: Family,
    W: Array,
    coef: Array,
    scale: Array,
) -> Array:
    """``sum_i W_ik log f(y_i | x_i' coef_k)`` for every component k, shape (K,)."""
    out = np.zeros(coef.shape[0])
    scale_col = _as_column(scale)
    for sl, XbT in _blocks(X):
        eta = _linear_predictor(XbT, coef, offset[sl])
        c = None if const is None else const[sl]
        ll = family.loglik_eta(y[sl], eta, scale_col, trials[sl], c)
        out += np.einsum("kc,ck->k", ll, W[sl])
    return out


def irls_normal_equations(
    X: Array,
    y: Array,
    offset: Array,
    trials: Array,
    const: Array | None,
    family: Family,
    W: Array,
    coef: Array,
    scale: Array,
    eta0: Array | None = None,
) -> tuple[Array, Array, Array]:
    """One IRLS linearisation of every component at ``coef`` (K, p), in one pass.

    ``eta0`` (n,), when given, is a linear predictor shared by all components that
    replaces ``X @ coef + offset`` (a cold start from the family's starting means).

    Returns the weighted Gram matrices ``X' A_k X`` (K, p, p), the right-hand sides
    ``X' A_k z_k`` (K, p) with IRLS working weights ``A_k = W_k t dmu^2 / V(mu)`` and working
    responses ``z_k``, and the weighted log-likelihoods at ``coef`` (K,).

    ``A_k z_k`` is formed as ``A_k (eta - offset) + W_k t (y - mu) dmu / V(mu)``, which is
    finite even where ``dmu`` underflows.
    """
    n, p = X.shape
    n_comp = coef.shape[0]
    acc = _Grams(p, n_comp, min(block_rows(p), n))
    rhs = np.zeros((n_comp, p))
    objective = np.zeros(n_comp)
    scale_col = _as_column(scale)
    for sl, XbT in _blocks(X):
        yb, tb, offb = y[sl], trials[sl], offset[sl]
        if eta0 is None:
            eta = _linear_predictor(XbT, coef, offb)
        else:
            eta = np.tile(eta0[sl], (n_comp, 1))
        c = None if const is None else const[sl]
        ll, mu = family.loglik_and_mean(yb, eta, scale_col, tb, c)
        objective += np.einsum("kc,ck->k", ll, W[sl])
        _linearise_block(acc, rhs, XbT, eta, mu, W[sl].T, yb, tb, offb, family)
    return acc.result(), rhs, objective


def _linearise_block(
    acc: _Grams,
    rhs: Array,
    XbT: Array,
    eta: Array,
    mu: Array,
    WbT: Array,
    yb: Array,
    tb: Array,
    offb: Array,
    family: Family,
) -> None:
    """Add one block's IRLS Gram matrices and right-hand sides (weights ``WbT`` (K, c));
    ``eta`` is overwritten."""
    Wb = WbT * tb
    pair = (family.name, family.link_name)
    # Canonical links have dmu/deta = V(mu): working weight W t V(mu), score W t (y - mu).
    if pair == ("poisson", "log"):
        work_w = Wb * mu
        score = Wb * (yb - mu)
    elif pair == ("binomial", "logit"):
        work_w = Wb * mu * (1.0 - mu)
        score = Wb * (yb - mu)
    else:
        dmu = family.mu_eta(eta)
        dmu = np.where(np.abs(dmu) < _TINY, _TINY, dmu)
        ratio = dmu / np.maximum(family.variance(mu), _TINY)
        work_w = Wb * dmu * ratio
        score = Wb * (yb - mu) * ratio
    eta -= offb
    eta *= work_w
    eta += score  # now A_k z_k
    rhs += eta @ XbT.T
    acc.add(XbT, work_w)


def least_squares_equations(
    X: Array, y: Array, offset: Array, trials: Array, W: Array
) -> tuple[Array, Array]:
    """Weighted least-squares normal equations of every component, in one pass:
    ``X' A_k X`` (K, p, p) and ``X' A_k (y - offset)`` (K, p) with ``A_k = W_k t``."""
    n, p = X.shape
    acc = _Grams(p, W.shape[1], min(block_rows(p), n))
    rhs = np.zeros((W.shape[1], p))
    for sl, XbT in _blocks(X):
        Ab = W[sl].T * trials[sl]
        acc.add(XbT, Ab)
        rhs += (Ab * (y[sl] - offset[sl])) @ XbT.T
    return acc.result(), rhs


def weighted_rss(
    X: Array, y: Array, offset: Array, trials: Array, family: Family, W: Array, coef: Array
) -> Array:
    """``sum_i W_ik t_i (y_i - mu_ik)^2`` for every component, shape (K,)."""
    out = np.zeros(coef.shape[0])
    for sl, XbT in _blocks(X):
        resid = y[sl] - family.linkinv(_linear_predictor(XbT, coef, offset[sl]))
        resid *= resid
        resid *= trials[sl]
        out += np.einsum("kc,ck->k", resid, W[sl])
    return out


def posterior_pass(
    X: Array,
    y: Array,
    offset: Array,
    trials: Array,
    const: Array | None,
    weights: Array,
    family: Family,
    coef: Array,
    scale: Array,
    log_prior: Array,
) -> tuple[float, Array]:
    """E-step in one pass: observed-data log-likelihood and posteriors (n, K).

    ``log_prior`` is (n, K), or (1, K) when the proportions do not depend on covariates.
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


def e_step_pass(
    X: Array,
    y: Array,
    offset: Array,
    trials: Array,
    const: Array | None,
    weights: Array,
    family: Family,
    coef: Array,
    scale: Array,
    log_prior: Array,
    check_weights: Array | None = None,
    linearise: bool = False,
) -> EStepPass:
    """The E-step, and what else needs the same log-densities, from one read of ``X``.

    With ``check_weights`` W (n, K) it also gives the weighted log-likelihoods
    ``sum_i W_ik log f_k(y_i)`` (:func:`weighted_loglik`): the M-step's step-halving check of
    these coefficients. With ``linearise`` it also gives the first IRLS linearisation of the
    next M-step (:func:`irls_normal_equations` at ``coef`` with the M-step weights
    ``weights * posterior``), formed on each block as soon as its posteriors are known.
    See :func:`posterior_pass` for the E-step itself.
    """
    n, p = X.shape
    n_comp = coef.shape[0]
    posterior = np.empty((n, n_comp))
    llf = 0.0
    check = np.zeros(n_comp)
    acc = _Grams(p, n_comp, min(block_rows(p), n)) if linearise else None
    rhs = np.zeros((n_comp, p))
    objective = np.zeros(n_comp)
    scale_col = _as_column(scale)
    shared_prior = log_prior.shape[0] == 1
    prior_t = log_prior.T  # (K, 1) or (K, n)
    for sl, XbT in _blocks(X):
        yb, tb, offb = y[sl], trials[sl], offset[sl]
        eta = _linear_predictor(XbT, coef, offb)
        # The data constant is the same for every component: added to the row totals only.
        c = None if const is None else 0.0
        if acc is None:
            joint = family.loglik_eta(yb, eta, scale_col, tb, c)
        else:
            joint, mu = family.loglik_and_mean(yb, eta, scale_col, tb, c)
            ll = joint.copy()
        if check_weights is not None:
            Wc = check_weights[sl]
            check += np.einsum("kc,ck->k", joint, Wc)
            if const is not None:
                check += const[sl] @ Wc
        joint += prior_t if shared_prior else prior_t[:, sl]
        top = joint.max(axis=0)
        top[~np.isfinite(top)] = 0.0
        joint -= top
        np.exp(joint, out=joint)
        total = joint.sum(axis=0)
        with np.errstate(divide="ignore"):
            norm = np.log(total)
        norm += top
        if const is not None:
            norm += const[sl]
        empty = total == 0
        if empty.any():
            joint[:, empty] = 1.0
            total[empty] = n_comp
        joint /= total
        posterior[sl] = joint.T
        wb = weights[sl]
        llf += float(np.dot(wb, norm))
        if acc is not None:
            joint *= wb  # the M-step weights of this block
            objective += np.einsum("kc,kc->k", ll, joint)
            if const is not None:
                objective += joint @ const[sl]
            _linearise_block(acc, rhs, XbT, eta, mu, joint, yb, tb, offb, family)
    lin = None if acc is None else (acc.result(), rhs, objective)
    return EStepPass(llf, posterior, None if check_weights is None else check, lin)
