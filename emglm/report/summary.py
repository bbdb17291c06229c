"""Summary tables built on ``statsmodels.iolib.summary.Summary``.

The summary has a fit block, a table of mixing proportions, with a concomitant model one
table of log-odds coefficients per non-reference component, one coefficient table per
component (only its own terms when coefficients are shared, which get tables of their
own) and notes. Standard-error columns appear when the results carry standard errors.
No timestamp is printed, so the output is reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats
from statsmodels.iolib.summary import Summary
from statsmodels.iolib.table import SimpleTable
from statsmodels.iolib.tableformatting import fmt_params

if TYPE_CHECKING:
    from emglm.report.results import EMGLMResults


def _fmt(value: float, digits: int = 4) -> str:
    if not np.isfinite(value):
        return "nan"
    if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-4):
        return f"{value:.{digits}e}"
    return f"{value:.{digits}f}"


def estimate_table(
    title: str,
    names: Sequence[str] | pd.Index,
    estimates: Sequence[float] | NDArray[np.float64],
    bse: Sequence[float] | NDArray[np.float64] | None,
    alpha: float = 0.05,
    label: str = "coef",
    tests: bool = True,
    intervals: NDArray[np.float64] | None = None,
) -> SimpleTable:
    """A coefficient table: estimate, and where given std err, z, P>|z| and interval.

    ``tests=False`` leaves z and P>|z| blank (for quantities where a test of zero means
    nothing, such as proportions and standard deviations); ``intervals`` (n, 2) replaces
    the Wald intervals ``estimate -/+ z std err``.

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
        lo, hi = (est - q * se, est + q * se) if intervals is None else intervals[i]
        z_txt, p_txt = (f"{z:.3f}", f"{p:.3f}") if tests else ("", "")
        rows.append([_fmt(est), _fmt(se), z_txt, p_txt, _fmt(lo), _fmt(hi)])
    headers = [label]
    if bse is not None:
        lo, hi = f"[{alpha / 2:g}", f"{1 - alpha / 2:g}]"
        headers += ["std err", "z", "P>|z|", lo, hi]
    return SimpleTable(rows, headers=headers, stubs=list(names), title=title, txt_fmt=fmt_params)


def build_summary(res: EMGLMResults, alpha: float = 0.05) -> Summary:
    """The summary of a fitted mixture; see :meth:`EMGLMResults.summary`."""
    fams = [res.family_of(r) for r in res.responses]
    cov_type = getattr(res, "cov_type", None) or "none"
    left = [
        ("Dep. Variable:", [", ".join(res.responses)]),
        ("Family:", [", ".join(type(f.sm_family).__name__ for f in fams)]),
        ("Link:", [", ".join(type(f.sm_family.link).__name__ for f in fams)]),
        ("Method:", [res.method.upper()]),
        ("Components:", [_components(res)]),
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
        yname=", ".join(res.responses),
        xname=list(res.params.index),
        title="Finite mixture of GLMs (EM)",
    )
    has_se = cov_type != "none"
    tidy = res.estimates(alpha) if has_se else None
    mix = res.mixing.to_numpy()
    mix_se = res.mixing_bse.to_numpy() if has_se else None
    mix_ci = None if tidy is None else _intervals(tidy, "mixing")
    smry.tables.append(
        estimate_table(
            "Mixing proportions"
            + (" (average prior probabilities)" if res.has_concomitant else ""),
            res.component_names,
            mix,
            mix_se,
            alpha,
            label="prob",
            tests=False,
            intervals=mix_ci,
        )
    )
    smry.tables.append(cluster_table(res))
    if res.has_concomitant:
        smry.tables.extend(concomitant_tables(res, alpha))
    several = len(res.responses) > 1
    params, bse = res.params, res.bse if has_se else None
    own, shared = coefficient_blocks(res)
    for name in res.responses:
        # With several responses, one block per response and component; with shared
        # coefficients, each component's own terms (the shared ones follow).
        rows = [
            t
            for i, t in enumerate(params.index)
            if i in own and (not several or t.startswith(f"{name}:"))
        ]
        for comp in res.coef_names:
            smry.tables.append(
                estimate_table(
                    f"Component {comp}" + (f", response {name}" if several else ""),
                    [t[len(name) + 1 :] if several else t for t in rows],
                    params.loc[rows, comp].to_numpy(),
                    None if bse is None else bse.loc[rows, comp].to_numpy(),
                    alpha,
                )
            )
    for title, rows_at, comp in shared:
        smry.tables.append(_coef_table(res, title, comp, rows_at, has_se, alpha))
    for name, fam in zip(res.responses, fams, strict=True):
        if not fam.has_scale:
            continue
        key = name if several else None
        sig_se = res.dispersion_bse_of(key).to_numpy() if has_se else None
        label = (f"{name}:" if several else "") + fam.dispersion_label
        sig_ci = None if tidy is None else _intervals(tidy, label, by="term")
        names, disp = list(res.coef_names), res.dispersion_of(key).to_numpy()
        driver = res._shared
        if driver is not None and driver[0].sharing.equal_scale:
            # One common dispersion: one row.
            names, disp = ["shared"], disp[:1]
            sig_se = None if sig_se is None else sig_se[:1]
        smry.tables.append(
            estimate_table(
                fam.dispersion_title + (f", response {name}" if several else ""),
                names,
                disp,
                sig_se,
                alpha,
                label=fam.dispersion_label,
                tests=False,
                intervals=sig_ci,
            )
        )
    smry.add_extra_txt(_notes(res))
    return smry


def coefficient_blocks(res: EMGLMResults) -> tuple[list[int], list[tuple[str, list[int], str]]]:
    """The rows of :attr:`params` each component's table shows, and the tables of shared
    coefficients (title, rows, a component that has them), for a driver that shares
    coefficients (:mod:`emglm.components.shared`)."""
    every = list(range(len(res.params.index)))  # every row, in each component's table
    if res._shared is None:
        return every, []
    driver, params = res._shared
    blocks = driver.shared_blocks(params)
    return list(driver.sharing.varying), [
        (title, list(cols), res.coef_names[k]) for title, cols, k in blocks
    ]


def _coef_table(
    res: EMGLMResults, title: str, comp: str, rows: list[int], has_se: bool, alpha: float
) -> SimpleTable:
    return estimate_table(
        title,
        [res.params.index[i] for i in rows],
        res.params[comp].to_numpy()[rows],
        res.bse[comp].to_numpy()[rows] if has_se else None,
        alpha,
    )


def cluster_table(res: EMGLMResults, eps: float = 1e-4) -> SimpleTable:
    """flexmix's table of the components (:meth:`EMGLMResults.cluster_table`)."""
    tab = res.cluster_table(eps)
    rows = [
        [f"{r['prior']:.4f}", _count(r["size"]), _count(r["post>0"]), f"{r['ratio']:.4f}"]
        for _, r in tab.iterrows()
    ]
    return SimpleTable(
        rows,
        headers=["prior", "size", f"post>{eps:g}", "ratio"],
        stubs=list(tab.index),
        title=f"Clusters: size = rows assigned, ratio = size / rows with posterior > {eps:g}",
        txt_fmt=fmt_params,
    )


def concomitant_tables(res: EMGLMResults, alpha: float = 0.05) -> list[SimpleTable]:
    """One table per component k >= 2 of the concomitant coefficients gamma_k, the
    log-odds ``log(pi_ik / pi_i1)`` of component k against the reference comp1."""
    gamma = res.mixing_params
    bse = res.mixing_params_bse if res.cov_type != "none" else None
    reference = res.component_names[0]
    return [
        estimate_table(
            f"Concomitant model {comp} (log-odds vs {reference})",
            gamma.index,
            gamma[comp].to_numpy(),
            None if bse is None else bse[comp].to_numpy(),
            alpha,
        )
        for comp in res.component_names[1:]
    ]


def _intervals(tidy: pd.DataFrame, kind: str, by: str = "kind") -> NDArray[np.float64]:
    rows = tidy[by] == kind
    return np.asarray(tidy.loc[rows, ["conf_low", "conf_high"]].to_numpy(), dtype=float)


def _components(res: EMGLMResults) -> str:
    """K, or ``"K + zero"`` when a point mass at zero sits beside K GLM components."""
    n_glm = len(res.coef_names)
    return str(res.K) if n_glm == res.K else f"{n_glm} + zero"


def _count(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _notes(res: EMGLMResults) -> list[str]:
    notes = []
    if res.converged:
        plural = "" if res.n_iter == 1 else "s"
        notes.append(f"EM converged in {res.n_iter} iteration{plural}.")
    else:
        notes.append(f"EM did NOT converge in {res.n_iter} iterations; estimates are not reliable.")
    if res.n_dropped:
        notes.append(f"{res.n_dropped} rows with missing values were dropped.")
    n_lost = len(res.em.drops)
    if n_lost:
        asked = res.record.n_requested
        notes.append(f"{asked} components requested, {n_lost} dropped (minprior rule; res.drops).")
    warm = res.warmup
    if warm is not None:
        llfs = warm.table.loc[warm.table.status == "ok", "llf"]
        spread = f"; their llf ranged {llfs.min():.4f} to {llfs.max():.4f}" if len(llfs) else ""
        iters = [r.n_iter for r in warm.runs if r.status == "ok"]
        took = f", {min(iters)}-{max(iters)} iterations each" if iters else ""
        notes.append(
            f"Started from the best of {len(warm.runs)} short warm-up runs "
            f"({warm.n_failed} failed{took}){spread}; table: res.warmup."
        )
        if len(warm.long) > 1:
            llf = [r.llf for r in warm.long]
            notes.append(
                f"EM was run to convergence from the {len(warm.long)} best distinct of them "
                f"(llf {min(llf):.4f} to {max(llf):.4f}); this fit is the best that kept "
                "all components."
            )
    else:
        notes.append(f"Started from {'the given start' if res.init == 'start' else res.init}.")
    notes.append(
        "Components are ordered by decreasing mixing proportion; log-likelihood includes "
        "normalising constants."
    )
    if len(res.coef_names) < res.K:
        notes.append(
            "Zero-inflated: component 'zero' is a point mass at zero (no parameters; "
            "flexmix's FLXMRziglm component 1), kept first."
        )
    cov = res.covariance
    if cov is None:
        notes.append("Standard errors were not computed (se=None).")
    elif cov.cov_type == "louis":
        notes.append(
            "Standard errors from the observed information (Louis' method) over all free "
            f"parameters, mixing logits included; {res.family.dispersion_label} and "
            "mixing errors by the delta method."
        )
    else:
        notes.append(
            f"Standard errors from {cov.n_boot - cov.n_failed} {cov.kind} bootstrap replicates "
            + ("refitted from random starts " if cov.start == "random" else "")
            + f"({cov.n_failed} failed and were left out); intervals shown are Wald intervals, "
            "percentile intervals: res.conf_int(method='percentile')."
        )
    return notes
