"""A concomitant maximum far out in the logits is reached, not cut off.

flexmix's own ``patent`` example (``?patent``: ``Patents ~ lgRD``, K=3, Poisson,
``FLXPmultinom(~ RDS)``) has its maximum at llf -197.675 with an RDS log-odds coefficient
near 41, i.e. log-odds about -133 at the firm with RDS 3.33. Reference: flexmix 2.3-18 via
tests/reference/flexmix_patent.R (data tests/reference/data/patent.csv, numbers
tests/reference/flexmix_patent.json, its EM result polished by Newton on the analytic score).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.exceptions import SeparationWarning

REF = Path(__file__).parent / "reference"
PATENT = json.loads((REF / "flexmix_patent.json").read_text())
MLE = PATENT["mle"]


def _patent() -> pd.DataFrame:
    return pd.read_csv(REF / "data" / "patent.csv")


def _fit(**kw: object) -> emglm.EMGLMResults:
    # A SeparationWarning is an error here (pyproject's filter): it must not fire.
    with warnings.catch_warnings():
        warnings.simplefilter("error", SeparationWarning)
        return emglm.em_glm(
            "Patents ~ lgRD", _patent(), "poisson", K=3, concomitant="~ RDS", **kw
        )


def _assert_at_the_mle(res: emglm.EMGLMResults) -> None:
    assert res.K == 3 and res.converged
    assert res.llf == pytest.approx(-197.675, abs=1e-3)
    assert res.llf == pytest.approx(MLE["logLik"], abs=1e-6)
    theirs = np.array([list(c.values()) for c in MLE["coefficients"].values()])
    ours = res.params.to_numpy().T
    perm = [int(np.argmin(np.abs(theirs - row).sum(axis=1))) for row in ours]
    assert sorted(perm) == [0, 1, 2]
    np.testing.assert_allclose(ours, theirs[perm], rtol=1e-4, atol=1e-5)
    gamma_r = np.array(list(MLE["concomitant"].values()))[:, perm]
    gamma_r -= gamma_r[:, :1]
    np.testing.assert_allclose(res.mixing_params.to_numpy(), gamma_r, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(res.mixing.to_numpy(), np.array(MLE["priors"])[perm], rtol=1e-5)
    # Far beyond any moderate bound on the log-odds: about 133 at the firm with RDS 3.33.
    Z = res.record.data.Z
    logodds = Z @ res.mixing_params.to_numpy()
    spread = logodds.max(axis=1) - logodds.min(axis=1)
    assert spread[np.argmax(Z[:, 1])] == pytest.approx(133.5, abs=0.5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_default_call_reaches_the_patent_maximum(seed: int) -> None:
    _assert_at_the_mle(_fit(random_state=seed))


@pytest.mark.slow
def test_default_call_reaches_the_patent_maximum_from_nine_of_ten_seeds() -> None:
    llfs = [_fit(random_state=seed, se=None).llf for seed in range(10)]
    assert sum(abs(llf - MLE["logLik"]) < 1e-3 for llf in llfs) >= 9, llfs


def test_start_from_flexmix_posteriors_reaches_the_maximum() -> None:
    posterior = np.array(PATENT["fit"]["posterior"])
    assert posterior.shape == (70, 3)
    res = _fit(start=posterior)
    _assert_at_the_mle(res)
    # flexmix's own EM stops short of it; emglm goes on to the maximum.
    assert PATENT["fit"]["logLik"] < res.llf
    assert np.all(np.diff(res.llf_history) >= -1e-9 * abs(res.llf))


def test_the_maximum_is_interior() -> None:
    """flexmix's profile over the RDS coefficient falls on both sides of the maximum, and
    emglm's maximum is above the profile's ends."""
    profile = PATENT["profile"]
    low, mid, high = profile["logLik"]
    assert low < mid - 0.1 and high < mid - 0.1
    assert mid == pytest.approx(MLE["logLik"], abs=1e-4)
    res = _fit(random_state=0, se=None)
    assert res.llf > max(low, high) + 0.1
