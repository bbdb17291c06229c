"""Grouped observations (flexmix's ``y ~ x | g``): all rows of a group share one class."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_hess

import emglm
from emglm.engine import newton
from emglm.inference import bootstrap as boot
from emglm.inference import louis

REF = Path(__file__).parent / "reference"
FLEXMIX = json.loads((REF / "flexmix_grouped.json").read_text())["fits"]


def _grouped_poisson(seed: int = 3, n_groups: int = 200, size: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gid = np.repeat(np.arange(n_groups), size)
    lab = rng.integers(0, 2, n_groups)[gid]
    x = rng.normal(size=gid.size)
    y = rng.poisson(np.exp(np.where(lab == 0, 1.0 + 0.5 * x, 1.5 - 0.5 * x)))
    return pd.DataFrame({"y": y, "x": x, "id": gid, "label": lab})


@pytest.mark.parametrize(
    ("key", "options"),
    [("grouped_pois", {}), ("grouped_pois_conc", {"concomitant": "~ z"}), ("grouped_binom", {})],
)
def test_grouped_fit_matches_flexmix(key: str, options: dict) -> None:
    ref = FLEXMIX[key]
    df = pd.read_csv(REF / "data" / f"{ref['dataset']}.csv")
    start = df.label.to_numpy() - 1
    res = emglm.em_glm(
        ref["formula"], df, ref["family"], K=2, start=start, tol=1e-13, minprior=0, **options
    )
    coef = res.params.to_numpy().T
    order = [0, 1] if abs(coef[0, 0] - ref["coef"][0][0]) < 0.1 else [1, 0]
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    np.testing.assert_allclose(coef[order], ref["coef"], atol=1e-3)
    assert res.k_params == ref["df"]
    assert res.nobs == ref["nobs"]  # BIC counts rows, as flexmix's nobs()
    assert res.bic == pytest.approx(ref["BIC"], abs=1e-3)
    assert res.icl == pytest.approx(ref["ICL"], abs=1e-3)  # classification llf per group
    if "concomitant_coef" in ref:
        gamma = res.mixing_params.to_numpy()[:, order]
        gamma = gamma - gamma[:, :1]
        np.testing.assert_allclose(gamma, ref["concomitant_coef"], atol=1e-3)
    else:
        np.testing.assert_allclose(res.mixing.to_numpy()[order], ref["priors"], atol=1e-4)
    classes = res.classes.to_numpy()
    assert np.array_equal(np.asarray(order)[classes - 1] + 1, ref["clusters"])


def test_rows_of_a_group_share_their_posteriors_and_formula_equals_argument() -> None:
    df = _grouped_poisson()
    by_formula = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0, se=None)
    by_arg = emglm.em_glm("y ~ x", df, "poisson", K=2, groups="id", random_state=0, se=None)
    assert by_formula.llf == by_arg.llf
    post = by_formula.posterior.to_numpy()
    first = df.groupby("id").head(1).index.to_numpy()
    np.testing.assert_array_equal(post, post[first][df.id.to_numpy()])
    array_groups = emglm.em_glm(
        "y ~ x", df, "poisson", K=2, groups=df.id.to_numpy(), random_state=0, se=None
    )
    assert array_groups.llf == by_formula.llf


def test_ignoring_the_groups_loses() -> None:
    df = _grouped_poisson(seed=5)
    truth = np.array([[1.0, 0.5], [1.5, -0.5]])
    grouped = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=1, se=None)
    rows = emglm.em_glm("y ~ x", df, "poisson", K=2, random_state=1, se=None)

    def accuracy(res: emglm.EMGLMResults) -> float:
        agree = np.mean(res.classes.to_numpy() - 1 == df.label.to_numpy())
        return max(agree, 1 - agree)

    def error(res: emglm.EMGLMResults) -> float:
        coef = res.params.to_numpy().T
        return min(np.abs(coef - truth).max(), np.abs(coef[::-1] - truth).max())

    assert accuracy(grouped) > 0.95 > 0.85 > accuracy(rows)
    assert error(grouped) < error(rows)
    # The grouped model's likelihood of the truth is its own: at the true classes the
    # grouped fit's labels explain the data better than one label per row would.
    assert grouped.k_params == rows.k_params == 5


def test_louis_equals_finite_difference_hessian_of_grouped_llf() -> None:
    df = _grouped_poisson(n_groups=80)
    df["z"] = np.repeat(np.random.default_rng(2).normal(size=80), 5)
    res = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0, concomitant="~ z",
                       tol=1e-12)
    data, model, params = res.record.data, res.record.mixture, res.em.params
    info = louis.louis_information(data, model, params)
    hess = approx_hess(model.pack(params), louis.observed_loglike, args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    # Chunks hold whole groups: a small chunk size gives the same information.
    small = newton._CHUNK
    try:
        newton._CHUNK = 37
        np.testing.assert_allclose(louis.louis_information(data, model, params), info, rtol=1e-10)
    finally:
        newton._CHUNK = small


def test_bootstrap_resamples_groups() -> None:
    df = _grouped_poisson(n_groups=60)
    res = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0, se=None)
    data, model = res.record.data, res.record.mixture
    rng = np.random.default_rng(0)
    draw = boot.draw(data, model, res.em.params, "nonparametric", rng)
    w = draw.weights
    assert np.all(w == w[data.groups.first][data.groups.codes])  # one count per group
    assert draw.unit_case_weights.sum() == 60
    sim = boot.draw(data, model, res.em.params, "parametric", rng)
    assert sim.groups is data.groups and sim.y.shape == data.y.shape
    fit = emglm.em_glm("y ~ x | id", df, "poisson", K=2, random_state=0, se="bootstrap",
                       n_boot=20)
    assert fit.covariance.n_boot == 20 and np.all(fit.bse.to_numpy() > 0)


def test_sem_and_warmup_work_per_group() -> None:
    df = _grouped_poisson(n_groups=100)
    res = emglm.em_glm("y ~ x | id", df, "poisson", K=2, method="sem", random_state=2, se=None)
    post = res.posterior.to_numpy()
    first = df.groupby("id").head(1).index.to_numpy()
    np.testing.assert_array_equal(post, post[first][df.id.to_numpy()])
    warm = emglm.small_em("y ~ x | id", df, "poisson", K=2, repeats=3, sample_size=50,
                          random_state=0)
    assert warm.n_failed == 0  # subsamples of 50 groups (250 rows)
    with pytest.raises(emglm.InputError, match=r"sample_size=101 is larger than the number of groups \(100\)"):
        emglm.small_em("y ~ x | id", df, "poisson", K=2, sample_size=101)


def test_grouped_select_k_and_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    df = _grouped_poisson(n_groups=100)
    sel = emglm.select_k("y ~ x | id", df, "poisson", K=[1, 2], random_state=0, n_starts=3)
    assert sel.best_k == 2
    path = tmp_path / "g.csv"
    df.to_csv(path, index=False)
    from emglm.cli import main

    assert main(["fit", "--data", str(path), "--formula", "y ~ x | id", "--seed", "1"]) == 0
    assert "Log-Likelihood" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("formula", "options", "error", "message"),
    [
        ("y ~ x | id", {"groups": "id"}, emglm.FormulaError, "groups= is given too"),
        ("y ~ I(x | 1)", {}, emglm.FormulaError, "'|' inside parentheses"),
        ("y ~ x | id | id", {}, emglm.FormulaError, "has 2 '\\|'"),
        ("y ~ x | np.log(id)", {}, emglm.FormulaError, "not a column name"),
        ("y ~ x | nope", {}, emglm.InputError, "grouping column 'nope' is not a column"),
        ("y ~ x | gap", {}, emglm.InputError, "grouping column 'gap' has missing values"),
        ("y ~ x | id", {"concomitant": "~ x"}, emglm.InputError,
         "concomitant covariates vary within group 0"),
        ("y ~ x | id", {"weights": "w"}, emglm.InputError, "case weights vary within group 0"),
    ],
)
def test_bad_grouping_input(formula: str, options: dict, error: type, message: str) -> None:
    df = _grouped_poisson(n_groups=30)
    df["gap"] = df.id.astype(float)
    df.loc[7, "gap"] = np.nan
    df["w"] = np.arange(len(df)) % 2 + 1
    before = df.copy()
    with pytest.raises(error, match=message):
        emglm.em_glm(formula, df, "poisson", K=2, **options)
    pd.testing.assert_frame_equal(df, before)
