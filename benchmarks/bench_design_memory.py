"""Peak memory of building the design from a formula: the package at other revisions
(default: where this branch left main) against this checkout, each in its own process, in one run.

Data: n rows of p - 1 standard-normal covariates and a Gaussian response (p columns of
float64 in all), formula ``y ~ x1 + ... + x{p-1}`` (a design of p columns). Each process
imports the package, makes the data, resets its peak RSS (``/proc/self/clear_refs``) and
calls ``formula.build`` (``emglm.data.formula``), the front end of every fit. Reported: the data and the
model arrays (``X``, ``y``, offset, trials, weights, ``Z``), the peak RSS, and the peak
beyond the interpreter (RSS after the imports, before the data) as a multiple of data plus
arrays.

Usage::

    python benchmarks/bench_design_memory.py --revs 6288649     # n = 2e6, p = 30; before
                                                                # the chunked build
    python benchmarks/bench_design_memory.py --n 200000 --revs main HEAD~3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_em import machine  # noqa: E402

CHILD = r"""
import gc, json, sys, time
from pathlib import Path

pkg, n, p = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, pkg)


def status(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) * 1024
    raise KeyError(field)


import numpy as np
import pandas as pd

import emglm

try:
    from emglm import formula
    from emglm.families import get_family
except ImportError:  # the layout after the engine's restructuring
    from emglm.data import formula
    from emglm.families import get_family

assert emglm.__file__.startswith(pkg), emglm.__file__
base = status("VmRSS")
rng = np.random.default_rng(0)
cols = [f"x{j}" for j in range(1, p)]
df = pd.DataFrame(rng.normal(size=(n, p - 1)), columns=cols)
df["y"] = rng.normal(size=n)
data_bytes = int(df.memory_usage(deep=True).sum())
gc.collect()
Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
t0 = time.perf_counter()
design, arrays = formula.build("y ~ " + " + ".join(cols), df, get_family("gaussian"))
seconds = time.perf_counter() - t0
peak = status("VmHWM")
names = ("y", "X", "offset", "trials", "weights", "Z")
print(json.dumps({
    "base": base, "data": data_bytes, "peak": peak, "seconds": seconds,
    "arrays": sum(getattr(arrays, a).nbytes for a in names),
    "fortran": bool(arrays.X.flags.f_contiguous), "checksum": float(arrays.X[::997].sum()),
}))
"""


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def extract(rev: str, into: Path) -> Path:
    """The package at git revision ``rev``, unpacked under ``into``."""
    tar = subprocess.run(
        ["git", "-C", str(ROOT), "archive", rev, "emglm"], capture_output=True, check=True
    ).stdout
    target = into / rev.replace("/", "_").replace("~", "-")
    with tarfile.open(fileobj=BytesIO(tar)) as archive:
        archive.extractall(target, filter="data")
    return target


def measure(pkg: Path, n: int, p: int) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(pkg), str(n), str(p)],
        capture_output=True,
        text=True,
        cwd=pkg,
    )
    if out.returncode:
        raise RuntimeError(f"{pkg}: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=float, default=2e6)
    ap.add_argument("--p", type=int, default=30, help="columns of the design (and the data)")
    ap.add_argument(
        "--revs",
        nargs="*",
        default=None,
        help="git revisions to compare (default: the fork point of this branch from main)",
    )
    args = ap.parse_args()
    n = int(args.n)
    revs = args.revs if args.revs is not None else [_git("merge-base", "HEAD", "main")[:7]]
    mib = 2.0**20
    print(f"{machine()}; n={n:.0e}, p={args.p}\n")
    print(
        "| package | data MiB | arrays MiB | peak RSS MiB | interpreter MiB | "
        "(peak - interpreter) / (data + arrays) | build s | X Fortran |"
    )
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        variants = [(rev, extract(rev, Path(tmp))) for rev in revs]
        variants.append(("this checkout", ROOT))
        checksums = set()
        for label, pkg in variants:
            r = measure(pkg, n, args.p)
            checksums.add(r["checksum"])
            ratio = (r["peak"] - r["base"]) / (r["data"] + r["arrays"])
            print(
                f"| {label} | {r['data'] / mib:.0f} | {r['arrays'] / mib:.0f} | "
                f"{r['peak'] / mib:.0f} | {r['base'] / mib:.0f} | {ratio:.2f} | "
                f"{r['seconds']:.1f} | {r['fortran']} |",
                flush=True,
            )
    print(f"\nsame X in every variant: {len(checksums) == 1}")


if __name__ == "__main__":
    main()
