"""Robust and clustered covariances (issue 18): ``inference(cov_type=..., groups=...)``.

Against statsmodels' ``Logit`` / ``MNLogit`` ``fit(cov_type=...)`` on data
sets it ships (Spector; anes96, K = 7; fair, clustered by the husband's
occupation); frequency weights against repeated rows; every row source
(in memory, streamed in chunks, Dask) against each other; extra memory that
does not grow with n; and bad input.
"""

import tracemalloc
import warnings

import numpy as np
import pytest

from fastlogit import LogisticRegression
from fastlogit.matrix import HESSIAN_BLOCK, score_group_sums, score_outer_sum

sm = pytest.importorskip("statsmodels.api")

RTOL = 1e-6


def fit(X, y, sample_weight=None, **params):
    params = {"C": np.inf, "tol": 1e-11, "max_iter": 500, "solver": "newton", **params}
    return LogisticRegression(**params).fit(X, y, sample_weight=sample_weight)


def spector():
    d = sm.datasets.spector.load_pandas().data
    return d[["GPA", "TUCE", "PSI"]].to_numpy(), d["GRADE"].to_numpy().astype(int)


def anes96():
    d = sm.datasets.anes96.load_pandas().data
    return d[["logpopul", "selfLR", "age", "educ", "income"]].to_numpy(float), d["PID"].to_numpy()


def fair():
    """Affairs (yes/no) with the husband's occupation as a natural cluster (6 groups)."""
    d = sm.datasets.fair.load_pandas().data
    X = d[["rate_marriage", "age", "yrs_married", "children", "religious", "educ"]].to_numpy(float)
    return X, (d["affairs"] > 0).to_numpy().astype(int), d["occupation_husb"].to_numpy()


def statsmodels_fit(X, y, cov_type, groups=None):
    model = sm.Logit if len(np.unique(y)) == 2 else sm.MNLogit
    kwds = {"cov_kwds": {"groups": groups}} if cov_type == "cluster" else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model(y, sm.add_constant(X)).fit(
            disp=0, method="newton", maxiter=200, tol=1e-12, cov_type=cov_type, **kwds
        )


def assert_matches(result, expected):
    """se, z, p and the intervals of our result against statsmodels' results."""
    bse, tvalues, pvalues = (np.asarray(a) for a in (expected.bse, expected.tvalues, expected.pvalues))
    ci = np.asarray(expected.conf_int())  # (p, 2); MNLogit (equations, p, 2)
    if not result.binary:  # statsmodels: (parameters, equations); ours: (equations, parameters)
        bse, tvalues, pvalues = bse.T, tvalues.T, pvalues.T
    np.testing.assert_allclose(result.std_err, bse, rtol=RTOL)
    np.testing.assert_allclose(result.z, tvalues, rtol=RTOL)
    np.testing.assert_allclose(result.p_value, pvalues, rtol=RTOL, atol=1e-300)
    np.testing.assert_allclose(result.conf_int, ci, rtol=RTOL)


@pytest.mark.parametrize("cov_type", ["nonrobust", "HC0", "HC1", "cluster"])
def test_spector_against_statsmodels(cov_type):
    X, y = spector()
    groups = np.arange(len(y)) % 7 if cov_type == "cluster" else None
    res = fit(X, y).inference(X, y, cov_type=cov_type, groups=groups)
    assert res.covariance_type == cov_type
    assert_matches(res, statsmodels_fit(X, y, cov_type, groups))


@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_fair_clustered_by_occupation_against_statsmodels(cov_type):
    X, y, occupation = fair()
    groups = occupation if cov_type == "cluster" else None
    res = fit(X, y).inference(X, y, cov_type=cov_type, groups=groups)
    expected = statsmodels_fit(
        X, y, cov_type, None if groups is None else np.unique(groups, return_inverse=True)[1]
    )
    assert_matches(res, expected)
    if cov_type == "cluster":
        assert res.n_groups == 6
        assert "6 groups" in res.summary()


@pytest.mark.parametrize("cov_type", ["HC0", "HC1", "cluster"])
def test_anes96_softmax_against_statsmodels(cov_type):
    X, y = anes96()
    groups = np.arange(len(y)) // 20 if cov_type == "cluster" else None
    res = fit(X, y).inference(X, y, cov_type=cov_type, groups=groups)
    assert_matches(res, statsmodels_fit(X, y, cov_type, groups))


def test_summary_and_frame_name_the_covariance_type():
    X, y = spector()
    res = fit(X, y).inference(X, y, cov_type="hc1")
    assert res.covariance_type == "HC1"
    text = res.summary()
    assert "Covariance Type:" in text and "HC1" in text and "heteroscedasticity robust" in text
    assert res.to_frame().attrs["covariance_type"] == "HC1"
    assert fit(X, y).inference(X, y).to_frame().attrs["covariance_type"] == "nonrobust"


@pytest.mark.parametrize("K", [2, 3])
@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_frequency_weights_equal_repeated_rows(K, cov_type):
    rng = np.random.default_rng(5)
    n = 300
    X = rng.standard_normal((n, 3))
    y = rng.integers(0, K, n)
    groups = rng.integers(0, 9, n)
    counts = rng.integers(1, 4, n)
    repeat = np.repeat(np.arange(n), counts)
    weighted = fit(X, y, sample_weight=counts.astype(float)).inference(
        X,
        y,
        sample_weight=counts.astype(float),
        cov_type=cov_type,
        groups=groups if cov_type == "cluster" else None,
    )
    repeated = fit(X[repeat], y[repeat]).inference(
        X[repeat], y[repeat], cov_type=cov_type, groups=groups[repeat] if cov_type == "cluster" else None
    )
    np.testing.assert_allclose(weighted.std_err, repeated.std_err, rtol=1e-7)


@pytest.mark.parametrize("K", [2, 4])
@pytest.mark.parametrize("cov_type", ["HC0", "cluster"])
def test_streamed_chunks_and_dask_equal_in_memory(K, cov_type):
    rng = np.random.default_rng(6)
    n = 2_000
    X = rng.standard_normal((n, 4))
    y = rng.integers(0, K, n)
    sw = rng.random(n) + 0.5
    groups = rng.integers(0, 40, n) if cov_type == "cluster" else None
    model = fit(X, y, sample_weight=sw)
    expected = model.inference(X, y, sample_weight=sw, cov_type=cov_type, groups=groups)
    chunks = [(X[lo : lo + 300], y[lo : lo + 300], sw[lo : lo + 300]) for lo in range(0, n, 300)]
    streamed = model.inference(chunks, cov_type=cov_type, groups=groups)
    np.testing.assert_allclose(streamed.std_err, expected.std_err, rtol=1e-10)
    da = pytest.importorskip("dask.array")
    on_dask = model.inference(
        da.from_array(X, chunks=(512, 4)),
        da.from_array(y, chunks=512),
        sample_weight=da.from_array(sw, chunks=512),
        cov_type=cov_type,
        groups=groups,
    )
    np.testing.assert_allclose(on_dask.std_err, expected.std_err, rtol=1e-10)


def test_cluster_labels_from_a_parquet_column(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y, occupation = fair()
    table = {f"f{j}": X[:, j] for j in range(X.shape[1])}
    table.update(label=y, occupation=occupation)
    path = tmp_path / "fair.parquet"
    pq.write_table(pa.table(table), path, row_group_size=1000)
    features = [f"f{j}" for j in range(X.shape[1])]
    model = LogisticRegression(C=np.inf, solver="newton", tol=1e-11).fit(
        str(path), target="label", features=features
    )
    streamed = model.inference(
        str(path), target="label", features=features, cov_type="cluster", groups="occupation"
    )
    expected = fit(X, y).inference(X, y, cov_type="cluster", groups=occupation)
    np.testing.assert_allclose(streamed.std_err, expected.std_err, rtol=1e-8)
    with pytest.raises(ValueError, match="groups column 'job' is not in"):
        model.inference(str(path), target="label", features=features, cov_type="cluster", groups="job")
    with pytest.raises(ValueError, match="names a column, which applies to Parquet data"):
        fit(X, y).inference(X, y, cov_type="cluster", groups="occupation")


@pytest.mark.parametrize("K", [2, 5])
def test_robust_sums_against_numpy(K):
    # The meat and the group sums from an explicit n x p score matrix (small n).
    rng = np.random.default_rng(7)
    n, d, G = 500, 3, 11
    X = rng.standard_normal((n, d))
    y = rng.integers(0, K, n)
    sw = rng.random(n)
    groups = rng.integers(0, G, n)
    Xt = np.column_stack([X, np.ones(n)])
    if K == 2:
        coef, b = rng.standard_normal(d), 0.3
        R = (y - 1 / (1 + np.exp(-(X @ coef + b))))[:, None]
    else:
        coef, b = rng.standard_normal((K, d)), rng.standard_normal(K)
        Z = X @ coef.T + b
        P = np.exp(Z - Z.max(axis=1, keepdims=True))
        P /= P.sum(axis=1, keepdims=True)
        R = np.eye(K)[y] - P
    scores = (R[:, :, None] * Xt[:, None, :]).reshape(n, -1)  # class-major: k (d + 1) + j
    np.testing.assert_allclose(
        score_outer_sum(X, y, coef, b, sw), (scores * sw[:, None]).T @ scores, rtol=1e-12
    )
    expected = np.zeros((G, scores.shape[1]))
    np.add.at(expected, groups, scores * sw[:, None])
    np.testing.assert_allclose(
        score_group_sums(X, y, coef, b, sw, groups, G), expected, rtol=1e-12, atol=1e-12
    )


def peak_bytes(call):
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("K", [2, 4])
def test_extra_memory_of_the_robust_sums_does_not_grow_with_n(K):
    rng = np.random.default_rng(8)
    d = 20
    peaks = []
    for n in (4 * HESSIAN_BLOCK, 16 * HESSIAN_BLOCK):
        X = rng.standard_normal((n, d))
        y = rng.integers(0, K, n).astype(np.intp)
        groups = rng.integers(0, 50, n).astype(np.intp)
        coef = rng.standard_normal(d) if K == 2 else rng.standard_normal((K, d))
        b = 0.0 if K == 2 else np.zeros(K)
        args = (X, y, coef, b, None)
        outer = peak_bytes(lambda args=args: score_outer_sum(*args))
        sums = peak_bytes(lambda args=args, groups=groups: score_group_sums(*args, groups, 50))
        peaks.append(max(outer, sums))
    assert peaks[1] < 1.2 * peaks[0] + 2**16, peaks  # 4x the rows, the same extra memory
    assert peaks[1] < 0.25 * X.nbytes


def test_bad_input_names_the_argument():
    X, y = spector()
    model = fit(X, y)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        model.inference(X, y, cov_type="HC9")
    with pytest.raises(ValueError, match="needs groups="):
        model.inference(X, y, cov_type="cluster")
    with pytest.raises(ValueError, match="groups has 31 labels, but the data has 32 rows"):
        model.inference(X, y, cov_type="cluster", groups=np.arange(31))
    with pytest.raises(ValueError, match="groups contains NaN"):
        model.inference(X, y, cov_type="cluster", groups=np.where(np.arange(32) == 4, np.nan, 1.0))
    with pytest.raises(ValueError, match="groups contains a missing label"):
        model.inference(X, y, cov_type="cluster", groups=np.array(["a", None] * 16, dtype=object))
    with pytest.raises(ValueError, match="at least 2 groups"):
        model.inference(X, y, cov_type="cluster", groups=np.zeros(32))
    with pytest.raises(ValueError, match="groups= applies to cov_type='cluster'"):
        model.inference(X, y, cov_type="HC0", groups=np.arange(32) % 2)
    with pytest.raises(ValueError, match="groups must be 1-d"):
        model.inference(X, y, cov_type="cluster", groups=np.zeros((32, 2)))
    with pytest.raises(TypeError, match="unexpected keyword argument.*'bogus'"):
        model.inference(X, y, cov_type="HC1", bogus=3)
