"""SQUAREM acceleration of EM, with a monotonicity safeguard.

EM converges linearly, slowly when components overlap. SQUAREM (Varadhan and Roland 2008,
*Scand. J. Statist.* 35, 335-353; scheme SqS3 of the R package ``SQUAREM``) treats one EM
iteration as a map ``F`` on the parameter vector and, from ``p``, ``p1 = F(p)`` and
``p2 = F(p1)``, jumps to

    p_new = p + 2 a r + a**2 v,   r = p1 - p,   v = p2 - 2 p1 + p,   a = |r| / |v|,

then takes one EM step from there. ``a = 1`` is plain EM (``p_new = p2``).

Safeguard: the jump is kept only when the log-likelihood at ``p_new`` is at least the one at
``p2``; otherwise the cycle ends at ``p2`` and the largest step allowed shrinks back. The
EM step taken from an accepted jump cannot lower the log-likelihood either, so every
recorded log-likelihood is at least the previous one, exactly as for plain EM.

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

EStep = Callable[[MixtureParams], tuple[float, Array]]
MStep = Callable[[Array, MixtureParams], MixtureParams]
Pack = Callable[[MixtureParams], Array]
Unpack = Callable[[Array, MixtureParams], MixtureParams]


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
        Stop when the relative change of the log-likelihood between consecutive recorded
        iterates is below ``tol`` (the criterion of plain EM).
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
        ``n_iter`` counts M-steps.
    n_jumps : int
        Extrapolations accepted.
    """
    llf, post = e_step(params)
    history = [llf]
    n_iter = 0
    change = np.inf
    step_max = _STEP_MAX0
    n_jumps = 0

    def record(new_llf: float) -> bool:
        """Record an accepted iterate's llf; whether to stop."""
        nonlocal n_iter, change
        n_iter += 1
        change = (new_llf - history[-1]) / max(abs(history[-1]), 1e-300)
        history.append(new_llf)
        return abs(change) < tol or n_iter >= max_iter

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
        converged=bool(abs(change) < tol),
        last_change=float(change),
    )
    return fit, n_jumps
