"""Zero inflation (``zero_inflated=True``): a point mass at zero beside the GLM components,
checked against R flexmix's ``FLXMRziglm`` (tests/reference/flexmix_zero_inflated.R)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_fprime, approx_hess

import emglm
from emglm.cli import main
from emglm.components.zero_inflated import ZIParams
from emglm.engine import em
from emglm.exceptions import DegenerateComponentWarning, InputError, InputTypeError
from emglm.inference import bootstrap as boot
from emglm.inference import louis

REF = Path(__file__).parent / "reference"
FITS = json.loads((REF / "flexmix_zero_inflated.json").read_text())["fits"]
TIGHT = {"tol": 1e-13, "max_iter": 10000, "minprior": 0.0}


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF / "data" / f"{name}.csv")


# (reference name, formula, family, K, keyword arguments)
CASES = {
    "zi_pois": ("y ~ x", "poisson", 2, {"exposure": "t"}),
    "zi_pois_conc": ("y ~ x", "poisson", 2, {"exposure": "t", "concomitant": "~ x"}),
    "zi_binom": ("cbind(succ, fail) ~ x", "binomial", 1, {}),
    "zi_grouped_pois": ("y ~ x | id", "poisson", 2, {}),
    "zi_grouped_pois_conc": ("y ~ x | id", "poisson", 2, {"concomitant": "~ z"}),
}


def _fit_from_labels(name: str, **extra: object) -> emglm.EMGLMResults:
    formula, family, K, kwargs = CASES[name]
    df = _data(FITS[name]["dataset"])
    return emglm.em_glm(formula, df, family, K=K, zero_inflated=True,
                        start=df.label.to_numpy() - 1, **kwargs, **{**TIGHT, **extra})


@pytest.mark.parametrize("name", list(CASES))
def test_agrees_with_flexmix_ziglm(name: str) -> None:
    ref = FITS[name]
    res = _fit_from_labels(name)
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert res.k_params == ref["df"]
    assert res.K == ref["K"]  # flexmix's k counts the point mass
    np.testing.assert_allclose(res.params.T.to_numpy(), np.array(ref["coef"]), atol=1e-3)
    # flexmix's priors are the mean posteriors of the units (rows, or groups).
    data = res.record.data
    unit_post = data.unit_first(res.em.posterior)
    np.testing.assert_allclose(unit_post.mean(axis=0), ref["priors"], atol=1e-4)
    if not (ref["concomitant_formula"] and "grouped" in name):
        # emglm's mixing averages the prior probabilities over rows, not groups.
        np.testing.assert_allclose(res.mixing.to_numpy(), ref["priors"], atol=1e-4)
    assert res.component_names[0] == "zero"
    assert list(res.params.columns) == [f"comp{k + 2}" for k in range(ref["K"] - 1)]
    if ref.get("concomitant_coef"):
        # Both take the point mass (component 1) as the reference of the logits.
        np.testing.assert_allclose(res.mixing_params.to_numpy(),
                                   np.array(ref["concomitant_coef"]), atol=1e-3)
    # BIC with nobs = rows for grouped data, as flexmix; ICL from the hard assignment.
    assert res.bic == pytest.approx(ref["BIC"], abs=1e-3)
    assert res.icl == pytest.approx(ref["ICL"], abs=1e-3)


def test_random_starts_reach_the_flexmix_optimum() -> None:
    """The default warm-up (random partitions of K+1 components) and SQUAREM, or plain EM,
    find the maximum flexmix reaches from the true labels."""
    df = _data("zi_pois")
    ref = FITS["zi_pois"]
    for accel in ("squarem", None):
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, exposure="t", zero_inflated=True,
                           random_state=3, accel=accel, tol=1e-12, se=None)
        assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
        np.testing.assert_allclose(res.params.T.to_numpy(), np.array(ref["coef"]), atol=1e-3)
    for init in ("fit", "quantile", "cem"):
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, exposure="t", zero_inflated=True,
                           random_state=1, init=init, tol=1e-12, se=None)
        assert res.llf == pytest.approx(ref["logLik"], abs=1e-3), init


def _simulate(n: int, seed: int, family: str = "poisson") -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.choice(3, size=n, p=[0.3, 0.4, 0.3])
    x = rng.normal(size=n)
    mu = np.exp(np.where(lab == 1, 0.5 + 0.7 * x, 2.0 - 0.5 * x))
    if family == "poisson":
        y = rng.poisson(mu)
    else:  # NB2 with alpha = 0.5
        y = rng.poisson(rng.gamma(2.0, mu / 2.0))
    return pd.DataFrame({"y": np.where(lab == 0, 0, y), "x": x, "label": lab})


@pytest.mark.parametrize("family", ["poisson", "negbin"])
def test_recovers_known_parameters(family: str) -> None:
    df = _simulate(6000, seed=11, family=family)
    res = emglm.em_glm("y ~ x", df, family, K=2, zero_inflated=True, random_state=0)
    assert res.mixing["zero"] == pytest.approx(0.3, abs=0.03)
    np.testing.assert_allclose(res.mixing.to_numpy(), [0.3, 0.4, 0.3], atol=0.03)
    np.testing.assert_allclose(res.params.T.to_numpy(), [[0.5, 0.7], [2.0, -0.5]], atol=0.08)
    # flexmix's df: K p coefficients (+ K dispersions) + K free priors beside the point mass.
    assert res.k_params == 2 * 2 + (2 if family == "negbin" else 0) + 2
    if family == "negbin":
        np.testing.assert_allclose(res.dispersion.to_numpy(), [0.5, 0.5], atol=0.15)
    # The zero rows the GLM components cannot explain go to the point mass.
    post = res.posterior["zero"].to_numpy()
    assert np.all(post[df.y.to_numpy() > 0] == 0.0)
    assert post[df.label.to_numpy() == 0].mean() > 0.6


@pytest.mark.parametrize("case", ["concomitant", "grouped", "negbin"])
def test_louis_equals_finite_difference_hessian(case: str) -> None:
    if case == "grouped":
        res = _fit_from_labels("zi_grouped_pois", tol=1e-12)
    elif case == "concomitant":
        res = _fit_from_labels("zi_pois_conc", tol=1e-12)
    else:  # a dispersion per component, log(alpha), beside the point mass
        df = _simulate(1500, seed=8, family="negbin")
        res = emglm.em_glm("y ~ x", df, "negbin", K=2, zero_inflated=True, tol=1e-12,
                           start=df.label.to_numpy())
    data, model, params = res.record.data, res.record.mixture, res.em.params
    info = louis.louis_information(data, model, params)
    hess = approx_hess(model.pack(params), louis.observed_loglike, args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    assert np.all(np.isfinite(res.bse.to_numpy())) and np.all(res.bse.to_numpy() > 0)


def test_protocol_pieces() -> None:
    res = _fit_from_labels("zi_pois_conc")
    model, params, data = res.record.mixture, res.em.params, res.record.data
    zi = model.components
    vec = zi.pack(params.components)
    back = zi.unpack(data, vec, params.components)
    np.testing.assert_array_equal(back.coef, params.components.coef)
    assert back.zero and vec.shape == (zi.n_params(3),) == (4,)
    assert zi.param_names(3) == [("comp2", "Intercept"), ("comp2", "x"),
                                 ("comp3", "Intercept"), ("comp3", "x")]
    # Dropping the point mass leaves the GLM components; reordering keeps it first.
    dropped = zi.take(params.components, np.array([False, True, True]))
    assert not dropped.zero and zi.n_components(dropped) == 2
    swapped = zi.take(params.components, np.array([0, 2, 1]))
    np.testing.assert_array_equal(swapped.coef, params.components.coef[::-1])
    with pytest.raises(ValueError, match="point mass at zero must stay the first"):
        zi.take(params.components, np.array([1, 0, 2]))
    # Two equal GLM components are named as in the tables.
    same = ZIParams(type(params.components.glm)(np.ones((2, 2)), np.ones(2)))
    assert "comp2 and comp3 have nearly the same" in zi.why_singular(same)
    # Louis' scores under the point mass's label are zero: it has no parameters.
    scores, _ = zi.louis_pieces(data, params.components, res.em.posterior)
    assert scores.shape == (3, data.n_rows, 4) and not scores[0].any()


def test_canonical_order_sorts_only_what_the_driver_does_not_pin() -> None:
    res = _fit_from_labels("zi_pois")
    model, params = res.record.mixture, res.em.params
    order = em.canonical_order(model, params, np.array([0.1, 0.3, 0.6]))
    np.testing.assert_array_equal(order, [0, 2, 1])
    plain = emglm.em_glm("y ~ x", _data("zi_pois"), "poisson", K=3, se=None, random_state=0)
    order = em.canonical_order(plain.record.mixture, plain.em.params, np.array([0.1, 0.3, 0.6]))
    np.testing.assert_array_equal(order, [2, 1, 0])


def test_point_mass_stays_first_in_canonical_order() -> None:
    """The point mass (0.29) is smaller than the binomial component (0.71) but stays
    component 1, the reference of the mixing logits."""
    res = _fit_from_labels("zi_binom")
    assert list(res.mixing.index) == ["zero", "comp2"]
    assert res.mixing["zero"] < res.mixing["comp2"]
    assert res.mixing_params["zero"].eq(0).all()


def test_predict_and_residuals_count_the_point_mass() -> None:
    res = _fit_from_labels("zi_pois")
    df = _data("zi_pois")
    comp = res.predict(which="component")
    assert list(comp.columns) == ["zero", "comp2", "comp3"] and comp["zero"].eq(0).all()
    pi = res.mixing.to_numpy()
    coef = res.params.to_numpy()
    eta = coef[0][None, :] + np.outer(df.x, coef[1]) + np.log(df.t.to_numpy())[:, None]
    expected = np.exp(eta) @ pi[1:]  # the point mass adds pi_0 * 0
    np.testing.assert_allclose(res.predict().to_numpy(), expected, rtol=1e-12)
    np.testing.assert_allclose(res.fittedvalues.to_numpy(), expected, rtol=1e-12)
    new = df.head(5)
    np.testing.assert_allclose(res.predict(new).to_numpy(), expected[:5], rtol=1e-12)
    assert list(res.predict(which="linear").columns) == ["comp2", "comp3"]
    # Mixture variance: sum_k pi_k (v_k + mu_k^2) - m^2 with v = mu = 0 for the point mass.
    mu = np.exp(eta)
    m = mu @ pi[1:]
    v = (mu + mu**2) @ pi[1:] - m**2
    np.testing.assert_allclose(res.resid("pearson").to_numpy(), (df.y - m) / np.sqrt(v),
                               rtol=1e-10)
    assert np.isfinite(res.resid("deviance", "component").to_numpy()).all()
    assert res.resid("response", "component")["zero"].equals(df.y.astype(float))


def test_summary_shows_the_point_mass() -> None:
    text = str(_fit_from_labels("zi_pois_conc").summary())
    assert "2 + zero" in text
    assert "Component zero" not in text  # it has no coefficients
    assert "Component comp2" in text and "Component comp3" in text
    assert "log-odds vs zero" in text
    assert "point mass at zero" in text
    mixing = text.split("Mixing proportions")[1].split("Clusters")[0].splitlines()
    rows = [line.split()[0] for line in mixing if line.startswith(("zero", "comp"))]
    assert rows == ["zero", "comp2", "comp3"]


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
def test_bootstrap(kind: str) -> None:
    df = _data("zi_pois")
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True, exposure="t",
                       random_state=0, se="bootstrap", n_boot=20, bootstrap=kind)
    assert res.covariance.n_boot - res.covariance.n_failed >= 15
    louis_res = _fit_from_labels("zi_pois")
    ratio = res.bse.to_numpy() / louis_res.bse.to_numpy()
    assert np.all((ratio > 0.4) & (ratio < 2.5))
    assert res.mixing_bse["zero"] > 0


def test_parametric_draw_puts_zeros_on_the_point_mass() -> None:
    res = _fit_from_labels("zi_pois")
    data, model, params = res.record.data, res.record.mixture, res.em.params
    labels = np.r_[np.zeros(400, dtype=np.intp), np.ones(400, dtype=np.intp)]
    y = model.components.simulate(data, params.components, labels, np.random.default_rng(0))
    assert np.all(y[:400] == 0) and y[400:].mean() > 2
    # P(y = 0) = pi_0 + sum_k pi_k exp(-mu_k): the draws' share of zeros matches it.
    pi = res.mixing.to_numpy()
    p0 = pi[0] + np.exp(-res.predict(which="component").to_numpy()[:, 1:]) @ pi[1:]
    shares = [
        (boot.draw(data, model, params, "parametric", np.random.default_rng(s)).y == 0).mean()
        for s in range(20)
    ]
    assert np.mean(shares) == pytest.approx(p0.mean(), abs=0.01)


def test_weights_are_frequency_weights() -> None:
    df = _data("zi_pois").head(300)
    counts = np.random.default_rng(0).integers(1, 4, size=len(df))
    expanded = df.loc[df.index.repeat(counts)].reset_index(drop=True)
    kw = {"exposure": "t", "zero_inflated": True, "tol": 1e-12, "se": None}
    a = emglm.em_glm("y ~ x", df.assign(w=counts), "poisson", K=2, weights="w",
                     start=df.label.to_numpy() - 1, **kw)
    b = emglm.em_glm("y ~ x", expanded, "poisson", K=2, start=expanded.label.to_numpy() - 1,
                     **kw)
    assert a.llf == pytest.approx(b.llf, rel=1e-9)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), atol=1e-6)


def test_select_k_and_small_em() -> None:
    df = _simulate(1500, seed=5)
    sel = emglm.select_k("y ~ x", df, "poisson", K=[1, 2, 3], zero_inflated=True,
                         random_state=0, n_starts=3)
    assert sel.table.loc[2, "k_params"] == 2 * 2 + 2
    assert sel.table.loc[1, "k_params"] == 2 + 1
    assert sel.best_k == 2
    warm = emglm.small_em("y ~ x", df, "poisson", K=2, zero_inflated=True, repeats=3,
                          random_state=0)
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True,
                       start=emglm.select_best(warm), se=None)
    assert res.component_names == ["zero", "comp2", "comp3"]
    assert res.llf == pytest.approx(sel.fits[2].llf, abs=1e-3)


def test_dropped_point_mass_leaves_a_plain_glm_mixture() -> None:
    """As flexmix, a point mass whose prior falls below minprior is dropped like any
    component; the fit is then reported as a plain GLM mixture."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=500)
    y = rng.poisson(np.exp(1.5 + 0.3 * x))  # a few zeros, no inflation
    df = pd.DataFrame({"y": y, "x": x})
    assert (y == 0).sum() > 0
    start = (y > 0).astype(int)  # the zeros start on the point mass
    with pytest.warns(DegenerateComponentWarning, match="dropped component 1 of 2"):
        res = emglm.em_glm("y ~ x", df, "poisson", K=1, zero_inflated=True, start=start,
                           minprior=0.05)
    assert res.component_names == ["comp1"] and res.k_params == 2
    plain = emglm.em_glm("y ~ x", df, "poisson", K=1)
    assert res.llf == pytest.approx(plain.llf, abs=1e-6)


@pytest.mark.parametrize("family", ["gaussian", "gamma", "inverse_gaussian"])
def test_family_without_zero_is_an_error_before_fitting(family: str) -> None:
    df = pd.DataFrame({"y": np.linspace(0.5, 3, 20), "x": np.arange(20.0)})
    shown = family.replace("_", "")
    with pytest.raises(InputError, match=f"the {shown} family has none.*poisson, binomial, negbin"):
        emglm.em_glm("y ~ x", df, family, K=1, zero_inflated=True)
    with pytest.raises(InputError, match="positive probability at zero"):
        emglm.EMGLM.from_formula("y ~ x", df, family, K=1, zero_inflated=True)


def test_other_bad_input() -> None:
    df = pd.DataFrame({"y": np.arange(1, 21), "x": np.arange(20.0)})
    with pytest.raises(InputTypeError, match="zero_inflated must be True or False; got str"):
        emglm.em_glm("y ~ x", df, "poisson", K=1, zero_inflated="yes")
    with pytest.raises(InputError, match="the response has no zeros"):
        emglm.em_glm("y ~ x", df, "poisson", K=1, zero_inflated=True)
    two = df.assign(y2=np.arange(20) % 3)
    with pytest.raises(InputError, match="zero_inflated=True is for a single response"):
        emglm.em_glm(["y ~ x", "y2 ~ x"], two, ["poisson", "poisson"], K=1, zero_inflated=True)
    few = pd.DataFrame({"y": [0, 1, 2, 0, 3, 1], "x": np.arange(6.0), "g": [1, 1, 1, 2, 2, 2]})
    with pytest.raises(InputError, match="K=2 components and the point mass need at least 3 "
                       "groups; the data have 2"):
        emglm.em_glm("y ~ x | g", few, "poisson", K=2, zero_inflated=True)
    df0 = _data("zi_pois")
    with pytest.raises(InputError, match=r"labels must be integers 0\.\.2"):
        emglm.em_glm("y ~ x", df0, "poisson", K=2, zero_inflated=True,
                     start=np.full(len(df0), 3))
    # Coefficients start the GLM components only: (K, p), not (K + 1, p).
    res = emglm.em_glm("y ~ x", df0, "poisson", K=2, zero_inflated=True, exposure="t",
                       start=[[1.0, 0.5], [2.0, -0.4]], se=None, tol=1e-12)
    assert res.llf == pytest.approx(FITS["zi_pois"]["logLik"], abs=1e-4)
    plain = emglm.em_glm("y ~ x", df0, "poisson", K=2, se=None, random_state=0)
    with pytest.raises(InputError, match="another kind of component model"):
        emglm.em_glm("y ~ x", df0, "poisson", K=2, zero_inflated=True,
                     start=plain.em.params)
    assert isinstance(res.em.params.components, ZIParams)


def test_cli_zero_inflated(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "zi.csv"
    _data("zi_pois").to_csv(path, index=False)
    code = main(["fit", "--data", str(path), "--formula", "y ~ x", "--family", "poisson",
                 "-K", "2", "--exposure", "t", "--zero-inflated", "--seed", "1"])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "2 + zero" in out.out and "\nzero " in out.out
    assert f"{FITS['zi_pois']['logLik']:.3f}"[:-1] in out.out
    code = main(["fit", "--data", str(path), "--formula", "x ~ y", "--family", "gaussian",
                 "--zero-inflated"])
    assert code == 2 and "positive probability at zero" in capsys.readouterr().err


def test_inputs_untouched_and_warnings_quiet() -> None:
    df = _data("zi_grouped_pois")
    before = df.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = emglm.em_glm("y ~ x | id", df, "poisson", K=2, zero_inflated=True,
                           random_state=0)
    pd.testing.assert_frame_equal(df, before)
    post = res.posterior.to_numpy()
    first = df.groupby("id").head(1).index.to_numpy()
    np.testing.assert_array_equal(post, post[first][df.id.to_numpy() - 1])
    # A group holding any positive count cannot belong to the point mass.
    positive = df.groupby("id").y.transform("max").to_numpy() > 0
    assert np.all(post[positive, 0] == 0.0)
    assert res.llf == pytest.approx(FITS["zi_grouped_pois"]["logLik"], abs=1e-4)


@pytest.mark.parametrize("name", ["zi_pois_conc", "zi_grouped_pois"])
def test_engine_properties(name: str) -> None:
    """Plain EM never lowers the llf, posteriors sum to one, and the rows' order does not
    matter."""
    formula, family, K, kwargs = CASES[name]
    df = _data(FITS[name]["dataset"])
    res = emglm.em_glm(formula, df, family, K=K, zero_inflated=True, accel=None,
                       random_state=2, se=None, **kwargs)
    assert np.all(np.diff(res.llf_history) >= -1e-8 * abs(res.llf))
    np.testing.assert_allclose(res.posterior.sum(axis=1), 1.0, rtol=1e-12)
    perm = np.random.default_rng(0).permutation(len(df))
    shuffled = df.iloc[perm].reset_index(drop=True)
    start = res.posterior.to_numpy()[perm]
    again = emglm.em_glm(formula, shuffled, family, K=K, zero_inflated=True, start=start,
                         se=None, tol=1e-12, **kwargs)
    assert again.llf == pytest.approx(res.llf, abs=1e-5)


@pytest.mark.parametrize("method", ["cem", "sem"])
def test_classification_and_stochastic_em(method: str) -> None:
    df = _data("zi_pois")
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True, exposure="t",
                       method=method, random_state=0, se=None)
    assert res.component_names == ["zero", "comp2", "comp3"]
    np.testing.assert_allclose(res.params.T.to_numpy(), np.array(FITS["zi_pois"]["coef"]),
                               atol=0.1)
    # Hard labels: every positive count is outside the point mass.
    assert res.classes[df.y > 0].min() >= 2


def test_offset_equals_log_exposure() -> None:
    df = _data("zi_pois")
    a = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True, exposure="t",
                     start=df.label.to_numpy() - 1, se=None, tol=1e-12)
    b = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True,
                     offset=np.log(df.t.to_numpy()), start=df.label.to_numpy() - 1, se=None,
                     tol=1e-12)
    assert a.llf == pytest.approx(b.llf, abs=1e-9)


def test_plots_name_the_point_mass() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from emglm import plotting

    res = _fit_from_labels("zi_pois")
    fig = plotting.plot_coefficients(res)
    assert [ax.get_title() for ax in fig.axes] == ["comp2", "comp3"]
    fig = plotting.plot_posterior(res)
    titles = [ax.get_title() for ax in fig.axes]
    assert [t.split()[0] for t in titles] == ["zero", "comp2", "comp3"]
    fig = plotting.plot_fitted(res, "x")
    labels = fig.axes[0].get_legend_handles_labels()[1]
    assert "zero fitted" in labels and "class 1" in labels


def test_grouped_bootstrap_draws_whole_groups_from_the_point_mass() -> None:
    res = _fit_from_labels("zi_grouped_pois")
    data, model, params = res.record.data, res.record.mixture, res.em.params
    draw = boot.draw(data, model, params, "parametric", np.random.default_rng(0))
    group_max = np.maximum.reduceat(draw.y[data.groups.order], data.groups.bounds[:-1])
    # About a share pi_0 of the groups are all zeros (plus the rare all-zero Poisson group).
    assert np.mean(group_max == 0) == pytest.approx(res.mixing["zero"], abs=0.1)
    fit = emglm.em_glm("y ~ x | id", _data("zi_grouped_pois"), "poisson", K=2,
                       zero_inflated=True, random_state=0, se="bootstrap", n_boot=12,
                       bootstrap="parametric")
    assert np.all(np.isfinite(fit.bse.to_numpy())) and np.all(fit.bse.to_numpy() > 0)


def test_shared_coefficients_beside_the_point_mass() -> None:
    # A covariate z with one coefficient (0.4) in both GLM components (fixed=) next to the
    # point mass: the fit is a stationary point of the observed log-likelihood, Louis'
    # information is its finite-difference Hessian, and the tables show the shared term.
    df = _simulate(2000, seed=5)
    rng = np.random.default_rng(6)
    df["z"] = rng.normal(size=len(df))
    df["y"] = np.where(df.y > 0, rng.poisson(np.maximum(df.y, 0.5) * np.exp(0.4 * df.z)), 0)
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, zero_inflated=True, fixed="~ z",
                       tol=1e-12, start=df.label.to_numpy())  # fmt: skip
    data, model, params = res.record.data, res.record.mixture, res.em.params
    theta = model.pack(params)
    names = louis.param_names(model, [], params.n_components)
    assert [n for n in names if n[0] == "shared"] == [("shared", "z")]
    assert len(theta) == res.k_params == 2 * 2 + 1 + 2
    grad = approx_fprime(theta, louis.observed_loglike, args=(data, model, params))
    assert np.abs(grad).max() < 1e-3
    info = louis.louis_information(data, model, params)
    hess = approx_hess(theta, louis.observed_loglike, args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    assert list(res.params.columns) == ["comp2", "comp3"]
    assert res.params.loc["z", "comp2"] == res.params.loc["z", "comp3"]
    assert res.params.loc["z", "comp2"] == pytest.approx(0.4, abs=0.1)
    assert res.bse.loc["z", "comp2"] == res.bse.loc["z", "comp3"] > 0
    text = str(res.summary())
    assert "Shared by all components" in text
    rows = text.split("Shared by all components")[1].split("EM converged")[0].splitlines()
    terms = [r.split()[0] for r in rows if r and r[0].isalpha() and "coef" not in r]
    assert terms == ["z"]
    comp3 = text.split("Component comp3")[1].split("Shared by")[0]
    assert "Intercept" in comp3 and "\nz " not in comp3
