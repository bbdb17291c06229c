"""Mixtures agree with R flexmix (and mixtools for Gaussian ML sigmas).

Reference values: ``tests/reference/flexmix_reference.json``, made by
``tests/reference/flexmix_reference.R`` on data from ``make_reference_data.py``. The ``mle``
block of each fit is flexmix's EM solution polished by Newton steps on flexmix's own score,
so tight tolerances are meaningful.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emglm

REF_DIR = Path(__file__).parent / "reference"
REF = json.loads((REF_DIR / "flexmix_reference.json").read_text())["fits"]


def _data(name: str) -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "data" / name)


def _matched(res: emglm.EMGLMResults, ref_coefs: list[dict[str, float]]) -> list[str]:
    """Our component name for each reference component (nearest coefficients)."""
    names = []
    for coefs in ref_coefs:
        target = np.array(list(coefs.values()))
        dist = [np.abs(res.params[c].to_numpy() - target).sum() for c in res.component_names]
        names.append(res.component_names[int(np.argmin(dist))])
    assert len(set(names)) == len(names)
    return names


def _compare(res: emglm.EMGLMResults, fit: dict, sigma: bool = False) -> None:
    ref = fit["mle"]
    assert res.llf == pytest.approx(ref["logLik"], rel=1e-8)
    assert res.k_params == fit["df"]
    assert res.aic == pytest.approx(-2 * ref["logLik"] + 2 * fit["df"], rel=1e-8)
    assert res.bic == pytest.approx(-2 * ref["logLik"] + np.log(fit["nobs"]) * fit["df"], rel=1e-8)
    ours = _matched(res, ref["coefficients"])
    for comp, coefs, prior in zip(ours, ref["coefficients"], ref["priors"]):
        np.testing.assert_allclose(res.params[comp].to_numpy(), list(coefs.values()), rtol=1e-5)
        assert res.mixing[comp] == pytest.approx(prior, rel=1e-5)
    if sigma:
        for comp, s in zip(ours, ref["sigma"]):
            assert np.sqrt(res.scale[comp]) == pytest.approx(s, rel=1e-5)


def test_poisson_with_offset() -> None:
    df = _data("pois_mix.csv")
    res = emglm.em_glm(
        "y ~ x1 + x2", df, "poisson", K=2, exposure="expo", start=df.label - 1, tol=1e-13
    )
    _compare(res, REF["pois_offset"])


def test_poisson_offset_term_equals_exposure() -> None:
    df = _data("pois_mix.csv")
    res = emglm.em_glm(
        "y ~ x1 + x2 + offset(np.log(expo))", df, "poisson", K=2, start=df.label - 1, tol=1e-13
    )
    _compare(res, REF["pois_offset"])


def test_poisson_with_case_weights() -> None:
    df = _data("pois_mix.csv")
    res = emglm.em_glm(
        "y ~ x1 + x2",
        df,
        "poisson",
        K=2,
        offset=np.log(df.expo),
        weights="w",
        start=df.label - 1,
        tol=1e-13,
    )
    assert res.nobs == df.w.sum()
    _compare(res, REF["pois_offset_weights"])


def test_gaussian_ml_sigma() -> None:
    df = _data("gauss_mix.csv")
    res = emglm.em_glm("y ~ x", df, "gaussian", K=2, start=df.label - 1, tol=1e-13)
    _compare(res, REF["gauss_ml"], sigma=True)
    # mixtools' regmixEM (ML sigmas) is an independent second reference.
    assert res.llf == pytest.approx(REF["gauss_mixtools"]["logLik"], rel=1e-8)


def test_binomial_two_columns() -> None:
    df = _data("binom_mix.csv")
    res = emglm.em_glm("cbind(succ, fail) ~ x", df, "binomial", K=2, start=df.label - 1, tol=1e-13)
    _compare(res, REF["binom"])


ICL_REF = json.loads((Path(__file__).parent / "reference" / "flexmix_icl.json").read_text())


@pytest.mark.parametrize(
    ("key", "formula", "family", "options"),
    [
        ("pois_offset", "y ~ x1 + x2", "poisson", {"offset": "log_expo"}),
        ("binom", "cbind(succ, fail) ~ x", "binomial", {}),
    ],
)
def test_icl_is_flexmix_icl(key: str, formula: str, family: str, options: dict) -> None:
    ref = ICL_REF["fits"][key]
    dataset = "pois_mix" if key == "pois_offset" else "binom_mix"
    df = pd.read_csv(Path(__file__).parent / "reference" / "data" / f"{dataset}.csv")
    df["log_expo"] = np.log(df["expo"]) if "expo" in df else 0.0
    res = emglm.em_glm(formula, df, family, K=2, start=df.label.to_numpy() - 1, tol=1e-13,
                       minprior=0, se=None, **options)
    assert res.llf == pytest.approx(ref["logLik"], abs=1e-4)
    assert res.clogl == pytest.approx(ref["clogLik"], abs=1e-4)
    assert res.icl == pytest.approx(ref["ICL"], abs=1e-3)
    # The soft entropy is at least the hard penalty -log max_k tau_ik of each row.
    assert res.icl_entropy > res.icl
    # flexmix's summary() table of the components, matched by prior.
    tab = res.cluster_table().sort_values("prior")
    ref_tab = pd.DataFrame(ref["comptab"]).sort_values("prior")
    np.testing.assert_allclose(tab["prior"], ref_tab["prior"], atol=1e-6)
    np.testing.assert_array_equal(tab["size"], ref_tab["size"])
    np.testing.assert_array_equal(tab["post>0"], ref_tab["post"])
    np.testing.assert_allclose(tab["ratio"], ref_tab["ratio"], rtol=1e-12)
