"""Predictions and residuals of a fitted mixture: what :meth:`EMGLMResults.predict` and
:meth:`EMGLMResults.resid` compute (documented there), from the results' fitted arrays.

NumPy inside, pandas at the edge; nothing here changes the results object.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emglm.components.base import e_step_from_log_densities
from emglm.data import formula
from emglm.data.arrays import MixtureData
from emglm.data.groups import group_labels, grouping_of
from emglm.exceptions import InputError

if TYPE_CHECKING:
    from emglm.report.record import ResponseView
    from emglm.report.results import EMGLMResults

Array = NDArray[np.float64]

PREDICT_KINDS = ("mean", "component", "prob", "posterior", "linear")
RESID_LEVELS = ("mixture", "component", "pooled")


def predict(
    res: EMGLMResults,
    newdata: pd.DataFrame | None,
    which: str,
    *,
    offset: Any,
    exposure: Any,
    response: str | None,
) -> pd.Series | pd.DataFrame:
    """:meth:`EMGLMResults.predict`."""
    if which not in PREDICT_KINDS:
        raise InputError(
            f"which={which!r} is not allowed; choose one of {', '.join(map(repr, PREDICT_KINDS))}"
        )
    if res.record.several and response is None and which == "mean":
        cols = {
            v.name: res.predict(newdata, "mean", offset=offset, exposure=exposure,
                                response=v.name)
            for v in res._views
        }  # fmt: skip
        return pd.DataFrame(cols)
    view = res._view(response) if which not in ("prob", "posterior") else res._views[0]
    if newdata is None:
        d = view.data
        X, off, Z, index = d.X, d.offset, d.Z, res.record.row_index
    else:
        X, off, Z = formula.new_arrays(view.design, newdata, offset=offset, exposure=exposure)
        index = newdata.index
    eta = X @ view.params.coef.T + off[:, None]
    if which == "linear":
        return pd.DataFrame(eta, index=index, columns=res.coef_names)
    mu = res._with_point_masses(view.family.linkinv(eta))
    if which == "component":
        return pd.DataFrame(mu, index=index, columns=res.component_names)
    prior = np.broadcast_to(
        np.exp(res.record.mixture.mixing.log_prior(Z, res.em.params.gamma)), mu.shape
    )
    if which == "prob":
        return pd.DataFrame(prior.copy(), index=index, columns=res.component_names)
    if which == "mean":
        return pd.Series(np.sum(prior * mu, axis=1), index=index, name="predicted")
    if newdata is None:
        return res.posterior
    return new_posterior(res, view, newdata, X, off, Z, index)


def new_posterior(
    res: EMGLMResults,
    view: ResponseView,
    newdata: pd.DataFrame,
    X: Array,
    off: Array,
    Z: Array,
    index: pd.Index,
) -> pd.DataFrame:
    """Posteriors of new rows given their response, from the fitted priors (with the
    new rows' concomitant covariates): each row on its own, or with grouped
    observations each group of ``newdata`` (its grouping column) on its own. The
    component model's own log-densities, so a point mass at zero and shared
    coefficients count as in the fit."""
    rec = res.record
    if rec.several:
        raise InputError(
            "which='posterior' on newdata is for a single response; use which='prob' "
            "for the prior probabilities"
        )
    grouping = None
    if rec.data.groups is not None:
        if view.design.groups_arg is None:
            raise InputError(
                "which='posterior' on newdata of a grouped fit needs the groups of the "
                "new rows, but the fit's groups were given as an array; refit with "
                "groups='<column>' (or 'y ~ x | <column>') so newdata can name them"
            )
        labels = group_labels(view.design.groups_arg, newdata)
        assert labels is not None
        grouping = grouping_of(labels, np.ones(labels.shape[0]), Z)
    y, trials = formula.new_response(view.design, newdata, view.family)
    # The family's check of the fit, on the new responses beside the fitted ones (which
    # passed it, so only values outside the support can fail).
    fitted = view.data
    view.family.check_response(
        np.r_[y, fitted.y], np.r_[trials, fitted.trials], view.design.response_name
    )
    new = MixtureData(y, X, off, trials, np.ones(y.shape[0]), Z, grouping)
    log_dens = rec.mixture.components.log_densities(new, res.em.params.components)
    log_prior = rec.mixture.mixing.log_prior(new.unit_Z, res.em.params.gamma)
    post = e_step_from_log_densities(new, log_dens, log_prior).posterior
    return pd.DataFrame(post, index=index, columns=res.component_names)


def residuals(
    res: EMGLMResults, kind: str, level: str, response: str | None
) -> pd.Series | pd.DataFrame:
    """:meth:`EMGLMResults.resid`."""
    kinds = ("response", "pearson", "deviance")
    if kind not in kinds:
        raise InputError(f"kind={kind!r} is not allowed; choose one of {kinds}")
    if level not in RESID_LEVELS:
        raise InputError(f"level={level!r} is not allowed; choose one of {RESID_LEVELS}")
    view = res._view(response)
    d, fam = view.data, view.family
    glm_mu = view.glm.means(view.data, view.params)
    mu = res._with_point_masses(glm_mu)
    var = res._with_point_masses(
        fam.response_variance(glm_mu, view.params.scale, d.trials[:, None]), variance=True
    )
    if level == "component":
        m, v = mu, var
    else:
        weight = res._prior if level == "mixture" else res.em.posterior
        m = np.sum(weight * mu, axis=1)
        if level == "mixture":
            v = np.sum(weight * (var + mu**2), axis=1) - m**2
        else:
            v = np.sum(weight * var, axis=1)
    y = d.y if m.ndim == 1 else d.y[:, None]
    if kind == "response":
        r = y - m
    elif kind == "pearson":
        r = (y - m) / np.sqrt(np.maximum(v, 1e-300))
    else:
        trials = d.trials if m.ndim == 1 else d.trials[:, None]
        dev = np.maximum(fam.unit_deviance(y, fam.clip_mu(m), trials), 0.0)
        r = np.sign(y - m) * np.sqrt(dev)
    if r.ndim == 2:
        return res._frame(r)
    return pd.Series(r, index=res.record.row_index, name=f"resid_{kind}")
