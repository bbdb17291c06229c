"""Newton steps on the observed-data log-likelihood, for the end of an EM run.

EM's M-step is a step preconditioned by the complete-data information: near a point
``theta`` it moves by ``F(theta) - theta ~ I_c^{-1} g``, with ``g`` the observed-data score,
and so converges at the rate of the fraction of missing information, slowly when
components overlap. Louis (1982, *J. R. Statist. Soc. B* 44, 226-233, section 5) turns the
same step into Newton's,

    theta_new = theta + I_obs^{-1} I_c (F(theta) - theta),    I_obs = I_c - I_m,

with both informations from Louis' identity (the complete-data information ``I_c`` and the
missing information ``I_m``, the posterior covariance of the complete-data scores).
Measured on the benchmark's Poisson mixture (K=3, p=6, n=1e6), the exact informations
take a start 0.2 from the optimum to 1e-10 in four steps, where SQUAREM takes about 65
M-steps; computed on a fixed subsample of 50 000 rows (the same rows each step, so a cost
that does not grow with n) each step still gains about a factor 10, and Broyden's update
of the gain ``I_obs^{-1} I_c`` from the steps taken (the EM map's move is measured on all
the rows) makes up part of the rest.

The step is for the end of a run: far from the optimum ``I_obs`` need not be positive
definite and the step may overshoot, so the caller tries it only once the log-likelihood
changes little and keeps it only when the log-likelihood does not fall (as SQUAREM's
jumps).

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from emglm.data.arrays import MixtureData
from emglm.engine.mixture import MixtureModel, MixtureParams, e_step

Array = NDArray[np.float64]

# Rows per chunk when accumulating the informations: their (K, rows, P) scores stay a few
# MB (2000 rows were also faster than 20 000: 0.10 against 0.15 s for 50 000 rows).
_CHUNK = 2_000
# Units (rows, or groups) of the subsample the informations of a Newton step come from;
# Newton steps are made on data with at least SAMPLE_RATIO times as many.
SAMPLE_UNITS = 50_000
SAMPLE_RATIO = 4
# The informations of a subsample cost about INFO_COST compiled passes over as many rows
# (NumPy's dense scores); those of larger subsamples may take at most INFO_SHARE of the
# rows the run's passes have read.
INFO_COST = 40.0
INFO_SHARE = 0.25
# Newton steps need an observed information whose unit-diagonal scaling has every
# eigenvalue above this (relative to the largest): else some parameters are not identified.
_RCOND = 1e-8
# Each Newton step from the point of the one before should be at most this fraction of its
# length (about a tenth with a 50 000-row subsample); near the optimum (steps shorter than
# NEAR, relative to 1 + |parameter|) one that is not ends Newton steps for the run, as
# does a short step that lowers the llf.
MIN_GAIN = 0.5
NEAR = 1e-3
# The informations (with Broyden's update) are used again after a kept step shorter than
# this.
REUSE_BELOW = 1e-1


def information_pieces(
    data: MixtureData, model: MixtureModel, params: MixtureParams
) -> tuple[Array, Array]:
    """The complete-data information ``sum_i w_i E[-H_i | y_i]`` and the missing
    information ``sum_i w_i Cov[s_i | y_i]`` of the packed parameters
    (:meth:`~emglm.engine.em.MixtureModel.pack`) at ``params``, from Louis' identity
    (:mod:`emglm.inference.louis`); their difference is the observed information.

    Examples
    --------
    >>> from emglm.components.glm import GLMComponents, GLMParams
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(0)
    >>> n = 200
    >>> y = np.r_[rng.poisson(2, n // 2), rng.poisson(9, n // 2)].astype(float)
    >>> data = MixtureData(y, np.ones((n, 1)), np.zeros(n), np.ones(n), np.ones(n),
    ...                    np.ones((n, 1)))
    >>> model = MixtureModel.for_data(GLMComponents(get_family("poisson"), ["Intercept"]),
    ...                               data)
    >>> params = MixtureParams(GLMParams(np.log([[2.0], [9.0]]), np.ones(2)),
    ...                        np.array([[0.0, 0.0]]))
    >>> complete, missing = information_pieces(data, model, params)
    >>> complete.shape, bool(np.all(np.linalg.eigvalsh(complete - missing) > 0))
    ((3, 3), True)
    """
    size = model.pack(params).shape[0]
    complete, missing = np.zeros((size, size)), np.zeros((size, size))
    for chunk in data.chunks(_CHUNK):
        c, m = _pieces_of_chunk(chunk, model, params)
        complete += c
        missing += m
    return 0.5 * (complete + complete.T), 0.5 * (missing + missing.T)


def _pieces_of_chunk(
    data: MixtureData, model: MixtureModel, params: MixtureParams
) -> tuple[Array, Array]:
    """One chunk's complete-data and missing information: the component model's and the
    mixing model's complete-data scores side by side; their Hessians are block-diagonal
    (no parameter is shared)."""
    _, tau = e_step(data, model, params)
    comp_scores, comp_hess = model.components.louis_pieces(data, params.components, tau)
    if data.groups is not None:
        # A group's complete-data score under label k is the sum of its rows' scores; the
        # label, and so the expectation over it, is the group's (chunks hold whole groups).
        comp_scores = np.stack([data.unit_sum(s) for s in comp_scores])
        tau = data.unit_first(tau)
    w = data.unit_case_weights
    mix_scores, mix_hess = model.mixing.louis_pieces(data.unit_Z, params.gamma, w)
    scores = np.concatenate([comp_scores, mix_scores], axis=2)  # (K, n, P)
    pc = comp_hess.shape[0]
    size = scores.shape[2]
    complete = np.zeros((size, size))
    complete[:pc, :pc] = comp_hess
    complete[pc:, pc:] = mix_hess
    # E[s s'] - E[s] E[s]': one (P x n)(n x P) product per label.
    wtau = tau * w[:, None]
    second = np.zeros((size, size))
    for k in range(scores.shape[0]):
        second += (scores[k].T * wtau[:, k]) @ scores[k]
    mean_score = np.einsum("nk,knp->np", tau, scores)
    missing = second - (mean_score.T * w) @ mean_score
    return complete, missing


def worthwhile(n_units: int) -> bool:
    """Whether Newton steps pay on data of ``n_units`` units (rows, or groups): when there
    are at least ``SAMPLE_RATIO`` times ``SAMPLE_UNITS``.

    The informations cost about 40 times a compiled pass over the same rows (NumPy's
    dense scores), so that from a subsample of a quarter of the rows each costs about ten
    passes over all of them; below that, the M-steps Newton saves do not pay for it
    (measured: at n=1e5, with a subsample of every 20th row, half the M-steps in the
    same time)."""
    return n_units >= SAMPLE_RATIO * SAMPLE_UNITS


def subsample(data: MixtureData, units: float | None = None) -> MixtureData:
    """Every ``n // units``-th unit (row, or whole group) of ``data`` (default
    ``SAMPLE_UNITS``), or ``data`` itself when it has fewer than twice ``units``: the rows
    a Newton step's informations come from. Evenly spaced rather than random, so that a
    fit stays a function of its data."""
    units = SAMPLE_UNITS if units is None else int(units)
    n = data.n_units
    if n < 2 * units:
        return data
    return data.take_units(np.arange(0, n, n // units))


def _cholesky_if_regular(info: Array) -> Array | None:
    """The Cholesky factor of ``info`` when it is positive definite with every eigenvalue
    of its unit-diagonal scaling above ``_RCOND`` times the largest, else ``None``."""
    diag = np.diag(info)
    if not np.all(diag > 0):
        return None
    d = 1.0 / np.sqrt(diag)
    evals = np.linalg.eigvalsh(info * d[:, None] * d[None, :])
    if not evals[0] > _RCOND * evals[-1]:
        return None
    return np.asarray(np.linalg.cholesky(info), dtype=float)


class NewtonSteps:
    """The Newton steps of one run: the subsample their informations come from
    (:func:`subsample`), and the informations of the last point where they were computed,
    used again while the steps stay short.

    Near the optimum the informations change by the order of the step, far less than the
    subsample's own error (about a tenth), so recomputing them after every short step
    would cost a subsample pass for nothing.

    Examples
    --------
    The step from a point near the optimum of a Poisson mixture lands closer than EM's:

    >>> from emglm.components.glm import GLMComponents
    >>> from emglm.engine.em import m_step, run_em
    >>> from emglm.engine.state import EMOptions
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(0)
    >>> n = 2000
    >>> y = np.r_[rng.poisson(3, n // 2), rng.poisson(6, n // 2)].astype(float)
    >>> data = MixtureData(y, np.ones((n, 1)), np.zeros(n), np.ones(n), np.ones(n),
    ...                    np.ones((n, 1)))
    >>> model = MixtureModel.for_data(GLMComponents(get_family("poisson"), ["Intercept"]),
    ...                               data)
    >>> fit = run_em(data, model, np.c_[y < 5, y >= 5].astype(float),
    ...              EMOptions(tol=1e-14, accel=None, max_iter=20000))
    >>> best = model.pack(fit.params)
    >>> near = model.unpack(data, best + 0.01, fit.params)
    >>> em = m_step(data, model, e_step(data, model, near)[1], near)
    >>> point, _ = NewtonSteps(model, data).point(near, lambda: em)
    >>> err_em = np.abs(model.pack(em) - best).max()
    >>> err_newton = np.abs(model.pack(point) - best).max()
    >>> bool(err_newton < 0.1 * err_em)
    True
    """

    def __init__(
        self,
        model: MixtureModel,
        data: MixtureData,
        unpack: Callable[[Array, MixtureParams], MixtureParams] | None = None,
    ) -> None:
        """``data``: the rows the informations come from (subsampled further when they are
        many). ``unpack``: the model's unpacking of the packed parameters where ``data``
        is not the data fitted (default :meth:`MixtureModel.unpack` on ``data``)."""
        self.model = model
        self.data = data
        self._unpack = unpack or (lambda vec, like: model.unpack(data, vec, like))
        self._sample: MixtureData | None = None  # made at the first step
        self._units = float(SAMPLE_UNITS)  # the subsample's size asked for next
        self._sample_units = 0.0  # the size asked for when the subsample was taken
        self._gain: Array | None = None  # I_obs^{-1} I_c, or its Broyden update
        # The point of the last step, its length, and where it came from: the packed
        # parameters and the EM map's move there.
        self._last: tuple[MixtureParams, float, Array, Array] | None = None
        self._off = False  # Newton steps ended for the run

    def point(
        self,
        params: MixtureParams,
        propose: Callable[[], MixtureParams | None],
        rows_read: float = 0.0,
    ) -> tuple[MixtureParams, float] | None:
        """Where the Newton step from ``params`` leads, given the EM map's proposal there
        (``propose()``, called only when a step is to be made: on Dask it reads the
        partitions; ``None`` for none), and the estimated distance of that point to the
        optimum (relative to ``1 + |parameter|``, the largest over the parameters);
        ``None`` for no step.

        The step is ``G (pack(proposal) - pack(params))`` with the gain
        ``G = I_obs^{-1} I_c`` from the subsample's informations (their scale cancels).
        When ``params`` is the point the last call's step led to and that step was
        shorter than ``REUSE_BELOW``, the last gain is used again with Broyden's update
        for the secant of that step (the EM map's move measured on all the rows), unless
        the step it gives does not shrink by ``MIN_GAIN``: then the informations are
        computed again at ``params``. ``None`` when the observed information there is not
        positive definite (far from a maximum, parameters that are not identified, or a
        subsample too small for an information this poorly conditioned): then the next
        computation takes twice the rows, as far as ``rows_read`` (the rows the run's
        passes have read so far) allows: informations may cost at most ``INFO_SHARE`` of
        those passes, ``INFO_COST`` passes per row of the subsample.

        The subsample's informations can be too rough for Newton's convergence on some
        data, which shows near the optimum: a step shorter than ``NEAR`` that was not
        taken (its llf fell), or a step from the point of one shorter than ``NEAR`` that
        does not shrink by ``MIN_GAIN``, end Newton steps for the run (``None`` from then
        on; the caller goes on without them).
        """
        last, self._last = self._last, None
        follows = last is not None and last[0] is params
        if last is not None and not follows and last[1] < NEAR:
            self._off = True  # a short step was not taken
        if self._off:
            return None
        proposal = propose()
        if proposal is None:
            return None
        x0 = self.model.pack(params)
        move = self.model.pack(proposal) - x0
        step = None
        if follows and last is not None and last[1] < REUSE_BELOW and self._gain is not None:
            self._gain = _broyden(self._gain, x0 - last[2], move - last[3])
            step = self._gain @ move
            if not _length(step, x0) <= MIN_GAIN * last[1]:
                step = None
        if step is None:
            self._gain = self._fresh_gain(params, rows_read)
            if self._gain is None:
                return None
            step = self._gain @ move
        if not np.all(np.isfinite(step)):
            return None
        dist = _length(step, x0)
        remaining = dist
        if follows and last is not None:
            q = dist / last[1]
            if last[1] < NEAR and not q <= MIN_GAIN:
                self._off = True
                return None
            if q <= MIN_GAIN:
                # The steps shrink by q: the point's distance to the optimum is about the
                # rest of that series, q dist / (1 - q).
                remaining = dist * q / (1.0 - q)
        point = self._unpack(x0 + step, proposal)
        self._last = (point, dist, x0, move)
        return point, remaining

    def _fresh_gain(self, params: MixtureParams, rows_read: float) -> Array | None:
        """``I_obs^{-1} I_c`` from the subsample's informations at ``params``, or ``None``
        when the observed information is not regular (see :meth:`point`)."""
        units = max(float(SAMPLE_UNITS), min(self._units, INFO_SHARE * rows_read / INFO_COST))
        if self._sample is None or self._sample_units != units:
            self._sample, self._sample_units = subsample(self.data, units), units
        complete, missing = information_pieces(self._sample, self.model, params)
        chol = _cholesky_if_regular(complete - missing)
        if chol is None:
            if self._sample is not self.data:
                self._units = 2.0 * units
            return None
        return np.asarray(np.linalg.solve(chol.T, np.linalg.solve(chol, complete)), dtype=float)


def _length(step: Array, x: Array) -> float:
    """The largest ``|step| / (1 + |x|)``."""
    return float(np.max(np.abs(step) / (1.0 + np.abs(x))))


def _broyden(gain: Array, s: Array, y: Array) -> Array:
    """Broyden's ("good") update of ``gain``, minus the inverse Jacobian of the EM map's
    move ``r(x) = F(x) - x``, for a step ``s`` that changed the move by ``y``: the
    updated gain maps ``y`` to ``-s`` (``I_obs^{-1} I_c`` is exactly that Jacobian at the
    optimum). Left as it is when the secant is degenerate."""
    gy = gain @ y
    den = float(s @ gy)
    if not abs(den) > 1e-12 * float(np.linalg.norm(s) * np.linalg.norm(gy)):
        return gain
    return gain - np.outer(s + gy, s @ gain) / den
