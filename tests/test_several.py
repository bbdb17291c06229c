"""Several responses sharing one latent class (flexmix's ``model = list(FLXMRglm(...), ...)``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.tools.numdiff import approx_hess

import emglm
from emglm.cli import main
from emglm.inference import louis

REF = Path(__file__).parent / "reference"
FLEXMIX = json.loads((REF / "flexmix_several.json").read_text())
BOTH = ["yp ~ x", "cbind(succ, fail) ~ x"]


def _gauss_pois(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    lab = rng.integers(0, 2, n)
    x = rng.normal(size=n)
    yn = np.where(lab == 0, 1 + 2 * x, -1 + 0.5 * x) + rng.normal(0, np.where(lab == 0, 0.5, 1.0))
    yp = rng.poisson(np.exp(np.where(lab == 0, 0.5 + 0.3 * x, 1.5 - 0.2 * x)))
    return pd.DataFrame({"yn": yn, "yp": yp, "x": x, "label": lab})


def test_several_responses_match_flexmix() -> None:
    df = pd.read_csv(REF / "data" / "several.csv")
    res = emglm.em_glm(BOTH, df, ["poisson", "binomial"], K=2, start=df.label.to_numpy() - 1,
                       tol=1e-13, minprior=0)
    assert res.llf == pytest.approx(FLEXMIX["logLik"], abs=1e-4)
    assert res.k_params == FLEXMIX["df"]
    assert res.bic == pytest.approx(FLEXMIX["BIC"], abs=1e-3)
    assert res.icl == pytest.approx(FLEXMIX["ICL"], abs=1e-3)
    coef = res.params.to_numpy()
    np.testing.assert_allclose(coef[:2].T, FLEXMIX["coef_poisson"], atol=1e-3)
    np.testing.assert_allclose(coef[2:].T, FLEXMIX["coef_binomial"], atol=1e-3)
    np.testing.assert_allclose(res.mixing.to_numpy(), FLEXMIX["priors"], atol=1e-5)
    assert list(res.params.index) == [
        "yp:Intercept", "yp:x", "cbind(succ, fail):Intercept", "cbind(succ, fail):x",
    ]  # fmt: skip
    assert res.responses == ["yp", "cbind(succ, fail)"]


def test_recovers_known_parameters_and_beats_one_response() -> None:
    df = _gauss_pois()
    res = emglm.em_glm(["yn ~ x", "yp ~ x"], df, ["gaussian", "poisson"], K=2, random_state=0)
    truth = {"comp1": [-1, 0.5, 1.5, -0.2], "comp2": [1, 2, 0.5, 0.3]}  # comp1: the label-1 rows
    order = ["comp1", "comp2"] if res.params.loc["yn:x", "comp1"] < 1 else ["comp2", "comp1"]
    for got, want in zip(order, truth.values(), strict=True):
        z = (res.params[got].to_numpy() - want) / res.bse[got].to_numpy()
        assert np.all(np.abs(z) < 4)
    sigma = res.dispersion_of("yn")
    assert sorted(sigma.round(1)) == [0.5, 1.0]
    acc = np.mean((res.classes.to_numpy() - 1 == df.label.to_numpy()))
    only_counts = emglm.em_glm("yp ~ x", df, "poisson", K=2, random_state=0)
    acc1 = np.mean((only_counts.classes.to_numpy() - 1 == df.label.to_numpy()))
    assert max(acc, 1 - acc) > 0.95 > max(acc1, 1 - acc1)


def test_louis_equals_finite_difference_hessian() -> None:
    df = _gauss_pois(n=300)
    df["z"] = np.random.default_rng(1).normal(size=300)
    res = emglm.em_glm(["yn ~ x", "yp ~ x"], df, ["gaussian", "poisson"], K=2, random_state=0,
                       concomitant="~ z", tol=1e-12)
    data, model, params = res.record.data, res.record.mixture, res.em.params
    info = louis.louis_information(data, model, params)
    hess = approx_hess(model.pack(params), louis.observed_loglike, args=(data, model, params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())


def test_predict_residuals_bootstrap_and_groups() -> None:
    df = _gauss_pois(n=400)
    res = emglm.em_glm(["yn ~ x", "yp ~ x"], df, ["gaussian", "poisson"], K=2, random_state=0,
                       se="bootstrap", n_boot=20)
    pred = res.predict()
    assert list(pred.columns) == ["yn", "yp"]
    new = df.iloc[:5]
    np.testing.assert_allclose(res.predict(new).to_numpy(), pred.iloc[:5].to_numpy())
    mu = res.predict(which="component", response="yp").to_numpy()
    np.testing.assert_allclose(pred["yp"], mu @ res.mixing.to_numpy())
    np.testing.assert_allclose(res.fittedvalues, pred)
    r = res.resid("response", response="yn")
    np.testing.assert_allclose(r, df.yn - pred["yn"])
    with pytest.raises(emglm.InputError, match="several responses .* response="):
        res.resid("response")
    assert res.covariance.n_boot == 20 and np.all(res.bse.to_numpy() > 0)
    df["id"] = np.arange(400) // 4
    grouped = emglm.em_glm(["yn ~ x | id", "yp ~ x"], df, ["gaussian", "poisson"], K=2,
                           random_state=0, se=None)
    post = grouped.posterior.to_numpy()
    np.testing.assert_array_equal(post, post[::4].repeat(4, axis=0))


def test_several_responses_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "two.csv"
    _gauss_pois(n=300).to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "yn ~ x", "--formula", "yp ~ x",
            "--family", "gaussian", "--family", "poisson", "--seed", "1"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Component comp1, response yp" in out and "Gaussian, Poisson" in out


@pytest.mark.parametrize(
    ("formulas", "families", "options", "message"),
    [
        (["yn ~ x", "yp ~ x"], ["gaussian"], {}, "2 formulas need 2 families"),
        (["yn ~ x", "yp ~ x"], "gaussian", {}, "family must be a list of 2 families"),
        (["yn ~ x"], ["gaussian"], {}, "at least two formulas"),
        (["yn ~ x", "yn ~ x"], ["gaussian", "gaussian"], {}, "the responses must differ"),
        (["yn ~ x", "yp ~ x"], ["gaussian", "poisson"], {"offset": "x"},
         "offset belongs to one response"),
    ],
)
def test_bad_input(formulas: list, families: object, options: dict, message: str) -> None:
    df = _gauss_pois(n=50)
    before = df.copy()
    with pytest.raises((emglm.InputError, emglm.InputTypeError), match=message):
        emglm.em_glm(formulas, df, families, K=2, **options)
    pd.testing.assert_frame_equal(df, before)
