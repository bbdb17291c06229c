"""Speed and memory of the EM engine, side by side with R flexmix.

For n in {1e4, 1e5, 1e6, 1e7}, K=3 components, p=6 (intercept + 5 covariates) and the
Poisson, Gaussian and binomial families, each case runs in its own process (so that its
peak memory is its own) and prints one row:

* EM iterations (M-steps) and time with SQUAREM acceleration on (the default) and off; the
  log-likelihoods of both and their relative difference;
* time per iteration, total time, peak memory beyond the data (the peak resident set
  measured from just before the fit, via ``/proc/self/clear_refs`` and ``VmHWM``), as a
  multiple of the design matrix's size;
* the local limit: the time of K weighted Gram products ``X' diag(w_k) X`` at the fitted
  posteriors, measured in the same process (best of 3); "iter/gram" is the time of one
  accelerated EM iteration over it;
* the two-core compute floor of one pass, measured in the same process: one read of ``X``,
  ``X @ B``, the packed Gram GEMM (K weight rows times the p(p+1)/2 products of pairs of
  columns, on cache-sized blocks) and the exp/log the family needs per row (Poisson:
  2K exp and 1 log; binomial: 2K exp, K log1p and 1 log; Gaussian: K exp and 1 log),
  each split over two threads (NumPy and single-threaded BLAS release the GIL); "iter/floor"
  is the time of one accelerated EM iteration over it;
* whether the accelerated fit is identical (iterations, llf, coefficients) with one thread
  (``numba.set_num_threads(1)``) instead of two;
* when ``Rscript`` with flexmix is found and n <= --r-max-n: flexmix fitted to the same data
  from the same starting labels (its ``cluster=`` argument) with the same relative
  tolerance; its iterations, time, log-likelihood and the speed ratio. With
  ``--r-max-iter`` flexmix stops after that many iterations where n > --r-full-n, and the
  ratio is of the times per iteration.

``--scaling`` prints instead the time of one fused E-step pass with the next M-step's
linearisation (Poisson, n=1e6) for K in {2, 4, 8} and p in {6, 20, 50}, with its floor.

The starting labels are the true ones with 30% of the rows relabelled at random. Before
timing, each case fits 2000 rows of the same family once, so that the compiled passes'
one-time load in the process is not timed (R loads flexmix before its timed call).

With ``--compare REV`` every case also runs on the engine of git revision ``REV`` (checked
out into a temporary worktree), alternating old and new in one run: a row per engine, then
the ratios of their times per iteration and the relative difference of their llf.

Usage::

    python benchmarks/bench_em.py                       # everything (long: n=1e7)
    python benchmarks/bench_em.py --sizes 1e4 1e5       # quick
    python benchmarks/bench_em.py --families poisson --sizes 1e5 --no-r
    python benchmarks/bench_em.py --sizes 1e5 1e6 --no-r --compare 6288649
    python benchmarks/bench_em.py --scaling --compare main
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# --engine ROOT: import the package from another checkout (set before anything imports it).
if "--engine" in sys.argv:
    ROOT = Path(sys.argv[sys.argv.index("--engine") + 1]).resolve()
sys.path.insert(0, str(ROOT))

from emglm.families import get_family  # noqa: E402

try:  # the engine with component-model drivers
    from emglm.components.glm import GLMComponents
    from emglm.data.arrays import MixtureData
    from emglm.engine.em import EMOptions, MixtureModel, m_step, run_em

    def weighted_gram(X: np.ndarray, w: np.ndarray) -> np.ndarray:
        from emglm.components import irls

        return irls.weighted_gram(X, w)

    def first_m_step(data, fam, tau0):  # type: ignore[no-untyped-def]
        model = MixtureModel.for_data(GLMComponents(fam, tuple(f"x{j}" for j in range(P))), data)
        return model, m_step(data, model, tau0)

except ImportError:  # the engine before it (for --compare)
    from emglm.em import EMOptions, MixtureData, m_step, run_em, scale_floor  # type: ignore

    from emglm import irls  # type: ignore[no-redef]

    weighted_gram = irls.weighted_gram

    def first_m_step(data, fam, tau0):  # type: ignore[no-untyped-def]
        return fam, m_step(data, fam, tau0, None, 1, scale_floor(data, fam))


K, P = 3, 6
ACCEL_ONLY = False  # --accel-only, passed on to the processes of the cases
COEF = {
    "poisson": [
        [1.0, 0.5, -0.5, 0.3, 0.0, 0.2],
        [2.0, -0.4, 0.3, 0.0, 0.5, -0.2],
        [0.0, 0.2, 0.2, -0.3, 0.4, 0.5],
    ],
    "gaussian": [
        [0.0, 1.0, -1.0, 0.5, 0.0, 0.5],
        [2.0, -1.0, 0.5, 0.0, 1.0, -0.5],
        [4.0, 0.5, 0.5, -0.5, 1.0, 1.0],
    ],
    "binomial": [
        [-1.0, 1.0, -1.0, 0.5, 0.0, 0.5],
        [1.0, -1.0, 0.5, 0.0, 1.0, -0.5],
        [0.0, 0.5, 0.5, -0.5, 1.0, 1.0],
    ],
}
SIGMA = np.array([0.5, 1.0, 1.5])
TRIALS = 10


def simulate(family: str, n: int, seed: int = 1) -> tuple[MixtureData, np.ndarray]:
    """Data of the case and starting labels; ``X`` is Fortran-ordered, as pandas gives it."""
    rng = np.random.default_rng(seed)
    X = np.empty((n, P), order="F")
    X[:, 0] = 1.0
    X[:, 1:] = rng.normal(size=(n, P - 1))
    labels = rng.integers(0, K, size=n)
    eta = np.einsum("ij,ij->i", X, np.asarray(COEF[family])[labels])
    trials = np.ones(n)
    if family == "poisson":
        X[:, 1:] *= 0.5
        eta = np.einsum("ij,ij->i", X, np.asarray(COEF[family])[labels])
        y = rng.poisson(np.exp(eta)).astype(float)
    elif family == "gaussian":
        y = eta + SIGMA[labels] * rng.normal(size=n)
    else:
        trials = np.full(n, float(TRIALS))
        y = rng.binomial(TRIALS, 1.0 / (1.0 + np.exp(-eta))) / TRIALS
    start = np.where(rng.random(n) < 0.7, labels, rng.integers(0, K, size=n))
    data = MixtureData(y, X, np.zeros(n), trials, np.ones(n), np.ones((n, 1)))
    return data, start


def _status(field: str) -> float:
    """A memory figure of this process from /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1]) * 1024
    return float("nan")


def _fit(data: MixtureData, family: str, start: np.ndarray, accel: str | None, tol: float):
    """Fit from starting labels, as ``run_em`` does from posteriors: the first M-step (each
    component's GLM to convergence) timed apart from the EM iterations that follow.

    Returns the fit, seconds of the first M-step, seconds of the EM iterations, and the
    peak bytes beyond the data.
    """
    before = _status("VmRSS")
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    except OSError:
        pass
    t0 = time.perf_counter()
    tau0 = np.eye(K)[start]
    model, params0 = first_m_step(data, get_family(family), tau0)
    del tau0
    t1 = time.perf_counter()
    fit = run_em(data, model, params0, EMOptions(tol=tol, accel=accel, max_iter=100000))
    t2 = time.perf_counter()
    return fit, t1 - t0, t2 - t1, _status("VmHWM") - before


def _gram_time(data: MixtureData, posterior: np.ndarray) -> float:
    """Best of 3 of K weighted Gram products at the fitted posteriors."""
    best = np.inf
    for _ in range(3):
        t0 = time.perf_counter()
        for k in range(posterior.shape[1]):
            weighted_gram(data.X, posterior[:, k])
        best = min(best, time.perf_counter() - t0)
    return best


def _two_threads(work, n: int) -> float:  # type: ignore[no-untyped-def]
    """Best of 3 of ``work(lo, hi)`` on the two halves of ``range(n)`` in two threads, with
    one BLAS thread each."""
    from threadpoolctl import threadpool_limits

    halves = [(0, n // 2), (n // 2, n)]
    best = np.inf
    with threadpool_limits(limits=1, user_api="blas"), ThreadPoolExecutor(2) as pool:
        for _ in range(3):
            t0 = time.perf_counter()
            list(pool.map(lambda h: work(*h), halves))
            best = min(best, time.perf_counter() - t0)
    return best


EXP_LOG = {  # exp and log calls per row and component, and per row, of each family's pass
    "poisson": (2, 0, 1),
    "binomial": (2, 1, 1),
    "gaussian": (1, 0, 1),
}


def floor_pieces(X: np.ndarray, n_comp: int, family: str) -> dict:
    """The two-core compute floor of one pass over ``X`` (seconds per piece)."""
    n, p = X.shape
    coef = np.full((n_comp, p), 0.01)
    block = 2048
    rng = np.random.default_rng(0)
    Xb = X[:block]
    i, j = np.triu_indices(p)
    pairs = np.ascontiguousarray(Xb[:, i] * Xb[:, j])  # (block, p(p+1)/2)
    A = rng.random((n_comp, n))
    n_exp, n_log1p, n_log = EXP_LOG[family]
    e_buf = rng.normal(size=(n_exp * n_comp, block))
    l_buf = rng.random((n_log1p * n_comp + n_log, block)) + 0.5

    def read(lo: int, hi: int) -> None:
        np.ones(hi - lo) @ X[lo:hi]

    def xb(lo: int, hi: int) -> None:
        for s in range(lo, hi, 1 << 16):
            X[s : min(s + (1 << 16), hi)] @ coef.T

    def gemm(lo: int, hi: int) -> None:
        for s in range(lo, hi - block + 1, block):
            A[:, s : s + block] @ pairs

    def explog(lo: int, hi: int) -> None:
        out_e, out_l = np.empty_like(e_buf), np.empty_like(l_buf)
        for _ in range((hi - lo) // block):
            np.exp(e_buf, out=out_e)
            np.log(l_buf, out=out_l)

    pieces = {
        name: _two_threads(fn, n)
        for name, fn in (("read", read), ("xb", xb), ("gemm", gemm), ("explog", explog))
    }
    pieces["floor"] = sum(pieces.values())
    return pieces


def _same_with_one_thread(data: MixtureData, family: str, start: np.ndarray, tol: float, fit):  # type: ignore[no-untyped-def]
    """Whether the accelerated fit with one thread is identical to ``fit`` (two)."""
    try:
        import numba
    except ImportError:
        return None
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        again = _fit(data, family, start, "squarem", tol)[0]
    finally:
        numba.set_num_threads(before)
    return bool(
        again.n_iter == fit.n_iter
        and again.llf == fit.llf
        and np.array_equal(again.params.components.coef, fit.params.components.coef)
    )


def _flexmix(
    data: MixtureData, start: np.ndarray, family: str, tol: float, max_iter: int = 100000
) -> dict | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return None
    n = data.y.shape[0]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.bin"
        with path.open("wb") as fh:
            np.array([n, P], dtype=np.int32).tofile(fh)
            data.y.astype(np.float64).tofile(fh)
            np.asarray(data.X, dtype=np.float64).T.tofile(fh)  # column-major for R
            (start + 1).astype(np.int32).tofile(fh)
            data.trials.astype(np.float64).tofile(fh)
        script = Path(__file__).with_name("bench_flexmix.R")
        out = subprocess.run(
            [rscript, str(script), str(path), family, repr(tol), str(max_iter)],
            capture_output=True,
            text=True,
            check=False,
        )
    if out.returncode != 0:
        print(out.stderr, file=sys.stderr)
        return None
    iters, seconds, llf = out.stdout.split()[-3:]
    return {"iter": int(iters), "time": float(seconds), "llf": float(llf), "capped": max_iter}


def run_case(
    family: str,
    n: int,
    tol: float,
    with_r: bool,
    r_iter: int = 100000,
    threads: bool = True,
    plain: bool = True,
) -> dict:
    """One row of the table (run in a fresh process)."""
    # Load the compiled passes before timing (once per process: numba's registries and the
    # cached machine code, 0.5-2.5 s here), as R loads flexmix before its timed call.
    small, small_start = simulate(family, 2000, seed=2)
    _fit(small, family, small_start, "squarem", tol)
    data, start = simulate(family, n)
    design_bytes = data.X.nbytes
    on, first_on, loop_on, mem_on = _fit(data, family, start, "squarem", tol)
    if plain:
        off, first_off, loop_off, mem_off = _fit(data, family, start, None, tol)
    else:  # --accel-only: the plain columns repeat the accelerated fit
        off, first_off, loop_off, mem_off = on, first_on, loop_on, mem_on
    t_on, t_off = first_on + loop_on, first_off + loop_off
    gram = _gram_time(data, on.posterior)
    floor = floor_pieces(data.X, K, family)
    same = _same_with_one_thread(data, family, start, tol, on) if threads else None
    row = {
        "floor": floor,
        "same_1_thread": same,
        "family": family,
        "n": n,
        "first_m_step": first_on,
        "loop_on": loop_on,
        "loop_off": loop_off,
        "iter_on": on.n_iter,
        "time_on": t_on,
        "llf_on": on.llf,
        "mem_on": mem_on / design_bytes,
        "iter_off": off.n_iter,
        "time_off": t_off,
        "llf_off": off.llf,
        "mem_off": mem_off / design_bytes,
        "rel_diff": abs(on.llf - off.llf) / abs(off.llf),
        "gram": gram,
        "design_mb": design_bytes / 2**20,
        "converged": bool(on.converged and off.converged),
        "monotone": bool(np.all(np.diff(on.llf_history) >= 0)),
    }
    row["flexmix"] = _flexmix(data, start, family, tol, r_iter) if with_r else None
    return row


def run_scaling_case(n_comp: int, p: int, n: int = 1_000_000) -> dict:
    """Time of one fused pass (E-step and the next linearisation), Poisson, with its floor."""
    from emglm.components import kernels

    rng = np.random.default_rng(3)
    X = np.empty((n, p), order="F")
    X[:, 0] = 1.0
    X[:, 1:] = rng.normal(size=(n, p - 1)) * (0.5 / np.sqrt(p))
    coef = rng.normal(scale=0.3, size=(n_comp, p))
    y = rng.poisson(np.exp(X @ coef[0])).astype(float)
    fam = get_family("poisson")
    const = fam.loglik_constant(y, np.ones(n))
    prior = np.log(np.full((1, n_comp), 1 / n_comp))
    best = np.inf
    for _ in range(4):
        t0 = time.perf_counter()
        out = kernels.e_step_pass(
            X, y, None, None, const, None, fam, coef, np.ones(n_comp), prior,
            linearise=True, ones_col=0,
        )  # fmt: skip
        best = min(best, time.perf_counter() - t0)
        del out
    return {"K": n_comp, "p": p, "n": n, "pass": best, "floor": floor_pieces(X, n_comp, "poisson")}


def machine() -> str:
    cpu = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem = _status_total()
    return (
        f"{cpu}, {os.cpu_count()} cores, {mem / 2**30:.0f} GiB RAM, "
        f"Python {platform.python_version()}, NumPy {np.__version__}"
    )


def _status_total() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return float(line.split()[1]) * 1024
    return float("nan")


def _flexmix_cols(r: dict) -> str:
    fx = r["flexmix"]
    if fx is None:
        return "| - | - | - | - "
    if fx["iter"] >= fx["capped"]:  # stopped at the cap: times per iteration
        ours = r["time_on"] / r["iter_on"]
        return (
            f"| {fx['iter']} (cap) | {fx['time']:.2f} | {fx['llf']:.4f} "
            f"| {fx['time'] / fx['iter'] / ours:.0f}x per iter "
        )
    return (
        f"| {fx['iter']} | {fx['time']:.2f} | {fx['llf']:.4f} | {fx['time'] / r['time_on']:.0f}x "
    )


def _fmt_row(r: dict) -> str:
    it_time = r["loop_on"] / r["iter_on"]
    it_off = r["loop_off"] / r["iter_off"]
    fx_cols = _flexmix_cols(r)
    floor = r.get("floor", {}).get("floor", float("nan"))
    same = {None: "-", True: "yes", False: "NO"}[r.get("same_1_thread")]
    return (
        f"| {r['family']} | {r['n']:.0e} | {r['iter_on']} | {r['iter_off']} "
        f"| {it_time * 1e3:.1f} | {it_off * 1e3:.1f} | {r['first_m_step']:.2f} "
        f"| {r['time_on']:.2f} | {r['time_off']:.2f} "
        f"| {r['gram'] * 1e3:.1f} | {it_time / r['gram']:.1f} "
        f"| {floor * 1e3:.1f} | {it_time / floor:.2f} | {same} "
        f"| {max(r['mem_on'], r['mem_off']):.2f} | {r['llf_on']:.4f} | {r['rel_diff']:.1e} "
        + fx_cols
        + "|"
    )


HEADER = (
    "| family | n | iter (accel) | iter (plain) | ms/iter (accel) | ms/iter (plain) "
    "| first M-step s | total s (accel) | total s (plain) "
    "| K Grams ms | iter/Grams | floor ms | iter/floor | same 1 thread "
    "| peak mem / X | llf | rel. diff on/off "
    "| flexmix iter | flexmix s | flexmix llf | speed-up |\n"
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e4, 1e5, 1e6, 1e7])
    ap.add_argument(
        "--families",
        nargs="+",
        default=["poisson", "gaussian", "binomial"],
        choices=["poisson", "gaussian", "binomial"],
    )
    ap.add_argument(
        "--tol",
        type=float,
        default=1e-10,
        help="relative tolerance of both engines (default 1e-10)",
    )
    ap.add_argument(
        "--r-max-n", type=float, default=1e5, help="largest n fitted by flexmix (it is slow beyond)"
    )
    ap.add_argument("--no-r", action="store_true", help="skip flexmix")
    ap.add_argument(
        "--r-max-iter",
        type=int,
        default=100000,
        help="cap of flexmix's iterations beyond --r-full-n",
    )
    ap.add_argument(
        "--r-full-n", type=float, default=1e5, help="largest n fitted by flexmix without the cap"
    )
    ap.add_argument(
        "--no-threads", action="store_true", help="skip the one-thread refit (identical results)"
    )
    ap.add_argument(
        "--scaling", action="store_true", help="the K x p table of one fused pass at n=1e6"
    )
    ap.add_argument("--accel-only", action="store_true", help="skip the plain EM fits")
    ap.add_argument("--scaling-case", nargs=2, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--r-iter", type=int, default=100000, help=argparse.SUPPRESS)
    ap.add_argument(
        "--compare", metavar="REV", help="also run every case on the engine of git revision REV"
    )
    ap.add_argument("--engine", help=argparse.SUPPRESS)
    ap.add_argument("--case", nargs=2, metavar=("FAMILY", "N"), help=argparse.SUPPRESS)
    ap.add_argument("--with-r", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    global ACCEL_ONLY
    ACCEL_ONLY = args.accel_only
    if args.case:
        row = run_case(
            args.case[0], int(float(args.case[1])), args.tol, args.with_r, args.r_iter,
            not args.no_threads, not args.accel_only,
        )  # fmt: skip
        print(json.dumps(row))
        return
    if args.scaling_case:
        print(json.dumps(run_scaling_case(*args.scaling_case)))
        return
    if args.scaling:
        print(f"Machine: {machine()}")
        _scaling(args)
        return
    print(f"Machine: {machine()}")
    print(f"K={K}, p={P}, tol={args.tol:g}, start: true labels with 30% relabelled at random\n")
    if args.compare:
        _compare(args)
        return
    print(HEADER, flush=True)
    for family in args.families:
        for n in args.sizes:
            row = _run_subprocess(
                family, n, args.tol, not args.no_r and n <= args.r_max_n, None,
                _r_iter(args, n), args.no_threads,
            )  # fmt: skip
            if row is not None:
                print(_fmt_row(row), flush=True)


def _r_iter(args: argparse.Namespace, n: float) -> int:
    return 100000 if n <= args.r_full_n else args.r_max_iter


def _run_subprocess(
    family: str,
    n: float,
    tol: float,
    with_r: bool,
    engine: str | None = None,
    r_iter: int = 100000,
    no_threads: bool = False,
) -> dict | None:
    """One case in a fresh process (on the engine of checkout ``engine``, if given)."""
    cmd = [sys.executable, __file__, "--case", family, str(n), "--tol", repr(tol)]
    cmd += ["--r-iter", str(r_iter)]
    if ACCEL_ONLY:
        cmd.append("--accel-only")
    if with_r:
        cmd.append("--with-r")
    if no_threads:
        cmd.append("--no-threads")
    if engine is not None:
        cmd += ["--engine", engine]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        print(f"| {family} | {n:.0e} | failed: {out.stderr.strip().splitlines()[-1]} |")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def _compare(args: argparse.Namespace) -> None:
    """Every case on the engine of ``args.compare`` and on this one, alternating."""
    with tempfile.TemporaryDirectory() as tmp:
        old = str(Path(tmp) / "old")
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", old, args.compare],
            check=True,
            capture_output=True,
        )
        try:
            print(f"before: {args.compare}, after: the working tree\n")
            print("| engine " + HEADER.replace("\n|---", "\n|---|---"), flush=True)
            ratios = []
            for family in args.families:
                for n in args.sizes:
                    rows = {}
                    for name, engine in (("before", old), ("after", None)):
                        with_r = name == "after" and not args.no_r and n <= args.r_max_n
                        rows[name] = _run_subprocess(
                            family, n, args.tol, with_r, engine, _r_iter(args, n),
                            args.no_threads or name == "before",
                        )  # fmt: skip
                        if rows[name] is not None:
                            print(f"| {name} " + _fmt_row(rows[name]), flush=True)
                    if rows["before"] is not None and rows["after"] is not None:
                        ratios.append(_ratio(rows["before"], rows["after"]))
            print(
                "\n| family | n | iter before / after (accel, plain) | ms/iter after / before "
                "(accel) | (plain) | llf rel. diff (accel) | (plain) |"
            )
            print("|---|---|---|---|---|---|---|")
            for r in ratios:
                print(r)
        finally:
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "remove", "--force", old],
                check=False,
                capture_output=True,
            )


def _scaling(args: argparse.Namespace) -> None:
    """The K x p table of one fused pass at n=1e6 (and on ``--compare REV``, side by side)."""
    engines: list[tuple[str, str | None]] = [("after", None)]
    with tempfile.TemporaryDirectory() as tmp:
        if args.compare:
            old = str(Path(tmp) / "old")
            subprocess.run(
                ["git", "-C", str(ROOT), "worktree", "add", "--detach", old, args.compare],
                check=True,
                capture_output=True,
            )
            engines.insert(0, ("before", old))
        try:
            print("\n| engine | K | p | ms per pass | floor ms | floor / pass |")
            print("|---|---|---|---|---|---|")
            for n_comp in (2, 4, 8):
                for p in (6, 20, 50):
                    for name, engine in engines:
                        cmd = [sys.executable, __file__, "--scaling-case", str(n_comp), str(p)]
                        if engine is not None:
                            cmd += ["--engine", engine]
                        out = subprocess.run(cmd, capture_output=True, text=True, check=False)
                        if out.returncode != 0:
                            print(f"| {name} | {n_comp} | {p} | failed |", flush=True)
                            continue
                        r = json.loads(out.stdout.strip().splitlines()[-1])
                        fl = r["floor"]["floor"]
                        print(
                            f"| {name} | {n_comp} | {p} | {r['pass'] * 1e3:.1f} "
                            f"| {fl * 1e3:.1f} | {fl / r['pass']:.2f} |",
                            flush=True,
                        )
        finally:
            if args.compare:
                subprocess.run(
                    ["git", "-C", str(ROOT), "worktree", "remove", "--force", old],
                    check=False,
                    capture_output=True,
                )


def _ratio(a: dict, b: dict) -> str:
    def per_iter(r: dict, kind: str) -> float:
        return r[f"loop_{kind}"] / r[f"iter_{kind}"]

    def rel(kind: str) -> float:
        return abs(a[f"llf_{kind}"] - b[f"llf_{kind}"]) / abs(a[f"llf_{kind}"])

    return (
        f"| {a['family']} | {a['n']:.0e} | {a['iter_on']}/{b['iter_on']}, "
        f"{a['iter_off']}/{b['iter_off']} "
        f"| {per_iter(b, 'on') / per_iter(a, 'on'):.3f} "
        f"| {per_iter(b, 'off') / per_iter(a, 'off'):.3f} | {rel('on'):.1e} | {rel('off'):.1e} |"
    )


if __name__ == "__main__":
    main()
