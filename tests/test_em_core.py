"""The EM engine and the results object on data with known truth."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

import emglm
from helpers import glm_model, glm_params
from emglm.engine import em
from emglm.data.arrays import MixtureData
from emglm.families import get_family


def _monotone(history: np.ndarray) -> bool:
    return bool(np.all(np.diff(history) >= -1e-10 * np.abs(history[1:])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_start_recovers_truth_and_never_decreases(poisson_df: pd.DataFrame, seed: int) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, exposure="expo", random_state=seed)
    assert res.converged
    assert _monotone(res.llf_history)
    truth = {"comp1": [1.0, 0.5], "comp2": [2.5, -0.7]}
    got = sorted(res.params.T.to_numpy().tolist())
    np.testing.assert_allclose(got, sorted(truth.values()), atol=0.1)
    np.testing.assert_allclose(res.posterior.sum(axis=1), 1.0)
    comp_a = 1 + int(np.argmin(np.abs(res.params.loc["Intercept"].to_numpy() - 1.0)))
    from_a = res.classes.to_numpy() == comp_a
    assert from_a[:300].mean() > 0.85 and from_a[300:].mean() < 0.15


def test_same_seed_same_result(poisson_df: pd.DataFrame) -> None:
    a = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=7)
    b = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=7)
    pd.testing.assert_frame_equal(a.params, b.params)
    assert a.llf == b.llf


def test_canonical_order_is_by_mixing_then_coefficients(poisson_df: pd.DataFrame) -> None:
    df = poisson_df.iloc[:450]  # 300 rows from A, 150 from B
    lab = df.label.to_numpy()
    a = emglm.em_glm("y ~ x", df, "poisson", K=2, exposure="expo", start=lab, tol=1e-12)
    b = emglm.em_glm("y ~ x", df, "poisson", K=2, exposure="expo", start=1 - lab, tol=1e-12)
    assert a.mixing["comp1"] > a.mixing["comp2"]
    pd.testing.assert_frame_equal(a.params, b.params, rtol=1e-7)
    perm = em.canonical_order(
        glm_model("poisson", MixtureData(*(np.ones((1, 1)),) * 6)),
        glm_params(np.array([[2.0], [1.0], [3.0]]), np.ones(3), np.zeros((1, 3))),
        np.array([0.25, 0.25, 0.5]),
    )
    assert perm.tolist() == [2, 1, 0]


def test_convergence_warning_names_max_iter(poisson_df: pd.DataFrame) -> None:
    with pytest.warns(emglm.ConvergenceWarning, match="max_iter=2 iterations") as rec:
        res = emglm.em_glm(
            "y ~ x", poisson_df, "poisson", K=2, max_iter=2, random_state=0, n_starts=1, se=None
        )
    assert not res.converged and res.n_iter == 2
    assert len(rec) == 1
    assert rec[0].filename == __file__  # stacklevel points at the caller's line


def test_em_step_matches_closed_form_gaussian() -> None:
    """One M-step on fixed posteriors equals weighted least squares done by hand."""
    rng = np.random.default_rng(3)
    n = 200
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 2.0] + rng.normal(size=n)
    tau = rng.dirichlet([1, 1], size=n)
    data = MixtureData(y, X, np.zeros(n), np.ones(n), np.ones(n), np.ones((n, 1)))
    params = em.m_step(data, glm_model(get_family("gaussian"), data), tau)
    for k in range(2):
        W = np.diag(tau[:, k])
        beta = np.linalg.solve(X.T @ W @ X, X.T @ W @ y)
        np.testing.assert_allclose(params.components.coef[k], beta, rtol=1e-10)
        resid = y - X @ beta
        assert params.components.scale[k] == pytest.approx(tau[:, k] @ resid**2 / tau[:, k].sum())
    np.testing.assert_allclose(
        np.exp(params.gamma[0] - np.logaddexp(*params.gamma[0])), tau.mean(axis=0)
    )


def test_e_step_against_direct_formula() -> None:
    rng = np.random.default_rng(4)
    n = 50
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.poisson(3, n).astype(float)
    w = rng.integers(1, 3, n).astype(float)
    params = glm_params(np.array([[0.5, 0.2], [1.5, -0.3]]), np.ones(2), np.array([[0, 0.4]]))
    data = MixtureData(y, X, np.zeros(n), np.ones(n), w, np.ones((n, 1)))
    llf, post = em.e_step(data, glm_model(get_family("poisson"), data), params)
    from scipy.stats import poisson

    pi = np.exp([0, 0.4]) / np.exp([0, 0.4]).sum()
    dens = np.column_stack([pi[k] * poisson.pmf(y, np.exp(X @ params.components.coef[k])) for k in range(2)])
    assert llf == pytest.approx(float(w @ np.log(dens.sum(axis=1))), rel=1e-12)
    np.testing.assert_allclose(post, dens / dens.sum(axis=1, keepdims=True), rtol=1e-10)


def test_results_are_immutable(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.method = "cem"  # type: ignore[misc]
    with pytest.raises(ValueError):
        res.record.data.X[0, 0] = 1.0


def test_information_criteria(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=0)
    tau = res.posterior.to_numpy()
    ent = -np.sum(tau * np.log(np.clip(tau, 1e-300, None)))
    assert res.k_params == 2 * 2 + 1
    assert res.icl_entropy == pytest.approx(res.bic + 2 * ent, rel=1e-10)
    post = res.posterior.to_numpy()
    clogl = res.llf + np.sum(np.log(post.max(axis=1)))  # log(pi f) at the hard labels
    assert res.icl == pytest.approx(-2 * clogl + np.log(600) * 5, rel=1e-12)
    assert res.bic == pytest.approx(-2 * res.llf + np.log(600) * 5)


def test_residual_definitions(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm(
        "y ~ x", poisson_df, "poisson", K=2, start=poisson_df.label.to_numpy(), exposure="expo"
    )
    y = poisson_df.y.to_numpy()
    mu = res.predict(which="component").to_numpy()
    pi = res.mixing.to_numpy()
    m = mu @ pi
    v = (mu + mu**2) @ pi - m**2  # Poisson: V(mu) = mu
    np.testing.assert_allclose(res.resid_response, y - m)
    np.testing.assert_allclose(res.resid_pearson, (y - m) / np.sqrt(v))
    dev = 2 * (np.where(y > 0, y * np.log(np.where(y > 0, y, 1) / m), 0) - (y - m))
    np.testing.assert_allclose(res.resid_deviance, np.sign(y - m) * np.sqrt(dev), rtol=1e-8)
    tau = res.posterior.to_numpy()
    pooled = (tau * mu).sum(axis=1)
    np.testing.assert_allclose(res.resid("response", "pooled"), y - pooled)
    np.testing.assert_allclose(
        res.resid("pearson", "pooled"), (y - pooled) / np.sqrt((tau * mu).sum(axis=1))
    )
    comp = res.resid("pearson", "component")
    np.testing.assert_allclose(comp, (y[:, None] - mu) / np.sqrt(mu))
    with pytest.raises(emglm.InputError, match="level='both'"):
        res.resid("pearson", "both")


def test_summary_text(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=0, exposure="expo")
    text = str(res.summary())
    assert f"{res.llf:.4f}" in text and f"{res.bic:.4f}" in text
    assert "Component comp1" in text and "Component comp2" in text
    assert f"{res.params.loc['x', 'comp2']:.4f}" in text
    assert "Date" not in text and "Time" not in text
    assert str(res.summary()) == text  # reproducible


def test_tables_are_fresh_copies(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=0)
    before = res.params.copy()
    p = res.params
    p.iloc[0, 0] = 99.0
    post = res.posterior
    post.iloc[0, 0] = 5.0
    pd.testing.assert_frame_equal(res.params, before)
    assert res.posterior.iloc[0].sum() == pytest.approx(1.0)


def test_summary_notes_warmup(poisson_df: pd.DataFrame) -> None:
    res = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, random_state=0, n_starts=4, se=None)
    text = str(res.summary())
    ok = res.warmup.table.query("status == 'ok'")
    iters = ok.n_iter
    assert (
        f"best of 4 short warm-up runs ({res.warmup.n_failed} failed, "
        f"{iters.min()}-{iters.max()} iterations each)" in text
    )
    assert f"EM converged in {res.n_iter} iteration" in text  # the long run's, beside them
    tab = res.cluster_table()
    assert "Clusters: size = rows assigned" in text and f"{tab.ratio.iloc[0]:.4f}" in text
    assert tab["size"].sum() == len(poisson_df)
    assert f"{ok.llf.max():.4f}" in text
    # Every short run here is in one basin: one long run, and no note about several.
    assert len(res.warmup.long_table) == 1 and "best distinct" not in text
    given = emglm.em_glm("y ~ x", poisson_df, "poisson", K=2, start=poisson_df.label, se=None)
    assert "Started from the given start." in str(given.summary())
