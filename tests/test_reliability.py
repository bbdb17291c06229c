"""Numerical extremes and degenerate fits: each case ends in the behaviour docs/reliability.md
documents (a finite fit, a named warning, or a clear error), never a NaN or a NumPy warning."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

import emglm
from emglm import exceptions
from emglm.families import get_family


@pytest.fixture(autouse=True)
def _numpy_warnings_are_errors():
    """No RuntimeWarning may leak from NumPy (or statsmodels) in any of these cases."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with np.errstate(all="raise", under="ignore"):
            yield


def _finite(res: emglm.EMGLMResults) -> bool:
    arrays = [res.params, res.posterior, res.mixing, res.scale]
    if res.covariance is not None:
        arrays.append(res.bse)
    return bool(np.isfinite(res.llf)) and all(np.isfinite(np.asarray(a)).all() for a in arrays)


# --- (1) numerical extremes ----------------------------------------------------------------------
def test_counts_up_to_1e6_match_statsmodels_and_recover_the_truth():
    rng = np.random.default_rng(3)
    n = 400
    x = rng.uniform(-1, 1, n)
    lab = np.arange(n) < 200
    eta = np.where(lab, 13.0 + 0.5 * x, 2.0 - 0.8 * x)
    df = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(eta))})
    assert df.y.max() > 6e5
    one = emglm.em_glm("y ~ x", df, "poisson", K=1)
    glm = sm.GLM(df.y, sm.add_constant(df.x), family=sm.families.Poisson()).fit()
    np.testing.assert_allclose(one.params["comp1"], glm.params, rtol=1e-9)
    assert one.llf == pytest.approx(glm.llf, rel=1e-10)
    np.testing.assert_allclose(one.bse["comp1"], glm.bse, rtol=1e-6)

    two = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=0)
    assert _finite(two)
    big = int(np.argmax(two.params.loc["Intercept"]))  # equal proportions: order by coef
    np.testing.assert_allclose(two.params.iloc[:, big], [13.0, 0.5], atol=2e-3)
    np.testing.assert_allclose(two.params.iloc[:, 1 - big], [2.0, -0.8], atol=0.1)
    assert np.diff(two.llf_history).min() >= -1e-9 * abs(two.llf)


@pytest.mark.parametrize("link", ["log", "logit", "probit", "cloglog"])
def test_links_stay_finite_at_extreme_linear_predictors(link):
    links = sm.families.links
    fam = {
        "log": sm.families.Poisson(),
        "logit": sm.families.Binomial(),
        "probit": sm.families.Binomial(link=links.Probit()),
        "cloglog": sm.families.Binomial(link=links.CLogLog()),
    }[link]
    f = get_family(fam)
    eta = np.array([-1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4])
    mu, d1, d2 = f.linkinv(eta), f.mu_eta(eta), f.mu_eta2(eta)
    assert np.isfinite(mu).all() and np.isfinite(d1).all() and np.isfinite(d2).all()
    y = np.ones_like(eta) if link == "log" else np.full_like(eta, 0.5)
    assert np.isfinite(f.loglik(y, mu, 1.0, np.ones_like(eta))).all()
    if link == "log":  # clipped at exp(+-300)
        assert mu[-1] == np.exp(300.0) and mu[0] == np.exp(-300.0)
    else:  # inside [1e-12, 1 - 1e-12]
        assert mu.min() >= 1e-12 and mu.max() <= 1 - 1e-12
    # where nothing is clipped, the derivatives are the link's own
    np.testing.assert_allclose(d1[3], fam.link.inverse_deriv(np.array([0.0]))[0], rtol=1e-12)
    np.testing.assert_allclose(d2[3], fam.link.inverse_deriv2(np.array([0.0]))[0], atol=1e-15)


def test_start_whose_linear_predictor_overflows_exp_is_dropped_not_nan():
    rng = np.random.default_rng(1)
    n = 200
    x = np.linspace(0, 100, n)
    df = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(1.0 + 0.02 * x))})
    # comp2 starts at exp(30 x): eta up to 3000, far beyond the double range
    start = np.array([[1.0, 0.02], [0.0, 30.0]])
    with pytest.warns(emglm.DegenerateComponentWarning, match="dropped component 2 of 2"):
        res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=start)
    assert res.K == 1 and _finite(res)
    glm = sm.GLM(df.y, sm.add_constant(df.x), family=sm.families.Poisson()).fit()
    # EM stops on a relative llf change of 1e-8: the coefficients agree to ~1e-8.
    np.testing.assert_allclose(res.params["comp1"], glm.params, rtol=1e-7)


def _separated_binomial() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    n = 200
    lab = np.arange(n) < 100
    x = rng.normal(size=n)
    y = np.where(lab, (x > 0).astype(float), rng.binomial(1, 0.5, size=n))
    return pd.DataFrame({"x": x, "y": y}), lab


def test_perfectly_separating_binomial_component_warns_and_stays_finite():
    df, lab = _separated_binomial()
    with pytest.warns(emglm.SeparationWarning, match=r"numerically 0 or 1 occurred in comp\d") as rec:
        res = emglm.em_glm("y ~ x", df, "binomial", K=2, start=lab.astype(int), se=None)
    assert len(rec) == 1 and rec[0].filename == __file__
    assert _finite(res) and res.converged
    sep = int(str(rec[0].message).split("occurred in comp")[1][0]) - 1
    other = 1 - sep
    assert abs(res.params.iloc[1, sep]) > 100  # the separating slope diverged
    # the other component is the GLM fitted with its posteriors as weights (M-step fixed point)
    tau = res.posterior.iloc[:, other].to_numpy()
    glm = sm.GLM(df.y, sm.add_constant(df.x), family=sm.families.Binomial(), var_weights=tau)
    np.testing.assert_allclose(res.params.iloc[:, other], glm.fit().params, atol=1e-4)


def test_separated_component_standard_errors_flagged_not_crash():
    df, lab = _separated_binomial()
    with pytest.warns(emglm.EMGLMWarning) as rec:
        res = emglm.em_glm("y ~ x", df, "binomial", K=2, start=lab.astype(int))
    kinds = {type(r.message) for r in rec}
    assert kinds == {emglm.SeparationWarning, emglm.SingularInformationWarning}
    assert _finite(res)


def test_gaussian_variance_collapse_is_floored_and_warned():
    rng = np.random.default_rng(0)
    n = 200
    y = rng.normal(size=n)
    y[:5] = 3.0  # five equal responses: a component on them has an unbounded likelihood
    df = pd.DataFrame({"y": y})
    start = (np.arange(n) < 5).astype(int)
    with pytest.warns(emglm.EMGLMWarning) as rec:
        res = emglm.em_glm("y ~ 1", df, "gaussian", K=2, start=start, minprior=0, se=None)
    [warning] = [r for r in rec if r.category is emglm.DegenerateComponentWarning]
    assert "variance of comp2 collapsed onto its floor" in str(warning.message)
    assert res.scale.iloc[1] == pytest.approx(1e-10 * np.var(y), rel=1e-12)
    assert res.params.iloc[0, 1] == pytest.approx(3.0, abs=1e-6)
    assert np.isfinite(res.llf)
    glm = res.record.mixture.components
    assert glm.collapsed(res.record.data, res.em.params.components).tolist() == [1]


def test_warm_up_never_picks_a_collapsed_start():
    rng = np.random.default_rng(2)
    y = np.r_[rng.normal(3, 1, 45), np.zeros(15)]  # a point mass at 0 attracts a component
    df = pd.DataFrame({"y": y})
    warm = emglm.small_em("y ~ 1", df, "gaussian", K=3, repeats=10, random_state=4, max_iter=200)
    reasons = warm.table.loc[warm.table.status == "failed", "reason"]
    assert reasons.str.match(r"the variance of component \d collapsed").sum() >= 3
    best = emglm.select_best(warm)
    assert best.components.scale.min() > 0.1
    ok = warm.table[warm.table.status == "ok"]
    assert warm.table.llf[warm.best_run()] == ok.llf.max()


@pytest.mark.parametrize(
    ("family", "y", "match"),
    [
        ("poisson", np.zeros(40), "poisson response 'y' is 0 in every row"),
        ("binomial", np.ones(40), "binomial response 'y' is 1 in every row.*\\+inf"),
        ("binomial", np.zeros(40), "binomial response 'y' is 0 in every row.*-inf"),
    ],
)
def test_degenerate_responses_are_refused(family, y, match):
    df = pd.DataFrame({"y": y, "x": np.linspace(0, 1, 40)})
    with pytest.raises(emglm.InputError, match=match):
        emglm.em_glm("y ~ x", df, family, K=2)


def test_zero_inflated_component_settles_with_finite_standard_errors():
    rng = np.random.default_rng(0)
    n = 300
    x = rng.normal(size=n)
    y = np.where(np.arange(n) < 100, 0, rng.poisson(np.exp(1 + 0.3 * x)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = emglm.em_glm("y ~ x", pd.DataFrame({"x": x, "y": y}), "poisson", K=2, random_state=0)
    assert _finite(res) and res.converged
    zero = int(np.argmin(res.params.loc["Intercept"]))
    assert res.params.loc["Intercept"].iloc[zero] == pytest.approx(-4.685, abs=0.002)
    assert res.mixing.iloc[1 - zero] == pytest.approx(0.6555, abs=1e-3)


def test_component_emptying_during_em_drops_it_and_llf_rises_elsewhere():
    rng = np.random.default_rng(5)
    n = 300
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "y": rng.poisson(np.exp(1.0 + 0.4 * x))})  # one component
    start = np.array([[1.0, 0.4], [1.1, 0.35], [4.0, 0.0]])  # comp3 far above the data
    with pytest.warns(emglm.DegenerateComponentWarning, match="dropped component") as rec:
        res = emglm.em_glm("y ~ x", df, "poisson", K=3, start=start, se=None, minprior=0.0)
    assert len(rec) == 1 and res.K < 3 and _finite(res)
    drops = [int(note.split(":")[0].split()[1]) for note in res.em.notes]
    history = res.llf_history
    steps = np.diff(history)
    # non-decreasing except at the iteration of a removal (documented)
    allowed = np.zeros(steps.size, dtype=bool)
    allowed[[d - 1 for d in drops if d >= 1]] = True
    assert (steps[~allowed] >= -1e-9 * abs(res.llf)).all()


def test_tiny_n_below_k_times_p_is_an_input_error():
    df = pd.DataFrame({"x": [0.1, 0.5, -0.3, 1.2, 0.8], "z": [1.0, 0, 2, 1, 3], "y": [1, 4, 0, 2, 3]})
    msg = r"K=2 components need at least K x 3 = 6 observations .*nobs=5; fit fewer components"
    with pytest.raises(emglm.InputError, match=msg):
        emglm.em_glm("y ~ x + z", df, "poisson", K=2)
    msg = r"K x 4 = 8 observations \(each component's GLM has 3 coefficients and a dispersion\)"
    with pytest.raises(emglm.InputError, match=msg):
        emglm.em_glm("y ~ x + z", df.assign(y=df.y + 0.5), "gaussian", K=2)
    # case weights count: the same rows twice over are enough
    res = emglm.em_glm("y ~ x + z", df, "poisson", K=2, weights=np.full(5, 2.0), se=None,
                       random_state=0, minprior=0.0, max_iter=50)  # fmt: skip
    assert res.nobs == 10


def test_very_large_k_relative_to_n():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"x": rng.normal(size=30)})
    df["y"] = rng.poisson(3, size=30)
    with pytest.raises(emglm.InputError, match="K=16 components need at least K x 2 = 32"):
        emglm.em_glm("y ~ x", df, "poisson", K=16)
    with pytest.raises(emglm.FitError, match=r"all 150 starts failed \(run 1: a component emptied"):
        emglm.em_glm("y ~ x", df, "poisson", K=15, random_state=1, minprior=0.0)
    # select_k refuses the too-large K before fitting anything
    with pytest.raises(emglm.InputError, match="K=16 components"):
        emglm.select_k("y ~ x", df, "poisson", K=[1, 16])


def test_random_partition_gives_every_component_its_parameters_worth_of_rows():
    from emglm.engine.starts import random_partition

    tau = random_partition(30, 10, np.random.default_rng(0), min_rows=3)
    assert tau.sum(axis=0).min() == 3 and (tau.sum(axis=1) == 1).all()
    # large n: the draw is the plain one
    a = random_partition(500, 3, np.random.default_rng(1), min_rows=3)
    b = random_partition(500, 3, np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)


# --- (2) design problems -------------------------------------------------------------------------
def test_collinear_columns_error_names_them():
    df = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20) % 4})
    with pytest.raises(emglm.InputError, match=r"collinear columns: 'I\(2 \* x \+ 1\)' is constant"):
        emglm.em_glm("y ~ x + I(2 * x + 1)", df, "poisson", K=1)


def test_unseen_factor_level_in_predict_names_it():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=50), "g": rng.choice(["a", "b"], 50)})
    df["y"] = rng.poisson(3, 50)
    res = emglm.em_glm("y ~ x + C(g)", df, "poisson", K=1)
    msg = r"factor level that was not seen in fitting: .*'z' .*expected: \['a', 'b'\]"
    with pytest.raises(emglm.InputError, match=msg):
        res.predict(df.assign(g="z").head(2))


# --- (3) warnings ------------------------------------------------------------------------------
def test_every_warning_class_derives_from_the_base():
    classes = [c for _, c in inspect.getmembers(exceptions, inspect.isclass)]
    found = [c for c in classes if issubclass(c, Warning)]
    assert len(found) >= 7
    assert all(issubclass(c, emglm.EMGLMWarning) for c in found)


def test_select_k_warns_once_per_kind_with_the_ks():
    rng = np.random.default_rng(5)
    df = pd.DataFrame({"x": rng.normal(size=300)})
    df["y"] = rng.poisson(np.exp(1.0 + 0.4 * df.x))  # one component: K >= 3 loses some
    with pytest.warns(emglm.EMGLMWarning) as rec:
        emglm.select_k("y ~ x", df, "poisson", K=[1, 3, 4], random_state=0, n_starts=2,
                       minprior=0.2)  # fmt: skip
    kinds = [type(r.message) for r in rec]
    assert len(kinds) == len(set(kinds))  # one warning per kind
    degenerate = [r for r in rec if r.category is emglm.DegenerateComponentWarning]
    assert len(degenerate) == 1 and "K=3:" in str(degenerate[0].message)
    assert "K=4:" in str(degenerate[0].message) and degenerate[0].filename == __file__


def test_warm_up_failures_are_counted_not_warned():
    rng = np.random.default_rng(7)
    df = pd.DataFrame({"x": rng.normal(size=40)})
    df["y"] = rng.poisson(3, size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warm = emglm.small_em("y ~ x", df, "poisson", K=12, repeats=6, random_state=0)
    assert warm.n_failed == (warm.table.status == "failed").sum() > 0
