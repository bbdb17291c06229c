"""The dispersion M-step of families whose ML dispersion is not a mean square (gamma,
inverse Gaussian, negative binomial, other statsmodels families), from sums over
partitions.

In memory each component's dispersion is the family's bounded 1-D search
(:meth:`Family.search_dispersion`) on its weighted log-likelihood
``sum_i w_i tau_ik loglik(y_i, mu_ik, s, t_i)``. Here that objective is a sum over the
partitions' rows, and the search runs on the client with the same optimizer and
tolerance, in one of two ways:

* a family whose objective depends on the rows only through a few weighted sums
  (:class:`~emglm.families.base.DispersionSums`: gamma, inverse Gaussian) has them formed
  in **one pass**, and the search evaluates its objective from them on the client;
* any other family (negative binomial, a generic statsmodels family) has each trial
  dispersion of the search evaluated over the rows (:class:`~emglm.cluster.jobs.DispersionJob`).
  The K components' searches run in **lockstep**: one pass evaluates the next trial point of
  every component still searching, so the update takes as many passes as the longest
  search has evaluations (about 15-25).

The lockstep runs the optimizer itself, not a copy of it: each search is replayed from its
start with the values already known, and stops (:class:`_Wanted`) at the first point whose
value is not; the optimizer is deterministic, so every replay takes the same steps, and a
finished replay is the in-memory search on the same values. Replays cost only
client-side arithmetic (a few milliseconds), never a pass.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from emglm.cluster.jobs import DispersionJob, DispersionSumsJob, Source
from emglm.families import Family
from emglm.families.base import DispersionSums

if TYPE_CHECKING:
    from emglm.cluster.steps import Run

Array = NDArray[np.float64]
# The values of one search's objective: trial point log(scale) -> value.
Known = dict[float, float]


class _Wanted(Exception):  # noqa: N818 (a request, not an error)
    """A replayed search reached a point whose objective value is not known yet."""

    def __init__(self, point: float) -> None:
        super().__init__(point)
        self.point = point


def update_scales(
    run: Run,
    family: Family,
    src: Source,
    coef: Array,
    scale: Array,
    active: NDArray[np.bool_],
    *,
    common: bool = False,
) -> Array:
    """The dispersions after the coefficients' M-step (``irls._update_scale`` on partition
    sums): each active component's ML value given the weights of ``src`` and the means at
    ``coef`` (K, p) of the runner's model, whose ``family`` this is, warm-started at
    ``scale``; inactive ones keep theirs.

    With ``common``, one dispersion for every component: the ML value over all components'
    weighted rows, warm-started at ``scale[0]`` (as ``SharedGLMComponents._update_scale``
    with ``equal_scale``).

    Examples
    --------
    A gamma component on one partition, the pass run in process:

    >>> import numpy as np
    >>> import pandas as pd
    >>> import statsmodels.api as sm
    >>> from emglm.cluster.jobs import combine, run_jobs, split
    >>> from emglm.components.glm import GLMParams
    >>> from emglm.engine.em import MixtureParams
    >>> from emglm.model import EMGLM
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400)
    >>> y = rng.gamma(2.0, np.exp(0.5 + 0.3 * x) / 2.0)
    >>> m = EMGLM.from_formula("y ~ x", pd.DataFrame({"y": y, "x": x}),
    ...                        sm.families.Gamma(sm.families.links.Log()), 1)
    >>> comp = GLMParams(np.array([[0.5, 0.3]]), np.array([1.0]))
    >>> start = MixtureParams(comp, np.zeros((1, 1)))
    >>> def run(jobs):
    ...     return split(combine(run_jobs(m.data, m.mixture, tuple(jobs))), len(jobs))
    >>> new = update_scales(run, m.family, Source(start), start.components.coef,
    ...                     start.components.scale, np.array([True]))
    >>> bool(abs(new[0] - 0.5) < 0.1)  # the true dispersion is 1 / shape = 0.5
    True
    """
    cols = np.flatnonzero(active)
    new = np.array(scale, dtype=float, copy=True)
    if cols.size == 0:
        return new
    picked = tuple(int(k) for k in cols)
    if isinstance(family, DispersionSums):
        sums = run([DispersionSumsJob(src, picked, coef[cols])])[0]["sums"]
        if common:
            value = _search_sums(family, sums.sum(axis=0), float(scale[0]))
            return np.full(new.shape, value)
        for k, row in zip(cols, sums, strict=True):
            new[k] = _search_sums(family, row, float(scale[k]))
        return new

    def evaluate(points: dict[int, float]) -> dict[int, float]:
        """One pass: the objective of each search at its wanted point."""
        if common:
            (point,) = points.values()
            trial = np.full(cols.size, np.exp(point))
            ll = run([DispersionJob(src, picked, coef[cols], trial)])[0]["ll"]
            return {0: -float(np.sum(ll))}
        which = sorted(points)
        trial = np.exp(np.array([points[j] for j in which]))
        job = DispersionJob(src, tuple(picked[j] for j in which), coef[cols[which]], trial)
        ll = run([job])[0]["ll"]
        return {j: -float(v) for j, v in zip(which, ll, strict=True)}

    if common:
        (value,) = lockstep(family, [float(scale[0])], evaluate)
        return np.full(new.shape, value)
    new[cols] = lockstep(family, [float(scale[k]) for k in cols], evaluate)
    return new


def _search_sums(family: DispersionSums, sums: Array, current: float) -> float:
    """The in-memory search on the objective formed from one component's sums."""
    assert isinstance(family, Family)
    return family.search_dispersion(
        lambda log_s: -family.loglik_from_sums(sums, float(np.exp(log_s))), current
    )


def lockstep(
    family: Family,
    currents: Sequence[float],
    evaluate: Callable[[dict[int, float]], dict[int, float]],
) -> list[float]:
    """:meth:`Family.search_dispersion` from each of ``currents``, all at once: every call
    of ``evaluate`` (one pass) gets the next point ``log(scale)`` of each search still
    running, by its index, and returns the objective there.

    Examples
    --------
    Two searches on known objectives (minima at scale 2 and 5); ``evaluate`` is called
    once per round, with both searches' points while both run:

    >>> import numpy as np
    >>> from emglm.families import get_family
    >>> rounds = []
    >>> def evaluate(points):
    ...     rounds.append(len(points))
    ...     return {j: (x - np.log([2.0, 5.0][j])) ** 2 for j, x in points.items()}
    >>> [round(s, 4) for s in lockstep(get_family("gamma"), [1.0, 1.0], evaluate)]
    [2.0, 5.0]
    >>> len(rounds) < 30 and rounds[0] == 2
    True
    """
    known: list[Known] = [{} for _ in currents]
    done: dict[int, float] = {}
    while len(done) < len(currents):
        wanted: dict[int, float] = {}
        for j, current in enumerate(currents):
            if j in done:
                continue
            try:
                done[j] = family.search_dispersion(_replay(known[j]), current)
            except _Wanted as want:
                wanted[j] = want.point
        if wanted:
            for j, value in evaluate(wanted).items():
                known[j][wanted[j]] = value
    return [done[j] for j in range(len(currents))]


def _replay(known: Known) -> Callable[[float], float]:
    """An objective that answers from ``known`` and stops the search at a new point."""

    def objective(point: float) -> float:
        key = float(point)
        if key not in known:
            raise _Wanted(key)
        return known[key]

    return objective
