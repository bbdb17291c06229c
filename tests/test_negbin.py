"""Negative binomial (NB2) components with a dispersion alpha per component."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.discrete.discrete_model import NegativeBinomial
from statsmodels.tools.numdiff import approx_hess

import emglm
from helpers import glm_model, glm_params

from emglm import cli
from emglm.data.arrays import MixtureData
from emglm.engine import em
from emglm.inference import louis as inference
from emglm.exceptions import InputError
from emglm.families import get_family


def _nb_draw(rng: np.random.Generator, mu: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    return rng.negative_binomial(1.0 / alpha, 1.0 / (1.0 + alpha * mu)).astype(float)


@pytest.fixture
def nb_df() -> pd.DataFrame:
    rng = np.random.default_rng(11)
    n = 1500
    x = rng.normal(size=n)
    y = _nb_draw(rng, np.exp(1.0 + 0.5 * x), np.full(n, 0.7))
    return pd.DataFrame({"y": y, "x": x})


@pytest.fixture
def nb2_mixture() -> tuple[pd.DataFrame, np.ndarray]:
    """Two NB2 regressions, 40/60, with alphas 0.2 and 1.0."""
    rng = np.random.default_rng(21)
    n = 3000
    x = rng.normal(size=n)
    lab = (rng.random(n) < 0.6).astype(int)
    mu = np.exp(np.where(lab == 1, 0.5 + 0.4 * x, 2.5 - 0.5 * x))
    y = _nb_draw(rng, mu, np.where(lab == 1, 1.0, 0.2))
    return pd.DataFrame({"y": y, "x": x}), lab


def test_one_component_equals_statsmodels_nb2(nb_df: pd.DataFrame) -> None:
    X = np.c_[np.ones(len(nb_df)), nb_df.x]
    fitted = NegativeBinomial(nb_df.y.to_numpy(), X, loglike_method="nb2").fit(
        disp=0, method="newton", tol=1e-12, maxiter=200
    )
    ref = np.asarray(fitted.params)
    ref_bse = np.asarray(fitted.bse)
    res = emglm.em_glm("y ~ x", nb_df, "negbin", K=1, tol=1e-12)
    assert res.converged
    assert res.llf == pytest.approx(fitted.llf, abs=1e-6)
    np.testing.assert_allclose(res.params["comp1"], ref[:2], rtol=0, atol=1e-6)
    assert res.scale["comp1"] == pytest.approx(ref[2], rel=1e-5)
    assert res.dispersion["comp1"] == res.scale["comp1"]  # alpha is reported as is
    # Louis' observed information at the MLE is statsmodels' Hessian.
    np.testing.assert_allclose(res.bse["comp1"], ref_bse[:2], rtol=1e-4)
    assert res.dispersion_bse["comp1"] == pytest.approx(ref_bse[2], rel=1e-4)


def test_two_components_recover_the_truth(nb2_mixture: tuple[pd.DataFrame, np.ndarray]) -> None:
    df, _ = nb2_mixture
    res = emglm.em_glm("y ~ x", df, "nb2", K=2, random_state=1, tol=1e-10)
    assert res.converged
    # comp1 is the larger component (decreasing mixing proportion): the alpha = 1 one.
    truth = {"comp1": ([0.5, 0.4], 1.0), "comp2": ([2.5, -0.5], 0.2)}
    for comp, (coef, alpha) in truth.items():
        z = (res.params[comp].to_numpy() - coef) / res.bse[comp].to_numpy()
        assert np.all(np.abs(z) < 4), (comp, z)
        z_alpha = (res.dispersion[comp] - alpha) / res.dispersion_bse[comp]
        assert abs(z_alpha) < 4, (comp, z_alpha)
    assert res.mixing["comp1"] == pytest.approx(0.6, abs=4 * res.mixing_bse["comp1"])
    tidy = res.estimates()
    alphas = tidy[tidy.kind == "alpha"]
    np.testing.assert_allclose(alphas.estimate, res.dispersion)
    assert list(res.cov_params().index.get_level_values("term")).count("log(alpha)") == 2
    text = str(res.summary())
    assert "Dispersion (alpha: variance = mu + alpha mu^2)" in text
    assert f"{res.dispersion['comp2']:.4f}" in text


def test_louis_equals_finite_difference_hessian() -> None:
    rng = np.random.default_rng(7)
    n = 500
    x = rng.normal(size=n)
    X = np.c_[np.ones(n), x]
    lab = (rng.random(n) < 0.4).astype(int)
    mu = np.exp(np.where(lab == 1, 0.5 + 0.6 * x, 2.0 - 0.3 * x))
    y = _nb_draw(rng, mu, np.where(lab == 1, 0.5, 0.15))
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    model = glm_model("negbin", data)
    fit = em.run_em(data, model, np.eye(2)[lab], em.EMOptions(tol=1e-12, max_iter=5000))
    assert fit.converged
    theta = model.pack(fit.params)
    np.testing.assert_allclose(theta[2], np.log(fit.params.components.scale[0]))  # log(alpha)
    info = inference.louis_information(data, model, fit.params)
    hess = approx_hess(theta, inference.observed_loglike, args=(data, model, fit.params))
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-3 * np.abs(info).max())
    se = np.sqrt(np.diag(np.linalg.inv(info)))
    se_fd = np.sqrt(np.diag(np.linalg.inv(-hess)))
    np.testing.assert_allclose(se, se_fd, rtol=1e-3)


def test_louis_away_from_the_maximum() -> None:
    # The identity holds at any parameter value: the cross term d2 l / d eta d log(alpha)
    # is checked where the scores are far from zero.
    rng = np.random.default_rng(8)
    n = 300
    x = rng.normal(size=n)
    X = np.c_[np.ones(n), x]
    y = _nb_draw(rng, np.exp(1.0 + 0.3 * x), np.full(n, 0.4))
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    model = glm_model(get_family("negative_binomial"), data)
    params = glm_params(
        coef=np.array([[0.6, 0.5], [1.4, 0.0]]),
        scale=np.array([0.8, 0.1]),
        gamma=np.array([[0.0, 0.4]]),
    )
    info = inference.louis_information(data, model, params)
    hess = approx_hess(
        model.pack(params), inference.observed_loglike, args=(data, model, params)
    )
    np.testing.assert_allclose(info, -hess, rtol=1e-3, atol=1e-4 * np.abs(info).max())


def test_cli_fits_negbin(nb_df: pd.DataFrame, tmp_path: Path, capsys) -> None:
    path = tmp_path / "counts.csv"
    nb_df.to_csv(path, index=False)
    argv = ["fit", "--data", str(path), "--formula", "y ~ x", "--family", "negbin", "-K", "1"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    res = emglm.em_glm("y ~ x", nb_df, "negbin", K=1)
    assert f"{res.llf:.4f}" in out and "Family:              NegativeBinomial" in out
    assert "alpha" in out


def test_cli_help_lists_the_family_names(capsys) -> None:
    with pytest.raises(SystemExit):
        cli.main(["fit", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "poisson, gaussian, binomial, gamma, inverse_gaussian, negbin" in out


@pytest.mark.parametrize(
    ("y", "message"),
    [
        (
            [0.0, 1.0, -2.0, 3.0],
            "negbin response 'y' must hold non-negative integer counts; found -2",
        ),
        (
            [0.0, 1.5, 2.0, 3.0],
            "negbin response 'y' must hold non-negative integer counts; found 1.5",
        ),
        ([0.0, 0.0, 0.0, 0.0], "negbin response 'y' is 0 in every row"),
    ],
)
def test_bad_response_is_refused(y: list[float], message: str) -> None:
    df = pd.DataFrame({"y": y * 5, "x": np.arange(20.0)})
    with pytest.raises(InputError, match=message.replace("(", r"\(")):
        emglm.em_glm("y ~ x", df, "negbin", K=1)


def test_alpha_on_its_floor_is_not_a_collapse(recwarn) -> None:
    # Under-dispersed counts: the ML alpha goes to 0 (the Poisson limit), which is not the
    # unbounded likelihood of a collapsing variance, so no degenerate-component warning.
    rng = np.random.default_rng(3)
    n = 400
    x = rng.normal(size=n)
    df = pd.DataFrame({"y": rng.binomial(10, 0.3, n).astype(float), "x": x})
    res = emglm.em_glm("y ~ x", df, "negbin", K=1, tol=1e-10, se=None)
    pois = emglm.em_glm("y ~ x", df, "poisson", K=1, tol=1e-10, se=None)
    glm = res.record.mixture.components
    assert res.scale["comp1"] == pytest.approx(glm.scale_floor(res.record.data))
    assert res.llf == pytest.approx(pois.llf, abs=1e-3)
    assert not [w for w in recwarn if issubclass(w.category, emglm.exceptions.EMGLMWarning)]


def test_sigma_is_refused_with_a_pointer_to_alpha(nb_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", nb_df, "negbin", K=1)
    with pytest.raises(InputError, match="reports its dispersion as alpha, not sigma"):
        _ = res.sigma_bse


def test_simulate_has_nb2_mean_and_variance() -> None:
    fam = get_family("negbin")
    y = fam.simulate(np.full(200_000, 4.0), 0.5, np.ones(200_000), np.random.default_rng(0))
    assert y.mean() == pytest.approx(4.0, rel=0.01)
    assert y.var() == pytest.approx(4.0 + 0.5 * 16.0, rel=0.02)


def test_deviance_residuals_are_refused_pearson_use_the_nb2_variance(nb_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", nb_df, "negbin", K=1, se=None)
    with pytest.raises(InputError, match="deviance residuals are not available for the negbin"):
        res.resid("deviance")
    mu = res.predict(which="component")["comp1"].to_numpy()
    alpha = res.scale["comp1"]
    expected = (nb_df.y - mu) / np.sqrt(mu + alpha * mu**2)
    np.testing.assert_allclose(res.resid("pearson", "component")["comp1"], expected)
