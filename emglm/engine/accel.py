"""SQUAREM acceleration of EM, with a monotonicity safeguard.

EM converges linearly, slowly when components overlap. SQUAREM (Varadhan and Roland 2008,
*Scand. J. Statist.* 35, 335-353; scheme SqS3 of the R package ``SQUAREM``) treats one EM
iteration as a map ``F`` on the parameter vector and, from ``p``, ``p1 = F(p)`` and
``p2 = F(p1)``, jumps to

    p_new = p + 2 a r + a**2 v,   r = p1 - p,   v = p2 - 2 p1 + p,   a = |r| / |v|,

then takes one EM step from there. ``a = 1`` is plain EM (``p_new = p2``).

Safeguard: the jump is kept only when the log-likelihood at ``p_new`` is at least the one at
``p2``; otherwise the cycle ends at ``p2`` and the largest step allowed shrinks back. The
EM step taken from an accepted jump cannot lower the log-likelihood either (every M-step
maximises over the whole parameter space, so it never lowers its objective from wherever
the jump landed), so every recorded log-likelihood is at least the previous one (to
rounding), exactly as for plain EM.

Stopping: a relative change of the log-likelihood below ``tol`` over one EM step does not
say how far the optimum is when EM is slow (its rate ``rho`` near 1), and SQUAREM's path,
unlike plain EM's, moves with rounding (row order), so stopping on it alone leaves fits that
differ by far more than ``tol``. Each cycle therefore also estimates the distance to the
fixed point from its two EM steps: under linear convergence ``r ~ (rho - 1) e`` and
``v ~ (rho - 1)**2 e`` for the error ``e``, so ``e ~ (|r| / |v|) r``. The run stops when
the relative llf change of the cycle's second EM step is below ``tol`` *and* every
parameter's estimated distance is below ``tol`` relative to ``1 + |parameter|``. Where
parameters have no finite optimum (a separated or emptied component, two equal components)
they never settle: once the llf criterion has been met, the run also stops when the
distance estimate has not halved for as many M-steps as it took to meet it (at least 10),
and it counts as converged, as plain EM does on the llf criterion alone.

Parameters are extrapolated on the unconstrained scale of the model's packing
(:meth:`emglm.engine.em.MixtureModel.pack`): for GLM components coefficients and mixing
logits as they are, dispersions through their logarithm (kept above the dispersion floor).

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from emglm.engine.state import EMFit, MixtureParams

Array = NDArray[np.float64]

# Step-length bounds of SQUAREM's defaults: start at 1 (EM) and multiply the bound by 4
# each time a step reaches it.
_STEP_MAX0 = 1.0
_STEP_GROWTH = 4.0

# Once the llf criterion is met, the parameters may go this many M-steps (or as many as it
# took to meet it, if more) without halving their distance estimate before the run stops.
_MIN_REFINE = 10

EStep = Callable[[MixtureParams], tuple[float, Array]]
MStep = Callable[[Array, MixtureParams], MixtureParams]
Pack = Callable[[MixtureParams], Array]
Unpack = Callable[[Array, MixtureParams], MixtureParams]


def distance_to_fixed_point(x0: Array, x1: Array, x2: Array) -> float:
    """Largest estimated distance of a parameter to EM's fixed point, relative to
    ``1 + |parameter|``, from an iterate ``x0`` and two EM steps ``x1``, ``x2``.

    The SqS3 step length ``|r| / |v|`` estimates ``1 / (1 - rho)`` (see the module notes);
    it is taken as at least 1, so the estimate is never below the EM step itself. A step
    ``r`` with no curvature ``v`` at all gives infinity unless ``r`` is zero.

    Examples
    --------
    >>> x = [np.array([1.0]), np.array([0.5]), np.array([0.25])]  # rate 1/2, optimum 0
    >>> round(distance_to_fixed_point(*x), 6)  # |1 - 0| / (1 + |0.5|), within rounding
    0.666667
    """
    r = x1 - x0
    v = x2 - 2.0 * x1 + x0
    sr, sv = float(np.sqrt(np.dot(r, r))), float(np.sqrt(np.dot(v, v)))
    if sr == 0.0:
        return 0.0
    if sv == 0.0 or not np.isfinite(sv):
        return np.inf
    return float(np.max(np.abs(r) / (1.0 + np.abs(x1)))) * max(sr / sv, 1.0)


def squarem(
    params: MixtureParams,
    e_step: EStep,
    m_step: MStep,
    tol: float,
    max_iter: int,
    pack: Pack,
    unpack: Unpack,
    m_step_before_jump: MStep | None = None,
) -> tuple[EMFit, int]:
    """Run EM accelerated by SQUAREM from full parameters.

    Parameters
    ----------
    params : MixtureParams
        Starting parameters.
    e_step : callable
        ``params -> (llf, posterior)``.
    m_step : callable
        ``(posterior, params) -> params``: one (generalised) M-step warm-started at
        ``params``.
    tol : float
        Stop when, over the second EM step of a cycle, the relative change of the
        log-likelihood is below ``tol``, and every parameter's estimated distance to the
        fixed point (:func:`distance_to_fixed_point`) is below ``tol`` relative to
        ``1 + |parameter|``; or, once the llf criterion has been met, when that estimate
        stops halving (see the module notes). ``converged`` tells whether the llf
        criterion was met.
    max_iter : int
        Most M-steps (EM map evaluations), the unit ``EMFit.n_iter`` counts.
    pack, unpack : callable
        ``params -> vector`` on an unconstrained scale, and ``(vector, like) -> params``
        (kept feasible, e.g. dispersions above their floor): the model's packing.
    m_step_before_jump : callable, optional
        The M-step to use for the second EM step of a cycle (default ``m_step``), after
        which an extrapolation usually follows: the caller can skip work that only the next
        M-step from that point would use.

    Returns
    -------
    fit : EMFit
        ``llf_history`` holds the log-likelihood of every accepted iterate (non-decreasing);
        ``n_iter`` counts M-steps; ``last_change`` is the last relative llf change.
    n_jumps : int
        Extrapolations accepted.
    """
    llf, post = e_step(params)
    history = [llf]
    n_iter = 0
    change = np.inf
    settled_at: int | None = None  # M-steps when the llf criterion was first met
    closest = (np.inf, 0)  # smallest distance estimate (halvings only), and when
    step_max = _STEP_MAX0
    n_jumps = 0

    def record(new_llf: float) -> bool:
        """Record an accepted iterate's llf; whether max_iter is reached."""
        nonlocal n_iter, change, settled_at
        n_iter += 1
        change = (new_llf - history[-1]) / max(abs(history[-1]), 1e-300)
        history.append(new_llf)
        if abs(change) < tol and settled_at is None:
            settled_at = n_iter
        return n_iter >= max_iter

    # Posteriors are (n, K): each is dropped as soon as its M-step is done, so that at most
    # two live beside the one being computed.
    while True:
        p0 = params
        p1 = m_step(post, p0)
        del post
        llf, post = e_step(p1)
        params = p1
        if record(llf):
            break
        p2 = (m_step_before_jump or m_step)(post, p1)
        del post
        llf2, post = e_step(p2)
        params, llf = p2, llf2
        if record(llf2):
            break
        if p2.n_components != p0.n_components:
            continue
        x0, x1, x2 = pack(p0), pack(p1), pack(p2)
        if settled_at is not None:
            dist = distance_to_fixed_point(x0, x1, x2)
            if abs(change) < tol and dist < tol:
                break
            if dist < 0.5 * closest[0]:
                closest = (dist, n_iter)
            if n_iter - max(closest[1], settled_at) >= max(settled_at, _MIN_REFINE):
                break  # the parameters stopped approaching a fixed point
        r = x1 - x0
        v = x2 - 2.0 * x1 + x0
        sv = float(np.sqrt(np.dot(v, v)))
        if sv == 0.0 or not np.isfinite(sv):
            continue
        alpha = min(float(np.sqrt(np.dot(r, r))) / sv, step_max)
        at_bound = alpha == step_max
        if alpha <= 1.0:  # no better than plain EM: p2 already is that point
            step_max *= _STEP_GROWTH if at_bound else 1.0
            continue
        jump = unpack(x0 + 2.0 * alpha * r + alpha**2 * v, p2)
        llf_j, post_j = e_step(jump)
        if not np.isfinite(llf_j) or llf_j < llf2:
            step_max = max(_STEP_MAX0, step_max / _STEP_GROWTH)
            del post_j
            continue
        n_jumps += 1
        step_max *= _STEP_GROWTH if at_bound else 1.0
        # The EM step from the jump is the one recorded: its llf is >= llf_j >= llf2.
        del post
        params = m_step(post_j, jump)
        del post_j
        llf, post = e_step(params)
        if record(llf):
            break
    fit = EMFit(
        params=params,
        posterior=post,
        llf=llf,
        llf_history=np.asarray(history),
        n_iter=n_iter,
        converged=settled_at is not None,
        last_change=float(change),
    )
    return fit, n_jumps
