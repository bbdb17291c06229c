"""The model class and the ``em_glm`` front end.

:class:`EMGLM` holds what the data say (the design and its arrays, the family, K);
:meth:`EMGLM.fit` takes the solver settings and returns an :class:`EMGLMResults`.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.genmod.families as smf

from emglm import em, formula, irls
from emglm import init as starts
from emglm.exceptions import ConvergenceWarning, InputError, InputTypeError, SeparationWarning
from emglm.families import Family, get_family
from emglm.results import EMGLMResults

SE_METHODS = (None,)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """Raise :class:`InputError` naming ``value`` and the allowed ``choices``."""
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise InputError(f"{name}={value!r} is not allowed; choose one of {allowed}")


def check_positive_int(name: str, value: Any, upper: int | None = None) -> int:
    """Raise unless ``value`` is an integer >= 1 (and <= ``upper``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputTypeError(f"{name} must be a positive integer, not {value!r}")
    value = int(value)
    if value < 1:
        raise InputError(f"{name} must be a positive integer; got {value}")
    if upper is not None and value > upper:
        raise InputError(f"{name}={value} is larger than the number of rows ({upper})")
    return value


class EMGLM:
    """A finite mixture of ``K`` GLMs, built from a formula.

    Use :meth:`from_formula` to build one and :meth:`fit` to fit it; :func:`em_glm` does
    both in one call.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=400)})
    >>> lab = np.arange(400) < 200
    >>> df["y"] = rng.poisson(np.exp(np.where(lab, 2 + 0.5 * df.x, -0.5 * df.x)))
    >>> model = EMGLM.from_formula("y ~ x", df, family="poisson", K=2)
    >>> res = model.fit(start=lab.astype(int), tol=1e-10)
    >>> res.params.round(1)
               comp1  comp2
    Intercept    2.0   -0.2
    x            0.5   -0.5
    """

    def __init__(
        self,
        design: formula.Design,
        arrays: formula.ModelArrays,
        family: Family,
        K: int,
    ) -> None:
        self.design = design
        self.arrays = arrays
        self.family = family
        self.K = K
        self.data = em.MixtureData(
            y=arrays.y,
            X=arrays.X,
            offset=arrays.offset,
            trials=arrays.trials,
            weights=arrays.weights,
            Z=arrays.Z,
        )
        for arr in (arrays.y, arrays.X, arrays.offset, arrays.trials, arrays.weights, arrays.Z):
            arr.flags.writeable = False

    @classmethod
    def from_formula(
        cls,
        formula_: str,
        data: pd.DataFrame,
        family: str | smf.Family = "poisson",
        K: int = 2,
        *,
        offset: Any = None,
        exposure: Any = None,
        weights: Any = None,
        concomitant: str | None = None,
        eval_env: Any = None,
    ) -> EMGLM:
        """Build the model from an R-like formula and a DataFrame.

        Parameters
        ----------
        formula_ : str
            Patsy formula, e.g. ``"y ~ x1 + C(g) - 1"``; see :mod:`emglm.formula`.
        data : pandas.DataFrame
            The data; never modified.
        family : str or statsmodels family
            ``"poisson"``, ``"gaussian"``, ``"binomial"`` or a statsmodels family instance.
        K : int
            Number of components.
        offset, exposure, weights : array-like or str, optional
            Offset, exposure (its log is added to the offset) and case weights, as arrays
            or column names of ``data``.
        concomitant : str, optional
            One-sided formula for mixing proportions that depend on covariates.
        eval_env : optional
            Namespace for names in the formula; by default the caller's.
        """
        fam = get_family(family)
        env = formula.capture_env(1) if eval_env is None else eval_env
        design, arrays = formula.build(
            formula_,
            data,
            fam,
            offset=offset,
            exposure=exposure,
            weights=weights,
            concomitant=concomitant,
            eval_env=env,
        )
        K = check_positive_int("K", K, upper=arrays.y.shape[0])
        aliased = irls.aliased_columns(arrays.X)
        if aliased:
            names = design.x_names
            raise InputError(
                "the design has collinear columns: "
                + ", ".join(repr(names[j]) for j in aliased)
                + " "
                + ("is" if len(aliased) == 1 else "are")
                + " constant or a linear combination of the other columns; drop "
                + ("it" if len(aliased) == 1 else "them")
                + " from the formula"
            )
        return cls(design, arrays, fam, K)

    def fit(
        self,
        *,
        start: Any = None,
        init: str = "random",
        method: str = "em",
        max_iter: int = 1000,
        tol: float = 1e-8,
        se: str | None = None,
        n_boot: int = 200,
        random_state: int | np.random.Generator | None = None,
    ) -> EMGLMResults:
        """Fit the mixture by EM.

        Parameters
        ----------
        start : optional
            Starting values: coefficients (K x p array, list of K vectors or a ``params``
            DataFrame), posteriors (n x K), labels 0..K-1 (length n).
        init : {"random"}
            How to start when ``start`` is not given: a random partition of the rows.
        method : {"em"}
            The EM variant.
        max_iter : int
            Most EM iterations.
        tol : float
            Stop when the relative change of the log-likelihood is below ``tol``.
        se : None
            How to compute standard errors (``None`` skips them).
        n_boot : int
            Bootstrap replicates, for ``se="bootstrap"``.
        random_state : int or numpy Generator, optional
            Seed for random starts.

        Returns
        -------
        EMGLMResults
        """
        options = self._check_options(init, method, max_iter, tol, se, n_boot)
        rng = np.random.default_rng(random_state)
        start_value: em.MixtureParams | np.ndarray
        if start is None:
            start_value = starts.random_partition(self.data.y.shape[0], self.K, rng)
        else:
            start_value = starts.resolve_start(
                start, self.data, self.family, self.K, self.design.x_names
            )
        fit = em.run_em(self.data, self.family, start_value, options)
        if not fit.converged:
            warnings.warn(
                f"EM did not converge in max_iter={max_iter} iterations: the last relative "
                f"change of the log-likelihood was {fit.last_change:.3g} (tol={tol:g}); "
                "raise max_iter or start from better values (select_best)",
                ConvergenceWarning,
                stacklevel=_caller_level(),
            )
        if em.mixing.at_logodds_bound(self.data.Z, fit.params.gamma):
            warnings.warn(
                "the concomitant covariates separate the components: the fitted mixing "
                f"log-odds reached the bound +-{em.mixing.MAX_LOGODDS:g} at some rows (prior "
                "probabilities near 0 or 1), so the concomitant coefficients (res.mixing_params) "
                "are not identified and are reported on that bound; drop or coarsen the "
                "concomitant terms, check for rows with extreme concomitant values, or fit "
                "fewer components",
                SeparationWarning,
                stacklevel=_caller_level(),
            )
        proportions = np.exp(em.mixing.log_prior(self.data.Z, fit.params.gamma))
        mean_prop = (self.data.weights @ np.broadcast_to(proportions, fit.posterior.shape)) / (
            self.data.weights.sum()
        )
        fit = em.permute(fit, em.canonical_order(fit.params, mean_prop))
        return EMGLMResults(
            model=self, em=fit, method=method, init=init if start is None else "start"
        )

    def _check_options(
        self, init_: str, method: str, max_iter: int, tol: float, se: str | None, n_boot: int
    ) -> em.EMOptions:
        check_choice("init", init_, starts.INIT_METHODS)
        check_choice("method", method, em.EM_METHODS)
        check_choice("se", se, SE_METHODS)
        check_positive_int("max_iter", max_iter)
        check_positive_int("n_boot", n_boot)
        if not isinstance(tol, numbers.Real) or not np.isfinite(tol) or tol <= 0:
            raise InputError(f"tol must be a positive number; got {tol!r}")
        return em.EMOptions(max_iter=int(max_iter), tol=float(tol), method=method)


def _caller_level() -> int:
    """``stacklevel`` that points at the first frame outside the emglm package."""
    import sys

    frame = sys._getframe(1)
    level = 1
    while frame is not None and frame.f_globals.get("__name__", "").startswith("emglm"):
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def em_glm(
    formula_: str,
    data: pd.DataFrame,
    family: str | smf.Family = "poisson",
    K: int = 2,
    *,
    offset: Any = None,
    exposure: Any = None,
    weights: Any = None,
    concomitant: str | None = None,
    start: Any = None,
    init: str = "random",
    method: str = "em",
    max_iter: int = 1000,
    tol: float = 1e-8,
    se: str | None = None,
    n_boot: int = 200,
    random_state: int | np.random.Generator | None = None,
) -> EMGLMResults:
    """Fit a finite mixture of ``K`` GLMs by EM from an R-like formula.

    A thin front end over ``EMGLM.from_formula(...).fit(...)``; see those for the
    parameters.

    Examples
    --------
    >>> import emglm
    >>> df = emglm.datasets.load_sim2()
    >>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
    ...                    start=(df.index >= 2500).astype(int), tol=1e-10)
    >>> round(res.llf, 1) < 0, res.k_params
    (True, 11)
    """
    model = EMGLM.from_formula(
        formula_,
        data,
        family,
        K,
        offset=offset,
        exposure=exposure,
        weights=weights,
        concomitant=concomitant,
        eval_env=formula.capture_env(1),
    )
    return model.fit(
        start=start,
        init=init,
        method=method,
        max_iter=max_iter,
        tol=tol,
        se=se,
        n_boot=n_boot,
        random_state=random_state,
    )
