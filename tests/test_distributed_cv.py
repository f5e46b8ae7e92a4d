"""Fold-fused Dask rows (fastlogit.distributed.DaskFoldRows) on a real LocalCluster.

The cluster fixture, data and tolerance helpers are tests/test_distributed.py's
(two worker processes of one thread).  Every sum equals the in-memory
:class:`~fastlogit.row_sources.FoldRows` on the same numbers and fold ids to
relative 1e-10, and is bit-identical from run to run.
"""

import warnings

import numpy as np
import pytest

# client: test_distributed's module-scoped LocalCluster fixture (one cluster for this module).
from test_distributed import assert_close, client, make_data  # noqa: F401

da = pytest.importorskip("dask.array")
from sklearn.exceptions import ConvergenceWarning  # noqa: E402

from fastlogit import distributed as fd  # noqa: E402
from fastlogit import solvers  # noqa: E402
from fastlogit.data import position_fold_ids  # noqa: E402
from fastlogit.objective import FoldObjective  # noqa: E402
from fastlogit.row_sources import FoldRows  # noqa: E402

pytestmark = pytest.mark.usefixtures("client")

RTOL = 1e-10
CHUNKS = ((700, 1300, 1, 399), (6,))  # uneven, with a one-row block


def weights(y, K, sw, class_weight):
    """The training weights FoldRows gets: sample times class weights (scikit-learn's 'balanced')."""
    if class_weight is None:
        return sw
    counts = np.bincount(y, weights=sw, minlength=K)
    cw = counts.sum() / (K * counts)
    return (1.0 if sw is None else sw) * cw[y]


def case_data(K, weighted, k=4, n=2400, seed=0):
    X, y = make_data(n=n, K=K, seed=seed)
    rng = np.random.default_rng(seed + 10)
    sw = rng.uniform(0, 2, n) if weighted else None
    if weighted:
        sw[:50] = 0.0
    fold = rng.integers(0, k, n)
    return X, y, sw, fold


def params(rows, seed=5):
    """Random coefficients and intercepts of all k models, (k, d)/(k,) or (k, K, d)/(k, K)."""
    rng = np.random.default_rng(seed)
    shape = (rows.n_folds,) if rows.binary else (rows.n_folds, rows.n_classes)
    return 0.3 * rng.standard_normal((*shape, rows.n_features)), 0.3 * rng.standard_normal(shape)


def assert_same_sums(rows, ref, coefs, intercepts, rtol=RTOL):
    """Every sum of ``rows`` against the in-memory ``ref`` at ``(coefs, intercepts)``."""
    assert (rows.n_folds, rows.n_features, rows.n_classes, rows.binary, rows.n_samples) == (
        ref.n_folds,
        ref.n_features,
        ref.n_classes,
        ref.binary,
        ref.n_samples,
    )
    np.testing.assert_array_equal(rows.n_samples_per_fold, ref.n_samples_per_fold)
    assert_close(rows.weight_sums, ref.weight_sums, rtol)
    loss, grad = rows.loss_grad(coefs, intercepts)
    ref_loss, ref_grad = ref.loss_grad(coefs, intercepts)
    assert loss.shape == (rows.n_folds,) and grad.shape == ref_grad.shape
    assert_close(loss, ref_loss, rtol)
    assert_close(grad, ref_grad, rtol)
    # The held-out sums of that pass where the scores' weights are the training weights.
    last, ref_last = rows.last_held_out(coefs, intercepts), ref.last_held_out(coefs, intercepts)
    assert (last is None) == (ref_last is None)
    if last is not None:
        for a, b in zip(last, ref_last):
            assert_close(a, b, rtol)
    assert rows.last_held_out(coefs + 1.0, intercepts) is None
    # Held-out sums at other coefficients: a pass of their own.
    for a, b in zip(rows.held_out(coefs * 0.5, intercepts), ref.held_out(coefs * 0.5, intercepts)):
        assert a.shape == (rows.n_folds,)
        assert_close(a, b, rtol)
    vec_coefs, vec_intercepts = params(rows, seed=9)
    assert_close(
        rows.hessp(coefs, intercepts, vec_coefs, vec_intercepts),
        ref.hessp(coefs, intercepts, vec_coefs, vec_intercepts),
        rtol,
    )
    for j in (0, rows.n_folds - 1):
        assert_close(rows.hessian(j, coefs[j], intercepts[j]), ref.hessian(j, coefs[j], intercepts[j]), rtol)
    for a, b in zip(rows.column_moments(), ref.column_moments()):
        assert_close(a, b, rtol)
    rows.check_finite()


CASES = {
    "binary": dict(K=2),
    "binary-sw-fold": dict(K=2, weighted=True, given=True),
    "binary-balanced": dict(K=2, class_weight="balanced", given=True),
    "softmax3-fold": dict(K=3, given=True),
    "softmax3-sw-balanced-fold": dict(K=3, weighted=True, class_weight="balanced", given=True),
    "softmax3-sw-balanced-positions": dict(K=3, weighted=True, class_weight="balanced"),
    "softmax3-positions-seed": dict(K=3, seed=7),
}


@pytest.mark.parametrize("case", list(CASES))
def test_equals_fold_rows(case):
    opts = CASES[case]
    K, k = opts["K"], 4
    X, y, sw, fold = case_data(K, opts.get("weighted", False), k=k)
    class_weight, seed = opts.get("class_weight"), opts.get("seed", 0)
    dX = da.from_array(X, chunks=CHUNKS)
    if opts.get("given"):
        dfold = da.from_array(fold, chunks=(CHUNKS[0],))
    else:
        dfold, fold = None, position_fold_ids(0, X.shape[0], k, seed)
    dsw = None if sw is None else da.from_array(sw, chunks=500)  # rechunked to X's rows
    rows, classes = fd.dask_fold_rows(dX, y, dsw, n_folds=k, fold=dfold, seed=seed, class_weight=class_weight)
    with rows:
        np.testing.assert_array_equal(classes, np.arange(K))
        np.testing.assert_array_equal(rows.classes, classes)
        np.testing.assert_array_equal(rows.fold.compute(), fold)
        assert rows.n_blocks == 4 and rows.client is not None and rows.persisted
        ref = FoldRows(X, y, weights(y, K, sw, class_weight), fold, k, K, 1, score_weight=sw)
        assert_same_sums(rows, ref, *params(rows))


def test_position_ids_do_not_depend_on_chunking():
    X, y = make_data(n=1500, K=3)
    n, k = X.shape[0], 5
    expected = position_fold_ids(0, n, k, 3)
    ref = FoldRows(X, y, None, expected, k, 3, 1)
    coefs, intercepts = None, None
    for chunks in [(500, 6), (1500, 6), ((1, 998, 501), (6,)), (100, 3)]:
        rows, _ = fd.dask_fold_rows(da.from_array(X, chunks=chunks), y, n_folds=k, seed=3)
        with rows:
            np.testing.assert_array_equal(rows.fold.compute(), expected)
            if coefs is None:
                coefs, intercepts = params(rows)
            loss, grad = rows.loss_grad(coefs, intercepts)
            ref_loss, ref_grad = ref.loss_grad(coefs, intercepts)
            assert_close(loss, ref_loss, RTOL)
            assert_close(grad, ref_grad, RTOL)
    other, _ = fd.dask_fold_rows(da.from_array(X, chunks=(500, 6)), y, n_folds=k, seed=4)
    assert not np.array_equal(other.fold.compute(), expected)
    other.close()


def test_bit_identical_run_to_run():
    X, y, sw, fold = case_data(3, True)
    dX = da.from_array(X, chunks=CHUNKS)
    dfold = da.from_array(fold, chunks=(CHUNKS[0],))
    results = []
    for _ in range(2):
        rows, _ = fd.dask_fold_rows(dX, y, sw, n_folds=4, fold=dfold, class_weight="balanced")
        with rows:
            coefs, intercepts = params(rows)
            results.append(
                (
                    *rows.loss_grad(coefs, intercepts),
                    *rows.held_out(coefs, intercepts),
                    rows.hessp(coefs, intercepts, coefs, intercepts),
                    rows.hessian(1, coefs[1], intercepts[1]),
                )
            )
            # Again on the same rows: the same sums.
            np.testing.assert_array_equal(rows.loss_grad(coefs, intercepts)[1], results[-1][1])
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


def fit(rows, C=1.0):
    objective = FoldObjective(rows, C=C)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = solvers.lbfgs(objective, np.zeros(objective.n_params), max_iter=1000, tol=1e-10)
    return objective, res


@pytest.mark.parametrize("K, class_weight", [(2, None), (3, "balanced")])
def test_lbfgs_fit_equals_in_memory(K, class_weight):
    X, y, sw, fold = case_data(K, True, n=1500)
    dX = da.from_array(X, chunks=(400, 6))
    rows, _ = fd.dask_fold_rows(
        dX, y, sw, n_folds=4, fold=da.from_array(fold, chunks=400), class_weight=class_weight
    )
    with rows:
        ref = FoldRows(X, y, weights(y, K, sw, class_weight), fold, 4, K, 1, score_weight=sw)
        objective, res = fit(rows)
        ref_objective, ref_res = fit(ref)
        # Both are the optimum to tol=1e-10 from sums rounded in different orders:
        # the same objective to rounding, the coefficients to what tol leaves free
        # (1.6e-8 apart on an AVX2 machine, where the sums round differently).
        np.testing.assert_allclose(objective.value(res.x), ref_objective.value(ref_res.x), rtol=1e-13)
        assert_close(res.x, ref_res.x, 1e-7)
        assert objective.fold_optimality(objective.loss_grad(res.x)[1]).max() < 1e-8
        # Scored at the solution: from the fit's last pass, or (class weights) a pass.
        held = rows.held_out(*objective.stacked(res.x))
        for a, b in zip(held, ref.held_out(*ref_objective.stacked(ref_res.x))):
            assert_close(a, b, 1e-7)
        # Twice on the cluster: the same iterates, bit for bit.
        _, again = fit(rows)
        np.testing.assert_array_equal(again.x, res.x)


def test_zero_weight_blocks():
    """A block whose sample weights are all 0, and one whose class weights are
    all 0 (its rows still scored with their sample weights)."""
    X, y, sw, fold = case_data(3, True, n=1200)
    y[:300] = 0
    sw[300:600] = 0.0
    class_weight = {0: 0.0, 1: 1.0, 2: 2.0}
    rows, _ = fd.dask_fold_rows(
        da.from_array(X, chunks=(300, 6)), y, sw, n_folds=4, fold=fold, class_weight=class_weight
    )
    with rows:
        cw = np.array([0.0, 1.0, 2.0])
        ref = FoldRows(X, y, sw * cw[y], fold, 4, 3, 1, score_weight=sw)
        assert_same_sums(rows, ref, *params(rows))


def test_not_persisted_and_local_scheduler(monkeypatch):
    """The same sums without held blocks and without a client; the same blocks
    summed in the same order as on the cluster: the same fit, bit for bit."""
    X, y, sw, fold = case_data(2, True, n=1200)
    dX = da.from_array(X, chunks=(500, 6))
    ref = FoldRows(X, y, sw, fold, 4, 2, 1, score_weight=sw)
    rows, _ = fd.dask_fold_rows(dX, y, sw, n_folds=4, fold=fold, persist=False)
    assert not rows.persisted
    assert_same_sums(rows, ref, *params(rows))
    with rows:
        _, on_cluster = fit(rows)
    monkeypatch.setattr(fd, "_get_client", lambda: None)  # no distributed client: threads
    for persist in (True, False):
        rows, _ = fd.dask_fold_rows(
            dX, y, sw, n_folds=4, fold=da.from_array(fold, chunks=500), persist=persist
        )
        assert rows.client is None and rows.persisted == persist
        with rows:
            assert_same_sums(rows, ref, *params(rows))
            _, res = fit(rows)
            np.testing.assert_array_equal(res.x, on_cluster.x)


def test_closed():
    X, y = make_data(n=600)
    rows, _ = fd.dask_fold_rows(da.from_array(X, chunks=(200, 6)), y, n_folds=3)
    coefs, intercepts = params(rows)
    rows.loss_grad(coefs, intercepts)
    rows.close()
    with pytest.raises(ValueError, match="closed"):
        rows.loss_grad(coefs, intercepts)


def test_nonfinite_X():
    X, y = make_data(n=600)
    X[437, 4] = np.inf
    rows, _ = fd.dask_fold_rows(da.from_array(X, chunks=(200, 6)), y, n_folds=3)
    with rows, pytest.raises(ValueError, match=r"X contains infinity \(first at row 437, column 4\)"):
        rows.check_finite()


def test_bad_inputs():
    X, y = make_data(n=600)
    n = X.shape[0]
    dX = da.from_array(X, chunks=(200, 6))
    fold = np.arange(n) % 3
    with pytest.raises(ValueError, match=r"fold must have the row chunks of X"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(fold, chunks=300))
    with pytest.raises(ValueError, match="fold has 599 entries"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(fold[:-1], chunks=200))
    with pytest.raises(ValueError, match="fold must be 1-d"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=fold[:-1])
    with pytest.raises(TypeError, match="fold must hold integer"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(fold.astype(float), chunks=200))
    bad = fold.copy()
    bad[450] = 3
    with pytest.raises(ValueError, match=r"fold must hold fold ids in \[0, 3\)"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(bad, chunks=200))  # on a worker
    with pytest.raises(ValueError, match=r"fold must hold fold ids in \[0, 3\)"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=bad)
    bad[450] = -1
    with pytest.raises(ValueError, match=r"fold must hold fold ids in \[0, 3\)"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(bad, chunks=200))
    with pytest.raises(ValueError, match="n_folds must be at least 2"):
        fd.dask_fold_rows(dX, y, n_folds=1)
    with pytest.raises(TypeError, match="n_folds must be an int"):
        fd.dask_fold_rows(dX, y, n_folds=2.5)
    # Every row of class 1 in fold 0: model 0 trains on class 0 alone.
    one_class = np.where(y == 1, 0, 1 + np.arange(n) % 2)
    with pytest.raises(ValueError, match=r"^fold: the training set of fold 0 .* only one class \(0\)"):
        fd.dask_fold_rows(dX, y, n_folds=3, fold=da.from_array(one_class, chunks=200))
    # The same with sample weights: class 1's rows outside fold 0 weigh nothing.
    sw = np.where((y == 1) & (fold != 0), 0.0, 1.0)
    with pytest.raises(ValueError, match=r"^fold: the training set of fold 0 .* only one class \(0\)"):
        fd.dask_fold_rows(dX, y, sw, n_folds=3, fold=fold)
    # Position-derived ids: a class of one row is in one fold only.
    lone = np.zeros(n, dtype=int)
    lone[123] = 1
    held = position_fold_ids(123, 1, 3, 0)[0]
    with pytest.raises(
        ValueError, match=rf"^n_folds=3, seed=0 .*training set of fold {held} .* only one class"
    ):
        fd.dask_fold_rows(dX, lone, n_folds=3)
    # What dask_rows checks, checked here too.
    with pytest.raises(ValueError, match="y has 599 entries"):
        fd.dask_fold_rows(dX, y[:-1], n_folds=3)
    with pytest.raises(ValueError, match="sample_weight must be nonnegative"):
        fd.dask_fold_rows(dX, y, -np.ones(n), n_folds=3)


# -- LogisticRegressionCV on dask arrays: the in-memory CV over the same folds -------------


def _cv_in_memory(X, y, fold, sample_weight=None, **kw):
    from fastlogit import LogisticRegressionCV

    splits = [(np.flatnonzero(fold != j), np.flatnonzero(fold == j)) for j in range(fold.max() + 1)]
    return LogisticRegressionCV(cv=splits, **kw).fit(X, y, sample_weight=sample_weight)


@pytest.mark.parametrize("K", [2, 3])
def test_logistic_regression_cv_equals_in_memory(K):
    from fastlogit import LogisticRegressionCV

    X, y, sw, _ = case_data(K, weighted=True)
    kw = dict(Cs=5, tol=1e-9, max_iter=500, scoring="neg_log_loss", use_legacy_attributes=False)
    fold = position_fold_ids(0, len(y), 4, seed=9)
    expected = _cv_in_memory(X, y, fold, sw, **kw)
    dX, dy, dsw = (da.from_array(a, chunks=500) for a in (X, y, sw))
    got = LogisticRegressionCV(cv=4, random_state=9, **kw).fit(dX, dy, sample_weight=dsw)
    assert got.C_ == expected.C_
    np.testing.assert_allclose(got.scores_, expected.scores_, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(got.coefs_paths_, expected.coefs_paths_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(got.coef_, expected.coef_, rtol=1e-6, atol=1e-8)
    # given ids: a dask array in X's row chunks
    custom = np.random.default_rng(2).integers(0, 3, len(y))
    expected = _cv_in_memory(X, y, custom, sw, **kw)
    got = LogisticRegressionCV(**kw).fit(dX, dy, sample_weight=dsw, fold=da.from_array(custom, chunks=500))
    assert got.C_ == expected.C_
    np.testing.assert_allclose(got.scores_, expected.scores_, rtol=1e-7, atol=1e-10)
    assert got.predict(dX).compute().shape == (len(y),)


def test_logistic_regression_cv_bad_dask_options():
    from fastlogit import LogisticRegressionCV

    X, y, _, _ = case_data(2, weighted=False)
    dX, dy = da.from_array(X, chunks=600), da.from_array(y, chunks=600)
    with pytest.raises(ValueError, match="target="):
        LogisticRegressionCV().fit(dX, dy, target="label")
    with pytest.raises(TypeError, match="Parquet"):
        LogisticRegressionCV().fit(dX, dy, fold="fold")
    with pytest.raises(ValueError, match="scoring='roc_auc'"):
        LogisticRegressionCV(scoring="roc_auc").fit(dX, dy)
