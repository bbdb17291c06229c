"""Summary tables built on ``statsmodels.iolib.summary.Summary``.

The summary has a fit block, a table of mixing proportions, with a concomitant model one
table of log-odds coefficients per non-reference component, one coefficient table per
component and notes. Standard-error columns appear when the results carry standard errors.
No timestamp is printed, so the output is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable
from statsmodels.iolib.tableformatting import fmt_params

from emglm import mixing

if TYPE_CHECKING:
    from emglm.results import EMGLMResults


def _fmt(value: float, digits: int = 4) -> str:
    if not np.isfinite(value):
        return "nan"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def estimate_table(
    title: str,
    names: Sequence[str] | pd.Index,
    estimates: Sequence[float] | np.ndarray,
    bse: Sequence[float] | np.ndarray | None,
    alpha: float = 0.05,
    label: str = "coef",
) -> SimpleTable:
    """A coefficient table: estimate, and where given std err, z, P>|z| and interval.

    Examples
    --------
    >>> print(estimate_table("comp1", ["x"], [0.5], [0.1]))
                                        comp1
    ==============================================================================
                     coef    std err          z      P>|z|      [0.025      0.975]
    ------------------------------------------------------------------------------
    x              0.5000     0.1000      5.000      0.000      0.3040      0.6960
    ==============================================================================
    """
    rows = []
    q = stats.norm.ppf(1 - alpha / 2)
    for i, _name in enumerate(names):
        est = float(estimates[i])
        if bse is None:
            rows.append([_fmt(est)])
            continue
        se = float(bse[i])
        z = est / se if se > 0 else np.nan
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        rows.append(
            [_fmt(est), _fmt(se), f"{z:.3f}", f"{p:.3f}", _fmt(est - q * se), _fmt(est + q * se)]
        )
    headers = [label]
    if bse is not None:
        lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
        headers += ["std err", "z", "P>|z|", lo, hi]
    return SimpleTable(rows, headers=headers, stubs=list(names), title=title, txt_fmt=fmt_params)


def build_summary(res: EMGLMResults, alpha: float = 0.05) -> Summary:
    """The summary of a fitted mixture; see :meth:`EMGLMResults.summary`."""
    model = res.model
    fam = model.family
    cov_type = getattr(res, "cov_type", None) or "none"
    left = [
        ("Dep. Variable:", [model.design.response_name]),
        ("Family:", [type(fam.sm_family).__name__]),
        ("Link:", [type(fam.sm_family.link).__name__]),
        ("Method:", [res.method.upper()]),
        ("Components:", [str(res.K)]),
        ("No. Observations:", [_count(res.nobs)]),
        ("Rows dropped:", [str(res.n_dropped)]),
        ("k_params:", [str(res.k_params)]),
    ]
    right = [
        ("Log-Likelihood:", [f"{res.llf:.4f}"]),
        ("AIC:", [f"{res.aic:.4f}"]),
        ("BIC:", [f"{res.bic:.4f}"]),
        ("ICL:", [f"{res.icl:.4f}"]),
        ("Converged:", [str(res.converged)]),
        ("Iterations:", [str(res.n_iter)]),
        ("Covariance Type:", [cov_type]),
        ("", [""]),
    ]
    smry = Summary()
    smry.add_table_2cols(
        res,
        gleft=left,
        gright=right,
        yname=model.design.response_name,
        xname=model.design.x_names,
        title="Finite mixture of GLMs (EM)",
    )
    mixing_bse = getattr(res, "mixing_bse", None)
    smry.tables.append(
        estimate_table(
            "Mixing proportions"
            + ("" if mixing.is_constant(model.data.Z) else " (average prior probabilities)"),
            res.component_names,
            res.mixing.to_numpy(),
            None if mixing_bse is None else mixing_bse.to_numpy(),
            alpha,
            label="prob",
        )
    )
    if not mixing.is_constant(model.data.Z):
        smry.tables.extend(concomitant_tables(res, alpha))
    bse = getattr(res, "bse", None) if cov_type != "none" else None
    for comp in res.component_names:
        smry.tables.append(
            estimate_table(
                f"Component {comp}",
                res.params.index,
                res.params[comp].to_numpy(),
                None if bse is None else bse[comp].to_numpy(),
                alpha,
            )
        )
    if fam.has_scale:
        smry.tables.append(
            estimate_table(
                "Dispersion (sigma = sqrt(scale))",
                res.component_names,
                np.sqrt(res.scale.to_numpy()),
                None,
                alpha,
                label="sigma",
            )
        )
    smry.add_extra_txt(_notes(res))
    return smry


def concomitant_tables(res: EMGLMResults, alpha: float = 0.05) -> list[SimpleTable]:
    """One table per component k >= 2 of the concomitant coefficients gamma_k, the
    log-odds ``log(pi_ik / pi_i1)`` of component k against the reference comp1."""
    gamma = res.mixing_params
    bse = getattr(res, "mixing_params_bse", None)
    return [
        estimate_table(
            f"Concomitant model {comp} (log-odds vs comp1)",
            gamma.index,
            gamma[comp].to_numpy(),
            None if bse is None else bse[comp].to_numpy(),
            alpha,
        )
        for comp in res.component_names[1:]
    ]


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _notes(res: EMGLMResults) -> list[str]:
    notes = []
    if res.converged:
        notes.append(f"EM converged in {res.n_iter} iterations.")
    else:
        notes.append(f"EM did NOT converge in {res.n_iter} iterations; estimates are not reliable.")
    if res.n_dropped:
        notes.append(f"{res.n_dropped} rows with missing values were dropped.")
    notes.append(
        "Components are ordered by decreasing mixing proportion; log-likelihood includes "
        "normalising constants."
    )
    return notes
