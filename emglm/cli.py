"""Command line: ``python -m emglm fit ...`` and ``python -m emglm demo``.

Errors in the arguments or the input file, and fits that cannot be carried out
(:class:`~emglm.FitError`), print one line and exit with status 2.

Formulas given here may come from anywhere, so they are evaluated as safe formulas
(``safe_formula=True``): only the data's columns, numbers, arithmetic, ``np.<ufunc>`` and
the documented transforms, no builtins (``docs/security.md``).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

import pandas as pd

from emglm.api import em_glm
from emglm.exceptions import EMGLMWarning, FitError, InputError
from emglm.families import FAMILY_NAMES


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # One line, no usage block: the message says what is wrong.
        print(f"emglm: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m emglm", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fit = sub.add_parser("fit", help="fit a mixture of GLMs to a CSV file and print its summary")
    fit.add_argument("--data", required=True, help="CSV file with a header row")
    fit.add_argument(
        "--formula",
        required=True,
        action="append",
        help='R-like formula, e.g. "y ~ x1 + x2"; repeat it (with one --family each) for '
        "several responses sharing one latent class",
    )
    fit.add_argument("--concomitant", help='one-sided formula for the mixing, e.g. "~ z"')
    fit.add_argument(
        "--family", action="append", help=", ".join(FAMILY_NAMES) + " (default poisson)"
    )
    fit.add_argument("-K", type=int, default=2, help="number of components")
    fit.add_argument("--offset", help="column holding an offset")
    fit.add_argument("--exposure", help="column holding an exposure (its log is the offset)")
    fit.add_argument("--weights", help="column holding case weights")
    fit.add_argument("--groups", help="column of groups whose rows share one class (or y ~ x | g)")
    fit.add_argument(
        "--fixed", help='terms with one coefficient shared by all components, e.g. "~ z1 + z2"'
    )
    fit.add_argument(
        "--nested",
        action="append",
        metavar="SIZE:FORMULA",
        help='a nested group of SIZE components sharing FORMULA\'s terms, e.g. "2:~ x1"; '
        "repeat for each group, in order (sizes add up to K)",
    )
    fit.add_argument(
        "--equal-scale", action="store_true", help="one dispersion shared by all components"
    )
    fit.add_argument(
        "--zero-inflated",
        action="store_true",
        help="add a point mass at zero beside the K components (poisson, binomial, negbin)",
    )
    fit.add_argument("--seed", type=int, default=None, help="random seed for the starts")
    fit.add_argument("--max-iter", type=int, default=1000, help="most EM iterations")
    sub.add_parser("demo", help="fit the package's sim2 data (two Poisson regressions)")
    return parser


def _nested(values: list[str] | None) -> list[tuple[int, str]] | None:
    """``["2:~ x1", "1:~ 0"]`` -> ``[(2, "~ x1"), (1, "~ 0")]``."""
    if values is None:
        return None
    out = []
    for text in values:
        size, sep, formula = text.partition(":")
        if not sep or not size.strip().isdigit():
            raise InputError(f'--nested {text!r} is not SIZE:FORMULA; write e.g. --nested "2:~ x1"')
        out.append((int(size), formula))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = _parser().parse_args(argv)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EMGLMWarning)
        try:
            if args.command == "demo":
                from emglm.datasets import load_sim2

                res = em_glm(
                    "y ~ V1 + V2 + V3 + V4 + V5 - 1", load_sim2(), "poisson", K=2, random_state=1
                )
            else:
                try:
                    data = pd.read_csv(args.data)
                except (OSError, pd.errors.ParserError, UnicodeDecodeError) as exc:
                    print(f"emglm: error: cannot read {args.data!r}: {exc}", file=sys.stderr)
                    return 2
                res = em_glm(
                    args.formula[0] if len(args.formula) == 1 else args.formula,
                    data,
                    _families(args.family, len(args.formula)),
                    args.K,
                    offset=args.offset,
                    exposure=args.exposure,
                    weights=args.weights,
                    concomitant=args.concomitant,
                    groups=args.groups,
                    fixed=args.fixed,
                    nested=_nested(args.nested),
                    equal_scale=args.equal_scale,
                    zero_inflated=args.zero_inflated,
                    safe_formula=True,
                    max_iter=args.max_iter,
                    random_state=args.seed,
                )
        except (ValueError, TypeError, FitError) as exc:
            message = " ".join(str(exc).split())  # one line, whatever the message holds
            print(f"emglm: error: {message}", file=sys.stderr)
            return 2
    print(res.summary())
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return 0


def _families(given: list[str] | None, n_formulas: int) -> str | list[str]:
    """The --family values: one name for one formula (default poisson), else the list."""
    if not given:
        return "poisson" if n_formulas == 1 else ["poisson"] * n_formulas
    return given[0] if n_formulas == 1 and len(given) == 1 else given
