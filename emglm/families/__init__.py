"""Families of the component GLMs: the :class:`Family` base class, one subclass per family,
and the registry that :func:`get_family` reads (see docs/model.md, "Adding a family").

Importing this package registers the built-in families, in the order of
:data:`FAMILY_NAMES`.
"""

from __future__ import annotations

from emglm.families.base import Family, family_names, get_family, register_family

# isort: off
# Registration order is the order of FAMILY_NAMES (and of the names in error messages).
from emglm.families.poisson import PoissonFamily
from emglm.families.gaussian import GaussianFamily
from emglm.families.binomial import BinomialFamily
from emglm.families.gamma import GammaFamily
from emglm.families.inverse_gaussian import InverseGaussianFamily
from emglm.families.negbin import NegativeBinomialFamily

# isort: on

#: Canonical names of the built-in families (aliases are accepted too).
FAMILY_NAMES = family_names()

__all__ = [
    "FAMILY_NAMES",
    "BinomialFamily",
    "Family",
    "GammaFamily",
    "GaussianFamily",
    "InverseGaussianFamily",
    "NegativeBinomialFamily",
    "PoissonFamily",
    "family_names",
    "get_family",
    "register_family",
]
