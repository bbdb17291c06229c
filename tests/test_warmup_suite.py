"""The default warm-up reaches the best known optimum on hard data sets of the warm-up suite
(``benchmarks/warmup_cases.py``, best optima in ``benchmarks/warmup_suite/best.json``;
``docs/warmup.md``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import emglm

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from warmup_cases import BY_NAME, best_known  # noqa: E402

SAME = 0.01  # the suite's tolerance: optima closer than this are one optimum


def _fit(name: str, seed: int, **options: object) -> emglm.EMGLMResults:
    case = BY_NAME[name]
    return emglm.em_glm(
        case.formula, case.data(), case.family, case.K, concomitant=case.concomitant,
        random_state=seed, se=None, **options,
    )  # fmt: skip


def test_best_known_optima_are_stated_with_how_they_were_found() -> None:
    best = best_known()
    assert set(best) == set(BY_NAME)
    for name, rec in best.items():
        assert rec["K"] == BY_NAME[name].K and rec["found_by"], name
        assert all(v < rec["best_llf"] for v in rec["next_optima"]), name


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nmes1988_default_reaches_the_best_optimum(seed: int) -> None:
    # NMES1988 doctor visits, K=3 Poisson: ten random starts with the best continued end
    # 60-140 below the best optimum for these seeds (2 of 20 seeds reach it); the default
    # reaches it for all 20 measured.
    target = best_known()["nmes1988"]["best_llf"]
    res = _fit("nmes1988", seed)
    assert res.K == 3 and res.llf == pytest.approx(target, abs=SAME)
    old = _fit("nmes1988", seed, init="random", n_starts=10, n_long=1)
    assert old.llf < target - 50


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sim_k4_poisson", "sim_k5_gaussian", "doctorvisits"])
def test_hard_cases_reach_the_best_optimum_for_several_seeds(name: str) -> None:
    target = best_known()[name]["best_llf"]
    for seed in (0, 1, 2):
        res = _fit(name, seed)
        assert res.K == BY_NAME[name].K, (name, seed)
        assert res.llf == pytest.approx(target, abs=SAME), (name, seed)


@pytest.mark.slow
def test_galaxies_default_reaches_the_best_optimum_with_the_budget() -> None:
    # galaxies (82 velocities, K=3 Gaussian): 15 short runs and 3 long runs reached the best
    # optimum for 6 of 10 seeds; the budget's 150 short runs and 10 long runs for 10 of 10.
    target = best_known()["galaxies"]["best_llf"]
    for seed in (1, 2, 6):
        res = _fit("galaxies", seed)
        assert len(res.warmup.table) == 150 and res.K == 3, seed
        assert res.llf == pytest.approx(target, abs=SAME), seed
        # The former default ends at the next optimum, -212.08, for these seeds.
        old = _fit("galaxies", seed, n_starts=15, n_long=3)
        assert old.llf == pytest.approx(-212.0804, abs=SAME), seed
