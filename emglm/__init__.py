"""emglm: finite mixtures of generalized linear models fitted by the EM algorithm.

Write an R-like formula, get a statsmodels-style results object::

    import emglm
    df = emglm.datasets.load_sim2()
    res = emglm.em_glm("y ~ V1 + V2 + V3 + V4 + V5 - 1", df, family="poisson", K=2)
    print(res.summary())
"""

from emglm import datasets
from emglm.api import em_glm, select_best, small_em
from emglm.exceptions import (
    BootstrapWarning,
    ConvergenceWarning,
    DegenerateComponentWarning,
    EMGLMWarning,
    FitError,
    FormulaError,
    InputError,
    InputTypeError,
    NumericalWarning,
    SeparationWarning,
    SingularInformationWarning,
)
from emglm.lrt import LRTResult, lrt_bootstrap
from emglm.model import EMGLM
from emglm.options import FitOptions
from emglm.report.results import EMGLMResults
from emglm.report.warmup import SmallEMResult
from emglm.select import SelectKResult, select_k

__version__ = "0.1.0"

__all__ = [
    "EMGLM",
    "BootstrapWarning",
    "ConvergenceWarning",
    "DegenerateComponentWarning",
    "EMGLMResults",
    "EMGLMWarning",
    "FitError",
    "FitOptions",
    "FormulaError",
    "InputError",
    "InputTypeError",
    "LRTResult",
    "NumericalWarning",
    "SeparationWarning",
    "SelectKResult",
    "SmallEMResult",
    "SingularInformationWarning",
    "datasets",
    "em_glm",
    "lrt_bootstrap",
    "select_best",
    "select_k",
    "small_em",
]
