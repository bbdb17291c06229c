"""Finite mixtures of generalized linear models fitted by the EM algorithm."""

__version__ = "0.1.0"
