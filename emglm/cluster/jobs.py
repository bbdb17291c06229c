"""What one pass over a partition computes: sums over its rows, given the parameters.

A *pass* runs a list of jobs on every partition's :class:`~emglm.data.arrays.MixtureData`
and adds their results up over partitions (:mod:`emglm.cluster.mapreduce`). Each job
names a :class:`Source` for its weights: the posteriors at some parameters, recomputed on
the worker from those parameters (the posteriors never leave it), times the case weights.
A component job's ``cols`` and coefficients index the GLM components: with a point mass at
zero (:mod:`emglm.components.zero_inflated`) their weight columns follow the point mass's
(:attr:`Source.n_zero`), which no GLM job reads.
The sums are the ones the in-memory M-step forms over its row blocks, from the same
kernels (:mod:`emglm.components.kernels`), so the client can solve them exactly as the
in-memory M-step does (:mod:`emglm.cluster.steps`).

Results are dictionaries of arrays; a key starting with ``max:`` or ``min:`` is reduced by
that, every other key by addition. A partition without rows contributes nothing.

Everything here works on NumPy arrays only.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from emglm.components import kernels
from emglm.components.glm import GLMComponents, GLMParams
from emglm.components.irls import ComponentData
from emglm.components.zero_inflated import ZeroInflatedComponents, ZIParams
from emglm.data.arrays import MixtureData
from emglm.engine.em import MixtureModel, MixtureParams, e_step_pass
from emglm.families.base import DispersionSums
from emglm.inference import louis

Array = NDArray[np.float64]
Stats = dict[str, Any]
TauOf = Callable[["Source"], tuple[float, Array]]


@dataclass(frozen=True)
class Source:
    """Posteriors at ``params``; with ``keep`` only those components, each row
    renormalised as the minprior rule does after a drop (:func:`emglm.engine.em`)."""

    params: MixtureParams
    keep: NDArray[np.bool_] | None = None

    def posterior(self, data: MixtureData, model: MixtureModel) -> tuple[float, Array]:
        """The observed-data llf of this partition at ``params`` and its posteriors."""
        out = e_step_pass(data, model, self.params, linearise=False)
        tau = out.posterior
        if self.keep is not None:
            tau = tau[:, self.keep]
            total = tau.sum(axis=1, keepdims=True)
            n_kept = self.keep.sum()
            tau = np.where(total > 0, tau / np.where(total > 0, total, 1.0), 1.0 / n_kept)
        return out.llf, tau

    @property
    def n_zero(self) -> int:
        """Posterior columns before the GLM components': the point mass at zero while it is
        in the model (and kept), else none."""
        comp = self.params.components
        if not isinstance(comp, ZIParams) or not comp.zero:
            return 0
        return int(self.keep is None or bool(self.keep[0]))


def glm_params(comp: Any) -> tuple[GLMParams, int]:
    """The GLM components' parameters in a model's component parameters, and the number of
    posterior columns before theirs (the point mass at zero while it is in the model)."""
    if isinstance(comp, ZIParams):
        return comp.glm, comp.n_zero
    assert isinstance(comp, GLMParams)
    return comp, 0


def with_glm(like: Any, glm: GLMParams) -> Any:
    """Component parameters as ``like`` with the GLM components' parameters ``glm``."""
    return ZIParams(glm, like.zero) if isinstance(like, ZIParams) else glm


def key_of(obj: Any) -> bytes:
    """A key for equal jobs (same type, same arrays), to reuse a result already computed."""
    return pickle.dumps(obj, protocol=5)


def glm_driver(model: MixtureModel) -> GLMComponents:
    """The model's GLM driver (plain, or with shared coefficients), beside a point mass at
    zero too."""
    comps = model.components
    if isinstance(comps, ZeroInflatedComponents):
        comps = comps.glm
    assert isinstance(comps, GLMComponents)
    return comps


def _weighted_columns(
    data: MixtureData, model: MixtureModel, tau_of: TauOf, src: Source, cols: tuple[int, ...]
) -> tuple[GLMComponents, ComponentData, Array]:
    """What a component job starts from: the GLM driver, its view of the partition and the
    M-step weights (case weights times the source's posteriors) of GLM components ``cols``."""
    glm = glm_driver(model)
    shifted = [c + src.n_zero for c in cols]
    return glm, glm.component_data(data), data.weighted(tau_of(src)[1])[:, shifted]


@dataclass(frozen=True)
class EStepJob:
    """llf at the source's parameters and the M-step weights' column sums
    ``sum_i w_i tau_ik``; with groups also their sums over groups, ``sum_g w_g tau_gk``
    (``"unit_mass"``: what the minprior rule and the mixing proportions count)."""

    src: Source

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        llf, tau = tau_of(self.src)
        out = {"llf": llf, "mass": data.weighted_sum(tau), "rows": data.n_rows}
        if data.groups is not None:
            out["unit_mass"] = data.unit_case_weights @ data.unit_first(tau)
        return out


@dataclass(frozen=True)
class LinJob:
    """IRLS normal equations of components ``cols`` at ``coef`` with the M-step weights
    (:func:`kernels.irls_normal_equations`)."""

    src: Source
    cols: tuple[int, ...]
    coef: Array
    scale: Array

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        glm, cdata, W = _weighted_columns(data, model, tau_of, self.src, self.cols)
        grams, rhs, obj = kernels.irls_normal_equations(
            data.X, data.y, cdata.pass_offset, cdata.pass_trials,
            cdata.loglik_constant(glm.family), glm.family, np.asfortranarray(W), self.coef,
            self.scale, ones_col=cdata.ones_col,
        )  # fmt: skip
        return {"grams": grams, "rhs": rhs, "obj": obj}


@dataclass(frozen=True)
class CheckJob:
    """Weighted log-likelihoods of components ``cols`` at ``coef``
    (:func:`kernels.weighted_loglik`): the step-halving check."""

    src: Source
    cols: tuple[int, ...]
    coef: Array
    scale: Array

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        glm, cdata, W = _weighted_columns(data, model, tau_of, self.src, self.cols)
        obj = kernels.weighted_loglik(
            data.X, data.y, cdata.pass_offset, cdata.pass_trials,
            cdata.loglik_constant(glm.family), glm.family, W, self.coef, self.scale,
        )  # fmt: skip
        return {"obj": obj}


@dataclass(frozen=True)
class LeastSquaresJob:
    """Weighted least-squares normal equations (:func:`kernels.least_squares_equations`)."""

    src: Source
    cols: tuple[int, ...]

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        _, cdata, W = _weighted_columns(data, model, tau_of, self.src, self.cols)
        grams, rhs = kernels.least_squares_equations(
            data.X, data.y, cdata.pass_offset, cdata.pass_trials, W, cdata.ones_col
        )
        return {"grams": grams, "rhs": rhs}


@dataclass(frozen=True)
class RSSJob:
    """Weighted residual sums of squares of every component (:func:`kernels.weighted_rss`)."""

    src: Source
    coef: Array

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        glm = glm_driver(model)
        cdata = glm.component_data(data)
        W = data.weighted(tau_of(self.src)[1])[:, self.src.n_zero :]
        rss = kernels.weighted_rss(
            data.X, data.y, cdata.pass_offset, cdata.pass_trials, glm.family, W, self.coef
        )
        return {"rss": rss}


@dataclass(frozen=True)
class DispersionJob:
    """Weighted log-likelihoods ``sum_i w_i tau_ik loglik(y_i, mu_ik, s_k, t_i)`` of
    components ``cols`` at ``coef`` and trial dispersions ``scales`` (one each): the
    objective of the dispersion search (:meth:`Family.update_dispersion`)."""

    src: Source
    cols: tuple[int, ...]
    coef: Array
    scales: Array

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        glm, cdata, W = _weighted_columns(data, model, tau_of, self.src, self.cols)
        mu = glm.family.linkinv(cdata.X @ self.coef.T + cdata.offset[:, None])
        ll = glm.family.loglik(cdata.y[:, None], mu, self.scales, cdata.trials[:, None])
        return {"ll": np.einsum("ik,ik->k", W, ll)}


@dataclass(frozen=True)
class DispersionSumsJob:
    """The sums from which a family's weighted log-likelihood at any dispersion follows
    (:class:`~emglm.families.base.DispersionSums`), for components ``cols`` at ``coef``."""

    src: Source
    cols: tuple[int, ...]
    coef: Array

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        glm, cdata, W = _weighted_columns(data, model, tau_of, self.src, self.cols)
        family = glm.family
        assert isinstance(family, DispersionSums)
        mu = family.linkinv(cdata.X @ self.coef.T + cdata.offset[:, None])
        return {"sums": family.dispersion_sums(cdata.y, mu, W, cdata.trials)}


@dataclass(frozen=True)
class MixingJob:
    """The multinomial-logit mixing objective ``sum_ik wtau_ik log pi_ik`` at ``gamma``;
    with ``newton`` also its gradient and Hessian (as :mod:`emglm.mixing`'s Newton step).
    The sums run over units (rows, or groups with their first row's covariates), as the
    in-memory mixing M-step's."""

    src: Source
    gamma: Array
    newton: bool = True

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        Z, gamma = data.unit_Z, self.gamma
        wtau = data.unit_first(data.weighted(tau_of(self.src)[1]))
        log_pi = model.mixing.log_prior(Z, gamma)
        out: Stats = {"obj": np.array(float(np.sum(wtau * log_pi)))}
        if not self.newton:
            return out
        q, n_comp = gamma.shape
        pi = np.exp(log_pi)
        row_w = wtau.sum(axis=1)
        out["grad"] = Z.T @ (wtau[:, 1:] - row_w[:, None] * pi[:, 1:])
        hess = np.empty((q * (n_comp - 1), q * (n_comp - 1)))
        for a in range(1, n_comp):
            for b in range(a, n_comp):
                d = row_w * pi[:, a] * ((a == b) - pi[:, b])
                block = (Z.T * d) @ Z
                hess[(a - 1) * q : a * q, (b - 1) * q : b * q] = block
                hess[(b - 1) * q : b * q, (a - 1) * q : a * q] = block
        out["hess"] = hess
        return out


@dataclass(frozen=True)
class CensusJob:
    """What the client needs to know of the data once: rows, observations (sum of case
    weights), whether every case weight is 1, the response's sums (for the dispersion
    floor), the largest ``|z_ij|`` of each concomitant column, the bytes of the arrays,
    and the units (groups, or rows) with the sum of their case weights."""

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        y = data.y
        nbytes = sum(a.nbytes for a in (data.y, data.X, data.offset, data.trials, data.Z))
        return {
            "n_dropped": int(data.cache.get("n_dropped", 0)),
            "rows": data.n_rows,
            "nobs": data.nobs,
            "y1": float(y.sum()),
            "y2": float(y @ y),
            "bytes": nbytes + data.weights.nbytes,
            "max:non_unit_weights": float(not data.unit_weights),
            "units": data.n_units,
            "unit_nobs": data.unit_nobs,
        }


@dataclass(frozen=True)
class FitStatsJob:
    """Statistics of a finished fit at ``params``: ``sum_u w_u log max_k tau_uk`` (the
    classification log-likelihood's part) and the classification entropy, over units
    (rows, or groups); the average prior probabilities' numerator and their Jacobian's,
    and the rows a separated component holds, and flexmix's cluster table (rows, with
    their weights, whose most probable component each is; rows whose posterior exceeds
    ``eps``), over rows, as the in-memory results count them."""

    params: MixtureParams
    eps: float = 1e-4

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        _, tau = tau_of(Source(self.params))
        w = data.weights
        gamma = self.params.gamma
        unit_w, unit_tau = data.unit_case_weights, data.unit_first(tau)
        with np.errstate(divide="ignore", invalid="ignore"):
            xlogx = np.where(unit_tau > 0, unit_tau * np.log(unit_tau), 0.0)
        glm = glm_driver(model)
        comp, n_zero = glm_params(self.params.components)
        separated = np.zeros(tau.shape[1])  # by posterior column
        for k, count in glm.separated(data, comp, tau[:, n_zero:]):
            separated[k + n_zero] = count
        return {
            "log_best": float(unit_w @ np.log(unit_tau.max(axis=1))),
            "entropy": -float(unit_w @ xlogx.sum(axis=1)),
            "prior_sum": w @ model.mixing.prior(data.Z, gamma),
            "jac_sum": model.mixing.proportions_jacobian(data.Z, gamma, w) * w.sum(),
            "separated": separated,
            "size": np.bincount(tau.argmax(axis=1), weights=w, minlength=tau.shape[1]),
            "positive": w @ (tau > self.eps),
            "min:prior": float(model.mixing.prior(data.Z, gamma).min(initial=1.0)),
        }


@dataclass(frozen=True)
class LouisJob:
    """This partition's part of Louis' observed information at ``params``
    (:func:`emglm.inference.louis.louis_information`: a sum over units, rows or whole
    groups, so partitions holding whole groups add up to the whole data's)."""

    params: MixtureParams

    def run(self, data: MixtureData, model: MixtureModel, tau_of: TauOf) -> Stats:
        return {"info": louis.louis_information(data, model, self.params)}


Job = (
    EStepJob | LinJob | CheckJob | LeastSquaresJob | RSSJob | MixingJob
    | CensusJob | FitStatsJob | LouisJob | DispersionJob | DispersionSumsJob
)  # fmt: skip


def run_jobs(data: MixtureData | None, model: MixtureModel, jobs: tuple[Job, ...]) -> Stats:
    """Every job on one partition; keys are ``"<job index>|<name>"``. Posteriors of each
    source are computed once per partition."""
    if data is None:
        return {}
    if data.n_rows == 0:  # every row had a missing value: only the census counts them
        return {f"{i}|n_dropped": data.cache.get("n_dropped", 0)
                for i, job in enumerate(jobs) if isinstance(job, CensusJob)}  # fmt: skip
    posteriors: dict[bytes, tuple[float, Array]] = {}

    def tau_of(src: Source) -> tuple[float, Array]:
        key = key_of(src)
        if key not in posteriors:
            posteriors[key] = src.posterior(data, model)
        return posteriors[key]

    out: Stats = {}
    for i, job in enumerate(jobs):
        for name, value in job.run(data, model, tau_of).items():
            head, sep, tail = name.partition(":")
            out[f"{head}:{i}|{tail}" if sep else f"{i}|{name}"] = value
    return out


def combine(*pieces: Stats) -> Stats:
    """Sum (or max, min: see the module notes) the results of several partitions."""
    out: Stats = {}
    for piece in pieces:
        for key, value in piece.items():
            if key not in out:
                out[key] = value
            elif key.startswith("max:"):
                out[key] = np.maximum(out[key], value)
            elif key.startswith("min:"):
                out[key] = np.minimum(out[key], value)
            else:
                out[key] = out[key] + value
    return out


def split(total: Stats, n_jobs: int) -> list[Stats]:
    """The reduced results, one dictionary per job, keys without the job index."""
    out: list[Stats] = [{} for _ in range(n_jobs)]
    for key, value in total.items():
        head, sep, rest = key.partition(":")
        if not sep or head not in ("max", "min"):
            head, rest = "", key
        index, _, name = rest.partition("|")
        out[int(index)][f"{head}:{name}" if head else name] = value
    return out
