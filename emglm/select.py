"""Choosing the number of components K by an information criterion.

:func:`select_k` fits the model for every K in a range (each with the default warm-up of
:meth:`emglm.EMGLM.fit`) and tabulates llf, AIC, BIC and ICL, as R flexmix's
``stepFlexmix`` followed by ``getModel(which = "BIC")``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.genmod.families as smf

from emglm.checks import check_choice
from emglm.data import formula as formula_mod
from emglm.engine import warmup
from emglm.exceptions import InputError, InputTypeError, collect, emit
from emglm.model import EMGLM
from emglm.options import FitOptions
from emglm.report.results import EMGLMResults

SELECT_CRITERIA = ("bic", "aic", "icl")


@dataclass(frozen=True, eq=False)
class SelectKResult:
    """Fits for several K and the one an information criterion chooses.

    Attributes
    ----------
    table : DataFrame
        One row per requested K: ``K_fitted`` (smaller when components were dropped),
        ``llf``, ``k_params``, ``aic``, ``bic``, ``icl``, ``converged``.
    fits : dict
        The :class:`~emglm.EMGLMResults` of each requested K.
    criterion : str
        The criterion used ("bic", "aic" or "icl"; smaller is better).
    best_k : int
        The requested K whose fit has the smallest criterion.
    """

    table: pd.DataFrame
    fits: dict[int, EMGLMResults]
    criterion: str
    best_k: int

    @property
    def best(self) -> EMGLMResults:
        """The chosen fit."""
        return self.fits[self.best_k]

    def __str__(self) -> str:
        return (
            f"Choosing K by {self.criterion.upper()}: K={self.best_k} chosen\n"
            + self.table.to_string(float_format=lambda v: f"{v:.3f}")
        )

    def __repr__(self) -> str:
        return str(self)


def select_k(
    formula: str,
    data: pd.DataFrame,
    family: str | smf.Family = "poisson",
    K: Iterable[int] = range(1, 6),
    criterion: str = "bic",
    *,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    groups: Any = None,
    fixed: str | None = None,
    equal_scale: bool = False,
    zero_inflated: bool = False,
    safe_formula: bool = False,
    random_state: int | np.random.Generator | None = None,
    options: FitOptions | None = None,
    **fit_options: Any,
) -> SelectKResult:
    """Fit a mixture for each K and choose K by an information criterion.

    Parameters
    ----------
    formula, data, family
        As for :func:`emglm.em_glm`.
    K : iterable of int, default range(1, 6)
        The numbers of components to try.
    criterion : {"bic", "aic", "icl"}
        Smaller is better. ICL (flexmix's: ``-2`` times the classification
        log-likelihood plus BIC's penalty) favours well-separated components.
    offset, exposure, weights, concomitant, groups, fixed, equal_scale, zero_inflated, safe_formula
        The model, as for :func:`emglm.em_glm` (nested groups fix K, so they have no
        place here).
    random_state : int or numpy Generator, optional
        Each K gets its own random stream spawned from it.
    options : FitOptions, optional
        How each K is fitted; or give the options by name (``**fit_options``: any field
        of :class:`~emglm.options.FitOptions`, e.g. ``n_starts=3, accel=None``). Standard
        errors are off (``se=None``) unless asked for.

    Returns
    -------
    SelectKResult
        The table, every fit, and the chosen one (``.best``).

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim1()
    >>> sel = emglm.select_k("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=[1, 2],
    ...                      random_state=0, n_starts=3)
    >>> sel.best_k, list(sel.table.columns)
    (1, ['K_fitted', 'llf', 'k_params', 'aic', 'bic', 'icl', 'converged'])
    """
    check_choice("criterion", criterion, SELECT_CRITERIA)
    if options is not None and fit_options:
        raise InputTypeError("give select_k either options= or options by name, not both")
    if options is None:
        # Choosing K needs no standard errors; they stay off unless asked for.
        options = FitOptions.from_keywords({"se": None, **fit_options}, "select_k")
    ks = _check_ks(K)
    base = EMGLM.from_formula(
        formula,
        data,
        family,
        1,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        groups=groups,
        fixed=fixed,
        equal_scale=equal_scale,
        zero_inflated=zero_inflated,
        eval_env=formula_mod.capture_env(1),
        safe_formula=safe_formula,
    )
    n_rows = base.data.y.shape[0]
    if ks[-1] > n_rows:
        raise InputError(f"K={ks[-1]} is larger than the number of rows ({n_rows})")
    models = [base.with_K(k) for k in ks]  # checks every K
    seeds = warmup.seed_sequence(random_state).spawn(len(ks))
    fits: dict[int, EMGLMResults] = {}
    rows = []
    caught: dict[type[Warning], list[str]] = {}
    for k, model, seed in zip(ks, models, seeds, strict=True):
        # The fits' own warnings are collected (in this thread only: no global filter is
        # touched, so concurrent calls keep theirs) and reported once per kind, below.
        with collect() as records:
            res = model.fit_with(options, random_state=np.random.default_rng(seed))
        for category, message in records:
            caught.setdefault(category, []).append(f"K={k}: {message}")
        fits[k] = res
        rows.append(
            {
                "K": k,
                "K_fitted": len(res.coef_names),
                "llf": res.llf,
                "k_params": res.k_params,
                "aic": res.aic,
                "bic": res.bic,
                "icl": res.icl,
                "converged": res.converged,
            }
        )
    for category, messages in caught.items():
        emit(
            f"{len(messages)} of the {len(ks)} fits warned ({category.__name__}): "
            + " | ".join(messages),
            category,
        )
    table = pd.DataFrame(rows).set_index("K")
    best_k = int(table[criterion].idxmin())
    return SelectKResult(table=table, fits=fits, criterion=criterion, best_k=best_k)


def _check_ks(K: Any) -> list[int]:
    """Sorted distinct positive integers from ``K``."""
    if isinstance(K, numbers.Integral):
        K = [K]
    try:
        ks = list(K)
    except TypeError:
        raise InputTypeError(f"K must be an iterable of positive integers, not {K!r}") from None
    if not ks:
        raise InputError("K is empty; give at least one number of components")
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
            raise InputError(f"K must hold positive integers; found {k!r}")
    return sorted({int(k) for k in ks})
