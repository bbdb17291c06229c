"""The families: derivatives against numerical differences of their log-densities, IRLS
factors against the textbook formulas, and the registry."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
import statsmodels.genmod.families as smf
from scipy import stats

import emglm
from emglm.exceptions import InputError, InputTypeError
from emglm.families import FAMILY_NAMES, Family, get_family, register_family
from emglm.families import base as families_base
from emglm.families.binomial import BinomialFamily
from emglm.families.gamma import GammaFamily
from emglm.families.gaussian import GaussianFamily
from emglm.families.inverse_gaussian import InverseGaussianFamily
from emglm.families.negbin import NegativeBinomialFamily
from emglm.families.poisson import PoissonFamily

links = sm.families.links

# (family, response, linear predictor, dispersion): responses inside each support, linear
# predictors where the inverse link is valid.
_RNG = np.random.default_rng(0)
_ETA = _RNG.normal(scale=0.5, size=12)
CASES = {
    "poisson-log": (get_family("poisson"), _RNG.poisson(3.0, 12), 1.0 + _ETA, 1.0),
    "poisson-sqrt": (
        get_family(smf.Poisson(link=links.Sqrt())), _RNG.poisson(3.0, 12), 2.0 + _ETA, 1.0
    ),
    "binomial-logit": (get_family("binomial"), _RNG.integers(0, 6, 12) / 5.0, _ETA, 1.0),
    "binomial-probit": (
        get_family(smf.Binomial(link=links.Probit())), _RNG.integers(0, 6, 12) / 5.0, _ETA, 1.0
    ),
    "gaussian-identity": (get_family("gaussian"), _RNG.normal(size=12), _ETA, 1.7),
    "gaussian-log": (
        get_family(smf.Gaussian(link=links.Log())), 1.0 + _RNG.normal(size=12), _ETA, 0.6
    ),
    "gamma-inverse": (get_family("gamma"), _RNG.gamma(2.0, 1.0, 12), 0.5 + 0.1 * _ETA, 0.5),
    "gamma-log": (get_family(smf.Gamma(link=links.Log())), _RNG.gamma(2.0, 1.0, 12), _ETA, 0.5),
    "inverse_gaussian": (
        get_family("inverse_gaussian"), _RNG.wald(1.0, 2.0, 12), 1.0 + 0.2 * _ETA, 0.4
    ),
    "negbin-log": (get_family("negbin"), _RNG.poisson(4.0, 12), 1.2 + _ETA, 0.6),
}
TRIALS = {"binomial-logit": 5.0, "binomial-probit": 5.0}


def _case(name: str):
    fam, y, eta, scale = CASES[name]
    trials = np.full(12, TRIALS.get(name, 1.0))
    return fam, np.asarray(y, dtype=float), np.asarray(eta, dtype=float), scale, trials


def _ll(fam: Family, y, eta, scale, trials):
    return fam.loglik(y, fam.linkinv(eta), scale, trials)


@pytest.mark.parametrize("name", sorted(CASES))
def test_eta_derivatives_are_those_of_the_log_density(name: str) -> None:
    fam, y, eta, scale, trials = _case(name)
    d1, d2 = fam.eta_derivatives(y, eta, trials, np.full(12, scale))
    h = 1e-4
    up, mid, down = (_ll(fam, y, eta + s, scale, trials) for s in (h, 0.0, -h))
    np.testing.assert_allclose(d1, (up - down) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(d2, (up - 2 * mid + down) / h**2, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", [n for n in sorted(CASES) if CASES[n][0].has_scale])
def test_dispersion_derivatives_are_those_of_the_log_density(name: str) -> None:
    fam, y, eta, scale, trials = _case(name)
    s1, s2, cross = fam.dispersion_derivatives(y, eta, trials, np.full(12, scale))
    theta = fam.free_dispersion(scale)
    h = 1e-4

    def ll(d_eta: float, d_theta: float):
        return _ll(fam, y, eta + d_eta, fam.dispersion_from_free(theta + d_theta), trials)

    up, mid, down = ll(0, h), ll(0, 0), ll(0, -h)
    np.testing.assert_allclose(s1, (up - down) / (2 * h), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(s2, (up - 2 * mid + down) / h**2, rtol=1e-4, atol=1e-5)
    mixed = (ll(h, h) - ll(h, -h) - ll(-h, h) + ll(-h, -h)) / (4 * h * h)
    np.testing.assert_allclose(cross, mixed, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(CASES))
def test_irls_factors_are_the_textbook_ones(name: str) -> None:
    fam, y, eta, scale, trials = _case(name)
    mu = fam.linkinv(eta)
    dmu = fam.mu_eta(eta)
    if name == "negbin-log":
        var = mu + scale * mu**2  # NB2: the variance function holds alpha
    else:
        var = np.asarray(fam.sm_family.variance(mu))
    a, r = fam.irls_factors(eta, mu, scale)
    np.testing.assert_allclose(a, dmu**2 / var, rtol=1e-12)
    np.testing.assert_allclose(r, dmu / var, rtol=1e-12)
    # The in-place form writes the working weight wt a and scales the score by r.
    wt = np.linspace(0.5, 2.0, 12)
    weight, score = np.empty(12), wt * (y - mu)
    fam.irls_weights(eta, mu, scale, wt, weight, score)
    np.testing.assert_allclose(weight, wt * a, rtol=1e-12)
    np.testing.assert_allclose(score, wt * (y - mu) * r, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(CASES))
def test_free_dispersion_is_the_log_of_the_reported_one(name: str) -> None:
    fam = CASES[name][0]
    scale = np.array([0.3, 2.0])
    np.testing.assert_allclose(fam.free_dispersion(scale), np.log(fam.reported_dispersion(scale)))
    np.testing.assert_allclose(fam.dispersion_from_free(fam.free_dispersion(scale)), scale)
    assert fam.free_dispersion_name == f"log({fam.dispersion_label})"


def test_negbin_loglik_is_the_nb2_pmf_and_tends_to_poisson() -> None:
    y = np.arange(0.0, 30.0)
    fam = get_family("negbin")
    ll = fam.loglik(y, 6.0, 0.4, 1.0)
    np.testing.assert_allclose(ll, stats.nbinom.logpmf(y, 1 / 0.4, 1 / (1 + 0.4 * 6.0)), rtol=1e-12)
    near_poisson = fam.loglik(y, 6.0, 1e-12, 1.0)
    np.testing.assert_allclose(near_poisson, stats.poisson.logpmf(y, 6.0), rtol=1e-9)


# --- registry ------------------------------------------------------------------------------
def test_family_names_in_order() -> None:
    assert FAMILY_NAMES == (
        "poisson", "gaussian", "binomial", "gamma", "inverse_gaussian", "negbin"
    )


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("poisson", PoissonFamily),
        ("Gaussian", GaussianFamily),
        ("BINOMIAL", BinomialFamily),
        ("gamma", GammaFamily),
        ("inverse_gaussian", InverseGaussianFamily),
        ("InverseGaussian", InverseGaussianFamily),
        ("negbin", NegativeBinomialFamily),
        ("negative_binomial", NegativeBinomialFamily),
        (" nb2 ", NegativeBinomialFamily),
    ],
)
def test_names_and_aliases(name: str, cls: type) -> None:
    fam = get_family(name)
    assert type(fam) is cls
    assert isinstance(fam.sm_family, cls.sm_class)


@pytest.mark.parametrize(
    ("sm_family", "cls", "link"),
    [
        (smf.Poisson(), PoissonFamily, "log"),
        (smf.Binomial(link=links.Probit()), BinomialFamily, "probit"),
        (smf.Gaussian(link=links.Log()), GaussianFamily, "log"),
        (smf.Gamma(link=links.Log()), GammaFamily, "log"),
        (smf.Gamma(), GammaFamily, "inversepower"),
        (smf.InverseGaussian(), InverseGaussianFamily, "inversesquared"),
        (smf.NegativeBinomial(alpha=1.0, link=links.Sqrt()), NegativeBinomialFamily, "sqrt"),
    ],
)
def test_statsmodels_instances_map_to_their_class_and_keep_their_link(sm_family, cls, link):
    fam = get_family(sm_family)
    assert type(fam) is cls
    assert fam.sm_family is sm_family and fam.link_name == link
    assert get_family(fam) is fam


def test_fast_paths_follow_the_link() -> None:
    assert get_family("gaussian").least_squares
    assert not get_family(smf.Gaussian(link=links.Log())).least_squares
    assert get_family(smf.Gaussian(link=links.Log())).dispersion_is_mean_square
    probit = get_family(smf.Binomial(link=links.Probit()))
    assert probit.two_column_response and probit.can_separate and not probit.has_scale


def test_unknown_statsmodels_family_gets_the_generic_class() -> None:
    class MyGaussian(smf.Gaussian):
        pass

    fam = get_family(MyGaussian())
    assert type(fam) is Family and fam.name == "mygaussian" and fam.has_scale


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(InputError) as err:
        get_family("poison")
    assert str(err.value).startswith(
        "unknown family 'poison'; use one of 'poisson', 'gaussian', 'binomial', 'gamma', "
        "'inverse_gaussian', 'negbin' or a statsmodels family instance"
    )


def test_tweedie_and_bad_types_are_refused() -> None:
    with pytest.raises(InputError, match="Tweedie family has no closed-form density"):
        get_family(smf.Tweedie())
    with pytest.raises(InputTypeError, match="family must be a string .* not int"):
        get_family(3)  # type: ignore[arg-type]


@pytest.fixture
def restore_registry():
    saved = (
        dict(families_base._BY_NAME),
        dict(families_base._BY_SM_CLASS),
        list(families_base._CANONICAL),
    )
    yield
    families_base._BY_NAME.clear()
    families_base._BY_NAME.update(saved[0])
    families_base._BY_SM_CLASS.clear()
    families_base._BY_SM_CLASS.update(saved[1])
    families_base._CANONICAL[:] = saved[2]


def test_a_registered_family_fits(restore_registry, poisson_df: pd.DataFrame) -> None:
    class SqrtPoisson(PoissonFamily):
        @classmethod
        def default_sm_family(cls) -> smf.Family:
            return smf.Poisson(link=links.Sqrt())

    register_family(SqrtPoisson, ("poisson_sqrt", "sqrt_poisson"))
    assert type(get_family("SQRT_POISSON")) is SqrtPoisson
    assert families_base.family_names()[-1] == "poisson_sqrt"
    res = emglm.em_glm("y ~ x", poisson_df, "poisson_sqrt", K=1, tol=1e-12, se=None)
    ref = emglm.em_glm(
        "y ~ x", poisson_df, smf.Poisson(link=links.Sqrt()), K=1, tol=1e-12, se=None
    )
    assert res.llf == ref.llf
    np.testing.assert_array_equal(res.params, ref.params)


@pytest.mark.filterwarnings("ignore::statsmodels.tools.sm_exceptions.DomainWarning")
@pytest.mark.parametrize(
    "sm_family",
    [
        smf.Poisson(link=links.Sqrt()),
        smf.Binomial(link=links.Probit()),
        smf.Gaussian(link=links.Log()),
    ],
)
def test_links_without_a_fast_path_count_the_data_constant_once(sm_family) -> None:
    # The log-density's data constant (gammaln terms, log(2 pi)) belongs to the fast paths
    # of the log, logit and identity links; other links evaluate the full density.
    rng = np.random.default_rng(4)
    n = 500
    x = rng.normal(size=n)
    X = np.c_[np.ones(n), x]
    trials = np.ones(n)
    if isinstance(sm_family, smf.Binomial):
        trials = rng.integers(1, 8, n).astype(float)
        s = rng.binomial(trials.astype(int), 0.3 + 0.2 * (x > 0))
        df = pd.DataFrame({"s": s, "f": trials - s, "x": x})
        formula, y = "cbind(s, f) ~ x", s / trials
    elif isinstance(sm_family, smf.Gaussian):
        df = pd.DataFrame({"y": np.exp(1.0 + 0.3 * x) + rng.normal(size=n), "x": x})
        formula, y = "y ~ x", df.y.to_numpy()
    else:
        df = pd.DataFrame({"y": rng.poisson((2.0 + 0.5 * x).clip(0.1) ** 2), "x": x})
        formula, y = "y ~ x", df.y.to_numpy()
    res = emglm.em_glm(formula, df, sm_family, K=1, tol=1e-12, se=None)
    ref = sm.GLM(y, X, family=sm_family, var_weights=trials).fit(tol=1e-12)
    np.testing.assert_allclose(res.params["comp1"], ref.params, rtol=1e-6)
    mu = ref.fittedvalues
    if isinstance(sm_family, smf.Binomial):
        llf = stats.binom.logpmf(np.round(y * trials), trials, mu).sum()
    elif isinstance(sm_family, smf.Gaussian):
        llf = stats.norm.logpdf(y, mu, np.sqrt(np.mean((y - mu) ** 2))).sum()
    else:
        llf = stats.poisson.logpmf(y, mu).sum()
    assert res.llf == pytest.approx(llf, abs=1e-6)


def test_no_module_outside_the_families_tests_a_family_name() -> None:
    root = Path(emglm.__file__).parent
    pattern = re.compile(r"\.name\s*(==|!=|in\b|not in\b)|link_name|is_gaussian_identity")
    offenders = [
        f"{path.relative_to(root)}:{i}"
        for path in root.rglob("*.py")
        if "families" not in path.parts
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line) and "family" in line
    ]
    assert offenders == []
