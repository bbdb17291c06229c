"""Bootstrap standard errors: agreement with Louis, alignment, reproducibility, failures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from helpers import glm_model, glm_params
from emglm.inference import bootstrap as boot
from emglm.engine import em
from emglm.inference import louis as inference
from emglm.exceptions import BootstrapWarning, InputError
from emglm.data.arrays import MixtureData
from emglm.families import get_family


def _frame(seed: int, n: int = 500) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"x": rng.normal(size=n)})
    lab = (rng.random(n) < 0.4).astype(int)
    df["y"] = rng.poisson(np.exp(np.where(lab == 1, 0.5 + 0.5 * df.x, 3.0 - 0.3 * df.x)))
    return df, lab


@pytest.fixture(scope="module")
def poisson_case():
    df, lab = _frame(1)
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, tol=1e-10)
    return df, lab, res


@pytest.mark.parametrize("kind", ["nonparametric", "parametric"])
def test_bootstrap_agrees_with_louis(poisson_case, kind):
    # Tolerance: a bootstrap SE from B replicates has Monte Carlo error about
    # SE / sqrt(2B) (4.1% for B = 300), so 4 Monte Carlo SDs is 16%; on top, the bootstrap
    # and the observed information are different estimates of the sampling SD from one
    # data set of n = 500 (they differed by up to 10% over three seeds checked by hand).
    # Hence 25% per parameter, and 10% for their geometric mean over the 5 parameters.
    # A label-switching or resampling bug gives errors far larger than this; the Louis
    # matrix itself is checked exactly in test_inference.py.
    df, lab, louis = poisson_case
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, tol=1e-8, se="bootstrap",
                       n_boot=300, bootstrap=kind, random_state=1, n_jobs=2)
    assert res.cov_type == "bootstrap"
    assert res.covariance.n_failed == 0
    ratio = np.sqrt(np.diag(res.cov_params())) / np.sqrt(np.diag(louis.cov_params()))
    np.testing.assert_allclose(ratio, 1.0, atol=0.25)
    assert abs(np.exp(np.mean(np.log(ratio))) - 1.0) < 0.10
    np.testing.assert_allclose(res.mixing_bse / louis.mixing_bse, 1.0, atol=0.25)
    # Percentile intervals bracket the estimates and are about as wide as Wald intervals.
    pct = res.conf_int(method="percentile")
    wald = louis.conf_int()
    assert np.all((pct["lower"] < res._theta) & (res._theta < pct["upper"]))
    width = (pct["upper"] - pct["lower"]) / (wald["upper"] - wald["lower"])
    np.testing.assert_allclose(width, 1.0, atol=0.35)


def test_reproducible_and_independent_of_n_jobs(poisson_case):
    df, lab, _ = poisson_case
    fits = [
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap", n_boot=6,
                     random_state=7, n_jobs=jobs)
        for jobs in (1, 2, 1)
    ]
    reps = [f.covariance.replicates for f in fits]
    np.testing.assert_array_equal(reps[0], reps[1])
    np.testing.assert_array_equal(reps[0], reps[2])
    other = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap", n_boot=6,
                         random_state=8)
    assert not np.array_equal(other.covariance.replicates, reps[0])


def test_align_undoes_a_permutation():
    fitted = glm_params(
        coef=np.array([[1.0, 0.5], [3.0, -0.3], [0.0, 2.0]]), scale=np.ones(3),
        gamma=np.zeros((1, 3)),
    )
    perm = np.array([2, 0, 1])
    shuffled = glm_params(coef=fitted.components.coef[perm] + 0.01, scale=np.ones(3),
                                gamma=np.zeros((1, 3)))
    data = MixtureData(*(np.ones((1, 2)),) * 2, *(np.ones(1),) * 3, np.ones((1, 1)))
    back = boot.align(glm_model("poisson", data), fitted, shuffled)
    np.testing.assert_allclose(shuffled.components.coef[back], fitted.components.coef + 0.01)


def test_nonparametric_draw_treats_weights_as_frequencies():
    n = 4
    data = MixtureData(np.ones(n), np.ones((n, 1)), np.zeros(n), np.ones(n),
                          np.array([1.0, 2.0, 3.0, 4.0]), np.ones((n, 1)))
    params = glm_params(np.zeros((1, 1)), np.ones(1), np.zeros((1, 1)))
    rng = np.random.default_rng(0)
    counts = np.array([boot.draw(data, get_family("poisson"), params, "nonparametric", rng)
                       .weights for _ in range(4000)])
    assert np.all(counts.sum(axis=1) == 10)
    np.testing.assert_allclose(counts.mean(axis=0), [1, 2, 3, 4], rtol=0.05)


def test_failed_replicates_are_counted_and_warned(poisson_case, monkeypatch):
    df, lab, res = poisson_case
    real = boot._one_replicate
    calls = {"n": 0}

    def flaky(*args):
        calls["n"] += 1
        return None if calls["n"] % 3 == 0 else real(*args)

    monkeypatch.setattr(boot, "_one_replicate", flaky)
    with pytest.warns(BootstrapWarning, match="3 of 9 bootstrap replicates failed"):
        out = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap", n_boot=9,
                           random_state=1)
    assert out.covariance.n_failed == 3
    assert out.covariance.replicates.shape == (6, 5)
    assert "3 failed" in str(out.summary())


def test_all_replicates_failing_is_an_error(poisson_case):
    df, lab, res = poisson_case
    data, model = res.record.data, res.record.mixture
    with pytest.raises(InputError, match="only 0 of 4 bootstrap replicates succeeded"):
        boot.bootstrap(data, model, res.em.params, em.EMOptions(max_iter=1, tol=1e-300),
                       n_boot=4, random_state=0)


def test_bad_bootstrap_options(poisson_case):
    df, lab, _ = poisson_case
    with pytest.raises(InputError, match="bootstrap='jackknife' is not allowed"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap",
                     bootstrap="jackknife")
    with pytest.raises(InputError, match="se='sandwich' is not allowed.*'louis'"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="sandwich")
    with pytest.raises(InputError, match="integer"):
        emglm.em_glm("y ~ x", df.assign(w=1.5), "poisson", K=2, start=lab, weights="w",
                     se="bootstrap", bootstrap="parametric")
    with pytest.raises(emglm.InputTypeError, match="n_jobs"):
        emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap", n_jobs=1.5)


def test_progress_bar_runs(poisson_case, capsys):
    df, lab, _ = poisson_case
    res = emglm.em_glm("y ~ x", df, "poisson", K=2, start=lab, se="bootstrap", n_boot=3,
                       random_state=2, progress=True)
    assert res.covariance.replicates.shape[0] == 3
    assert "bootstrap" in capsys.readouterr().err
