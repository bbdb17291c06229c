"""Coefficients shared across components, at the formula level (flexmix's ``FLXMRglmfix``).

``fixed="~ z1 + z2"`` names terms with one coefficient common to all components;
``nested=[(2, "~ x1"), (1, "~ 0")]`` splits the K components, in order, into groups whose
components share the coefficients of their group's terms (flexmix's
``nested = list(k = c(2, 1), formula = c(~x1, ~0))``); ``equal_scale=True`` gives all
components one dispersion (flexmix's ``varFix = TRUE``).

The terms are added to the model formula, so one design holds every column (rows with
missing values, transformations, factor levels and ``predict(newdata)`` work as for any
formula); :func:`column_roles` then says which columns vary by component, which are fixed
and which each nested group shares. The intercept always comes from the main formula:
an intercept in a ``fixed`` or ``nested`` formula is ignored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import patsy
from patsy.desc import INTERCEPT, ModelDesc, Term

from emglm.data.groups import split_groups
from emglm.exceptions import FormulaError, InputError, InputTypeError
from emglm.families import Family


@dataclass(frozen=True)
class SharingSpec:
    """What the user asked to share, checked: the fixed terms, each nested group's size
    and terms, and whether the dispersion is common."""

    fixed: tuple[Term, ...] = ()
    sizes: tuple[int, ...] = ()
    nested: tuple[tuple[Term, ...], ...] = ()
    equal_scale: bool = False

    @property
    def is_plain(self) -> bool:
        """Whether nothing is shared (the plain GLM mixture)."""
        return not (self.fixed or self.sizes or self.equal_scale)

    def extra_terms(self) -> list[Term]:
        """The fixed terms, then the nested groups' terms, each once."""
        out: list[Term] = []
        for term in (*self.fixed, *(t for group in self.nested for t in group)):
            if term not in out:
                out.append(term)
        return out


def check_sharing(fixed: str | None, nested: Any, equal_scale: Any, family: Family) -> SharingSpec:
    """Validate ``fixed``, ``nested`` and ``equal_scale`` before any data is read.

    Examples
    --------
    >>> from emglm.families import get_family
    >>> spec = check_sharing("~ z1 + z2", [(2, "~ x1"), (1, "~ 0")], False,
    ...                      get_family("poisson"))
    >>> [t.name() for t in spec.fixed], spec.sizes
    (['z1', 'z2'], (2, 1))
    """
    if not isinstance(equal_scale, bool):
        raise InputTypeError(f"equal_scale must be True or False, not {equal_scale!r}")
    if equal_scale and not family.has_scale:
        raise InputError(
            f"equal_scale=True shares one dispersion among the components, but the "
            f"{family.name} family has no dispersion; use it with a family that has one "
            "(gaussian, gamma, inverse_gaussian, negbin)"
        )
    fixed_terms = () if fixed is None else _terms("fixed", fixed)
    sizes: list[int] = []
    groups: list[tuple[Term, ...]] = []
    if nested is not None:
        if isinstance(nested, (str, bytes)) or not isinstance(nested, Sequence) or not nested:
            raise InputTypeError(
                "nested must be a non-empty list of (size, formula) pairs such as "
                f"[(2, '~ x1'), (1, '~ 0')], not {nested!r}"
            )
        for i, pair in enumerate(nested):
            if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                raise InputTypeError(
                    f"nested[{i}] must be a (size, formula) pair such as (2, '~ x1'), not {pair!r}"
                )
            size, text = pair
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InputError(
                    f"nested[{i}] has size {size!r}; a group size is a positive integer "
                    "(its number of components)"
                )
            sizes.append(size)
            groups.append(_terms(f"nested[{i}]", text))
    spec = SharingSpec(fixed_terms, tuple(sizes), tuple(groups), equal_scale)
    for term in fixed_terms:
        for i, group in enumerate(groups):
            if term in group:
                raise InputError(
                    f"the term {term.name()!r} is both fixed and in nested[{i}]; a term is "
                    "shared either by all components (fixed) or by a nested group"
                )
    return spec


def extend_formula(formula: str, spec: SharingSpec) -> str:
    """The model formula with the shared terms added (before a grouping ``| g``).

    A shared term that is also a term of the formula is an error: it would be both
    varying and shared.
    """
    head, group = split_groups(formula)
    if "~" not in head:
        return formula  # the formula front end reports this
    try:
        main = ModelDesc.from_formula(head).rhs_termlist
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot parse formula {formula!r}: {exc}") from None
    for term in spec.extra_terms():
        if term in main:
            where = "fixed" if term in spec.fixed else "nested"
            raise InputError(
                f"the {where} term {term.name()!r} is also in the main formula {formula!r}; "
                "a term either varies by component (main formula) or is shared "
                f"({where}=): remove it from one of them"
            )
    extra = spec.extra_terms()
    if not extra:
        return formula
    text = head + " + " + " + ".join(t.name() for t in extra)
    return text if group is None else f"{text} | {group}"


def column_roles(
    x_info: patsy.DesignInfo, spec: SharingSpec
) -> tuple[tuple[int, ...], tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """The design columns that vary by component, the fixed ones, and those of each
    nested group (a term in several groups is one column, with one coefficient per
    group)."""
    slices = x_info.term_slices

    def cols(terms: Sequence[Term]) -> tuple[int, ...]:
        return tuple(j for t in terms for j in range(*slices[t].indices(len(x_info.column_names))))

    shared = set(spec.extra_terms())
    varying = cols([t for t in x_info.terms if t not in shared])
    return tuple(sorted(varying)), cols(spec.fixed), tuple(cols(g) for g in spec.nested)


def _terms(what: str, text: Any) -> tuple[Term, ...]:
    """The right-hand-side terms of a one-sided formula, without the intercept."""
    if not isinstance(text, str):
        raise InputTypeError(
            f"{what} must be a one-sided formula string such as '~ z1 + z2', "
            f"not {type(text).__name__}"
        )
    formula = text if "~" in text else "~ " + text
    try:
        desc = ModelDesc.from_formula(formula)
    except patsy.PatsyError as exc:
        raise FormulaError(f"cannot parse {what} formula {text!r}: {exc}") from None
    if desc.lhs_termlist:
        raise FormulaError(f"{what} formula {text!r} must be one-sided (e.g. '~ z1 + z2')")
    terms = tuple(t for t in desc.rhs_termlist if t != INTERCEPT)
    for t in terms:
        if any(str(f.code).startswith("offset(") for f in t.factors):
            raise FormulaError(
                f"{what} formula {text!r} has an offset term; put offsets in the main formula"
            )
    return terms
