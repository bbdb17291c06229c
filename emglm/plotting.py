"""Figures for fitted mixtures of GLMs.

matplotlib is an optional dependency (``pip install emglm[plot]``) and is imported only when
a function here is called. Every function returns the matplotlib ``Figure`` it drew on;
single-panel functions accept an ``ax`` to draw into, multi-panel ones a ``fig``.

Components use matplotlib's colour cycle in order: ``comp1`` is ``"C0"``, ``comp2`` is
``"C1"``, and so on, in every figure.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import emglm, emglm.plotting as ep
>>> df = emglm.datasets.load_sim2()
>>> res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, "poisson", K=2,
...                    start=(df.index >= 2500).astype(int))
>>> fig = ep.plot_llf(res)
>>> len(fig.axes)
1
>>> import matplotlib.pyplot as plt; plt.close(fig)
"""

from __future__ import annotations

import types
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy import optimize, stats

from emglm.checks import check_positive_int
from emglm.exceptions import InputError, InputTypeError
from emglm.report.results import EMGLMResults

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

Array = NDArray[np.float64]

CRITERIA = ("AIC", "BIC", "ICL")
_INSTALL_HINT = "emglm.plotting needs matplotlib; install it with `pip install emglm[plot]`"


def _pyplot() -> types.ModuleType:
    """Import pyplot on first use, with an install hint when matplotlib is missing."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return plt


def _check_results(res: Any) -> EMGLMResults:
    if not isinstance(res, EMGLMResults):
        raise InputTypeError(
            f"res must be the EMGLMResults of a fit (emglm.em_glm), not {type(res).__name__}"
        )
    return res


def _single_axes(ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is None:
        fig, ax = _pyplot().subplots()
        return fig, ax
    return ax.figure, ax  # type: ignore[return-value]


def _panels(
    fig: Figure | None, n: int, width: float = 3.2, height: float = 3.2
) -> tuple[Figure, list[Axes]]:
    """``n`` side-by-side axes, on a new figure or added to ``fig``."""
    if fig is None:
        fig = _pyplot().figure(figsize=(width * n, height), layout="constrained")
    axes = fig.subplots(1, n, squeeze=False)[0]
    return fig, list(axes)


# --- coefficients --------------------------------------------------------------------------
def align_known(params: pd.DataFrame, known: Any) -> pd.DataFrame:
    """Reorder the columns of ``known`` to match the fitted components.

    Component order is arbitrary, so each fitted component is paired with the known
    column nearest to it (squared Euclidean distance between coefficient vectors),
    minimising the total distance over all pairings (optimal assignment).

    Parameters
    ----------
    params : DataFrame
        Fitted coefficients (``res.params``): rows are terms, columns components.
    known : DataFrame or array-like
        Known coefficients of the same shape. A DataFrame's rows are matched to the terms
        by name; an array's rows are taken in the order of ``params``.

    Returns
    -------
    DataFrame
        ``known`` with rows in the order of ``params.index`` and columns reordered and
        renamed to ``params.columns``; ``.attrs["source"]`` lists the original column
        name of each.

    Examples
    --------
    >>> import pandas as pd
    >>> est = pd.DataFrame({"comp1": [0.9, 2.1], "comp2": [-1.1, 0.2]}, index=["a", "b"])
    >>> truth = pd.DataFrame({"p1": [-1.0, 0.0], "p2": [1.0, 2.0]}, index=["a", "b"])
    >>> al = align_known(est, truth)
    >>> al.attrs["source"], al.to_numpy().tolist()
    (['p2', 'p1'], [[1.0, -1.0], [2.0, 0.0]])
    """
    if isinstance(known, pd.DataFrame):
        missing = [t for t in params.index if t not in known.index]
        if missing:
            raise InputError(
                f"known has no rows for the terms {missing}; its rows are "
                f"{list(known.index)} and must name the fitted terms {list(params.index)}"
            )
        values = known.loc[params.index].to_numpy(dtype=float)
        source = [str(c) for c in known.columns]
    else:
        values = np.asarray(known, dtype=float)
        source = [f"column {j}" for j in range(values.shape[1])] if values.ndim == 2 else []
    if values.shape != params.shape:
        raise InputError(
            f"known must have one row per term and one column per component, shape "
            f"{params.shape}; got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise InputError("known contains missing or infinite values")
    est = params.to_numpy(dtype=float)
    cost = ((est[:, :, None] - values[:, None, :]) ** 2).sum(axis=0)  # (fitted, known)
    _, cols = optimize.linear_sum_assignment(cost)
    out = pd.DataFrame(values[:, cols], index=params.index, columns=params.columns)
    out.attrs["source"] = [source[j] for j in cols]
    return out


def _coef_intervals(res: EMGLMResults, alpha: float | None) -> tuple[Array, Array] | None:
    """Lower and upper limits shaped as ``res.params``, or None when ``alpha`` is None."""
    if alpha is None:
        return None
    try:
        ci = res.conf_int(alpha)
    except InputError as exc:  # a bad alpha, or a fit without standard errors (se=None)
        raise InputError(f"{exc}; or pass alpha=None to plot the estimates alone") from exc
    # conf_int covers all free parameters, labelled (component, term); keep the coefficients.
    keys = [(c, t) for c in res.coef_names for t in res.params.index]
    lower = ci["lower"].loc[keys].to_numpy(dtype=float).reshape(len(res.coef_names), -1).T
    upper = ci["upper"].loc[keys].to_numpy(dtype=float).reshape(len(res.coef_names), -1).T
    return lower, upper


def plot_coefficients(
    res: EMGLMResults,
    known: Any = None,
    alpha: float | None = 0.05,
    *,
    fig: Figure | None = None,
) -> Figure:
    """Estimated coefficients of each component with confidence intervals, against known
    values (em.glm's ``plot(fit, known_params=...)``).

    One panel per component; terms run down the vertical axis, the first at the top.
    Estimates are dots (line label ``"estimate"``) with horizontal ``1 - alpha`` Wald
    intervals from ``res.conf_int(alpha)``; known values are crosses (label ``"known"``).

    Parameters
    ----------
    res : EMGLMResults
    known : DataFrame or array-like, optional
        Known coefficients shaped as ``res.params`` (e.g.
        ``emglm.datasets.true_params("sim2")``). Their columns are matched to the fitted
        components by :func:`align_known`; the panel titles name the match.
    alpha : float or None
        1 - coverage of the intervals; ``None`` draws the estimates alone.
    fig : Figure, optional
        Figure to add the panels to.

    Returns
    -------
    Figure
    """
    res = _check_results(res)
    params = res.params
    limits = _coef_intervals(res, alpha)
    ci_label = "" if alpha is None else f"{1 - alpha:.0%} interval"
    truth = None if known is None else align_known(params, known)
    fig, axes = _panels(fig, params.shape[1], height=1.2 + 0.45 * len(params.index))
    pos = np.arange(len(params.index))
    for k, (ax, comp) in enumerate(zip(axes, params.columns, strict=True)):
        est = params[comp].to_numpy(dtype=float)
        ax.axvline(0.0, color="0.8", linewidth=0.8, label="_zero")
        if limits is not None:
            lo, hi = limits[0][:, k], limits[1][:, k]
            ax.hlines(pos, lo, hi, color=f"C{k}", linewidth=2, label=ci_label)
        ax.plot(est, pos, "o", markersize=4, color=f"C{k}", label="estimate")
        title = comp
        if truth is not None:
            ax.plot(truth[comp].to_numpy(), pos, "x", color="k", markersize=8, label="known")
            title = f"{comp} (known: {truth.attrs['source'][k]})"
        ax.set_title(title)
        ax.set_yticks(pos, [str(t) for t in params.index])
        ax.set_ylim(pos[-1] + 0.5, -0.5)
        ax.set_xlabel("coefficient")
    axes[0].legend(loc="best", fontsize="small")
    return fig


# --- posterior probabilities ---------------------------------------------------------------
def plot_posterior(
    res: EMGLMResults,
    bins: int = 20,
    *,
    rootogram: bool = False,
    eps: float = 1e-4,
    fig: Figure | None = None,
) -> Figure:
    """Histograms of the posterior probabilities of each component (em.glm's
    ``plot_probabilities``); with ``rootogram=True`` flexmix's ``rootogram``: square-root
    counts, rows whose posterior is at most ``eps`` left out.

    Each panel counts the rows by their posterior probability of that component, on
    ``bins`` equal bins over [0, 1], each row counted with its case weight. Well-separated
    components pile up at 0 and 1; mass in between means rows the model cannot assign.

    Parameters
    ----------
    res : EMGLMResults
    bins : int
        Number of equal-width bins on [0, 1].
    rootogram : bool
        Square-root counts and only posteriors above ``eps``, as flexmix plots them.
    eps : float
        With ``rootogram``, the posterior at or below which a row is left out.
    fig : Figure, optional
        Figure to add the panels to.

    Returns
    -------
    Figure
    """
    res = _check_results(res)
    bins = check_positive_int("bins", bins)
    if not isinstance(rootogram, bool):
        raise InputTypeError(f"rootogram must be True or False, not {rootogram!r}")
    post = res.posterior
    weights = res.record.data.weights
    fig, axes = _panels(fig, res.K)
    for k, (ax, comp) in enumerate(zip(axes, post.columns, strict=True)):
        values = post[comp].to_numpy()
        keep = values > eps if rootogram else np.ones(values.shape, dtype=bool)
        counts, edges = np.histogram(values[keep], bins=bins, range=(0.0, 1.0),
                                     weights=weights[keep])  # fmt: skip
        height = np.sqrt(counts) if rootogram else counts
        ax.bar(edges[:-1], height, width=np.diff(edges), align="edge", color=f"C{k}",
               edgecolor="white")  # fmt: skip
        ax.set_title(f"{comp} (mixing {res.mixing[comp]:.3f})")
        ax.set_xlabel("posterior probability")
    label = "rows (weighted)" if np.any(weights != 1) else "rows"
    axes[0].set_ylabel(f"sqrt({label})" if rootogram else label)
    return fig


# --- fitted values along one covariate -----------------------------------------------------
def _covariate(res: EMGLMResults, x: Any, data: pd.DataFrame | None) -> tuple[Array, str]:
    """Values of the covariate on the fitted rows, and its label."""
    rows = res.record.row_index
    if isinstance(x, str):
        if data is not None:
            if x not in data.columns:
                raise InputError(f"x={x!r} is not a column of data; columns: {list(data.columns)}")
            return data.loc[rows, x].to_numpy(dtype=float), x
        names = res.record.x_names
        if x not in names:
            raise InputError(
                f"x={x!r} is not a design column ({names}); pass the data frame as data= "
                "to plot against one of its columns"
            )
        return res.record.data.X[:, names.index(x)].copy(), x
    values = np.asarray(x, dtype=float)
    if values.shape != (len(rows),):
        raise InputError(
            f"x must be a column name or one value per fitted row ({len(rows)}); got shape "
            f"{values.shape}"
        )
    return values, getattr(x, "name", None) or "x"


def _depends_on_x_alone(res: EMGLMResults, xv: Array) -> bool:
    """Whether the component means are a function of ``xv`` alone (then they are drawn as
    curves): every non-constant design column and the offset equal along ``xv``."""
    d = res.record.data
    cols = np.column_stack([d.X, d.offset])
    varying = cols[:, np.ptp(cols, axis=0) > 0]
    return varying.shape[1] == 0 or (varying.shape[1] == 1 and bool(np.allclose(varying[:, 0], xv)))


def plot_fitted(
    res: EMGLMResults,
    x: str | ArrayLike,
    data: pd.DataFrame | None = None,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Observed response and fitted component means along one covariate.

    Observed points are coloured by their most probable component (``res.classes``; the
    collection of class ``k`` is labelled ``"class k"``). Each component's fitted mean
    (``res.predict(which="component")``) is drawn over the same rows, sorted by ``x`` and
    labelled ``"compk fitted"``: a curve when the model has no other varying covariate or
    offset, else small dots, since the means then also move with the other covariates.
    For binomial models the response is the proportion of successes.

    Parameters
    ----------
    res : EMGLMResults
    x : str or array-like
        A design column name (e.g. ``"V1"``), a column of ``data``, or one value per
        fitted row.
    data : DataFrame, optional
        The data frame the model was fitted on, when ``x`` is one of its columns that is
        not a design column; its rows are matched to the fitted rows by index.
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    res = _check_results(res)
    xv, label = _covariate(res, x, data)
    y = res.record.data.y
    classes = res.classes.to_numpy()
    means = res.predict(which="component").to_numpy()
    fig, ax = _single_axes(ax)
    for k in range(res.K):
        rows = classes == k + 1
        ax.scatter(xv[rows], y[rows], s=10, alpha=0.5, color=f"C{k}", label=f"class {k + 1}")
    order = np.argsort(xv, kind="stable")
    style = "-" if _depends_on_x_alone(res, xv) else "."
    for k, comp in enumerate(res.component_names):
        ax.plot(
            xv[order],
            means[order, k],
            style,
            color=f"C{k}",
            markeredgewidth=0,
            markersize=3,
            linewidth=2,
            label=f"{comp} fitted",
        )
    ax.set_xlabel(label)
    ax.set_ylabel(res.response_name)
    ax.legend(loc="best", fontsize="small")
    return fig


# --- log-likelihood trace ------------------------------------------------------------------
def plot_llf(res: EMGLMResults, *, ax: Axes | None = None) -> Figure:
    """The log-likelihood at the start (iteration 0) and after every EM iteration.

    The trace never decreases for EM; a flat tail shows convergence.

    Parameters
    ----------
    res : EMGLMResults
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    res = _check_results(res)
    hist = res.llf_history
    fig, ax = _single_axes(ax)
    ax.plot(np.arange(hist.size), hist, "-o", markersize=3, label="log-likelihood")
    ax.ticklabel_format(axis="y", useOffset=False, style="plain")
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood")
    ax.set_title(f"llf {res.llf:.4f} after {res.n_iter} iterations")
    return fig


# --- Q-Q plot of residuals -----------------------------------------------------------------
def plotting_positions(n: int) -> Array:
    """Probabilities at which the sorted sample of size ``n`` is plotted: R's ``ppoints``,
    ``(i - a) / (n + 1 - 2a)`` with ``a = 3/8`` for ``n <= 10`` and ``1/2`` otherwise.

    Examples
    --------
    >>> plotting_positions(4).round(4).tolist()
    [0.1471, 0.3824, 0.6176, 0.8529]
    """
    a = 3.0 / 8.0 if n <= 10 else 0.5
    return (np.arange(1, n + 1, dtype=float) - a) / (n + 1 - 2 * a)


def _qq_points(r: Array) -> tuple[Array, Array]:
    r = np.sort(r)
    return stats.norm.ppf(plotting_positions(r.size)), r


def plot_qq(
    res: EMGLMResults,
    kind: str = "pearson",
    level: str = "mixture",
    *,
    ax: Axes | None = None,
) -> Figure:
    """Normal Q-Q plot of residuals (``res.resid(kind, level)``).

    Sorted residuals (vertical) against standard normal quantiles at R's ``ppoints``
    (:func:`plotting_positions`), with R's ``qqline``: the line through the first and
    third quartiles of both (label ``"qqline"``). For ``level="component"`` each
    component is drawn from the rows classified to it (``res.classes``), against its own
    residuals, labelled ``"compk"``, with one qqline per component; otherwise one set of
    points labelled ``"residuals"``. Case weights are not used.

    Parameters
    ----------
    res : EMGLMResults
    kind : {"pearson", "deviance", "response"}
    level : {"mixture", "component", "pooled"}
        See :meth:`EMGLMResults.resid`.
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    res = _check_results(res)
    r = res.resid(kind, level)
    if isinstance(r, pd.DataFrame):
        classes = res.classes.to_numpy()
        sets = [
            (comp, r[comp].to_numpy()[classes == k + 1], f"C{k}")
            for k, comp in enumerate(res.component_names)
        ]
    else:
        sets = [("residuals", r.to_numpy(), "C0")]
    fig, ax = _single_axes(ax)
    points = []
    for name, values, colour in sets:
        if values.size == 0:  # a component with no rows classified to it
            continue
        q, s = _qq_points(values)
        points += ax.plot(q, s, "o", markersize=3, alpha=0.6, color=colour, label=name)
        if values.size > 1:
            zq = stats.norm.ppf([0.25, 0.75])
            rq = np.quantile(values, [0.25, 0.75])
            slope = float((rq[1] - rq[0]) / (zq[1] - zq[0]))
            ax.axline((zq[0], rq[0]), slope=slope, color=colour, linewidth=1, label="qqline")
    ax.set_xlabel("normal quantiles")
    ax.set_ylabel(f"{kind} residuals ({level})")
    if len(points) > 1:
        ax.legend(handles=points, loc="best", fontsize="small")
    return fig


# --- information criteria against K --------------------------------------------------------
def plot_criteria(
    table: Any,
    criteria: Sequence[str] = CRITERIA,
    *,
    ax: Axes | None = None,
) -> Figure:
    """Information criteria against the number of components (from ``select_k``).

    One line per criterion (labelled by its name), points at each K, with the smallest
    value circled (label ``"<name> min"``). Rows where a criterion is missing (a K whose
    fits failed) are left out of its line.

    Parameters
    ----------
    table : DataFrame or object with a ``table`` DataFrame attribute
        A ``K`` column (or index, as in the table of ``select_k``) and columns named by
        ``criteria`` (matched case-insensitively; the ones absent are skipped, at least
        one must be present).
    criteria : sequence of str
        Which criteria to draw.
    ax : Axes, optional

    Returns
    -------
    Figure
    """
    frame = getattr(table, "table", table)
    if not isinstance(frame, pd.DataFrame):
        raise InputTypeError(
            "table must be a DataFrame with a K column, or a select_k result with a .table "
            f"DataFrame; got {type(table).__name__}"
        )
    if str(frame.index.name).lower() == "k":  # select_k indexes its table by K
        frame = frame.reset_index()
    lower = {str(c).lower(): c for c in frame.columns}
    if "k" not in lower:
        raise InputError(f"table has no K column or index; its columns are {list(frame.columns)}")
    present = [(name, lower[name.lower()]) for name in criteria if name.lower() in lower]
    if not present:
        raise InputError(
            f"table has none of the criteria {list(criteria)}; its columns are "
            f"{list(frame.columns)}"
        )
    frame = frame.sort_values(lower["k"])
    ks = frame[lower["k"]].to_numpy(dtype=float)
    fig, ax = _single_axes(ax)
    lines = []
    for j, (name, col) in enumerate(present):
        values = frame[col].to_numpy(dtype=float)
        ok = np.isfinite(values)
        if not ok.any():
            continue
        lines += ax.plot(ks[ok], values[ok], "-o", color=f"C{j}", label=name)
        best = np.flatnonzero(ok)[np.argmin(values[ok])]
        ax.plot(
            ks[best],
            values[best],
            "o",
            markersize=14,
            markerfacecolor="none",
            color=f"C{j}",
            label=f"{name} min",
        )
    ax.set_xticks(np.unique(ks))
    ax.set_xlabel("number of components K")
    ax.set_ylabel("criterion (smaller is better)")
    ax.legend(handles=lines, loc="best", fontsize="small")
    return fig
