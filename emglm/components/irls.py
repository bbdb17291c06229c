"""Weighted IRLS for the component GLMs of one M-step.

Each component k is a GLM fitted with case weights ``w * tau[:, k]``. The fit is warm-started
from the previous coefficients and every accepted step is checked, with step-halving, so that
the component's weighted log-likelihood never decreases: that keeps EM monotone even when
only a few IRLS steps are taken per M-step (a generalised EM step). Gaussian components with
the identity link are solved in closed form by weighted least squares.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import NDArray
from scipy.linalg import lapack

from emglm.components import kernels
from emglm.components.base import NextEStep
from emglm.families import Family

Array = NDArray[np.float64]

_MAX_HALVINGS = 30
# Relative size of objective changes that are rounding noise in a sum over many rows.
_ROUNDING = 1e-12
# IRLS steps of a cold start: enough to converge.
_COLD_ITER = 50
# Relative gain of an IRLS step beyond which a warm start is still far from its optimum.
# Stalled warm-up runs from poor random starts (sim3) gain far more than 1e-2 per step;
# smaller thresholds (1e-6, then 1e-4) made early and near-optimum M-steps take second
# steps (two more passes over X each) without saving an EM iteration (docs/performance.md).
_FAR_GAIN = 1e-2


@dataclass(frozen=True)
class ComponentData:
    """The solver inputs shared by every component: never modified.

    ``cache`` holds values derived from the data once per fit (the log-density's
    normalising constants), keyed by the family object.
    """

    y: Array
    X: Array
    offset: Array
    trials: Array
    cache: dict[Family, Array | None] = field(default_factory=dict, compare=False, repr=False)

    def loglik_constant(self, family: Family) -> Array | None:
        """:meth:`Family.loglik_constant` of these data, computed once."""
        if family not in self.cache:
            self.cache[family] = family.loglik_constant(self.y, self.trials)
        return self.cache[family]

    # What the passes over X (emglm.kernels) take, found once per data set: no offset and
    # one trial per row are the common case, and skipping them saves (K, block) operations.
    @cached_property
    def pass_offset(self) -> Array | None:
        """The offsets, or ``None`` when all are 0."""
        return None if not self.offset.any() else self.offset

    @cached_property
    def pass_trials(self) -> Array | None:
        """The trials, or ``None`` when every row has one."""
        return None if bool(np.all(self.trials == 1.0)) else self.trials

    @cached_property
    def ones_col(self) -> int | None:
        """Index of the intercept (a column of ones) in ``X``, if any."""
        return kernels.ones_column(self.X)


def weighted_gram(X: Array, wts: Array) -> Array:
    """``X' diag(wts) X`` through BLAS, in cache-sized blocks of rows (no n x p copy)."""
    return kernels.weighted_grams(X, wts[:, None])[0]


def solve_normal(gram: Array, rhs: Array) -> Array:
    """Solve ``gram @ b = rhs``; least squares where ``gram`` is singular.

    LAPACK's Cholesky (``potrf``/``potrs``, what ``scipy.linalg.cho_factor`` and
    ``cho_solve`` call) without their argument checks, which cost six times the solve of a
    small system (a few per M-step)."""
    factor, info = lapack.dpotrf(gram, lower=False, clean=False)
    if info == 0:
        out, info = lapack.dpotrs(factor, rhs, lower=False)
        if info == 0:
            return np.asarray(out)
    return np.asarray(np.linalg.lstsq(gram, rhs, rcond=None)[0])


def solve_normals(grams: Array, rhs: Array) -> Array:
    """:func:`solve_normal` for every component: ``grams`` (K, p, p), ``rhs`` (K, p)."""
    return np.array([solve_normal(g, r) for g, r in zip(grams, rhs, strict=True)])


def fit_glm(data: ComponentData, family: Family, w: Array) -> Array:
    """One weighted GLM fitted to convergence by IRLS from the family's starting means (the
    cold M-step of a single component), with dispersion 1 in the step-halving check.

    Parameters
    ----------
    data : ComponentData
        Response, design, offset and binomial trials.
    family : Family
        The family and link.
    w : ndarray, shape (n,)
        Case weights.

    Returns
    -------
    ndarray, shape (p,)
        The coefficients.

    Examples
    --------
    >>> import numpy as np
    >>> from emglm.families import get_family
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([np.ones(200), rng.normal(size=200)])
    >>> y = rng.poisson(np.exp(0.5 + 0.3 * X[:, 1])).astype(float)
    >>> data = ComponentData(y, X, np.zeros(200), np.ones(200))
    >>> fit_glm(data, get_family("poisson"), np.ones(200)).round(2)
    array([0.56, 0.28])
    """
    coef, _ = _cold_m_step(data, family, w[:, None], np.ones(1))
    return np.asarray(coef[0])


def m_step_components(
    data: ComponentData,
    family: Family,
    weights: Array,
    coef: Array | None,
    scale: Array,
    max_iter: int,
) -> tuple[Array, Array]:
    """Fit every component's GLM and dispersion for one M-step.

    A warm start takes at most ``max_iter`` IRLS steps for all components together: each
    step is one pass over ``X`` for the K linearisations and one for the step-halving check
    (see :mod:`emglm.kernels`). A cold start (``coef=None``) fits each component to
    convergence (:func:`fit_glm` for one component).

    Parameters
    ----------
    weights : ndarray, shape (n, K)
        Case weights times posteriors, one column per component.
    coef : ndarray, shape (K, p), or None
        Previous coefficients (warm start), or ``None`` for a cold start.
    scale : ndarray, shape (K,)
        Previous dispersions.

    Returns
    -------
    coef : ndarray, shape (K, p)
    scale : ndarray, shape (K,)
    """
    if coef is None:
        return _cold_m_step(data, family, weights, scale)
    scale = np.array(scale, dtype=float, copy=True)
    active = kernels.column_sums(weights) > 0  # an empty component keeps its coefficients
    new_coef = np.array(coef, dtype=float, copy=True)
    if active.any():
        W = weights if active.all() else weights[:, active]
        new_coef[active], _ = _warm_coef(data, family, W, new_coef[active], scale[active], max_iter)
    if family.has_scale:
        scale = _update_scale(data, family, weights, new_coef, scale, active)
    return new_coef, scale


# Below this share of the residual sum of squares at the pass's coefficients, the one at the
# new coefficients is computed from the rows instead (the update would lose digits).
_RSS_UPDATE_MIN = 1e-3


def least_squares_from_pass(
    lin: tuple[Array, Array, Array], rss: Array, coef: Array, weight_sums: Array
) -> tuple[Array, Array] | None:
    """The least-squares M-step (Gaussian, identity link) from what a linearising E-step
    pass formed at ``coef``: no pass of its own.

    ``lin`` holds the normal equations ``X' A_k X`` and ``X' A_k (y - offset)`` with the
    M-step weights, ``rss`` the residual sums of squares at ``coef`` with them. The new
    coefficients solve the equations; the residual sums move to them exactly,
    ``RSS(b) = RSS(c) - 2 d' (X' A (y - offset - X c)) + d' X' A X d`` with ``d = b - c``
    (a small correction near the optimum, where it matters). Returns the coefficients and
    the ML variances ``RSS / sum_i w_i tau_ik``, or ``None`` when a component has no weight
    or the correction would cancel most of ``RSS(c)`` (then the rows are read again).

    Examples
    --------
    >>> X = np.c_[np.ones(4), [0.0, 1.0, 2.0, 3.0]]
    >>> y = np.array([1.0, 2.0, 2.0, 4.0])
    >>> c = np.zeros((1, 2))
    >>> lin = ((X.T @ X)[None], (X.T @ y)[None], np.zeros(1))
    >>> b, var = least_squares_from_pass(lin, np.array([y @ y]), c, np.array([4.0]))
    >>> b.round(3).tolist(), float(var[0].round(4))
    ([[0.9, 0.9]], 0.175)
    """
    grams, rhs, _ = lin
    if not np.all(weight_sums > 0):
        return None
    new = solve_normals(grams, rhs)
    d = new - coef
    grad = rhs - np.einsum("kij,kj->ki", grams, coef)
    new_rss = rss - 2.0 * np.einsum("ki,ki->k", d, grad) + np.einsum("ki,kij,kj->k", d, grams, d)
    if not np.all(new_rss > _RSS_UPDATE_MIN * rss):
        return None
    return new, new_rss / weight_sums


def shares_passes(family: Family) -> bool:
    """Whether the M-step and the E-step can share passes over ``X``: components fitted by
    IRLS (not Gaussian least squares) with no dispersion to update after the coefficients."""
    return not family.has_scale and not family.least_squares


def m_step_components_and_e_step(
    data: ComponentData,
    family: Family,
    weights: Array,
    coef: Array,
    scale: Array,
    max_iter: int,
    estep: NextEStep,
    first: tuple[Array, Array, Array] | None = None,
) -> tuple[Array, Array, kernels.EStepPass | None]:
    """:func:`m_step_components` from a warm start, and the E-step at the new coefficients
    when it comes free.

    For families without a dispersion (fitted by IRLS, every component with weight) the
    step-halving check of the last IRLS step is a full E-step pass at the proposals, with
    the new mixing model's ``estep.log_prior``: when every component takes its full step,
    that pass's log-likelihood and posteriors are the next E-step, and one pass over ``X``
    per EM iteration is saved; with ``estep.linearise`` that pass also gives the first IRLS
    linearisation of the next M-step. Otherwise (a step halved, or a family this does not
    apply to) the third value is ``None`` and the caller runs the E-step.

    ``first``, when given, is the linearisation at ``coef`` with these ``weights`` (from the
    E-step pass that made them, :attr:`kernels.EStepPass.linearisation`): the first IRLS
    step then needs no pass of its own.
    """
    active = kernels.column_sums(weights) > 0
    if not shares_passes(family) or not active.all():
        new_coef, new_scale = m_step_components(data, family, weights, coef, scale, max_iter)
        return new_coef, new_scale, None
    new_coef, fused = _warm_coef(
        data,
        family,
        weights,
        np.array(coef, dtype=float, copy=True),
        scale,
        max_iter,
        estep=estep,
        first=first,
    )
    return new_coef, np.array(scale, dtype=float, copy=True), fused


def _warm_coef(
    data: ComponentData,
    family: Family,
    W: Array,
    coef: Array,
    scale: Array,
    max_iter: int,
    most_iter: int | None = None,
    estep: NextEStep | None = None,
    first: tuple[Array, Array, Array] | None = None,
) -> tuple[Array, kernels.EStepPass | None]:
    """Coefficients after monotone IRLS steps (closed form for Gaussian with the identity
    link).

    Each component takes ``max_iter`` steps unless it converges first. Far from its optimum
    -- a step still gains more than ``_FAR_GAIN`` of the objective -- it keeps stepping, up to
    ``most_iter`` steps in all (default ``_COLD_ITER``): one step per M-step is cheap near the
    EM optimum, but crawls from a poor start.

    With ``estep`` (all K components, fixed dispersions), a step that may be the last checks
    its proposals with a full E-step pass (:func:`kernels.e_step_pass`).
    When it was the last step and every component took its full step, that E-step at the
    returned coefficients is returned too; otherwise ``None``. ``first`` is the
    linearisation of the first step when it is already known.
    """
    X, y, off, tr, ones = data.X, data.y, data.pass_offset, data.pass_trials, data.ones_col
    if family.least_squares:
        grams, rhs = kernels.least_squares_equations(X, y, off, tr, W, ones)
        return solve_normals(grams, rhs), None
    const = data.loglik_constant(family)
    moving = np.ones(coef.shape[0], dtype=bool)
    fused: kernels.EStepPass | None = None
    lin = first  # the linearisation of the moving components at coef, when known
    for step in range(1, max(max_iter, most_iter or _COLD_ITER) + 1):
        idx = np.flatnonzero(moving)
        Wm = W if moving.all() else W[:, idx]
        if lin is None:
            lin = kernels.irls_normal_equations(
                X, y, off, tr, const, family, Wm, coef[idx], scale[idx], ones_col=ones
            )
        grams, rhs, objective = lin
        proposal = solve_normals(grams, rhs)
        fuse = estep if (moving.all() and step >= max_iter) else None
        fused = None  # an E-step of an earlier step is stale: free its posteriors first
        # When another step is planned, the proposals are checked by linearising there: when
        # the full steps are taken, that is the next step's first pass.
        ahead = fuse is None and step < max_iter
        # When a full step fails its check but its predicted gain is within rounding of the
        # objective, the component has converged and halving (a pass over X each time, up
        # to _MAX_HALVINGS) cannot gain anything.
        settled = step_settled(grams, objective, proposal - coef[idx])
        accepted, gained, fused, lin_ahead = _halve_all(
            data,
            family,
            const,
            Wm,
            scale[idx],
            coef[idx],
            proposal,
            objective,
            fuse,
            ahead,
            settled,
        )
        coef[idx] = accepted
        size = np.abs(objective) + 1.0
        still = gained > (1e-10 if step < max_iter else _FAR_GAIN) * size
        if lin_ahead is not None:
            still &= ~next_step_settled(lin_ahead, accepted)
        moving[idx] = still
        if not moving.any():
            break
        lin = None
        if lin_ahead is not None:
            lin = (lin_ahead[0][still], lin_ahead[1][still], lin_ahead[2][still])
    return coef, fused


def step_settled(grams: Array, objective: Array, delta: Array) -> NDArray[np.bool_]:
    """Whether each component's IRLS step ``delta`` (K, p) is within rounding of its
    objective: the gain the quadratic model predicts, ``0.5 delta' G delta``, is at most
    ``_ROUNDING`` of ``|objective| + 1``.

    >>> G = np.array([[[2.0]]])
    >>> step_settled(G, np.array([-100.0]), np.array([[1e-5]])).tolist()
    [True]
    >>> step_settled(G, np.array([-100.0]), np.array([[1e-3]])).tolist()
    [False]
    """
    predicted = 0.5 * np.einsum("ki,kij,kj->k", delta, grams, delta)
    return np.asarray(predicted <= _ROUNDING * (np.abs(objective) + 1.0))


def next_step_settled(lin: tuple[Array, Array, Array], coef: Array) -> NDArray[np.bool_]:
    """Whether the next IRLS step from ``coef``, made from ``lin`` (the linearisation
    there: Grams, right-hand sides, objectives), would be settled (:func:`step_settled`):
    taking it changes nothing measurable, so the component has converged and the step's
    pass is saved (the last step of a cold M-step, mostly)."""
    grams, rhs, objective = lin
    return step_settled(grams, objective, solve_normals(grams, rhs) - coef)


def _halve_all(
    data: ComponentData,
    family: Family,
    const: Array | None,
    W: Array,
    scale: Array,
    coef: Array,
    proposal: Array,
    objective: Array,
    estep: NextEStep | None = None,
    ahead: bool = False,
    settled: NDArray[np.bool_] | None = None,
) -> tuple[Array, Array, kernels.EStepPass | None, tuple[Array, Array, Array] | None]:
    """Step-halving for all components at once: each takes the first of proposal,
    half-step, quarter-step ... that does not lower its objective, or stays put. A
    component marked ``settled`` whose full step fails stays put without halving.

    Returns the accepted coefficients, each component's gain in objective, and, when every
    component accepts its full step: with ``estep``, the E-step pass at the proposals that
    made the check, and with ``ahead``, the IRLS linearisation at the proposals that made
    the check (:func:`kernels.irls_normal_equations`); else ``None`` for each.
    """
    off, tr = data.pass_offset, data.pass_trials
    step = proposal - coef
    accepted = coef.copy()
    gained = np.zeros(coef.shape[0])
    todo = np.arange(coef.shape[0])
    fused: kernels.EStepPass | None = None
    lin: tuple[Array, Array, Array] | None = None
    for halving in range(_MAX_HALVINGS):
        cand = coef[todo] + step[todo]
        Wt = W if todo.size == W.shape[1] else W[:, todo]
        if halving == 0 and estep is not None:
            fused = kernels.e_step_pass(
                data.X,
                data.y,
                off,
                tr,
                const,
                estep.weights,
                family,
                cand,
                scale,
                estep.log_prior,
                check_weights=W,
                linearise=estep.linearise,
                ones_col=data.ones_col,
            )
            assert fused.check is not None
            obj = fused.check
        elif halving == 0 and ahead:
            lin = kernels.irls_normal_equations(
                data.X, data.y, off, tr, const, family, W, cand, scale, ones_col=data.ones_col
            )
            obj = lin[2]
        else:
            obj = kernels.weighted_loglik(
                data.X, data.y, off, tr, const, family, Wt, cand, scale[todo]
            )
        good = np.isfinite(obj) & (obj >= objective[todo])
        if halving == 0 and settled is not None:
            # A settled full step (predicted gain within rounding) is the Newton step at the
            # optimum: refusing it on a rounding-level comparison would make every point
            # near the optimum a fixed point of the EM map, so it is taken when its
            # objective is within rounding of the current one.
            slack = _ROUNDING * (np.abs(objective[todo]) + 1.0)
            good |= settled[todo] & np.isfinite(obj) & (obj >= objective[todo] - slack)
        if not good.all():
            fused = lin = None  # a pass at proposals that are not all taken
        accepted[todo[good]] = cand[good]
        gained[todo[good]] = obj[good] - objective[todo[good]]
        retry = ~good if settled is None or halving > 0 else ~good & ~settled[todo]
        todo = todo[retry]
        if todo.size == 0:
            break
        step[todo] *= 0.5
    return accepted, gained, fused, lin


def _update_scale(
    data: ComponentData,
    family: Family,
    weights: Array,
    coef: Array,
    scale: Array,
    active: NDArray[np.bool_],
) -> Array:
    """The family's dispersion updates given new coefficients (for a mean-square dispersion,
    the Gaussian variance, all components from one pass over ``X``)."""
    wsum = kernels.column_sums(weights)
    if family.dispersion_is_mean_square:
        rss = kernels.weighted_rss(
            data.X, data.y, data.pass_offset, data.pass_trials, family, weights, coef
        )
        return np.where(active, rss / np.where(active, wsum, 1.0), scale)
    new_scale = scale.copy()
    for k in np.flatnonzero(active):
        mu = family.linkinv(data.X @ coef[k] + data.offset)
        new_scale[k] = family.update_dispersion(
            data.y, mu, weights[:, k], data.trials, float(scale[k])
        )
    return new_scale


def _cold_m_step(
    data: ComponentData, family: Family, weights: Array, scale: Array
) -> tuple[Array, Array]:
    """M-step from posteriors alone: every component's GLM fitted to convergence, starting
    from the family's starting means."""
    n_comp = weights.shape[1]
    scale = np.array(scale, dtype=float, copy=True)
    coef = np.zeros((n_comp, data.X.shape[1]))
    active = kernels.column_sums(weights) > 0
    if active.any():
        W = weights if active.all() else weights[:, active]
        if not family.least_squares:
            # Every pass takes the weights by component, (K, n): transposed once, not per
            # pass (least squares makes one pass), and after the data constant and the
            # starting predictor, so that their temporaries are gone before the copy.
            const = data.loglik_constant(family)  # cached: the warm steps need it too
            eta0 = family.link(family.start_mu(data.y))
            W = np.asfortranarray(W, dtype=np.float64)
            grams, rhs, _ = kernels.irls_normal_equations(
                data.X,
                data.y,
                data.pass_offset,
                data.pass_trials,
                const,
                family,
                W,
                coef[active],
                scale[active],
                eta0=eta0,
                ones_col=data.ones_col,
            )
            del eta0
            coef[active] = solve_normals(grams, rhs)
        coef[active], _ = _warm_coef(data, family, W, coef[active], scale[active], _COLD_ITER)
    if family.has_scale:
        scale = _update_scale(data, family, weights, coef, scale, active)
    return coef, scale


def aliased_columns(X: Array, tol: float = 1e-9) -> list[int]:
    """Columns of ``X`` that are (numerically) linear combinations of earlier columns.

    Works on the correlation-scaled Gram matrix, one pass over ``X``; a column of zeros is
    aliased too.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(5.0)
    >>> aliased_columns(np.column_stack([np.ones(5), x, 2 * x + 1, x**2]))
    [2]
    """
    gram = X.T @ X
    d = np.sqrt(np.diag(gram))
    aliased = [j for j in range(X.shape[1]) if d[j] == 0]
    kept: list[int] = []
    for j in range(X.shape[1]):
        if d[j] == 0:
            continue
        idx = [*kept, j]
        sub = gram[np.ix_(idx, idx)] / np.outer(d[idx], d[idx])
        if np.linalg.eigvalsh(sub)[0] < tol:
            aliased.append(j)
        else:
            kept.append(j)
    return sorted(aliased)
