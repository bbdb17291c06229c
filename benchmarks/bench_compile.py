"""One-time compile of the compiled passes, as after an installation.

The passes (``emglm/components/compiled.py``) are compiled by numba on their first call and
cached on disk. Each measurement here runs in a fresh process whose ``NUMBA_CACHE_DIR`` is
a new, empty directory, so that it compiles what a new installation compiles:

* ``passes``: every pass called once (E-step with check and linearisation, IRLS normal
  equations, log-densities, least squares, residual sums of squares);
* ``fits``: what a user's first fits compile, ``em_glm`` of a Poisson, a Gaussian, a
  binomial and a grouped (``y ~ x | id``) Poisson mixture on 400 rows.

For each it prints the seconds of every compiled pass (numba's compile events, each pass
with what it calls and has not been compiled before), their sum, the imports and the wall
time of the process. ``--repeat R`` runs each measurement R times, alternating.

    python benchmarks/bench_compile.py --repeat 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PASSES = """
import numpy as np
from emglm.components import kernels
from emglm.families import get_family
rng = np.random.default_rng(0)
n = 3000
X = np.asfortranarray(np.c_[np.ones(n), rng.normal(size=(n, 2))])
y = rng.poisson(2, n).astype(float)
W = np.asfortranarray(rng.dirichlet(np.ones(2), size=n))
coef, scale, prior = np.zeros((2, 3)), np.ones(2), np.log(np.full((1, 2), 0.5))
fam = get_family("poisson")
const = fam.loglik_constant(y, np.ones(n))
kernels.e_step_pass(X, y, None, None, const, None, fam, coef, scale, prior, check_weights=W,
                    linearise=True)
kernels.irls_normal_equations(X, y, None, None, const, fam, W, coef, scale)
kernels.log_densities(X, y, None, None, const, fam, coef, scale)
kernels.least_squares_equations(X, y, None, None, W)
kernels.weighted_rss(X, y, None, None, get_family("gaussian"), W, coef)
"""

FITS = """
import warnings
import numpy as np
import pandas as pd
import emglm
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
n = 400
d = pd.DataFrame({"x": rng.normal(size=n), "id": np.repeat(np.arange(n // 4), 4)})
g = rng.integers(0, 2, n)
d["yp"] = rng.poisson(np.exp(0.5 + np.where(g, 1.0, -0.5) * d.x))
d["yg"] = np.where(g, 2.0, -1.0) * d.x + rng.normal(size=n)
d["yb"] = (rng.random(n) < 1 / (1 + np.exp(-np.where(g, 2.0, -1.0) * d.x))).astype(float)
for formula, family in [("yp ~ x", "poisson"), ("yg ~ x", "gaussian"), ("yb ~ x", "binomial"),
                        ("yp ~ x | id", "poisson")]:
    emglm.em_glm(formula, d, family, K=2, random_state=1, n_starts=3)
"""

# Runs in the fresh process: imports timed apart, then the workload with numba's compile
# events recorded; prints one JSON line.
DRIVER = """
import json, sys, time
t0 = time.perf_counter()
import numpy, pandas, emglm
from numba.core import event
t1 = time.perf_counter()
rec = event.RecordingListener()
event.register("numba:compile", rec)
exec(sys.argv[1])
t2 = time.perf_counter()
began, passes = {}, {}
for ts, ev in rec.buffer:
    name = ev.data["dispatcher"].py_func.__name__
    key = (id(ev.data["dispatcher"]), str(ev.data["args"]))
    if ev.is_start:
        began[key] = ts
    elif name.endswith("_chunk") and name != "_chunk":  # the passes (with their callees)
        passes[name] = passes.get(name, 0.0) + ts - began[key]
print(json.dumps({"imports": t1 - t0, "work": t2 - t1, "passes": passes}))
"""

NAMES = {
    "_e_chunk": "E-step",
    "_irls_chunk": "IRLS",
    "_logd_chunk": "log-densities",
    "_ls_chunk": "least squares",
    "_rss_chunk": "RSS",
}


def measure(workload: str) -> dict:
    """One fresh process with an empty compile cache."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache, PYTHONPATH=str(ROOT))
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", DRIVER, workload],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        wall = time.perf_counter() - t0
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row["wall"] = wall
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="runs of each measurement")
    args = ap.parse_args()
    print("| measurement | " + " | ".join(NAMES.values()) + " | passes s | imports s | wall s |")
    print("|---" * (len(NAMES) + 4) + "|")
    for _ in range(args.repeat):
        for label, workload in (("passes", PASSES), ("fits", FITS)):
            row = measure(workload)
            cells = [f"{row['passes'][k]:.1f}" if k in row["passes"] else "-" for k in NAMES]
            total = sum(row["passes"].values())
            print(
                f"| {label} | "
                + " | ".join(cells)
                + f" | {total:.1f} | {row['imports']:.1f} | {row['wall']:.1f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
