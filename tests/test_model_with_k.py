"""EMGLM.with_K: the same model with another number of components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emglm
from emglm.components.shared import SharedGLMComponents
from emglm.components.zero_inflated import ZeroInflatedComponents


def _frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    x, z = rng.normal(size=400), rng.normal(size=400)
    lab = rng.random(400) < 0.5
    y = rng.poisson(np.exp(np.where(lab, 1.5, 0.2) + 0.4 * x + 0.3 * z))
    y[rng.random(400) < 0.15] = 0
    return pd.DataFrame({"y": y, "x": x, "z": z})


@pytest.mark.parametrize(
    ("extra", "driver"),
    [({"zero_inflated": True}, ZeroInflatedComponents), ({"fixed": "~ z"}, SharedGLMComponents)],
)
def test_with_k_keeps_the_data_and_the_driver(extra: dict, driver: type) -> None:
    df = _frame()
    base = emglm.EMGLM.from_formula("y ~ x", df, "poisson", 1, **extra)
    three = base.with_K(3)
    assert three.K == 3 and three.n_total == 3 + ("zero_inflated" in extra)
    assert isinstance(three.components, driver)
    assert three.arrays is base.arrays and three.design is base.design
    # The same fit as the model built from the formula with K=3.
    direct = emglm.EMGLM.from_formula("y ~ x", df, "poisson", 3, **extra)
    a = three.fit(random_state=2, se=None)
    b = direct.fit(random_state=2, se=None)
    assert a.llf == pytest.approx(b.llf, rel=1e-12)
    np.testing.assert_allclose(a.params.to_numpy(), b.params.to_numpy(), rtol=1e-10)


def test_with_k_checks_the_new_k() -> None:
    base = emglm.EMGLM.from_formula("y ~ x", _frame().head(12), "poisson", 1)
    with pytest.raises(emglm.InputError, match="fit fewer components"):
        base.with_K(10)
