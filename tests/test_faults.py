"""Faults and reproducibility for in-memory inputs (issue 8).

- Ctrl-C (SIGINT) during a long fit raises KeyboardInterrupt within seconds
  and leaves the estimator as it was (unfitted, or at its previous fit).
- Fits and predictions in concurrent Python threads on shared read-only
  data equal serial ones bit for bit, and leave the data (and the process's
  BLAS and Numba thread settings) as they were.
- The same random_state and n_threads give bit-identical coefficients in
  fresh processes.  (Pickle and joblib round trips: tests/test_model.py.)
- 64-bit indexing: shapes whose n * d passes 2**31, int64 CSR indices.
"""

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.exceptions import ConvergenceWarning, NotFittedError

import fastlogit
import fastlogit.sgd
from fastlogit import LogisticRegression, reference

#: A correctness bound, not a speed test: the signal must not wait for the
#: fit to end (which here takes minutes), on a shared 2-core machine.
PROMPT_S = 5.0


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


def blas_threads():
    """{library path: thread count} of every loaded BLAS, read from this thread."""
    from threadpoolctl import threadpool_info

    return {i["filepath"]: i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}


# ---------------------------------------------------------------------------
# KeyboardInterrupt
# ---------------------------------------------------------------------------


def run_interrupted(fit, delay):
    """Call ``fit()`` and send this process SIGINT from a timer thread after ``delay`` s.

    Returns ``(latency, outcome, sent)``: seconds from the signal to the
    KeyboardInterrupt reaching this frame, "interrupted" or "returned" (the
    fit ended first: the test is then broken, not the library), and the
    ``time.perf_counter()`` at which the signal was sent.  A
    signal that lands after ``fit`` returned is absorbed here, never
    leaking into pytest.
    """
    sent = []

    def fire():
        sent.append(time.perf_counter())
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(delay, fire)
    outcome, caught = None, None
    try:
        try:
            timer.start()
            fit()
            outcome = "returned"
            timer.cancel()
            timer.join()
            time.sleep(0.05)  # a signal already on its way lands here
        except KeyboardInterrupt:
            caught = time.perf_counter()
            outcome = outcome or "interrupted"
        timer.join()
    finally:
        signal.signal(signal.SIGINT, previous)
    if outcome == "interrupted":
        return caught - sent[0], outcome, sent[0]
    return None, outcome, None


@pytest.fixture(scope="module")
def long_sgd_data():
    # More rows than one nogil segment: an epoch is several calls into the loop.
    n = 3 * fastlogit.sgd.SEGMENT_ROWS - 1000
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, 20), dtype=np.float32)
    y = (X[:, 0] + 0.5 * rng.standard_normal(n, dtype=np.float32) > 0).astype(np.int64)
    return X, y


class _RecordingSGD:
    """Stands in for the extension module in fastlogit.sgd, timing each call of
    the nogil loop (everything else is the real module)."""

    def __init__(self, module):
        self._module = module
        self.calls = []  # (start, end, rows)

    def __getattr__(self, name):
        return getattr(self._module, name)

    def epoch_dense(self, X, y, sw, rows, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self._module.epoch_dense(X, y, sw, rows, *args, **kwargs)
        finally:
            self.calls.append((start, time.perf_counter(), rows.shape[0]))


@pytest.mark.parametrize("previous_fit", [False, True], ids=["unfitted", "refit"])
def test_ctrl_c_stops_sgd_between_segments_and_leaves_the_estimator_as_it_was(
    long_sgd_data, monkeypatch, previous_fit
):
    X, y = long_sgd_data
    params = dict(solver="sgd", max_iter=100_000, tol=None, random_state=0, batch_size=32)
    model = LogisticRegression(**params)
    if previous_fit:
        model.set_params(max_iter=2).fit(X[:2000], y[:2000])
        model.set_params(max_iter=100_000)
        before = {k: np.copy(getattr(model, k)) for k in ("coef_", "intercept_", "n_iter_", "classes_")}
        proba = model.predict_proba(X[:100])
    else:
        LogisticRegression(**params).set_params(max_iter=1).fit(X[:1000], y[:1000])  # warm caches
    recorder = _RecordingSGD(fastlogit.sgd._sgd)
    monkeypatch.setattr(fastlogit.sgd, "_sgd", recorder)
    latency, outcome, sent = run_interrupted(lambda: model.fit(X, y), delay=1.0)
    assert outcome == "interrupted", "the fit ended before the signal: make it longer"
    assert latency < PROMPT_S, f"KeyboardInterrupt {latency:.2f} s after SIGINT"
    # The loop returns to Python every SEGMENT_ROWS rows (rounded down to whole
    # batches), and the signal is handled there: no call into it starts after
    # it (but for the microsecond between this wrapper's entry and its call).
    segment = (fastlogit.sgd.SEGMENT_ROWS // 32) * 32
    assert recorder.calls and all(rows <= segment for _, _, rows in recorder.calls)
    assert all(start < sent + 1e-3 for start, _, _ in recorder.calls)
    longest = max(end - start for start, end, _ in recorder.calls)
    assert latency <= longest + 1.0, (latency, longest)
    if previous_fit:
        for k, v in before.items():
            np.testing.assert_array_equal(getattr(model, k), v, err_msg=k)
        np.testing.assert_array_equal(model.predict_proba(X[:100]), proba)
    else:
        assert not hasattr(model, "coef_")
        with pytest.raises(NotFittedError):
            model.predict(X[:10])


@pytest.fixture(scope="module")
def ill_conditioned_data():
    """Nearly collinear columns (singular values from 1e-3 to 1) and a weak penalty:
    L-BFGS needs thousands of iterations at tol=0, far more than the test waits.
    (Columns merely in disparate units no longer do: lbfgs standardizes them.
    Separable data stops sooner: its line search fails after ~70.)"""
    rng = np.random.default_rng(1)
    n, d = 200_000, 50
    Z = rng.standard_normal((n, d))
    y = (Z @ rng.standard_normal(d) + rng.logistic(size=n) > 0).astype(np.int64)
    Q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    X = (Z * np.logspace(-3, 0, d)) @ Q  # every column mixes every scale
    return np.ascontiguousarray(X), y


@pytest.mark.parametrize("previous_fit", [False, True], ids=["unfitted", "refit"])
def test_ctrl_c_stops_lbfgs_and_restores_thread_settings(ill_conditioned_data, previous_fit):
    X, y = ill_conditioned_data
    model = LogisticRegression(solver="lbfgs", C=1e4, tol=0.0, max_iter=1_000_000)
    if previous_fit:
        model.set_params(max_iter=3).fit(X[:5000], y[:5000])
        model.set_params(max_iter=1_000_000)
        before = (model.coef_.copy(), model.intercept_.copy(), model.n_iter_.copy())
    else:
        LogisticRegression(solver="lbfgs", max_iter=2).fit(X[:1000], y[:1000])  # warm caches
    import scipy.linalg  # noqa: F401

    blas_before = blas_threads()
    numba_before = numba.get_num_threads()
    latency, outcome, _ = run_interrupted(lambda: model.fit(X, y), delay=1.5)
    assert outcome == "interrupted", "the fit ended before the signal: make it longer"
    assert latency < PROMPT_S, f"KeyboardInterrupt {latency:.2f} s after SIGINT"
    assert blas_threads() == blas_before
    assert numba.get_num_threads() == numba_before
    if previous_fit:
        np.testing.assert_array_equal(model.coef_, before[0])
        np.testing.assert_array_equal(model.intercept_, before[1])
        np.testing.assert_array_equal(model.n_iter_, before[2])
    else:
        assert not hasattr(model, "coef_")


# ---------------------------------------------------------------------------
# Concurrent fits and predictions
# ---------------------------------------------------------------------------

CONCURRENT = [
    ("lbfgs", 2, "dense"),
    ("lbfgs", 4, "dense"),
    ("newton", 2, "dense"),
    ("newton", 4, "dense"),
    ("sgd", 2, "dense"),
    ("sgd", 4, "dense"),
    ("lbfgs", 4, "csr"),
    ("sgd", 2, "csr"),
]


@pytest.fixture(scope="module")
def shared_data():
    rng = np.random.default_rng(2)
    n, d = 20_000, 12  # fits long enough (~0.1 s each) to overlap
    X = rng.standard_normal((n, d))
    Xs = sp.random(n, d, density=0.3, format="csr", random_state=3)
    W = rng.standard_normal((4, d))
    y4 = np.argmax(X @ W.T + rng.gumbel(size=(n, 4)), axis=1)
    ys4 = np.argmax(Xs @ W.T + rng.gumbel(size=(n, 4)), axis=1)
    for a in (X, Xs.data, Xs.indices, Xs.indptr, y4, ys4):
        a.setflags(write=False)
    return {"dense": (X, y4), "csr": (Xs, ys4)}


def fit_config(shared, solver, k, layout):
    X, y4 = shared[layout]
    y = y4 if k == 4 else (y4 >= 2).astype(np.int64)
    extra = (
        dict(max_iter=5, tol=None, random_state=7, batch_size=16) if solver == "sgd" else dict(max_iter=50)
    )
    model = LogisticRegression(solver=solver, C=0.5, **extra).fit(X, y)
    return model.coef_, model.intercept_


def snapshot(shared):
    X, y = shared["dense"]
    Xs, ys = shared["csr"]
    return [a.copy() for a in (X, y, Xs.data, Xs.indices, Xs.indptr, ys)]


def test_concurrent_fits_equal_serial_fits_bit_for_bit(shared_data):
    import scipy.linalg  # noqa: F401  (both OpenBLAS copies loaded before the first reading)

    before = snapshot(shared_data)
    blas_before = blas_threads()
    numba_before = numba.get_num_threads()
    serial = [fit_config(shared_data, *cfg) for cfg in CONCURRENT]
    jobs = CONCURRENT * 2
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        concurrent = list(pool.map(lambda cfg: fit_config(shared_data, *cfg), jobs))
    for i, (cfg, (coef, intercept)) in enumerate(zip(jobs, concurrent)):
        want = serial[i % len(CONCURRENT)]
        if cfg[0] == "newton" and cfg[2] == "dense":
            # Newton-Cholesky forms the binary Hessian (and, since the fused softmax
            # pass, each softmax Hessian block) with BLAS products that
            # use BLAS's threads, and BLAS's thread count is process-wide: it is
            # 1 while another thread's solver is in its serial-BLAS region, and
            # OpenBLAS rounds differently with 1 and 2 threads.  Equal to rounding.
            np.testing.assert_allclose(coef, want[0], rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(intercept, want[1], rtol=1e-12, atol=1e-15)
            continue
        np.testing.assert_array_equal(coef, want[0], err_msg=f"coef_ of {cfg}")
        np.testing.assert_array_equal(intercept, want[1], err_msg=f"intercept_ of {cfg}")
    for a, b in zip(snapshot(shared_data), before):
        np.testing.assert_array_equal(a, b)
    # Thread-pool settings are per process (BLAS) or per thread (Numba): a fit
    # limits them for its duration only, whatever runs beside it.
    assert blas_threads() == blas_before
    assert numba.get_num_threads() == numba_before


def test_concurrent_predictions_equal_serial_ones(shared_data):
    X, y4 = shared_data["dense"]
    Xs, _ = shared_data["csr"]
    models = [LogisticRegression(max_iter=50).fit(X, y4), LogisticRegression(max_iter=50).fit(X, y4 >= 2)]
    inputs = [X, Xs, X[::3]]
    serial = [(m.predict_proba(Z), m.predict(Z), m.decision_function(Z)) for m in models for Z in inputs]
    jobs = [(m, Z) for m in models for Z in inputs] * 3
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(
            pool.map(
                lambda mz: (mz[0].predict_proba(mz[1]), mz[0].predict(mz[1]), mz[0].decision_function(mz[1])),
                jobs,
            )
        )
    for i, got in enumerate(results):
        for g, w in zip(got, serial[i % len(serial)]):
            np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------------------
# Reproducibility across processes
# ---------------------------------------------------------------------------

FIT_IN_FRESH_PROCESS = textwrap.dedent("""
    import sys, warnings
    import numpy as np
    from fastlogit import LogisticRegression
    warnings.simplefilter("ignore")
    solver, n_threads = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3000, 8))
    y = np.argmax(X @ rng.standard_normal((8, 3)) + rng.gumbel(size=(3000, 3)), axis=1)
    extra = dict(max_iter=4, tol=None, random_state=11, batch_size=8) if solver == "sgd" else {}
    model = LogisticRegression(solver=solver, n_threads=n_threads, **extra).fit(X, y)
    sys.stdout.write(model.coef_.tobytes().hex() + " " + model.intercept_.tobytes().hex())
""")


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_same_random_state_and_threads_give_identical_coefficients_in_fresh_processes(solver):
    n_threads = numba.config.NUMBA_NUM_THREADS

    def run():
        return subprocess.run(
            [sys.executable, "-c", FIT_IN_FRESH_PROCESS, solver, str(n_threads)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    first, second = run(), run()
    assert first and first == second


# ---------------------------------------------------------------------------
# 64-bit indexing
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def huge_sparse():
    """CSR of shape (100_000, 30_000): 3e9 > 2**31 cells, a few thousand nonzeros,
    and the same rows with the columns compacted to the ones holding nonzeros."""
    rng = np.random.default_rng(4)
    n, d, nnz = 100_000, 30_000, 6000
    rows = np.sort(rng.integers(0, n, nnz))
    # Most nonzeros in the last columns (cell index i * d + j up to ~3e9), a few in the first.
    cols = np.concatenate([rng.integers(d - 40, d, nnz - 500), rng.integers(0, 20, 500)])
    vals = rng.standard_normal(nnz)
    X = sp.csr_matrix((vals, (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    used = np.unique(X.indices)
    compact = X[:, used].tocsr()
    y = np.zeros(n, dtype=np.int64)
    y[rows[: nnz // 2]] = 1
    empty = np.flatnonzero(np.diff(X.indptr) == 0)
    y[empty] = rng.integers(0, 2, empty.shape[0])
    return X, compact, used, y


@pytest.mark.parametrize("solver", ["lbfgs", "sgd"])
def test_fit_on_more_than_2_31_cells_equals_the_fit_on_compacted_columns(huge_sparse, solver):
    X, compact, used, y = huge_sparse
    assert X.shape[0] * X.shape[1] > 2**31
    extra = dict(max_iter=2, tol=None, random_state=0) if solver == "sgd" else dict(max_iter=30)
    # No penalty on the empty columns' coefficients changes nothing: their
    # gradient is 0, so they stay 0 and the fit is the compacted one.
    big = LogisticRegression(solver=solver, n_threads=1, **extra).fit(X, y)
    small = LogisticRegression(solver=solver, n_threads=1, **extra).fit(compact, y)
    unused = np.setdiff1d(np.arange(X.shape[1]), used)
    assert np.all(big.coef_[:, unused] == 0)
    np.testing.assert_allclose(big.coef_[:, used], small.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(big.intercept_, small.intercept_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        big.decision_function(X), small.decision_function(compact), rtol=1e-10, atol=1e-12
    )


def test_kernels_on_more_than_2_31_cells_with_int64_indices_match_reference(huge_sparse):
    X, compact, used, y = huge_sparse
    X64 = X.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    rng = np.random.default_rng(6)
    w = rng.standard_normal(X.shape[1])
    W = rng.standard_normal((3, X.shape[1]))
    y3 = rng.integers(0, 3, X.shape[0])
    for Z in (X, X64):
        for got, want in [
            (fastlogit.binary_predict_raw(Z, w, 0.5), reference.binary_predict_raw(compact, w[used], 0.5)),
            (
                fastlogit.binary_loss_grad(Z, y, w, 0.5)[1][used],
                reference.binary_loss_grad(compact, y, w[used], 0.5)[1],
            ),
            (
                fastlogit.binary_loss_grad(Z, y, w, 0.5)[0],
                reference.binary_loss_grad(compact, y, w[used], 0.5)[0],
            ),
            (
                fastlogit.multinomial_loss_grad(Z, y3, W)[1][:, used],
                reference.multinomial_loss_grad(compact, y3, W[:, used])[1],
            ),
            (
                fastlogit.binary_hessp(Z, w, 0.0, w)[0][used],
                reference.binary_hessp(compact, w[used], 0.0, w[used])[0],
            ),
        ]:
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_sgd_loop_with_int64_indices_equals_int32(huge_sparse):
    X, _, _, y = huge_sparse
    X64 = X.copy()
    X64.indices = X64.indices.astype(np.int64)
    X64.indptr = X64.indptr.astype(np.int64)
    fits = [
        LogisticRegression(solver="sgd", max_iter=2, tol=None, random_state=3).fit(Z, y) for Z in (X, X64)
    ]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    np.testing.assert_array_equal(fits[0].intercept_, fits[1].intercept_)


def test_overlapping_serial_blas_regions_restore_blas_threads():
    """Two fits' serial-BLAS regions overlapping as A enters, B enters, A exits,
    B exits must leave BLAS's thread count as it was (threadpoolctl limits
    are process-wide: B must not "restore" the limit A set; read from the
    main thread only: OpenBLAS reports its count per calling thread.)"""
    from fastlogit.blas import serial_blas as _serial_blas

    with _serial_blas():
        pass  # (loads the controller)
    before = blas_threads()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()

    def a():
        with _serial_blas():
            a_in.set()
            b_in.wait(10)
        a_out.set()

    def b():
        a_in.wait(10)
        with _serial_blas():
            b_in.set()
            a_out.wait(10)

    threads = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert blas_threads() == before
