"""Coefficients shared across components (flexmix's FLXMRglmfix): fixed and nested terms,
a common dispersion."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_fprime, approx_hess

import emglm
from emglm.cli import main as cli_main
from emglm.components.shared import SharedParams
from emglm.engine.em import MixtureParams, e_step
from emglm.exceptions import InputError, InputTypeError
from emglm.inference import louis

REF = Path(__file__).parent / "reference"
FLEX = json.loads((REF / "flexmix_fixed.json").read_text())["fits"]
TIGHT = {"tol": 1e-13, "max_iter": 10000, "minprior": 0.0, "se": None}

CASES = {
    "pois_fixed": ("fixed_pois", "y ~ x", "poisson", 3, {"fixed": "~ z"}),
    "pois_nested": (
        "fixed_pois",
        "y ~ x",
        "poisson",
        3,
        {"fixed": "~ z", "nested": [(2, "~ x1"), (1, "~ 0")]},
    ),
    "grouped_pois_fixed": ("fixed_grouped_pois", "y ~ x | id", "poisson", 2, {"fixed": "~ z"}),
    "binom_fixed": ("fixed_binom", "cbind(succ, fail) ~ x", "binomial", 2, {"fixed": "~ z"}),
}


def _poisson(seed: int = 0, n: int = 2000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, n)
    x, z = rng.normal(size=(2, n))
    eta = np.where(lab == 0, 1.0 + 0.5 * x, 2.0 - 0.5 * x) + 0.3 * z
    return pd.DataFrame({"y": rng.poisson(np.exp(eta)), "x": x, "z": z, "label": lab})


@pytest.mark.parametrize("key", sorted(CASES))
def test_matches_flexmix_glmfix(key: str) -> None:
    dataset, formula, family, K, kw = CASES[key]
    ref = FLEX[key]
    df = pd.read_csv(REF / "data" / f"{dataset}.csv")
    start = df.label.to_numpy() - 1  # true labels, constant within a subject
    res = emglm.em_glm(formula, df, family, K, start=start, **kw, **TIGHT)
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert res.k_params == ref["df"]
    ours = res.params.rename(index={"Intercept": "(Intercept)"})
    for k, coef in enumerate(ref["coef"]):
        # Our components are in canonical order: match flexmix's by their intercepts.
        j = int(np.argmin(np.abs(ours.loc["(Intercept)"].to_numpy() - coef["(Intercept)"])))
        got = ours.iloc[:, j]
        for term, value in coef.items():
            assert got[term] == pytest.approx(value, abs=1e-3), (k, term)
        absent = set(ours.index) - set(coef)
        assert all(got[t] == 0.0 for t in absent)  # a nested term outside the group
        assert res.mixing.iloc[j] == pytest.approx(ref["priors"][k], abs=1e-3)


def test_equal_scale_matches_mixtools_common_variance() -> None:
    ref = FLEX["gauss_equal_scale_mixtools"]  # regmixEM(arbvar = FALSE): ML, one sigma
    df = pd.read_csv(REF / "data" / "gauss_mix.csv")
    res = emglm.em_glm("y ~ x", df, "gaussian", 2, start=df.label.to_numpy() - 1,
                       equal_scale=True, **TIGHT)
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert res.k_params == ref["df"]
    assert res.sigma.tolist() == pytest.approx([ref["sigma"]] * 2, abs=1e-3)
    for k, coef in enumerate(ref["coef"]):
        j = int(np.argmin(np.abs(res.params.loc["Intercept"].to_numpy() - coef["(Intercept)"])))
        assert res.params.iloc[:, j].tolist() == pytest.approx(list(coef.values()), abs=1e-3)
        assert res.mixing.iloc[j] == pytest.approx(ref["priors"][k], abs=1e-3)


def test_llf_at_flexmix_varfix_parameters_equals_flexmix() -> None:
    # flexmix's common sigma is df-corrected, not ML: at its parameters our llf must be
    # its logLik, and our ML fit must do at least as well.
    ref = FLEX["gauss_varfix_flexmix"]
    df = pd.read_csv(REF / "data" / "fixed_gauss.csv")
    res = emglm.em_glm("y ~ x", df, "gaussian", 2, start=df.label.to_numpy() - 1,
                       fixed="~ z", equal_scale=True, **TIGHT)
    assert res.k_params == ref["df"]
    names = res.params.index.tolist()
    coef = np.array([[c["(Intercept)" if t == "Intercept" else t] for t in names]
                     for c in ref["coef"]])
    params = MixtureParams(
        SharedParams(coef, np.full(2, ref["sigma"] ** 2), np.zeros(2, dtype=np.intp)),
        np.log(np.array(ref["priors"]) / ref["priors"][0])[None, :],
    )
    data, model = res.record.data, res.record.mixture
    assert e_step(data, model, params)[0] == pytest.approx(ref["logLik"], abs=1e-6)
    assert res.llf >= ref["logLik"]
    assert res.params.loc["z", "comp1"] == pytest.approx(ref["coef"][0]["z"], abs=1e-2)


def test_nested_groups_follow_their_components_through_reordering() -> None:
    # The lone component (no x1) is the smallest; the group of two comes second here.
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    start = np.array([1, 2, 0])[df.label.to_numpy() - 1]
    res = emglm.em_glm("y ~ x", df, "poisson", 3, start=start, fixed="~ z",
                       nested=[(1, "~ 0"), (2, "~ x1")], **TIGHT)
    ref = FLEX["pois_nested"]
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4) and res.k_params == ref["df"]
    # Canonical order put the lone component last; its x1 coefficient stays 0.
    assert res.params.loc["x1"].tolist()[2] == 0.0
    assert res.params.loc["x1", "comp1"] == pytest.approx(ref["coef"][0]["x1"], abs=1e-3)
    assert res.record.mixture.components.groups_of(res.em.params.components).tolist() == [1, 1, 0]


def test_recovers_shared_coefficients_and_counts_them_once() -> None:
    df = _poisson(n=20000)
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, fixed="~ z", random_state=1)
    assert res.params.loc["z"].tolist() == [res.params.loc["z", "comp1"]] * 2
    assert res.params.loc["z", "comp1"] == pytest.approx(0.3, abs=0.02)
    truth = {1.0: 0.5, 2.0: -0.5}
    for comp in res.component_names:
        a = res.params.loc["Intercept", comp]
        near = min(truth, key=lambda t: abs(t - a))
        assert a == pytest.approx(near, abs=0.05)
        assert res.params.loc["x", comp] == pytest.approx(truth[near], abs=0.05)
    # 2 x 2 varying + 1 shared + 1 mixing logit, against 2 x 3 + 1 without sharing.
    assert res.k_params == 6
    assert res.bse.loc["z", "comp1"] == res.bse.loc["z", "comp2"] > 0
    plain = emglm.em_glm("y ~ x + z", df, "poisson", K=2, random_state=1, se=None)
    assert plain.k_params == 7 and plain.llf >= res.llf - 1e-6
    tidy = res.estimates()
    assert tidy.loc[(tidy.component == "shared") & (tidy.term == "z"), "std_err"].iloc[0] > 0


def test_summary_shows_shared_tables() -> None:
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    res = emglm.em_glm("y ~ x", df, "poisson", 3, start=df.label.to_numpy() - 1,
                       fixed="~ z", nested=[(2, "~ x1"), (1, "~ 0")], tol=1e-10)
    text = str(res.summary())
    assert "Shared by all components" in text
    members = [c for c in res.component_names if res.params.loc["x1", c] != 0.0]
    assert len(members) == 2 and f"Shared by nested group 1 ({', '.join(members)})" in text
    # Own terms only in the component tables.
    comp_table = text.split("Component comp1")[1].split("Component comp2")[0]
    assert "\nIntercept " in comp_table and "\nz " not in comp_table and "\nx1 " not in comp_table
    assert np.isnan(res.bse.loc["x1", [c for c in res.component_names if c not in members][0]])


@pytest.mark.parametrize(
    ("family", "kw"),
    [
        ("poisson", {"fixed": "~ z", "nested": [(1, "~ w"), (1, "~ 0")]}),
        ("gaussian", {"fixed": "~ z", "equal_scale": True}),
        ("gaussian", {"fixed": "~ z"}),
    ],
)
def test_louis_equals_finite_difference_hessian(family: str, kw: dict) -> None:
    df = _poisson(seed=3, n=600)
    df["w"] = np.random.default_rng(4).normal(size=len(df))
    if family == "gaussian":
        df["y"] = np.log1p(df.y) + 0.3 * np.random.default_rng(5).normal(size=len(df))
    df["c"] = np.random.default_rng(6).normal(size=len(df))
    res = emglm.em_glm("y ~ x", df, family, K=2, random_state=0, concomitant="~ c",
                       tol=1e-12, **kw)
    data, model, params = res.record.data, res.record.mixture, res.em.params
    info = louis.louis_information(data, model, params)
    assert info.shape == (res.k_params,) * 2
    theta = model.pack(params)
    hess = approx_hess(theta, louis.observed_loglike, args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    # The fit is a stationary point of the observed-data log-likelihood: the joint M-step
    # (with per-component dispersions weighting the shared terms) solved the right equations.
    grad = approx_fprime(theta, louis.observed_loglike, args=(data, model, params), centered=True)
    assert np.max(np.abs(grad)) < 1e-4 * np.sqrt(np.abs(np.diag(info)).max())


def test_equal_scale_is_the_pooled_ml_variance() -> None:
    rng = np.random.default_rng(7)
    n = 1000
    lab = rng.integers(0, 2, n)
    x, z = rng.normal(size=(2, n))
    y = np.where(lab == 0, 1 + x, 4 - x) + 0.5 * z + rng.normal(size=n) * np.where(lab, 0.5, 1.5)
    df = pd.DataFrame({"y": y, "x": x, "z": z})
    res = emglm.em_glm("y ~ x", df, "gaussian", K=2, fixed="~ z", equal_scale=True,
                       start=lab, tol=1e-12, se=None)
    scale = res.scale.to_numpy()
    assert scale[0] == scale[1]
    mu = res.predict(which="component").to_numpy()
    rss = np.sum(res.posterior.to_numpy() * (y[:, None] - mu) ** 2)
    assert scale[0] == pytest.approx(rss / n, rel=1e-8)
    assert res.k_params == 2 * 2 + 1 + 1 + 1
    free = emglm.em_glm("y ~ x", df, "gaussian", K=2, fixed="~ z", start=lab, tol=1e-12,
                        se=None)
    assert free.llf > res.llf and free.k_params == res.k_params + 1


def test_offsets_weights_bootstrap_select_k_and_predict() -> None:
    df = _poisson(seed=8, n=1500)
    df["t"] = np.random.default_rng(9).uniform(1, 3, len(df))
    df["w"] = np.random.default_rng(10).integers(1, 3, len(df)).astype(float)
    kw = {"fixed": "~ z", "offset": np.log(df.t.to_numpy()), "weights": "w"}
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=2, se="bootstrap",
                       n_boot=8, **kw)
    assert res.covariance.n_boot == 8
    assert res.bse.loc["z", "comp1"] == res.bse.loc["z", "comp2"] > 0
    # Case weights 2 are two copies of the row.
    rep = df.loc[df.index.repeat(df.w.astype(int))].reset_index(drop=True)
    copy = emglm.em_glm("y ~ x", rep, "poisson", K=2, fixed="~ z", se=None,
                        offset=np.log(rep.t.to_numpy()), start=res.params, tol=1e-12)
    again = emglm.em_glm("y ~ x", df, "poisson", K=2, se=None, start=res.params, tol=1e-12,
                         **kw)
    assert copy.llf == pytest.approx(again.llf, rel=1e-9)
    new = df.head(4)
    pred = again.predict(new, which="linear", offset=np.log(new.t.to_numpy()))
    coef = again.params.to_numpy()
    design = np.c_[np.ones(4), new.x, new.z]
    np.testing.assert_allclose(pred.to_numpy(), design @ coef + np.log(new.t.to_numpy())[:, None])
    sel = emglm.select_k("y ~ x", df, "poisson", K=[1, 2], fixed="~ z", random_state=0,
                         n_starts=2)
    assert sel.table.k_params.tolist() == [3, 6]
    plain = emglm.em_glm("y ~ x", df, "poisson", K=2, fixed="~ z", random_state=2, se=None,
                         accel=None, n_starts=3, **{k: v for k, v in kw.items() if k != "fixed"})
    assert plain.llf == pytest.approx(again.llf, abs=1e-3)
    assert np.all(np.diff(plain.llf_history) >= -1e-8 * abs(plain.llf))


@pytest.mark.parametrize(
    ("kw", "error", "message"),
    [
        ({"fixed": "~ x"}, InputError, "the fixed term 'x' is also in the main formula"),
        ({"nested": [(2, "~ x")]}, InputError, "the nested term 'x' is also in the main"),
        ({"nested": [(2, "~ z"), (2, "~ 0")]}, InputError, "sizes 2 + 2 = 4 do not add up to K=3"),
        ({"nested": [(0, "~ z"), (3, "~ 0")]}, InputError, "nested[0] has size 0"),
        ({"nested": "~ z"}, InputTypeError, "nested must be a non-empty list"),
        ({"nested": [(3, 5)]}, InputTypeError, "nested[0] must be a one-sided formula"),
        ({"fixed": 3}, InputTypeError, "fixed must be a one-sided formula"),
        ({"fixed": "~ z", "nested": [(3, "~ z")]}, InputError, "'z' is both fixed and in"),
        ({"equal_scale": True}, InputError, "the poisson family has no dispersion"),
        ({"equal_scale": "yes"}, InputTypeError, "equal_scale must be True or False"),
        ({"fixed": "y ~ z"}, Exception, "must be one-sided"),
    ],
)
def test_bad_input(kw: dict, error: type, message: str) -> None:
    df = _poisson(n=100)
    with pytest.raises(error) as info:
        emglm.em_glm("y ~ x", df, "poisson", K=3, **kw)
    assert message in str(info.value)
    assert df.columns.tolist() == ["y", "x", "z", "label"]


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "y ~ x", "-K", "3", "--seed", "1",
            "--fixed", "~ z", "--nested", "2:~ x1", "--nested", "1:~ 0"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "Shared by all components" in out and "Shared by nested group 1" in out
    assert "k_params:                          10" in out
    assert cli_main(argv[:-2] + ["--nested", "x:~ 0"]) == 2
    assert "--nested 'x:~ 0' is not SIZE:FORMULA" in capsys.readouterr().err
    assert cli_main(argv[:9] + ["--equal-scale"]) == 2
    assert "has no dispersion" in capsys.readouterr().err


def test_row_order_parametric_bootstrap_and_parallel_warmup() -> None:
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    kw = {"fixed": "~ z", "nested": [(2, "~ x1"), (1, "~ 0")], "tol": 1e-12}
    res = emglm.em_glm("y ~ x", df, "poisson", 3, start=df.label.to_numpy() - 1, se=None, **kw)
    perm = np.random.default_rng(0).permutation(len(df))
    shuffled = df.iloc[perm]
    again = emglm.em_glm("y ~ x", shuffled, "poisson", 3, se=None, **kw,
                         start=shuffled.label.to_numpy() - 1)
    assert again.llf == pytest.approx(res.llf, rel=1e-10)
    np.testing.assert_allclose(again.params.to_numpy(), res.params.to_numpy(), atol=1e-6)
    boot = emglm.em_glm("y ~ x", df, "poisson", 3, start=df.label.to_numpy() - 1,
                        se="bootstrap", bootstrap="parametric", n_boot=6, random_state=1, **kw)
    assert boot.covariance.n_boot == 6
    assert boot.bse.loc["x1", "comp1"] == boot.bse.loc["x1", "comp2"] > 0
    # (With n_starts=4 this seed's four mixed starts end at a local optimum, -1444.41.)
    warm = emglm.em_glm("y ~ x", df, "poisson", 3, se=None, random_state=4, n_jobs=2,
                        n_starts=15, **kw)  # fmt: skip
    assert warm.warmup is not None and warm.llf == pytest.approx(res.llf, abs=1e-3)


def test_cli_equal_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.csv"
    pd.read_csv(REF / "data" / "fixed_gauss.csv").to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "y ~ x", "--family", "gaussian", "-K",
            "2", "--seed", "0", "--fixed", "~ z", "--equal-scale"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "k_params:                           7" in out and "Shared by all components" in out
    disp = out.split("Dispersion (sigma = sqrt(scale))")[1]
    assert "\nshared " in disp and "\ncomp1 " not in disp


def test_sharing_needs_a_single_response() -> None:
    df = _poisson(n=100).assign(y2=lambda d: d.y + 1)
    with pytest.raises(InputError, match="they cannot be used with several responses"):
        emglm.em_glm(["y ~ x", "y2 ~ x"], df, ["poisson", "poisson"], K=2, fixed="~ z")


def test_small_em_and_select_best_start_a_shared_fit() -> None:
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    kw = {"fixed": "~ z", "nested": [(2, "~ x1"), (1, "~ 0")]}
    warm = emglm.small_em("y ~ x", df, "poisson", 3, repeats=3, random_state=0, **kw)
    start = emglm.select_best(warm)
    res = emglm.em_glm("y ~ x", df, "poisson", 3, start=start, se=None, tol=1e-10, **kw)
    assert res.k_params == FLEX["pois_nested"]["df"]
    plain = emglm.select_best(emglm.small_em("y ~ x + z", df, "poisson", 3, repeats=2,
                                             random_state=0))
    with pytest.raises(InputError, match="start holds parameters of a mixture without shared"):
        emglm.em_glm("y ~ x", df, "poisson", 3, start=plain, fixed="~ z")


def test_one_group_per_component_is_the_plain_fit_and_factors_can_be_fixed() -> None:
    # A term nested in K groups of one has one coefficient per component: the plain model.
    df = pd.read_csv(REF / "data" / "fixed_pois.csv")
    st = df.label.to_numpy() - 1
    opts = {"start": st, "tol": 1e-12, "se": None, "minprior": 0.0}
    plain = emglm.em_glm("y ~ x + x1", df, "poisson", 3, **opts)
    nested = emglm.em_glm("y ~ x", df, "poisson", 3, **opts,
                          nested=[(1, "~ x1"), (1, "~ x1"), (1, "~ x1")])
    assert nested.llf == pytest.approx(plain.llf, abs=1e-7)
    assert nested.k_params == plain.k_params
    np.testing.assert_allclose(nested.params.to_numpy(), plain.params.to_numpy(), atol=1e-6)
    df["g"] = np.array(list("abc"))[np.arange(len(df)) % 3]
    fac = emglm.em_glm("y ~ x", df, "poisson", 3, **opts, fixed="~ C(g) + x1:z")
    shared = ["C(g)[T.b]", "C(g)[T.c]", "x1:z"]
    assert fac.params.index.tolist() == ["Intercept", "C(g)[T.b]", "C(g)[T.c]", "x", "x1:z"]
    assert np.all(fac.params.loc[shared].nunique(axis=1) == 1)
    assert fac.k_params == 3 * 2 + 3 + 2


def test_start_dict_of_shared_coefficients() -> None:
    # The public start form {params, mixing, scale} with shared coefficients: the same fit
    # as from that fit's own parameters; coefficients or dispersions that break the sharing
    # are refused before fitting.
    df = _poisson(seed=4)
    first = emglm.em_glm("y ~ x", df, "poisson", 2, fixed="~ z", random_state=0, se=None)
    start = {"params": first.params, "mixing": first.mixing.to_numpy()}
    again = emglm.em_glm("y ~ x", df, "poisson", 2, fixed="~ z", start=start, se=None)
    assert again.llf == pytest.approx(first.llf, rel=1e-10)
    np.testing.assert_allclose(again.params.to_numpy(), first.params.to_numpy(), atol=1e-6)
    assert again.llf_history[0] == pytest.approx(first.llf, rel=1e-9)
    bad = first.params.copy()
    bad.loc["z", "comp2"] += 0.1
    with pytest.raises(InputError, match=r"start\['params'\] does not obey the shared"):
        emglm.em_glm("y ~ x", df, "poisson", 2, fixed="~ z", start={"params": bad})
    g = df.assign(y=np.log1p(df.y))
    gfit = emglm.em_glm("y ~ x", g, "gaussian", 2, fixed="~ z", equal_scale=True,
                        random_state=0, se=None)  # fmt: skip
    with pytest.raises(InputError, match=r"one dispersion for every component with equal_scale"):
        emglm.em_glm("y ~ x", g, "gaussian", 2, fixed="~ z", equal_scale=True,
                     start={"params": gfit.params, "scale": [0.2, 0.3]})  # fmt: skip
    same = emglm.em_glm("y ~ x", g, "gaussian", 2, fixed="~ z", equal_scale=True, se=None,
                        start={"params": gfit.params, "mixing": gfit.mixing.to_numpy(),
                               "scale": gfit.scale.to_numpy()})  # fmt: skip
    assert same.llf_history[0] == pytest.approx(gfit.llf, rel=1e-9)
