"""The SGD loop's read-ahead thread (dense X, two threads or more): a second
thread reads the rows the loop will reach next (``fastlogit._sgd``,
``fastlogit.sgd.sgd_read_ahead``).

It computes nothing, so the results must be those of one thread to the bit,
for every schedule, penalty, averaging, weights, float32 and softmax; it
must stop with the loop when a batch is not finite (no thread left running
or waiting); a thread that cannot be started leaves the loop alone; and the
estimator uses it with its default ``n_threads``.
"""

import threading

import numba
import numpy as np
import pytest
from test_sgd import CONFIGS, _problem, _sgd_fit

import fastlogit.sgd as sgd_module
from fastlogit import LogisticRegression, _sgd
from fastlogit.sgd import SGDDivergenceError, sgd_read_ahead

pytestmark = [
    pytest.mark.usefixtures("floating_point_warnings_are_errors"),
    pytest.mark.skipif(not _sgd.read_ahead_available(), reason="this build runs SGD on one thread"),
]


class _Threads:
    """Records the read-ahead threads started (threading.Thread, patched)."""

    def __init__(self, monkeypatch, fail=False):
        self.started = 0
        real = threading.Thread
        recorder = self

        class Recording(real):
            def start(self):
                if getattr(self, "_target", None) is _sgd._read_ahead:
                    if fail:
                        raise RuntimeError("can't start new thread")
                    recorder.started += 1
                super().start()

        monkeypatch.setattr(threading, "Thread", Recording)


@pytest.fixture
def small_read_ahead(monkeypatch):
    """The read-ahead thread on test-sized data."""
    monkeypatch.setattr(sgd_module, "READ_AHEAD_MIN_BYTES", 0)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_read_ahead_gives_one_threads_results_to_the_bit(
    small_read_ahead, monkeypatch, config, n_classes, dtype
):
    kw = dict(CONFIGS[config])
    weighted = kw.pop("weights", False)
    X, y = _problem(400, 11, n_classes, seed=n_classes, dtype=dtype)
    sw = np.random.default_rng(2).uniform(0.1, 3.0, 400) if weighted else None
    one = _sgd_fit(X, y, n_classes, sample_weight=sw, batch_size=16, n_threads=1, **kw)
    threads = _Threads(monkeypatch)
    two = _sgd_fit(X, y, n_classes, sample_weight=sw, batch_size=16, n_threads=2, **kw)
    assert threads.started == two.n_iter  # one helper per call of the loop (an epoch here)
    np.testing.assert_array_equal(two.coef, one.coef)
    np.testing.assert_array_equal(two.intercept, one.intercept)
    assert two.loss_curve == one.loss_curve


def test_csr_and_one_thread_get_no_read_ahead(small_read_ahead, monkeypatch):
    import scipy.sparse as sp

    X, y = _problem(400, 11, 2, seed=3)
    threads = _Threads(monkeypatch)
    _sgd_fit(X, y, 2, batch_size=16, n_threads=1)
    _sgd_fit(sp.csr_matrix(X), y, 2, batch_size=16, n_threads=2)
    assert threads.started == 0


@pytest.mark.parametrize("row", [5, 390])  # in the first batch, and in the helper's reach
def test_non_finite_x_stops_the_loop_and_its_helper(small_read_ahead, monkeypatch, row):
    X, y = _problem(400, 11, 2, seed=7)
    X[row, 3] = np.nan
    threads = _Threads(monkeypatch)
    before = threading.active_count()
    with pytest.raises(SGDDivergenceError, match="became non-finite"):
        _sgd_fit(X, y, 2, batch_size=16, n_threads=2, max_iter=2)
    assert threads.started >= 1
    assert threading.active_count() == before  # the helper was stopped and joined
    X[row, 3] = 0.0
    np.testing.assert_array_equal(
        _sgd_fit(X, y, 2, batch_size=16, n_threads=2).coef, _sgd_fit(X, y, 2, batch_size=16, n_threads=1).coef
    )


def test_a_helper_that_cannot_start_leaves_the_loop_alone(small_read_ahead, monkeypatch):
    X, y = _problem(400, 11, 3, seed=9)
    one = _sgd_fit(X, y, 3, batch_size=16, n_threads=1, average=True)
    _Threads(monkeypatch, fail=True)
    two = _sgd_fit(X, y, 3, batch_size=16, n_threads=2, average=True)
    np.testing.assert_array_equal(two.coef, one.coef)


def test_sgd_read_ahead_needs_two_threads_dense_rows_and_enough_of_them():
    rows = sgd_module.READ_AHEAD_MIN_BYTES // 1024  # rows of 128 float64
    assert sgd_read_ahead(2, rows, 1024, sparse=False)
    assert not sgd_read_ahead(1, rows, 1024, sparse=False)
    assert not sgd_read_ahead(2, rows, 1024, sparse=True)
    assert not sgd_read_ahead(2, rows - 1, 1024, sparse=False)


def test_the_estimator_reads_ahead_with_its_default_threads(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: the estimator's default is one thread")
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    X, y = _problem(6_000, 100, 2, seed=8)  # 4.8 MB of rows: above READ_AHEAD_MIN_BYTES
    params = dict(solver="sgd", max_iter=2, tol=None, random_state=0)
    threads = _Threads(monkeypatch)
    default = LogisticRegression(**params).fit(X, y)
    assert threads.started == 2  # one call of the loop per epoch
    alone = LogisticRegression(n_threads=1, **params).fit(X, y)
    assert threads.started == 2
    np.testing.assert_array_equal(default.coef_, alone.coef_)
