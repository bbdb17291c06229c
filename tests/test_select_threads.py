"""select_k from several threads at once: every call's warnings reach its caller."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pandas as pd

import emglm
from emglm.exceptions import collect, emit

N_THREADS = 8


def _problem() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    x = rng.normal(size=300)
    lab = np.arange(300) >= 150
    return pd.DataFrame({"x": x, "y": rng.poisson(np.exp(np.where(lab, 2 + 0.5 * x, 0.2 - x)))})


def test_select_k_in_threads_keeps_every_warning() -> None:
    data = _problem()
    barrier = threading.Barrier(N_THREADS)
    tables: list[pd.DataFrame] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            barrier.wait()
            # max_iter=2 from a random partition (no warm-up, whose best start may already
            # meet the tolerance): the K=2 fit cannot converge, so every call warns once.
            sel = emglm.select_k("y ~ x", data, "poisson", K=[1, 2], max_iter=2, n_starts=1,
                                 random_state=0)  # fmt: skip
            tables.append(sel.table)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        threads = [threading.Thread(target=run) for _ in range(N_THREADS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert not errors
    assert len(tables) == N_THREADS
    convergence = [w for w in caught if issubclass(w.category, emglm.ConvergenceWarning)]
    assert len(convergence) == N_THREADS
    for w in convergence:
        assert str(w.message).startswith("1 of the 2 fits warned (ConvergenceWarning): K=2: EM")
        assert w.filename == __file__  # points at the caller's line


def test_collect_is_private_to_its_thread() -> None:
    inner: list[list] = []

    def other() -> None:
        with collect() as mine:
            emit("from the other thread", emglm.NumericalWarning)
        inner.append(mine)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with collect() as outer:
            t = threading.Thread(target=other)
            t.start()
            t.join()
            emit("from this thread", emglm.ConvergenceWarning)
        emit("after the block", emglm.ConvergenceWarning)
    assert outer == [(emglm.ConvergenceWarning, "from this thread")]
    assert inner == [[(emglm.NumericalWarning, "from the other thread")]]
    assert [str(w.message) for w in caught] == ["after the block"]
