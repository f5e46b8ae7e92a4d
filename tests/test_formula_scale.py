"""Formulas at every scale (issue 22): a formula fitted on a Parquet file (or a
directory of files) and on a dask DataFrame gives the in-memory fit on the same
rows, under the same names; inference and prediction take the same inputs.
"""

import os
import warnings

import numpy as np
import pytest

from fastlogit import LogisticRegression
from fastlogit.formula_scale import FormulaParquetChunks
from fastlogit.row_sources import ChunkRows

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")
pytest.importorskip("pyarrow")

RTOL = 1e-10
TIGHT = dict(C=np.inf, solver="newton", tol=1e-10, max_iter=200)
FORMULA = "y ~ x1 + C(g) + h + x1:x2"


def frame(n=1500, seed=0):
    """Numeric columns, a string column with a level ("zz") only in the last rows, a
    3-level string column, a positive weight column, labels from a model with level
    effects and an interaction."""
    rng = np.random.default_rng(seed)
    data = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "g": rng.choice(["b", "a", "d", "c"], n),
            "h": rng.choice(["q", "p", "r"], n),
            "w": rng.uniform(0.5, 2.0, n),
        }
    )
    data.loc[n - 40 :, "g"] = "zz"
    effect = data.g.map(dict(a=0.0, b=0.5, c=-0.5, d=1.0, zz=-0.8)).to_numpy()
    z = 0.3 + 0.8 * data.x1 - 0.6 * data.x2 + effect + 0.4 * data.x1 * data.x2
    data["y"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return data


def with_missing(data):
    data = data.copy()
    data["y"] = data.y.astype(float)
    data.loc[[3, 700], "x1"] = np.nan
    data.loc[20, "g"] = None
    data.loc[1210, "y"] = np.nan
    data.loc[5, "unused"] = np.nan  # not in the formula: drops nothing
    return data


def write(data, path, row_group_size=500):
    data.to_parquet(path, row_group_size=row_group_size, index=False)
    return os.fspath(path)


def assert_same_fit(model, ref):
    assert model.feature_names_ == ref.feature_names_
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=RTOL, atol=1e-12)
    np.testing.assert_array_equal(model.classes_, ref.classes_)
    assert model.n_dropped_ == ref.n_dropped_


# -- Parquet ---------------------------------------------------------------------------


def test_parquet_file_fits_as_in_memory(tmp_path):
    data = with_missing(frame())
    path = write(data, tmp_path / "data.parquet")
    model = LogisticRegression(formula=FORMULA, **TIGHT).fit(path)
    ref = LogisticRegression(formula=FORMULA, **TIGHT).fit(pd.read_parquet(path))
    assert_same_fit(model, ref)
    assert model.n_dropped_ == 4
    assert "C(g)[T.zz]" in model.feature_names_  # a level only in the last row group
    assert model.feature_names_[:4] == ["C(g)[T.b]", "C(g)[T.c]", "C(g)[T.d]", "C(g)[T.zz]"]
    # Inference on the path is inference on the frame.
    result, expected = model.inference(path), ref.inference(data)
    assert result.n_dropped == 4 and result.n_obs == expected.n_obs == len(data) - 4
    assert result.parameter_names == expected.parameter_names
    np.testing.assert_allclose(result.std_err, expected.std_err, rtol=1e-7)
    assert "4 row(s) with missing values dropped" in result.summary()
    # Prediction on frames afterwards.
    complete = data.dropna(subset=["x1", "x2", "g", "h"])
    np.testing.assert_allclose(model.predict_proba(complete), ref.predict_proba(complete), rtol=1e-7)
    np.testing.assert_array_equal(model.predict(complete.iloc[::-1]), ref.predict(complete.iloc[::-1]))


def test_parquet_directory_of_two_files_and_weights(tmp_path):
    data = frame(seed=1)
    folder = tmp_path / "dataset"
    folder.mkdir()
    write(data.iloc[:900], folder / "part-0.parquet", row_group_size=300)
    write(data.iloc[900:], folder / "part-1.parquet", row_group_size=300)
    model = LogisticRegression(formula=FORMULA, **TIGHT).fit(os.fspath(folder), weight="w")
    ref = LogisticRegression(formula=FORMULA, **TIGHT).fit(data, sample_weight=data.w.to_numpy())
    assert_same_fit(model, ref)
    unweighted = LogisticRegression(formula=FORMULA, **TIGHT).fit(folder)
    assert_same_fit(unweighted, LogisticRegression(formula=FORMULA, **TIGHT).fit(data))
    # Inference on the directory, clustered by a column, against the frame's.
    result = model.inference(os.fspath(folder), weight="w", cov_type="cluster", groups="h")
    expected = ref.inference(
        data, sample_weight=data.w.to_numpy(), cov_type="cluster", groups=data.h.to_numpy()
    )
    np.testing.assert_allclose(result.std_err, expected.std_err, rtol=1e-7)
    # predict on the path: every row, in order.
    np.testing.assert_array_equal(model.predict(os.fspath(folder)), ref.predict(data))
    np.testing.assert_allclose(model.predict_proba(folder), ref.predict_proba(data), rtol=1e-7)


def test_parquet_categorical_column_levels_from_its_dictionary(tmp_path):
    data = frame(seed=2)
    # A categorical in a non-sorted order with an unused category: the levels and their
    # order are the file's dictionary (as pd.read_parquet gives it), not sorted values.
    data["k"] = pd.Categorical(
        np.where(data.index % 3 == 0, "late", np.where(data.index % 3 == 1, "early", "mid")),
        categories=["mid", "late", "early", "never"],
    )
    data.loc[data.index < 600, "k"] = "mid"  # "early"/"late" not in the first row group
    path = write(data, tmp_path / "cat.parquet")
    formula = "y ~ x1 + k + C(g)"
    model = LogisticRegression(formula=formula, C=1.0, solver="newton", tol=1e-10).fit(path)
    ref = LogisticRegression(formula=formula, C=1.0, solver="newton", tol=1e-10).fit(pd.read_parquet(path))
    assert [n for n in model.feature_names_ if n.startswith("k[")] == [
        "k[T.late]",
        "k[T.early]",
        "k[T.never]",
    ]
    assert_same_fit(model, ref)


def test_parquet_softmax_with_string_labels(tmp_path):
    data = frame(seed=3)
    rng = np.random.default_rng(7)
    score = data.x1 + 0.5 * data.h.eq("p") + rng.logistic(size=len(data))
    data["label"] = np.where(score > 0.8, "high", np.where(score < -0.5, "low", "mid"))
    path = write(data, tmp_path / "k3.parquet", row_group_size=400)
    formula = "label ~ x1 + x2 + C(h) + C(g)"
    model = LogisticRegression(formula=formula, **TIGHT).fit(path)
    ref = LogisticRegression(formula=formula, **TIGHT).fit(data)
    assert list(model.classes_) == ["high", "low", "mid"]
    assert_same_fit(model, ref)


def test_parquet_chunk_source_random_access_and_sgd(tmp_path):
    data = with_missing(frame())
    data.loc[500:999, "x2"] = np.nan  # the whole second row group is dropped
    path = write(data, tmp_path / "data.parquet")
    source = FormulaParquetChunks(path, FORMULA)
    chunks = list(source)
    assert len(chunks) == len(source) == 2  # three row groups, one left empty
    assert source.n_dropped == 503
    for i, (X, y, sw) in enumerate(chunks):
        X2, y2, _ = source[i]
        np.testing.assert_array_equal(
            X2.toarray() if hasattr(X2, "toarray") else X2, X.toarray() if hasattr(X, "toarray") else X
        )
        np.testing.assert_array_equal(y2, y)
        assert sw is None
    rows = ChunkRows(source)
    assert rows.random_access and rows.n_samples == len(data) - 503
    sgd = LogisticRegression(formula=FORMULA, solver="sgd", max_iter=3, tol=None, random_state=0).fit(path)
    again = LogisticRegression(formula=FORMULA, solver="sgd", max_iter=3, tol=None, random_state=0).fit(path)
    np.testing.assert_array_equal(sgd.coef_, again.coef_)
    assert sgd.n_dropped_ == 503 and sgd.feature_names_ == source.spec.feature_names


def test_parquet_na_action_raise_names_the_column(tmp_path):
    path = write(with_missing(frame()), tmp_path / "data.parquet")
    with pytest.raises(ValueError, match="'x1'.*missing values.*na_action='raise'"):
        LogisticRegression(formula="y ~ x1 + C(h)", na_action="raise").fit(path)
    with pytest.raises(ValueError, match=r"labels \(y\) have 1 missing"):
        LogisticRegression(formula="y ~ x2 + C(h)", na_action="raise").fit(path)
    model = LogisticRegression(formula="y ~ x1 + C(h)").fit(path)
    with pytest.raises(ValueError, match="'x1'.*missing values"):
        model.predict(path)  # prediction refuses missing values, as on a frame


def test_parquet_bad_inputs_name_the_column(tmp_path):
    data = frame()
    path = write(data, tmp_path / "data.parquet")
    with pytest.raises(ValueError, match="no column 'x9'"):
        LogisticRegression(formula="y ~ x1 + x9").fit(path)
    with pytest.raises(ValueError, match="no column 'k'"):
        LogisticRegression(formula="y ~ x1 + C(k)").fit(path)
    with pytest.raises(ValueError, match="no column 'label'"):
        LogisticRegression(formula="label ~ x1").fit(path)
    with pytest.raises(ValueError, match="weight column 'v' is not in"):
        LogisticRegression(formula="y ~ x1").fit(path, weight="v")
    with pytest.raises(ValueError, match="target= and features= do not apply"):
        LogisticRegression(formula="y ~ x1").fit(path, target="y")
    with pytest.raises(ValueError, match="weight='column', not y/sample_weight"):
        LogisticRegression(formula="y ~ x1").fit(path, sample_weight=np.ones(len(data)))
    with pytest.raises(ValueError, match="stateful transform.*'center\\(x1\\)'"):
        LogisticRegression(formula="y ~ center(x1) + C(g)").fit(path)
    with pytest.raises(ValueError, match="categorical factor 'C\\(g \\+ h\\)' reads 2 columns"):
        LogisticRegression(formula="y ~ x1 + C(g + h)").fit(path)
    with pytest.raises(FileNotFoundError, match="no such Parquet"):
        LogisticRegression(formula="y ~ x1").fit(os.fspath(tmp_path / "nowhere.parquet"))
    model = LogisticRegression(formula="y ~ x1 + C(g)").fit(path)
    other = write(data.drop(columns="g"), tmp_path / "no_g.parquet")
    with pytest.raises(ValueError, match="no column 'g'"):
        model.inference(other)
    with pytest.raises(ValueError, match="no column 'g'"):
        model.predict(other)
    unseen = write(data.assign(g=np.where(data.index == 7, "new", data.g)), tmp_path / "unseen.parquet")
    with pytest.raises(ValueError, match="column 'g' .*'new' never seen in training"):
        model.predict(unseen)
    empty = write(data.assign(g=None), tmp_path / "g_null.parquet")
    with pytest.raises(ValueError, match="column 'g' of g_null.parquet has no non-missing value"):
        LogisticRegression(formula="y ~ x1 + C(g)").fit(empty)


# -- dask ------------------------------------------------------------------------------

dd = pytest.importorskip("dask.dataframe")
from test_distributed import client  # noqa: E402, F401


def test_dask_dataframe_fits_as_in_memory(client):  # noqa: F811
    data = with_missing(frame())
    ddf = dd.from_pandas(data, npartitions=4)
    model = LogisticRegression(formula=FORMULA, **TIGHT).fit(ddf)
    ref = LogisticRegression(formula=FORMULA, **TIGHT).fit(data)
    assert_same_fit(model, ref)
    assert model.n_dropped_ == 4 and "C(g)[T.zz]" in model.feature_names_
    result, expected = model.inference(ddf), ref.inference(data)
    assert result.n_dropped == 4 and result.n_obs == expected.n_obs
    np.testing.assert_allclose(result.std_err, expected.std_err, rtol=1e-7)
    complete = data.dropna(subset=["x1", "x2", "g", "h"])
    lazy = model.predict_proba(dd.from_pandas(complete, npartitions=3))
    np.testing.assert_allclose(lazy.compute(), ref.predict_proba(complete), rtol=1e-7)
    np.testing.assert_array_equal(
        model.predict(dd.from_pandas(complete, npartitions=2)).compute(), ref.predict(complete)
    )


def test_dask_weights_labels_and_categoricals(client):  # noqa: F811
    data = frame(seed=4)
    data["k"] = pd.Categorical(np.where(data.x2 > 0.3, "up", "down"), categories=["up", "down", "flat"])
    ddf = dd.from_pandas(data, npartitions=3)
    formula = "y ~ x1 + k + C(g) + x1:x2"
    weights = data.w.to_numpy()
    ref = LogisticRegression(formula=formula, **TIGHT).fit(data, sample_weight=weights)
    for sw in (ddf["w"], weights):  # a dask Series in X's partitions, or an array
        model = LogisticRegression(formula=formula, **TIGHT).fit(ddf, sample_weight=sw)
        assert_same_fit(model, ref)
    assert [n for n in ref.feature_names_ if n.startswith("k[")] == ["k[T.down]", "k[T.flat]"]
    # Without a left side, the labels come as y.
    no_left = LogisticRegression(formula="~ x1 + k + C(g) + x1:x2", **TIGHT).fit(
        ddf, ddf["y"], sample_weight=sw
    )
    assert_same_fit(no_left, ref)


def test_dask_local_scheduler_and_bad_inputs():
    data = with_missing(frame(seed=5))
    ddf = dd.from_pandas(data, npartitions=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import dask

        with dask.config.set(scheduler="threads"):
            model = LogisticRegression(formula=FORMULA, **TIGHT).fit(ddf)
            ref = LogisticRegression(formula=FORMULA, **TIGHT).fit(data)
            assert_same_fit(model, ref)
            with pytest.raises(ValueError, match="'x1'.*missing values.*na_action='raise'"):
                LogisticRegression(formula="y ~ x1 + C(h)", na_action="raise").fit(
                    ddf.assign(y=ddf.y.fillna(0))
                )
            with pytest.raises(ValueError, match="no column 'x9'"):
                LogisticRegression(formula="y ~ x1 + x9").fit(ddf)
            with pytest.raises(ValueError, match="sample_weight must have one value per row of X"):
                LogisticRegression(formula=FORMULA).fit(ddf, sample_weight=np.ones(3))
            with pytest.raises(ValueError, match="sample_weight must come in X's 3 partitions"):
                LogisticRegression(formula=FORMULA).fit(
                    ddf, sample_weight=ddf["w"].repartition(npartitions=2)
                )
