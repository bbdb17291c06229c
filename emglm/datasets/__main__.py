"""Regenerate the simulated CSV files: ``python -m emglm.datasets [--out DIR]``."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from emglm.datasets._io import regenerate, repo_data_dir
from emglm.datasets._params import SEEDS


def main(argv: Sequence[str] | None = None) -> int:
    """Write sim1.csv, sim2.csv and sim3.csv from their fixed seeds.

    Parameters
    ----------
    argv : sequence of str, optional
        Command-line arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status, 0 on success.
    """
    seeds = ", ".join(f"{k}={v}" for k, v in SEEDS.items())
    parser = argparse.ArgumentParser(
        prog="python -m emglm.datasets",
        description=f"Regenerate the simulated datasets from their seeds ({seeds}).",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        default=None,
        help=f"output folder (default: {repo_data_dir()})",
    )
    args = parser.parse_args(argv)
    for path in regenerate(args.out):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
