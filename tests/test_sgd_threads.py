"""The SGD loop on several threads (dense X): each thread owns a slice of the
columns, and the threads meet once per minibatch (``fastlogit._sgd``'s team,
``fastlogit.sgd.sgd_threads``).

The team must compute what one thread computes (up to the order of each
score's sum), for every schedule, penalty, averaging, weights, float32,
softmax and a width that the threads do not divide; give bit-identical
results for a given thread count; stop at a non-finite batch on every
thread at once (no thread left waiting); and be used by the estimator only
when the user asks for threads.
"""

import numba
import numpy as np
import pytest
from test_sgd import CONFIGS, DEFAULTS, _problem, _reference_of, _sgd_fit

import fastlogit.sgd as sgd_module
from fastlogit import LogisticRegression, _sgd
from fastlogit.sgd import SGDDivergenceError, sgd_threads

pytestmark = [
    pytest.mark.usefixtures("floating_point_warnings_are_errors"),
    pytest.mark.skipif(not _sgd.team_threads_available(), reason="this build runs SGD on one thread"),
]


@pytest.fixture
def small_teams(monkeypatch):
    """Teams on test-sized data: every threshold of sgd_threads at its lowest."""
    monkeypatch.setattr(sgd_module, "SGD_MIN_EPOCH_WORK", 0)
    monkeypatch.setattr(sgd_module, "SGD_MIN_COLUMNS_PER_THREAD", 1)
    monkeypatch.setattr(sgd_module, "SGD_COLUMNS_PER_CLASS", 0)
    monkeypatch.setattr(sgd_module, "SGD_MIN_BATCH_WORK_PER_THREAD", 1)


@pytest.mark.parametrize("config", list(CONFIGS))
@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("n_threads", [2, 3])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_team_equals_the_numpy_reference_and_one_thread(small_teams, config, n_classes, n_threads, dtype):
    kw = dict(CONFIGS[config])
    weighted = kw.pop("weights", False)
    n, d = 90, 11  # 11 columns: the threads' slices differ in width
    X, y = _problem(n, d, n_classes, seed=n_classes + n_threads, dtype=dtype)
    sw = np.random.default_rng(2).uniform(0.1, 3.0, n) if weighted else None
    n_w = n_classes if n_classes > 2 else 1
    team = _sgd_fit(X, y, n_classes, sample_weight=sw, batch_size=16, n_threads=n_threads, **kw)
    one = _sgd_fit(X, y, n_classes, sample_weight=sw, batch_size=16, n_threads=1, **kw)
    W, b, _ = _reference_of(
        team,
        X,
        y,
        n_classes,
        sw,
        np.zeros((n_w, d)),
        None,
        DEFAULTS["max_iter"],
        kw["learning_rate"],
        kw.get("eta0", DEFAULTS["eta0"]),
    )
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(team.coef, W, **tol)
    np.testing.assert_allclose(team.intercept, b, **tol)
    np.testing.assert_allclose(team.coef, one.coef, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(team.intercept, one.intercept, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(team.loss_curve, one.loss_curve, rtol=1e-10)
    assert team.n_iter == one.n_iter == DEFAULTS["max_iter"]


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_a_thread_count_gives_bit_identical_results(small_teams, n_threads):
    X, y = _problem(300, 40, 3, seed=5)
    first = _sgd_fit(X, y, 3, batch_size=32, n_threads=n_threads, average=True)
    again = _sgd_fit(X, y, 3, batch_size=32, n_threads=n_threads, average=True)
    np.testing.assert_array_equal(first.coef, again.coef)
    np.testing.assert_array_equal(first.intercept, again.intercept)
    assert first.loss_curve == again.loss_curve


def test_more_threads_than_columns_leaves_some_without_work(small_teams):
    X, y = _problem(64, 2, 2, seed=6)
    team = _sgd_fit(X, y, 2, batch_size=8, n_threads=3)
    one = _sgd_fit(X, y, 2, batch_size=8, n_threads=1)
    np.testing.assert_allclose(team.coef, one.coef, rtol=1e-12)


@pytest.mark.parametrize("column", [0, 10])  # in the first thread's columns, and in the last's
def test_non_finite_x_stops_every_thread_at_the_same_batch(small_teams, column):
    X, y = _problem(200, 11, 2, seed=7)
    X[150, column] = np.nan
    with pytest.raises(SGDDivergenceError, match="became non-finite"):
        _sgd_fit(X, y, 2, batch_size=16, n_threads=2, max_iter=2)
    # and the team still runs afterwards (no thread was left waiting)
    X[150, column] = 0.0
    assert np.isfinite(_sgd_fit(X, y, 2, batch_size=16, n_threads=2).coef).all()


def test_sgd_threads_are_capped_by_shape_and_layout():
    assert sgd_threads(8, 10**6, 100, 1, 256, sparse=True) == 1
    assert sgd_threads(8, 100, 100, 1, 256, sparse=False) == 1  # too little work in the epoch
    assert sgd_threads(1, 10**6, 100, 1, 256, sparse=False) == 1
    # binary: 32 columns a thread
    assert sgd_threads(2, 10**6, 100, 1, 256, sparse=False) == 2
    assert sgd_threads(8, 10**6, 100, 1, 256, sparse=False) == 3
    assert sgd_threads(2, 10**6, 32, 1, 256, sparse=False) == 1
    # softmax: 8 columns a class a thread (each thread computes every row's softmax)
    assert sgd_threads(2, 10**6, 100, 10, 256, sparse=False) == 1
    assert sgd_threads(2, 10**6, 200, 10, 256, sparse=False) == 2
    # a small minibatch: too little work between two meetings
    assert sgd_threads(2, 10**6, 100, 1, 16, sparse=False) == 1


def _recorded_threads(monkeypatch, **params):
    calls = []
    epoch_dense = _sgd.epoch_dense

    def record(*args, n_threads=1):
        calls.append(n_threads)
        return epoch_dense(*args, n_threads=n_threads)

    monkeypatch.setattr(_sgd, "epoch_dense", record)
    X, y = _problem(20_000, 256, 2, seed=8)
    model = LogisticRegression(solver="sgd", max_iter=1, tol=None, random_state=0, **params).fit(X, y)
    return set(calls), model


def test_the_estimator_uses_threads_only_when_asked(monkeypatch):
    default, model = _recorded_threads(monkeypatch)
    assert default == {1}
    one, same = _recorded_threads(monkeypatch, n_threads=1)
    assert one == {1}
    np.testing.assert_array_equal(model.coef_, same.coef_)
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one CPU: n_threads=2 is not a valid setting here")
    two, team = _recorded_threads(monkeypatch, n_threads=2)
    assert two == {2}
    np.testing.assert_allclose(team.coef_, model.coef_, rtol=1e-9, atol=1e-12)
