"""SQUAREM acceleration of EM, with a monotonicity safeguard.

EM converges linearly, slowly when components overlap. SQUAREM (Varadhan and Roland 2008,
*Scand. J. Statist.* 35, 335-353; scheme SqS3 of the R package ``SQUAREM``) treats one EM
iteration as a map ``F`` on the parameter vector and, from ``p``, ``p1 = F(p)`` and
``p2 = F(p1)``, jumps to

    p_new = p + 2 a r + a**2 v,   r = p1 - p,   v = p2 - 2 p1 + p,   a = |r| / |v|,

then takes one EM step from there. ``a = 1`` is plain EM (``p_new = p2``).

Safeguard: the jump is kept only when the log-likelihood at ``p_new`` is at least the one at
``p2``, to the rounding of a sum over the rows (1e-13 relative: at the optimum the
log-likelihood is flat to rounding, and jumps refused there on rounding alone left the
parameters settling at plain EM's pace); otherwise the cycle ends at ``p2`` and the
largest step allowed shrinks back. The
EM step taken from an accepted jump cannot lower the log-likelihood either (every M-step
maximises over the whole parameter space, so it never lowers its objective from wherever
the jump landed), so every recorded log-likelihood is at least the previous one (to
rounding), exactly as for plain EM.

Proposals: the E-step at ``p2`` serves only the safeguard and the cycles that do not jump.
When the caller can make the second EM step from the work of the pass at ``p1`` alone
(``propose``: for GLM components one IRLS step from the linearisation that pass formed,
unchecked, or the exact least-squares M-step), ``p2`` is that proposal, the jump is kept
when its log-likelihood is at least ``p1``'s (the last recorded one; SQUAREM's own rule
compares with ``p``'s) and is recorded for the proposal's M-step, and the checked step to
``p2`` with its E-step is taken only when the cycle does not jump. A cycle that jumps then
reads the data three times for three M-steps instead of four.

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

# A jump's llf may fall short of the last recorded one by this much (relative) and still
# be kept: the rounding of a sum over many rows. At the optimum the llf is flat to rounding,
# and refusing jumps on a rounding-level comparison (each refusal also shrinks the step
# bound) left the last phase, where the parameters settle, at plain EM's pace: 8 seeds of
# the benchmark's data (n=1e5) took 202, 594 and 308 M-steps (binomial, Poisson,
# Gaussian) against 168, 533 and 290 with it, to the same optima.
_LLF_ROUNDING = 1e-13

# Newton steps are tried once the relative llf change is below this; after one that is
# refused, once it is this many times smaller than at the refusal.
_NEWTON_FROM = 1e-2
_NEWTON_RETRY = 10.0

EStep = Callable[[MixtureParams], tuple[float, Array]]
MStep = Callable[[Array, MixtureParams], MixtureParams]
Pack = Callable[[MixtureParams], Array]
Unpack = Callable[[Array, MixtureParams], MixtureParams]
Propose = Callable[[Array, MixtureParams], MixtureParams | None]
Newton = Callable[[Array, MixtureParams], tuple[MixtureParams, float] | None]


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
    propose: Propose | None = None,
    newton: Newton | None = None,
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
    propose : callable, optional
        ``(posterior, params) -> params or None``: the second EM step of a cycle for the
        extrapolation only, without the E-step at its result (and without the checks a
        monotone M-step makes). When it gives parameters, the jump is kept if its llf is at
        least the last recorded one (and recorded as the llf after the proposal's M-step),
        and the checked second step (``m_step``, then the E-step) is taken only when the
        cycle does not jump; ``None`` (e.g. a component
        would be dropped) takes the second step as without ``propose``. A cycle that jumps
        then reads the data once per M-step.
    newton : callable, optional
        ``(posterior, params) -> (params, distance) or None``: where a Newton step from
        the current iterate leads (:mod:`emglm.engine.newton`), and that point's
        estimated distance to the optimum relative to ``1 + |parameter|``. Tried once the
        relative llf change is below ``1e-2``; kept (and counted as an M-step) when its
        llf is at least the last recorded one, to rounding; after a kept step the
        stopping rule above takes its distance as the estimate. After a step that is
        refused (or ``None``), the next is tried once the llf change is ten times
        smaller.

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

    def settles(dist: float) -> bool:
        """Whether the run stops, once the llf criterion has been met, given the
        current distance estimate."""
        nonlocal closest
        if abs(change) < tol and dist < tol:
            return True
        if dist < 0.5 * closest[0]:
            closest = (dist, n_iter)
        # The parameters stopped approaching a fixed point.
        return n_iter - max(closest[1], settled_at or 0) >= max(settled_at or 0, _MIN_REFINE)

    def kept(new_llf: float) -> bool:
        """Whether a jump or Newton step with this llf is kept: at least the last
        recorded llf, to rounding."""
        return bool(
            np.isfinite(new_llf) and new_llf >= history[-1] - _LLF_ROUNDING * abs(history[-1])
        )

    def extrapolate(x0: Array, x1: Array, x2: Array) -> tuple[str, float]:
        """What the cycle does after its two EM steps: ``"stop"``, ``"em"`` (no jump: go
        on from the second step) or ``"jump"`` with its step length."""
        nonlocal step_max
        if settled_at is not None and settles(distance_to_fixed_point(x0, x1, x2)):
            return "stop", 0.0
        r = x1 - x0
        v = x2 - 2.0 * x1 + x0
        sv = float(np.sqrt(np.dot(v, v)))
        if sv == 0.0 or not np.isfinite(sv):
            return "em", 0.0
        alpha = min(float(np.sqrt(np.dot(r, r))) / sv, step_max)
        if alpha <= 1.0:  # no better than plain EM: p2 already is that point
            step_max *= _STEP_GROWTH if alpha == step_max else 1.0
            return "em", 0.0
        return "jump", alpha

    def jumped(accepted: bool, alpha: float) -> None:
        nonlocal step_max, n_jumps
        if not accepted:
            step_max = max(_STEP_MAX0, step_max / _STEP_GROWTH)
            return
        n_jumps += 1
        step_max *= _STEP_GROWTH if alpha == step_max else 1.0

    # Posteriors are (n, K): each is dropped as soon as its M-step is done, so that at most
    # two live beside the one being computed.
    newton_from = _NEWTON_FROM
    while True:
        if newton is not None and abs(change) < newton_from:
            tried = newton(post, params)
            if tried is not None:
                point, dist = tried
                llf_n, post_n = e_step(point)
                if kept(llf_n):
                    del post
                    params, post, llf = point, post_n, llf_n
                    if record(llf) or (settled_at is not None and settles(dist)):
                        break
                    continue
                del post_n
            newton_from = abs(change) / _NEWTON_RETRY
        p0 = params
        p1 = m_step(post, p0)
        del post
        llf, post = e_step(p1)
        params = p1
        if record(llf):
            break
        proposal = None
        if propose is not None and p1.n_components == p0.n_components and n_iter + 2 <= max_iter:
            proposal = propose(post, p1)
            if proposal is not None and proposal.n_components != p1.n_components:
                proposal = None
        if proposal is None:
            p2 = (m_step_before_jump or m_step)(post, p1)
            del post
            llf, post = e_step(p2)
            params = p2
            if record(llf):
                break
            if p2.n_components != p0.n_components:
                continue
        else:
            p2 = proposal  # to extrapolate from: no E-step there unless the cycle ends there
        x0, x1, x2 = pack(p0), pack(p1), pack(p2)
        what, alpha = extrapolate(x0, x1, x2)
        if what == "stop":
            break
        if what == "jump":
            jump = unpack(x0 + 2.0 * alpha * (x1 - x0) + alpha**2 * (x2 - 2.0 * x1 + x0), p2)
            llf_j, post_j = e_step(jump)
            # Kept when at least the last recorded llf (p2's, or p1's after a proposal), to
            # rounding.
            accepted = kept(llf_j)
            jumped(accepted, alpha)
            if accepted:
                del post
                if proposal is not None and record(llf_j):
                    # The proposal's M-step led to the jump: its llf stands for that step.
                    params, post, llf = jump, post_j, llf_j
                    break
                # The EM step from the jump is the one recorded: its llf is >= llf_j.
                params = m_step(post_j, jump)
                del post_j
                llf, post = e_step(params)
                if record(llf):
                    break
                continue
            del post_j
        if proposal is not None:  # no jump: the second EM step, checked, and its E-step
            params = m_step(post, p1)
            del post
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
