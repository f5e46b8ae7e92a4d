"""Cross-validation of out-of-core data: all folds in one pass over the chunks.

``LogisticRegressionCV.fit`` takes what ``LogisticRegression.fit`` streams (a
chunk source, a ``.npy`` path, a memmap, a Parquet file with ``target=``);
the k fold models are evaluated together, one pass over the chunks per
evaluation (:class:`fastlogit.row_sources.ChunkFoldRows`).  Fold ids come
from ``fold=`` (an array aligned with the rows, or a Parquet column), else
from each row's position (``position_fold_ids``, seeded by ``random_state``),
so they do not depend on the chunking.  The result equals the in-memory
cross-validation over the same folds.
"""

import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import StandardScaler

from fastlogit import LogisticRegressionCV
from fastlogit.data import position_fold_ids
from fastlogit.row_sources import ChunkFoldRows, ChunkRows, FoldRows
from fastlogit.sources import ArrayChunks

pa = pytest.importorskip("pyarrow")
pq = pytest.importorskip("pyarrow.parquet")

OPTIONS = dict(Cs=6, tol=1e-9, max_iter=1000, scoring="neg_log_loss")


def data(name):
    X, y = (load_breast_cancer if name == "binary" else load_wine)(return_X_y=True)
    return np.ascontiguousarray(StandardScaler().fit_transform(X)), y


def splits_of(fold):
    return [(np.flatnonzero(fold != j), np.flatnonzero(fold == j)) for j in range(fold.max() + 1)]


def in_memory(X, y, fold, sample_weight=None, **kw):
    model = LogisticRegressionCV(cv=splits_of(fold), **{**OPTIONS, **kw})
    return model.fit(X, y, sample_weight=sample_weight)


def assert_same_cv(a, b, rtol=1e-7):
    np.testing.assert_array_equal(a.C_, b.C_)
    np.testing.assert_array_equal(a.classes_, b.classes_)
    for key in a.scores_:
        np.testing.assert_allclose(b.scores_[key], a.scores_[key], rtol=rtol, atol=1e-10)
        np.testing.assert_allclose(b.coefs_paths_[key], a.coefs_paths_[key], rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=rtol, atol=1e-8)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=rtol, atol=1e-8)
    assert b.n_features_in_ == a.n_features_in_


@pytest.mark.parametrize("name", ["binary", "K3"])
def test_chunks_equal_in_memory_over_the_same_folds(name):
    X, y = data(name)
    fold = position_fold_ids(0, len(y), 5, seed=11)
    expected = in_memory(X, y, fold)
    got = LogisticRegressionCV(cv=5, random_state=11, **OPTIONS).fit(ArrayChunks(X, y, chunk_rows=128), None)
    assert_same_cv(expected, got)
    np.testing.assert_array_equal(got.predict(X), expected.predict(X))


def test_position_folds_do_not_depend_on_the_chunking():
    X, y = data("binary")
    fits = [
        LogisticRegressionCV(cv=4, random_state=2, **OPTIONS).fit(ArrayChunks(X, y, chunk_rows=rows), None)
        for rows in (64, 200, len(y))
    ]
    for other in fits[1:]:
        assert_same_cv(fits[0], other, rtol=1e-7)
    # and another seed gives other folds
    other = LogisticRegressionCV(cv=4, random_state=3, **OPTIONS).fit(ArrayChunks(X, y, chunk_rows=64), None)
    assert not np.allclose(other.scores_[1], fits[0].scores_[1])


def test_given_fold_ids_sample_and_class_weights():
    X, y = data("K3")
    rng = np.random.default_rng(0)
    sw = rng.uniform(0.5, 2.0, len(y))
    fold = rng.permutation(np.arange(len(y)) % 3)
    kw = dict(class_weight="balanced", scoring="accuracy")
    expected = in_memory(X, y, fold, sample_weight=sw, **kw)
    got = LogisticRegressionCV(**{**OPTIONS, **kw}).fit(ArrayChunks(X, y, sw, chunk_rows=50), None, fold=fold)
    assert_same_cv(expected, got)


def test_npy_memmap_and_parquet_sources(tmp_path):
    X, y = data("binary")
    fold = position_fold_ids(0, len(y), 5, seed=0)
    expected = in_memory(X, y, fold)
    np.save(tmp_path / "X.npy", X)
    got = LogisticRegressionCV(cv=5, **OPTIONS).fit(str(tmp_path / "X.npy"), y)
    assert_same_cv(expected, got)
    memmap = np.load(tmp_path / "X.npy", mmap_mode="r")
    assert_same_cv(expected, LogisticRegressionCV(cv=5, **OPTIONS).fit(memmap, y))

    # Parquet: a fold column (left out of the features), row groups of 100.
    names = [f"x{j}" for j in range(X.shape[1])]
    table = {name: X[:, j] for j, name in enumerate(names)}
    custom = np.random.default_rng(1).permutation(np.arange(len(y)) % 4)
    table.update(label=y, fold=custom)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table(table), path, row_group_size=100)
    got = LogisticRegressionCV(**OPTIONS).fit(str(path), None, target="label", fold="fold")
    assert_same_cv(in_memory(X, y, custom), got)
    np.testing.assert_array_equal(got.feature_names_in_, names)
    # without fold=: the positions' folds, the fold column named out of the features
    got = LogisticRegressionCV(cv=5, **OPTIONS).fit(str(path), None, target="label", features=names)
    assert_same_cv(expected, got)


def test_fold_rows_equal_in_memory_fold_rows():
    X, y = data("K3")
    sw = np.random.default_rng(3).uniform(0.5, 2.0, len(y))
    fold = position_fold_ids(0, len(y), 3, seed=5)
    memory = FoldRows(X, y, sw, fold, 3, 3, 1, score_weight=sw)
    chunks = ChunkFoldRows(ChunkRows(ArrayChunks(X, y, sw, chunk_rows=40), n_threads=1), 3, seed=5)
    rng = np.random.default_rng(4)
    coefs, intercepts = rng.standard_normal((3, 3, X.shape[1])), rng.standard_normal((3, 3))
    for a, b in zip(memory.loss_grad(coefs, intercepts), chunks.loss_grad(coefs, intercepts)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    for a, b in zip(memory.held_out(coefs, intercepts), chunks.held_out(coefs, intercepts)):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        chunks.hessp(coefs, intercepts, intercepts[..., None] * coefs, intercepts),
        memory.hessp(coefs, intercepts, intercepts[..., None] * coefs, intercepts),
        rtol=1e-11,
        atol=1e-12,
    )
    np.testing.assert_allclose(
        chunks.hessian(2, coefs[2], intercepts[2]), memory.hessian(2, coefs[2], intercepts[2]), rtol=1e-11
    )
    np.testing.assert_allclose(chunks.weight_sums, memory.weight_sums, rtol=1e-13)
    np.testing.assert_array_equal(chunks.n_samples_per_fold, memory.n_samples_per_fold)


def test_newton_and_convergence_warning_name_the_fold():
    X, y = data("binary")
    src = ArrayChunks(X, y, chunk_rows=100)
    fold = position_fold_ids(0, len(y), 3, seed=0)
    expected = in_memory(X, y, fold, solver="newton")
    got = LogisticRegressionCV(cv=3, solver="newton", **{k: v for k, v in OPTIONS.items()}).fit(src, None)
    assert_same_cv(expected, got, rtol=1e-6)
    with pytest.warns(ConvergenceWarning, match=r"C=.*fold \d"):
        LogisticRegressionCV(cv=3, Cs=[1e4], solver="lbfgs", max_iter=2, tol=1e-12).fit(src, None)


@pytest.mark.parametrize(
    "model, kwargs, error, match",
    [
        (dict(scoring="roc_auc"), {}, ValueError, "scoring='roc_auc'"),
        (dict(l1_ratios=(1.0,)), {}, ValueError, "l1_ratios"),
        (dict(cv=StratifiedKFold(3)), {}, ValueError, "cv=StratifiedKFold"),
        (dict(solver="proximal"), {}, ValueError, "solver='proximal'"),
        ({}, dict(fold=np.zeros(569, dtype=np.int64)), ValueError, "at least 2"),
        ({}, dict(fold=np.full(569, 1, dtype=np.int64)), ValueError, "name no rows"),
        ({}, dict(fold=np.arange(569) % 3 * 0.5), TypeError, "integer fold ids"),
        ({}, dict(fold=np.arange(10) % 2), ValueError, "shape"),
        ({}, dict(fold="fold"), TypeError, "Parquet"),
        ({}, dict(groups=np.arange(569)), TypeError, "groups"),
    ],
    ids=["scorer", "l1", "splitter", "proximal", "one-fold", "gap", "float", "length", "column", "unknown"],
)
def test_bad_input_names_the_argument(model, kwargs, error, match):
    X, y = data("binary")
    with pytest.raises(error, match=match):
        LogisticRegressionCV(**model).fit(ArrayChunks(X, y, chunk_rows=100), None, **kwargs)


def test_a_fold_whose_training_set_has_one_class():
    X, y = data("binary")
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    fold = np.zeros(len(y), dtype=np.int64)
    fold[y == 0] = 1  # fold 0's training set: every row of class 0 only
    with pytest.raises(ValueError, match="training set of fold 0 holds only one class"):
        LogisticRegressionCV().fit(ArrayChunks(X, y, chunk_rows=100), None, fold=fold)


def test_quiet_at_default_settings():
    X, y = data("binary")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LogisticRegressionCV().fit(ArrayChunks(X, y, chunk_rows=100), None)


# -- logistic_path on out-of-core data ----------------------------------------------------


@pytest.mark.parametrize("l1_ratio, solver", [(0.0, "newton"), (1.0, "auto"), (0.5, "proximal")])
def test_logistic_path_of_chunks_equals_in_memory(l1_ratio, solver):
    from fastlogit import logistic_path

    X, y = data("binary")
    kw = dict(Cs=5, l1_ratio=l1_ratio, solver=solver, tol=1e-10, max_iter=2000)
    expected = logistic_path(X, y, **kw)
    got = logistic_path(ArrayChunks(X, y, chunk_rows=100), None, **kw)
    np.testing.assert_allclose(got.Cs, expected.Cs, rtol=1e-12)  # the L1 start from the chunks
    # (FISTA stops at the tolerance, not at machine precision: chunked sums round
    # otherwise, so its iterates differ by up to tol over the smallest curvature,
    # measured 7e-7 at the path's weakest penalty.)
    atol = 1e-6 if solver == "proximal" else 1e-9
    np.testing.assert_allclose(got.coefs, expected.coefs, rtol=1e-6, atol=atol)
    np.testing.assert_allclose(got.intercepts, expected.intercepts, rtol=1e-6, atol=atol)


def test_logistic_path_per_fold_of_parquet_equals_in_memory(tmp_path):
    from fastlogit import logistic_path

    X, y = data("K3")
    names = [f"x{j}" for j in range(X.shape[1])]
    fold = position_fold_ids(0, len(y), 3, seed=4)
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({**{n: X[:, j] for j, n in enumerate(names)}, "label": y, "f": fold}), path)
    expected = logistic_path(X, y, Cs=4, fold=fold, tol=1e-10, max_iter=1000)
    got = logistic_path(str(path), None, Cs=4, fold="f", target="label", tol=1e-10, max_iter=1000)
    np.testing.assert_allclose(got.coefs, expected.coefs, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(got.test_loss, expected.test_loss, rtol=1e-9)
    np.testing.assert_allclose(got.test_accuracy, expected.test_accuracy, rtol=1e-12)


def test_logistic_path_bad_streamed_options():
    from fastlogit import logistic_path

    X, y = data("binary")
    with pytest.raises(ValueError, match="l1_ratio=1"):
        logistic_path(ArrayChunks(X, y), None, l1_ratio=1.0, fold=np.arange(len(y)) % 3)
    with pytest.raises(TypeError, match="target= apply to out-of-core"):
        logistic_path(X, y, target="label")
