"""emglm.plotting: what each figure draws equals the values of the fit it shows."""

from __future__ import annotations

import builtins
import importlib
import sys

import matplotlib
import numpy as np
import pandas as pd
import pytest
from scipy import stats

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import emglm  # noqa: E402
from emglm import plotting as ep  # noqa: E402
from emglm.exceptions import InputError, InputTypeError  # noqa: E402

TRUE_A = (1.0, 0.5)  # intercept, slope of the first 300 rows
TRUE_B = (2.5, -0.7)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def pois_data() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 500
    x = rng.normal(size=n)
    lab = (np.arange(n) >= 300).astype(int)
    eta = np.where(lab == 0, TRUE_A[0] + TRUE_A[1] * x, TRUE_B[0] + TRUE_B[1] * x)
    return pd.DataFrame(
        {"y": rng.poisson(np.exp(eta)), "x": x, "u": rng.uniform(size=n), "label": lab}
    )


@pytest.fixture(scope="module")
def res(pois_data):
    return emglm.em_glm("y ~ x", pois_data, "poisson", K=2, start=pois_data["label"])


@pytest.fixture(scope="module")
def known() -> pd.DataFrame:
    # Columns in the opposite order of the fit (A holds 60% of the rows, so it is comp1).
    return pd.DataFrame({"B": TRUE_B, "A": TRUE_A}, index=["Intercept", "x"])


def labelled(ax, label):
    return [ln for ln in ax.lines if ln.get_label() == label]


# --- plot_coefficients ---------------------------------------------------------------------
def test_align_known_matches_nearest_components(res, known):
    al = ep.align_known(res.params, known)
    assert al.attrs["source"] == ["A", "B"]
    assert list(al.columns) == ["comp1", "comp2"]
    np.testing.assert_array_equal(al["comp1"].to_numpy(), TRUE_A)
    # The fit recovers the truth, so every aligned value is near its estimate.
    assert np.max(np.abs(al.to_numpy() - res.params.to_numpy())) < 0.15
    # Rows of a DataFrame are matched by name, arrays taken in the order of params.
    al2 = ep.align_known(res.params, known.iloc[::-1])
    pd.testing.assert_frame_equal(al2, al)
    np.testing.assert_array_equal(ep.align_known(res.params, known.to_numpy()), al.to_numpy())


def test_align_known_beats_every_other_pairing():
    rng = np.random.default_rng(3)
    est = pd.DataFrame(rng.normal(size=(4, 3)), columns=["comp1", "comp2", "comp3"])
    truth = rng.normal(size=(4, 3))
    al = ep.align_known(est, truth).to_numpy()
    best = min(
        ((est.to_numpy() - truth[:, list(p)]) ** 2).sum()
        for p in __import__("itertools").permutations(range(3))
    )
    assert ((est.to_numpy() - al) ** 2).sum() == pytest.approx(best)


def test_plot_coefficients_draws_estimates_and_known(res, known):
    fig = ep.plot_coefficients(res, known=known, alpha=None)
    assert len(fig.axes) == 2
    for k, ax in enumerate(fig.axes):
        comp = f"comp{k + 1}"
        (est,) = labelled(ax, "estimate")
        np.testing.assert_array_equal(est.get_xydata()[:, 0], res.params[comp].to_numpy())
        np.testing.assert_array_equal(est.get_xydata()[:, 1], [0, 1])
        (kn,) = labelled(ax, "known")
        np.testing.assert_array_equal(kn.get_xydata()[:, 0], TRUE_A if k == 0 else TRUE_B)
        np.testing.assert_array_equal(kn.get_xydata()[:, 1], [0, 1])
        assert [t.get_text() for t in ax.get_yticklabels()] == ["Intercept", "x"]
        assert ax.get_title() == f"{comp} (known: {'A' if k == 0 else 'B'})"
        assert not ax.collections  # no intervals asked for


def test_plot_coefficients_sim2_against_true_params():
    df = emglm.datasets.load_sim2()
    truth = emglm.datasets.true_params("sim2")
    res2 = emglm.em_glm(
        "y ~ V1 + V2 + V3 + V4 + V5 - 1",
        df,
        "poisson",
        K=2,
        start=emglm.datasets.true_labels("sim2"),
        se=None,
    )
    fig = ep.plot_coefficients(res2, known=truth, alpha=None)
    for ax, comp in zip(fig.axes, res2.component_names, strict=True):
        (kn,) = labelled(ax, "known")
        (est,) = labelled(ax, "estimate")
        # Each panel shows the true column nearest to it, and EM recovers it within 0.05.
        dist = {c: np.abs(truth[c].to_numpy() - est.get_xdata()).max() for c in truth}
        nearest = min(dist, key=dist.get)
        np.testing.assert_array_equal(kn.get_xdata(), truth[nearest].to_numpy())
        assert dist[nearest] < 0.05
        assert ax.get_title() == f"{comp} (known: {nearest})"


def test_plot_coefficients_without_known(res):
    fig = ep.plot_coefficients(res, alpha=None)
    assert all(not labelled(ax, "known") for ax in fig.axes)
    assert [ax.get_title() for ax in fig.axes] == ["comp1", "comp2"]


def test_plot_coefficients_draws_wald_intervals(res):
    fig = ep.plot_coefficients(res, alpha=0.1)
    ci = res.conf_int(0.1)
    z = stats.norm.ppf(0.95)
    for k, ax in enumerate(fig.axes):
        comp = f"comp{k + 1}"
        (coll,) = ax.collections
        segs = np.array(coll.get_segments())  # (terms, 2 ends, xy)
        lo = ci.loc[[(comp, t) for t in res.params.index], "lower"].to_numpy()
        hi = ci.loc[[(comp, t) for t in res.params.index], "upper"].to_numpy()
        np.testing.assert_allclose(segs[:, 0, 0], lo)
        np.testing.assert_allclose(segs[:, 1, 0], hi)
        np.testing.assert_array_equal(segs[:, 0, 1], [0, 1])
        # Wald intervals: estimate -/+ z * bse.
        np.testing.assert_allclose(segs[:, 1, 0], res.params[comp] + z * res.bse[comp], rtol=1e-10)
        assert coll.get_label() == "90% interval"


def test_plot_coefficients_without_standard_errors(pois_data):
    res0 = emglm.em_glm("y ~ x", pois_data, "poisson", K=2, start=pois_data["label"], se=None)
    with pytest.raises(InputError, match="se=None.*or pass alpha=None"):
        ep.plot_coefficients(res0)
    fig = ep.plot_coefficients(res0, alpha=None)
    assert all(len(labelled(ax, "estimate")) == 1 and not ax.collections for ax in fig.axes)


def test_plot_coefficients_bad_input(res, known):
    with pytest.raises(InputError, match=r"shape \(2, 2\); got shape \(2, 3\)"):
        ep.plot_coefficients(res, known=np.zeros((2, 3)))
    with pytest.raises(InputError, match="no rows for the terms \\['x'\\]"):
        ep.plot_coefficients(res, known=known.rename(index={"x": "z"}))
    with pytest.raises(InputError, match="alpha must be a number strictly between 0 and 1"):
        ep.plot_coefficients(res, alpha=1.5)
    with pytest.raises(InputTypeError, match="EMGLMResults"):
        ep.plot_coefficients(res.params)


# --- plot_posterior ------------------------------------------------------------------------
def test_plot_posterior_histogram_counts(res):
    fig = ep.plot_posterior(res, bins=10)
    assert len(fig.axes) == 2
    for ax, comp in zip(fig.axes, res.component_names, strict=True):
        counts, edges = np.histogram(res.posterior[comp], bins=10, range=(0, 1))
        heights = [p.get_height() for p in ax.patches]
        lefts = [p.get_x() for p in ax.patches]
        np.testing.assert_array_equal(heights, counts)
        np.testing.assert_allclose(lefts, edges[:-1], atol=1e-12)
        assert sum(heights) == res.nobs
    # With K=2, tau_2 = 1 - tau_1: the second histogram mirrors the first.
    h1, h2 = ([p.get_height() for p in ax.patches] for ax in fig.axes)
    assert h2 == h1[::-1]


def test_plot_posterior_rootogram_is_flexmix_s(res):
    fig = ep.plot_posterior(res, bins=10, rootogram=True)
    for ax, comp in zip(fig.axes, res.component_names, strict=True):
        post = res.posterior[comp].to_numpy()
        counts, _ = np.histogram(post[post > 1e-4], bins=10, range=(0, 1))
        np.testing.assert_allclose([p.get_height() for p in ax.patches], np.sqrt(counts))
    assert fig.axes[0].get_ylabel() == "sqrt(rows)"
    with pytest.raises(InputTypeError, match="rootogram must be True or False"):
        ep.plot_posterior(res, rootogram="yes")


def test_plot_posterior_counts_case_weights(pois_data):
    w = np.random.default_rng(2).integers(1, 4, size=len(pois_data))
    resw = emglm.em_glm(
        "y ~ x", pois_data, "poisson", K=2, weights=w, start=pois_data["label"], se=None
    )
    fig = ep.plot_posterior(resw, bins=5)
    counts, _ = np.histogram(resw.posterior["comp2"], bins=5, range=(0, 1), weights=w)
    np.testing.assert_allclose([p.get_height() for p in fig.axes[1].patches], counts)
    assert fig.axes[0].get_ylabel() == "rows (weighted)"


def test_plot_posterior_bad_bins(res):
    with pytest.raises(InputError, match="bins must be a positive integer; got 0"):
        ep.plot_posterior(res, bins=0)
    with pytest.raises(InputTypeError, match="bins must be a positive integer, not 2.5"):
        ep.plot_posterior(res, bins=2.5)


# --- plot_fitted ---------------------------------------------------------------------------
def test_plot_fitted_points_and_curves(res, pois_data):
    fig = ep.plot_fitted(res, "x")
    (ax,) = fig.axes
    x, y = pois_data["x"].to_numpy(), pois_data["y"].to_numpy()
    cls = res.classes.to_numpy()
    for k, coll in enumerate(ax.collections):
        assert coll.get_label() == f"class {k + 1}"
        np.testing.assert_array_equal(coll.get_offsets(), np.column_stack([x, y])[cls == k + 1])
    assert sum(len(c.get_offsets()) for c in ax.collections) == len(x)
    order = np.argsort(x)
    for comp in res.component_names:
        (line,) = labelled(ax, f"{comp} fitted")
        assert line.get_linestyle() == "-"  # the means depend on x alone
        # Independent of predict: exp(b0 + b1 x) from the coefficient table.
        b0, b1 = res.params[comp]
        np.testing.assert_allclose(line.get_xydata()[:, 0], x[order])
        np.testing.assert_allclose(line.get_xydata()[:, 1], np.exp(b0 + b1 * x[order]))
    assert ax.get_xlabel() == "x" and ax.get_ylabel() == "y"


def test_plot_fitted_other_covariate_and_arrays(pois_data):
    res2 = emglm.em_glm("y ~ x + u", pois_data, "poisson", K=2, start=pois_data["label"], se=None)
    fig = ep.plot_fitted(res2, "x")
    (line,) = labelled(fig.axes[0], "comp1 fitted")
    assert line.get_linestyle() == "None" and line.get_marker() == "."
    # A data column not in the design, and a plain array, give the same points.
    u = pois_data["u"].to_numpy()
    for fig in (ep.plot_fitted(res2, "u", data=pois_data), ep.plot_fitted(res2, u)):
        (line,) = labelled(fig.axes[0], "comp2 fitted")
        np.testing.assert_allclose(line.get_xdata(), np.sort(u))
    fig = ep.plot_fitted(res2, "label", data=pois_data)
    assert fig.axes[0].get_xlabel() == "label"


def test_plot_fitted_bad_input(res, pois_data):
    with pytest.raises(InputError, match="x='z' is not a design column"):
        ep.plot_fitted(res, "z")
    with pytest.raises(InputError, match="x='z' is not a column of data"):
        ep.plot_fitted(res, "z", data=pois_data)
    with pytest.raises(InputError, match=r"one value per fitted row \(500\); got shape \(3,\)"):
        ep.plot_fitted(res, [1, 2, 3])


# --- plot_llf ------------------------------------------------------------------------------
def test_plot_llf_trace(pois_data):
    res_r = emglm.em_glm("y ~ x", pois_data, "poisson", K=2, random_state=4, se=None)
    fig = ep.plot_llf(res_r)
    (ax,) = fig.axes
    (line,) = labelled(ax, "log-likelihood")
    hist = res_r.llf_history
    assert hist.size == res_r.n_iter + 1 >= 3
    np.testing.assert_array_equal(line.get_xdata(), np.arange(hist.size))
    np.testing.assert_array_equal(line.get_ydata(), hist)
    assert line.get_ydata()[-1] == res_r.llf


# --- plot_qq -------------------------------------------------------------------------------
def test_plotting_positions_equal_r_ppoints():
    # R: ppoints(5) and ppoints(12)
    np.testing.assert_allclose(
        ep.plotting_positions(5), [0.1190476, 0.3095238, 0.5, 0.6904762, 0.8809524], atol=1e-7
    )
    np.testing.assert_allclose(ep.plotting_positions(12)[:2], [1 / 24, 3 / 24])


def test_plot_qq_points_and_line(res):
    fig = ep.plot_qq(res, kind="deviance")
    (ax,) = fig.axes
    (pts,) = labelled(ax, "residuals")
    r = np.sort(res.resid("deviance").to_numpy())
    n = r.size
    q = stats.norm.ppf((np.arange(1, n + 1) - 0.5) / n)
    np.testing.assert_allclose(pts.get_xydata(), np.column_stack([q, r]))
    (line,) = labelled(ax, "qqline")
    # R's qqline passes through the quartile points of both distributions.
    assert line.get_xy1() == pytest.approx((stats.norm.ppf(0.25), np.quantile(r, 0.25)))
    assert line.get_slope() == pytest.approx(
        (np.quantile(r, 0.75) - np.quantile(r, 0.25)) / (2 * stats.norm.ppf(0.75))
    )
    assert ax.get_ylabel() == "deviance residuals (mixture)"


def test_plot_qq_component_level(res):
    fig = ep.plot_qq(res, kind="pearson", level="component")
    ax = fig.axes[0]
    r = res.resid("pearson", "component")
    cls = res.classes.to_numpy()
    for k, comp in enumerate(res.component_names):
        (pts,) = labelled(ax, comp)
        mine = np.sort(r[comp].to_numpy()[cls == k + 1])
        np.testing.assert_allclose(pts.get_ydata(), mine)
        np.testing.assert_allclose(
            pts.get_xdata(), stats.norm.ppf((np.arange(1, mine.size + 1) - 0.5) / mine.size)
        )
    assert len(labelled(ax, "qqline")) == 2


def test_plot_qq_passes_bad_kind_to_resid(res):
    with pytest.raises(InputError, match="kind='raw' is not allowed"):
        ep.plot_qq(res, kind="raw")


# --- plot_criteria -------------------------------------------------------------------------
def test_plot_criteria_lines_and_minima(pois_data):
    sel = emglm.select_k("y ~ x", pois_data, "poisson", K=range(1, 4), random_state=1)
    fig = ep.plot_criteria(sel)
    (ax,) = fig.axes
    for name in ("AIC", "BIC", "ICL"):
        (line,) = labelled(ax, name)
        np.testing.assert_array_equal(line.get_xdata(), [1, 2, 3])
        # The values of each fit, not only of the table.
        want = [getattr(sel.fits[k], name.lower()) for k in (1, 2, 3)]
        np.testing.assert_allclose(line.get_ydata(), want, rtol=1e-12)
        (best,) = labelled(ax, f"{name} min")
        np.testing.assert_array_equal(best.get_xdata(), [1 + int(np.argmin(want))])
    # The data come from two Poisson regressions: BIC prefers K=2.
    np.testing.assert_array_equal(labelled(ax, "BIC min")[0].get_xdata(), [2])
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["AIC", "BIC", "ICL"]
    # A plain DataFrame with a K column, in any row order, draws the same lines.
    shuffled = sel.table.reset_index().iloc[[2, 0, 1]].rename(columns={"bic": "BIC"})
    fig2 = ep.plot_criteria(shuffled, criteria=("BIC",))
    np.testing.assert_array_equal(
        labelled(fig2.axes[0], "BIC")[0].get_xydata(), labelled(ax, "BIC")[0].get_xydata()
    )


def test_plot_criteria_accepts_table_attribute_and_skips_missing():
    class Selection:  # as select_k: the table indexed by K, lower-case criteria
        table = pd.DataFrame(
            {"K_fitted": [1, 2, 3], "bic": [10.0, np.nan, 8.0], "other": [0, 0, 0]},
            index=pd.Index([1, 2, 3], name="K"),
        )

    fig = ep.plot_criteria(Selection())
    ax = fig.axes[0]
    (line,) = labelled(ax, "BIC")
    np.testing.assert_array_equal(line.get_xydata(), [[1, 10.0], [3, 8.0]])
    assert not labelled(ax, "AIC")
    np.testing.assert_array_equal(labelled(ax, "BIC min")[0].get_xydata(), [[3, 8.0]])


def test_plot_criteria_bad_input():
    with pytest.raises(InputError, match="no K column or index"):
        ep.plot_criteria(pd.DataFrame({"BIC": [1.0]}))
    with pytest.raises(InputError, match=r"none of the criteria \['AIC', 'BIC', 'ICL'\]"):
        ep.plot_criteria(pd.DataFrame({"K": [1], "llf": [1.0]}))
    with pytest.raises(InputTypeError, match="got list"):
        ep.plot_criteria([1, 2])


# --- drawing into given axes, lazy import --------------------------------------------------
def test_draws_into_given_axes_and_figure(res):
    fig, (a, b) = plt.subplots(1, 2)
    assert ep.plot_llf(res, ax=b) is fig
    assert len(b.lines) == 1 and not a.lines
    fig2 = plt.figure()
    assert ep.plot_posterior(res, fig=fig2) is fig2 and len(fig2.axes) == 2


def test_missing_matplotlib_names_the_extra(monkeypatch, res):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    for mod in [m for m in sys.modules if m.startswith("matplotlib")]:
        monkeypatch.delitem(sys.modules, mod)
    # Importing the module itself does not need matplotlib.
    monkeypatch.delitem(sys.modules, "emglm.plotting")
    mod = importlib.import_module("emglm.plotting")
    with pytest.raises(ImportError, match=r"pip install emglm\[plot\]"):
        mod.plot_llf(res)
