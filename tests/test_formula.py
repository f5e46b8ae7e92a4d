"""Formulas and categorical columns (issue 22): against statsmodels' formula API.

Unpenalized fits of a formula on a data frame give statsmodels' ``smf.logit``
/ ``smf.mnlogit`` coefficients, standard errors and log-likelihood, under the
same names in the same order; new frames are encoded as the training frame
was; bad frames raise errors that name the column.
"""

import pickle
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score

import fastlogit
from fastlogit import LogisticRegression
from fastlogit.formula import FormulaSpec, build, check_frame

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")
sm = pytest.importorskip("statsmodels.api")
smf = pytest.importorskip("statsmodels.formula.api")

RTOL = 1e-6
TIGHT = dict(C=np.inf, solver="newton", tol=1e-10, max_iter=200)


def spector():
    return sm.datasets.spector.load_pandas().data


def anes96():
    data = sm.datasets.anes96.load_pandas().data
    school = np.where(data.educ <= 3, "high school", np.where(data.educ <= 5, "college", "graduate"))
    return data.assign(school=school)


def categorical_frame(n=600, seed=0):
    """Two numeric columns, a 5-level string column and a 3-level one; y from a model
    with a level effect and an interaction."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "x2": rng.normal(size=n),
            "g": rng.choice(["a", "b", "c", "d", "e"], n),
            "h": rng.choice(["p", "q", "r"], n),
        }
    )
    effect = frame.g.map(dict(a=0.0, b=0.5, c=-0.5, d=1.0, e=-1.0)).to_numpy()
    z = 0.3 + 0.8 * frame.x1 - 0.6 * frame.x2 + effect + 0.4 * frame.x1 * frame.x2
    frame["y"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return frame


def sm_logit(formula, data, **kwargs):
    return smf.logit(formula, data, **kwargs).fit(disp=0, method="newton", tol=1e-12, maxiter=200)


def assert_matches_statsmodels(model, ref, data):
    result = model.inference(data)
    assert result.parameter_names == list(ref.params.index)
    np.testing.assert_allclose(result.coef, ref.params.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(result.std_err, ref.bse.to_numpy(), rtol=RTOL)
    np.testing.assert_allclose(result.log_likelihood, ref.llf, rtol=1e-8)
    assert result.n_obs == ref.nobs
    return result


# -- against statsmodels ---------------------------------------------------------------


@pytest.mark.parametrize(
    "formula",
    ["GRADE ~ GPA + TUCE + C(PSI)", "GRADE ~ GPA + TUCE + C(PSI) + GPA:TUCE", "GRADE ~ GPA*C(PSI) + TUCE"],
)
def test_spector_formula_matches_statsmodels_logit(formula):
    data = spector()
    model = LogisticRegression(formula=formula, **TIGHT).fit(data)
    ref = sm_logit(formula, data)
    assert model.feature_names_ == list(ref.params.index[1:])  # statsmodels' names and order
    np.testing.assert_allclose(model.intercept_[0], ref.params["Intercept"], rtol=RTOL)
    np.testing.assert_allclose(model.coef_[0], ref.params.to_numpy()[1:], rtol=RTOL)
    result = assert_matches_statsmodels(model, ref, data)
    frame = result.to_frame()
    assert list(frame.index) == list(ref.params.index)
    text = result.summary()
    assert "C(PSI)[T.1.0]" in text and "Intercept" in text and "const" not in text


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x1 + x2 + C(g) + x1:x2",
        "y ~ x1 + x2 + g + h + x1:g",
        "y ~ x2 + g:x1 + h",  # g coded in full inside the interaction (no g main effect)
        "y ~ C(g) + x1 + x2 - 1",
    ],
)
def test_categorical_frame_matches_statsmodels_logit(formula):
    data = categorical_frame()
    model = fastlogit.logit(formula, data, solver="newton", tol=1e-10, max_iter=200)
    ref = sm_logit(formula, data)
    names = [n for n in ref.params.index if n != "Intercept"]
    assert model.feature_names_ == names
    assert model.n_features_in_ == len(names) and not hasattr(model, "feature_names_in_")
    result = assert_matches_statsmodels(model, ref, data)
    assert result.fit_intercept == ("Intercept" in ref.params.index)
    if "- 1" in formula:
        assert not model.formula_spec_.fit_intercept and model.intercept_.tolist() == [0.0]


def test_softmax_formula_matches_statsmodels_mnlogit():
    data = anes96()
    formula = "PID ~ logpopul + selfLR + age + C(school) + income + age:income"
    model = fastlogit.logit(formula, data, solver="newton", tol=1e-10, max_iter=200)
    ref = smf.mnlogit(formula, data).fit(disp=0, method="newton", tol=1e-12, maxiter=200)
    result = model.inference(data)
    assert model.feature_names_ == list(ref.params.index[1:])
    assert result.parameter_names == list(ref.params.index)
    # MNLogit's params are (p, K - 1), one column per class against the first.
    np.testing.assert_allclose(result.coef, ref.params.to_numpy().T, rtol=RTOL)
    np.testing.assert_allclose(result.std_err, ref.bse.to_numpy().T, rtol=RTOL)
    np.testing.assert_allclose(result.log_likelihood, ref.llf, rtol=1e-8)
    frame = result.to_frame()
    assert list(frame.loc[1.0].index) == list(ref.params.index)
    assert "C(school)[T.high school]" in result.summary()


def test_prediction_intervals_take_a_frame_and_match_statsmodels():
    data = spector()
    formula = "GRADE ~ GPA + TUCE + C(PSI)"
    model = LogisticRegression(formula=formula, **TIGHT).fit(data)
    new = data.iloc[[0, 5, 17, 30]]
    band = model.inference(data).predict(new).summary_frame()
    ref = sm_logit(formula, data).get_prediction(new).summary_frame()
    np.testing.assert_allclose(band["predicted"], ref["predicted"], rtol=RTOL)
    np.testing.assert_allclose(band["se"], ref["se"], rtol=RTOL)
    np.testing.assert_allclose(band[["ci_lower", "ci_upper"]], ref[["ci_lower", "ci_upper"]], rtol=RTOL)


def test_margins_and_wald_tests_use_the_formula_names():
    data = spector()
    formula = "GRADE ~ GPA + TUCE + C(PSI)"
    result = LogisticRegression(formula=formula, **TIGHT).fit(data).inference(data)
    ref = sm_logit(formula, data)
    margins = result.get_margeff(data).summary_frame()
    expected = ref.get_margeff().summary_frame()
    assert list(margins.index) == list(expected.index)
    np.testing.assert_allclose(margins["dy/dx"], expected["dy/dx"], rtol=RTOL)
    np.testing.assert_allclose(margins["std_err"], expected["Std. Err."], rtol=RTOL)
    restriction = "C(PSI)[T.1.0] = 0, GPA = TUCE"
    test = result.wald_test(restriction)
    np.testing.assert_allclose(test.statistic, ref.wald_test(restriction, scalar=True).statistic, rtol=RTOL)


# -- the design ---------------------------------------------------------------------


def test_design_is_csr_for_many_levels_and_dense_for_numeric_columns():
    data = categorical_frame()
    _, sparse = build("y ~ x1 + C(g) + C(h) + x1:C(g)", data)
    assert scipy.sparse.isspmatrix_csr(sparse.X) and sparse.X.dtype == np.float64
    _, dense = build("y ~ x1 + x2 + x1:x2", data)
    assert isinstance(dense.X, np.ndarray) and dense.X.flags.c_contiguous
    np.testing.assert_array_equal(dense.X, np.column_stack([data.x1, data.x2, data.x1 * data.x2]))


def test_new_frames_are_encoded_as_the_training_frame():
    data = categorical_frame()
    formula = "y ~ x1 + x2 + C(g) + h + x1:g"
    spec, design = build(formula, data)
    training = design.X.toarray()
    # Columns reordered, rows shuffled, the label column absent.
    order = np.random.default_rng(1).permutation(len(data))
    new = data.iloc[order][["h", "x2", "g", "x1"]]
    np.testing.assert_array_equal(
        spec.design(new, labels=False, na_action="raise").X.toarray(), training[order]
    )
    # A subset of the levels: the same columns, not fewer.
    subset = np.flatnonzero(data.g.isin(["b", "c"]).to_numpy())
    encoded = spec.design(data.iloc[subset], labels=False, na_action="raise").X
    assert encoded.shape[1] == training.shape[1]
    np.testing.assert_array_equal(encoded.toarray(), training[subset])
    # The model predicts a reordered frame as the rows it came from.
    model = LogisticRegression(formula=formula, C=np.inf, solver="newton").fit(data)
    np.testing.assert_array_equal(model.predict_proba(new), model.predict_proba(data)[order])
    np.testing.assert_array_equal(model.predict(new), model.predict(data)[order])
    np.testing.assert_allclose(model.decision_function(data), design.X @ model.coef_[0] + model.intercept_[0])


def test_a_categorical_dtype_column_is_encoded_by_its_levels():
    data = categorical_frame()
    categorical = data.assign(g=pd.Categorical(data.g, categories=["a", "b", "c", "d", "e"]))
    plain = LogisticRegression(formula="y ~ x1 + g", C=np.inf, solver="newton").fit(data)
    typed = LogisticRegression(formula="y ~ x1 + g", C=np.inf, solver="newton").fit(categorical)
    assert typed.feature_names_ == plain.feature_names_
    np.testing.assert_allclose(typed.coef_, plain.coef_, rtol=1e-10)
    np.testing.assert_allclose(typed.predict_proba(data), plain.predict_proba(data), rtol=1e-10)


def test_labels_from_a_string_column_and_from_an_expression():
    data = spector()
    numeric = LogisticRegression(formula="GRADE ~ GPA + TUCE + C(PSI)", **TIGHT).fit(data)
    words = data.assign(passed=np.where(data.GRADE == 1, "yes", "no"))
    named = LogisticRegression(formula="passed ~ GPA + TUCE + C(PSI)", **TIGHT).fit(words)
    assert named.classes_.tolist() == ["no", "yes"]
    np.testing.assert_allclose(named.coef_, numeric.coef_, rtol=1e-10)
    assert named.score(words) == numeric.score(data)
    expression = LogisticRegression(formula="I(GRADE > 0) ~ GPA + TUCE + C(PSI)", **TIGHT).fit(data)
    np.testing.assert_allclose(expression.coef_, numeric.coef_, rtol=1e-10)


def test_formula_without_left_side_takes_y():
    data = spector()
    with_lhs = LogisticRegression(formula="GRADE ~ GPA + C(PSI)", **TIGHT).fit(data)
    without = LogisticRegression(formula="~ GPA + C(PSI)", **TIGHT).fit(
        data.drop(columns="GRADE"), data.GRADE
    )
    np.testing.assert_allclose(without.coef_, with_lhs.coef_, rtol=1e-12)
    assert without.score(data, data.GRADE) == with_lhs.score(data)
    with pytest.raises(ValueError, match="no left side: pass y"):
        LogisticRegression(formula="~ GPA").fit(data)
    with pytest.raises(ValueError, match="y must be None"):
        LogisticRegression(formula="GRADE ~ GPA").fit(data, data.GRADE)


def test_intercept_comes_from_the_formula():
    data = spector()
    for formula in ("GRADE ~ GPA + TUCE - 1", "GRADE ~ 0 + GPA + TUCE"):
        model = LogisticRegression(formula=formula, **TIGHT).fit(data)
        ref = sm_logit(formula, data)
        assert model.intercept_.tolist() == [0.0] and model.feature_names_ == ["GPA", "TUCE"]
        np.testing.assert_allclose(model.coef_[0], ref.params.to_numpy(), rtol=RTOL)
        assert model.inference(data).parameter_names == ["GPA", "TUCE"]
    # fit_intercept=False is allowed with a formula that has none, refused with one that has one.
    LogisticRegression(formula="GRADE ~ GPA - 1", fit_intercept=False).fit(data)
    with pytest.raises(ValueError, match="fit_intercept=False, but formula"):
        LogisticRegression(formula="GRADE ~ GPA", fit_intercept=False).fit(data)


# -- missing values ------------------------------------------------------------------


def frame_with_missing():
    data = categorical_frame()
    data.loc[[3, 40], "x1"] = np.nan
    data.loc[7, "g"] = None
    data["y"] = data.y.astype(float)
    data.loc[11, "y"] = np.nan
    data["unused"] = np.nan  # not in the formula: drops nothing
    return data


def test_rows_with_missing_values_are_dropped_and_counted():
    data = frame_with_missing()
    formula = "y ~ x1 + x2 + C(g) + x1:x2"
    weights = np.linspace(0.5, 2.0, len(data))
    model = LogisticRegression(formula=formula, **TIGHT).fit(data, sample_weight=weights)
    assert model.n_dropped_ == 4
    kept = data.drop(columns="unused").notna().all(axis=1).to_numpy()
    complete = LogisticRegression(formula=formula, **TIGHT).fit(data[kept], sample_weight=weights[kept])
    assert complete.n_dropped_ == 0
    np.testing.assert_allclose(model.coef_, complete.coef_, rtol=1e-12)
    result = model.inference(data)
    assert result.n_dropped == 4 and result.n_obs == kept.sum()
    assert "4 row(s) with missing values dropped" in result.summary()
    ref = sm_logit(formula, data.drop(columns="unused"), missing="drop")
    unweighted = LogisticRegression(formula=formula, **TIGHT).fit(data)
    assert_matches_statsmodels(unweighted, ref, data)
    assert unweighted.score(data) == unweighted.score(data[kept])
    # Rows are dropped by position, whatever the frame's index.
    relabelled = data.set_index(np.arange(len(data))[::-1] * 3)
    again = LogisticRegression(formula=formula, **TIGHT).fit(relabelled, sample_weight=weights)
    np.testing.assert_array_equal(again.coef_, model.coef_)


def test_na_action_raise_names_the_column():
    data = frame_with_missing()
    with pytest.raises(ValueError, match="'x1'.*missing values.*na_action='raise'"):
        LogisticRegression(formula="y ~ x1 + x2", na_action="raise").fit(data.assign(y=data.y.fillna(0)))
    with pytest.raises(ValueError, match=r"labels \(y\) have 1 missing"):
        LogisticRegression(formula="y ~ x2", na_action="raise").fit(data)
    with pytest.raises(ValueError, match="na_action"):
        LogisticRegression(formula="y ~ x2", na_action="omit").fit(data)


def test_prediction_with_missing_values_raises_naming_the_column():
    data = categorical_frame()
    model = LogisticRegression(formula="y ~ x1 + C(g)").fit(data)
    with pytest.raises(ValueError, match="'x1'.*missing values"):
        model.predict_proba(data.assign(x1=np.where(data.index == 2, np.nan, data.x1)))


# -- bad frames ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def fitted():
    data = categorical_frame()
    return data, LogisticRegression(formula="y ~ x1 + x2 + C(g) + h").fit(data)


def test_unseen_level_raises_naming_column_and_level(fitted):
    data, model = fitted
    new = data.assign(g=np.where(data.index == 4, "zz", data.g))
    for method in (model.predict, model.predict_proba, model.decision_function, model.score):
        with pytest.raises(ValueError, match=r"column 'g' .*'zz' never seen in training"):
            method(new)
    with pytest.raises(ValueError, match=r"column 'h' .*'s'"):
        model.inference(data.assign(h=np.where(data.index == 0, "s", data.h)))


def test_missing_column_raises_naming_it(fitted):
    data, model = fitted
    with pytest.raises(ValueError, match="no column 'x2'"):
        model.predict(data.drop(columns="x2"))
    with pytest.raises(ValueError, match="no column 'g'"):
        model.predict_proba(data.drop(columns="g"))
    with pytest.raises(ValueError, match="no column 'y'"):
        model.score(data.drop(columns="y"))
    with pytest.raises(ValueError, match="no column 'x9'"):
        LogisticRegression(formula="y ~ x1 + x9").fit(data)
    with pytest.raises(ValueError, match="no column 'k'"):
        LogisticRegression(formula="y ~ x1 + C(k)").fit(data)


def test_wrong_dtype_raises_naming_the_column(fitted):
    data, model = fitted
    with pytest.raises(ValueError, match="column 'x1' of X has dtype .* numeric"):
        model.predict(data.assign(x1=data.x1.astype(str)))


def test_non_frames_raise_type_error(fitted):
    data, model = fitted
    with pytest.raises(TypeError, match="pandas DataFrame"):
        LogisticRegression(formula="y ~ x1").fit(data.to_numpy())
    with pytest.raises(TypeError, match="pandas DataFrame"):
        model.predict(data[["x1", "x2"]].to_numpy())
    polars_like = type("DataFrame", (), {"__module__": "polars.dataframe.frame"})()
    with pytest.raises(TypeError, match=r"\.to_pandas\(\)"):
        check_frame(polars_like)
    with pytest.raises(TypeError, match="formula"):
        LogisticRegression(formula=3).fit(data)
    with pytest.raises(ValueError, match="cannot be parsed"):
        LogisticRegression(formula="y ~ (x1").fit(data)
    with pytest.raises(ValueError, match="sample_weight must have one value per row"):
        LogisticRegression(formula="y ~ x1").fit(data, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="partial_fit takes arrays"):
        LogisticRegression(formula="y ~ x1").partial_fit(data, data.y, classes=[0, 1])


def test_dask_arrays_are_refused_by_a_formula_model(fitted):
    # dask DataFrames are fitted and predicted (tests/test_formula_scale.py); a dask
    # array has no columns for the formula to read.
    da = pytest.importorskip("dask.array")
    data, model = fitted
    X = da.from_array(data[["x1", "x2"]].to_numpy(), chunks=100)
    with pytest.raises(TypeError, match="fitted on a formula"):
        model.predict(X)
    with pytest.raises(TypeError, match="dask DataFrame"):
        LogisticRegression(formula="y ~ x1").fit(X)
    with pytest.raises(TypeError, match="score takes a pandas DataFrame"):
        model.score(pytest.importorskip("dask.dataframe").from_pandas(data, npartitions=2))


def test_missing_formulaic_raises_import_error_with_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "formulaic", None)
    with pytest.raises(ImportError, match=r'pip install "fastlogit\[formula\]"'):
        LogisticRegression(formula="GRADE ~ GPA").fit(spector())


# -- scikit-learn tools, pickling --------------------------------------------------


def test_clone_and_cross_val_score_take_the_labels_from_the_frame():
    data = categorical_frame()
    model = LogisticRegression(formula="y ~ x1 + x2 + C(g)", na_action="raise", C=0.5)
    twin = clone(model)
    assert twin.get_params()["formula"] == "y ~ x1 + x2 + C(g)" and twin.get_params()["na_action"] == "raise"
    scores = cross_val_score(model, data, cv=3)
    # The same folds on the design matrix built by hand (every fold sees every level).
    _, design = build("y ~ x1 + x2 + C(g)", data)
    by_hand = cross_val_score(LogisticRegression(C=0.5), design.X, design.y, cv=KFold(3))
    np.testing.assert_allclose(scores, by_hand, rtol=1e-12)


def test_refit_without_formula_forgets_the_formula():
    data = spector()
    model = LogisticRegression(formula="GRADE ~ GPA + C(PSI)").fit(data)
    assert hasattr(model, "formula_spec_")
    model.set_params(formula=None).fit(data[["GPA", "TUCE"]], data.GRADE)
    for name in ("formula_spec_", "feature_names_", "n_dropped_"):
        assert not hasattr(model, name)
    assert list(model.feature_names_in_) == ["GPA", "TUCE"]
    assert model.inference(data[["GPA", "TUCE"]], data.GRADE).parameter_names == ["const", "GPA", "TUCE"]


def test_logit_shortcut_fits_without_penalty():
    data = spector()
    model = fastlogit.logit("GRADE ~ GPA + TUCE + C(PSI)", data, solver="newton", tol=1e-10)
    assert isinstance(model, LogisticRegression) and model.C == np.inf
    np.testing.assert_allclose(
        model.coef_[0], sm_logit("GRADE ~ GPA + TUCE + C(PSI)", data).params[1:], rtol=RTOL
    )
    assert fastlogit.logit("GRADE ~ GPA", data, C=1.0).C == 1.0
    assert "logit" in fastlogit.__all__


def test_pickled_formula_model_predicts_the_same_in_a_new_process(tmp_path):
    data = categorical_frame()
    model = LogisticRegression(formula="y ~ x1 + x2 + C(g) + h + x1:g", C=np.inf, solver="newton").fit(data)
    assert isinstance(model.formula_spec_, FormulaSpec)
    (tmp_path / "model.pkl").write_bytes(pickle.dumps(model))
    data.to_pickle(tmp_path / "data.pkl")
    script = f"""
import pickle, sys
import numpy as np, pandas as pd
import fastlogit
fastlogit.LogisticRegression
assert "formulaic" not in sys.modules, "import fastlogit imported formulaic"
model = pickle.loads(open({str(tmp_path / "model.pkl")!r}, "rb").read())
data = pd.read_pickle({str(tmp_path / "data.pkl")!r})
np.save({str(tmp_path / "proba.npy")!r}, model.predict_proba(data.iloc[::-1]))
"""
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
    np.testing.assert_array_equal(np.load(tmp_path / "proba.npy"), model.predict_proba(data.iloc[::-1]))


def test_no_warning_on_clean_frames():
    data = categorical_frame()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LogisticRegression(formula="y ~ x1 + C(g) + x1:x2", C=np.inf, solver="newton").fit(data)
        model.predict_proba(data.iloc[:10])


# -- the split design: categorical terms as codes --------------------------------------

#: Formulas whose designs split: (formula, the coded terms' column counts, dense block width).
SPLIT_FORMULAS = [
    ("y ~ x1 + x2 + C(g) + x1:x2", [4], 3),
    ("y ~ x1 + x2 + g + h + x1:g", [4, 2], 6),  # x1:g's 4 columns in the dense block
    ("y ~ x2 + g:x1 + h", [2], 6),
    ("y ~ C(g) + x1 + x2 - 1", [5], 2),  # no intercept: the first categorical in full
    ("y ~ C(g) + C(h) - 1", [5, 2], 0),
    ("y ~ C(g, Treatment('c')) + x1", [4], 1),
    ("y ~ C(g):C(h) + C(g) + C(h)", [4, 2, 8], 0),  # the interaction's columns: pairs of levels
]


def split_design_of(X):
    from fastlogit.split import SplitDesign

    return SplitDesign(X.dense, X.codes.T, X.n_levels, column_order=X.column_order, n_samples=X.shape[0])


def as_dense(X):
    return X.toarray() if scipy.sparse.issparse(X) else np.asarray(X)


@pytest.mark.parametrize("formula, levels, width", SPLIT_FORMULAS)
def test_split_design_is_the_csr_design_as_codes(formula, levels, width):
    from fastlogit.formula import SplitMatrix

    data = frame_with_missing()
    spec, csr = build(formula, data)
    split_spec, split = build(formula, data, split=True)
    assert split_spec.feature_names == spec.feature_names
    assert isinstance(split.X, SplitMatrix)
    X = split.X
    assert X.codes.dtype == np.int32 and X.codes.shape == (len(split.rows), len(levels))
    assert X.n_levels.tolist() == levels and X.dense.shape[1] == width
    assert X.dense.dtype == np.float64 and X.dense.flags.c_contiguous
    np.testing.assert_array_equal(split.rows, csr.rows)
    assert split.n_dropped == csr.n_dropped
    np.testing.assert_array_equal(split.y, csr.y)
    np.testing.assert_array_equal(split_design_of(X).to_dense(), as_dense(csr.X))
    # New frames (rows reordered, columns reordered, the label column absent) alike.
    new = data.iloc[np.random.default_rng(2).permutation(len(data))][["h", "x2", "g", "x1"]].dropna()
    expected = spec.design(new, labels=False, na_action="raise").X
    encoded = split_spec.design(new, labels=False, na_action="raise", split=True).X
    assert isinstance(encoded, SplitMatrix)
    np.testing.assert_array_equal(split_design_of(encoded).to_dense(), as_dense(expected))


def tricky_frame():
    """Columns the direct route reads off the frame: a categorical dtype with an unused
    category, bools, integers, a nullable integer column with a missing value, a level
    ("f") present only in a row dropped for a missing value elsewhere."""
    data = frame_with_missing()
    n = len(data)
    rng = np.random.default_rng(3)
    data["c"] = pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi", "never"])
    data["b"] = rng.random(n) < 0.4
    data["k"] = rng.integers(1, 4, n)
    data["m"] = pd.array(rng.integers(0, 5, n), dtype="Int64")
    data.loc[5, "m"] = pd.NA
    data["g"] = data["g"].astype(object)
    data.loc[40, "g"] = "f"  # row 40 has x1 missing: "f" is no level
    return data


#: Formulas through the direct route (codes read off the frame) and two that are not
#: (an expression dropping rows of its own; a product of categoricals).
DIRECT_FORMULAS = [
    "y ~ x1 + x2 + C(g) + x1:x2",
    "y ~ x1 + C(c) + C(b) + C(k) + m",
    "y ~ C(g, Treatment('c')) + x1:C(h) + x2 - 1",
    "y ~ c + h + b + x1:m",
    "y ~ C(g) + np.log(x2 + 1)",  # log of x2 + 1 <= 0 is a missing value: rows dropped
    "y ~ C(g):C(h) + C(g) + C(h) + x1",
]


@pytest.mark.filterwarnings("ignore:invalid value encountered in log")
@pytest.mark.parametrize("formula", DIRECT_FORMULAS)
def test_codes_read_off_the_frame_equal_formulaics_design(formula, monkeypatch):
    import fastlogit.formula

    data = tricky_frame()
    spec, direct = build(formula, data, split=True)
    new = data.iloc[np.random.default_rng(4).permutation(len(data))[:200]]
    new = new[list(reversed(new.columns))].drop(columns="y")
    encoded = spec.design(new, labels=False, na_action="drop", split=True)
    uses_direct = getattr(spec.split, "direct", None) is not None
    assert uses_direct == ("C(h)" not in formula.split(" + ")[0] and ":C(h) + C(g)" not in formula)
    with monkeypatch.context() as m:
        m.setattr(fastlogit.formula, "_build_direct", lambda *args: None)
        full_spec, full = build(formula, data, split=True)
    assert spec.feature_names == full_spec.feature_names and spec.dense == full_spec.dense
    assert getattr(full_spec.split, "direct", None) is None
    for got, want in (
        (direct, full),
        (encoded, full_spec.design(new, labels=False, na_action="drop", split=True)),
    ):
        np.testing.assert_array_equal(np.asarray(got.rows), np.asarray(want.rows))
        assert got.n_dropped == want.n_dropped
        np.testing.assert_array_equal(split_design_of(got.X).to_dense(), split_design_of(want.X).to_dense())
    np.testing.assert_array_equal(direct.y, full.y)
    assert direct.n_dropped >= 4


def test_codes_read_off_the_frame_name_the_column_of_a_new_level_or_a_missing_value():
    data = tricky_frame()
    spec, _ = build("y ~ x1 + C(c) + C(k)", data, split=True)
    assert spec.split.direct is not None
    new = data.drop(columns="y").iloc[:20].copy()
    new["k"] = new["k"].where(new.index != 4, 9)
    with pytest.raises(ValueError, match=r"column 'k' of X has level\(s\) 9 never seen in training"):
        spec.design(new, labels=False, na_action="drop", split=True)
    new = data.drop(columns="y").iloc[:20].copy()
    new["c"] = new["c"].astype(object)
    new.loc[2, "c"] = None
    with pytest.raises(ValueError, match="column 'c' of X has missing values and na_action='raise'"):
        spec.design(new, labels=False, na_action="raise", split=True)
    design = spec.design(new, labels=False, na_action="drop", split=True)
    assert design.n_dropped == 2 and not {2, 3} & set(np.asarray(design.rows))  # (x1 is missing in row 3)


def test_a_split_design_costs_no_more_than_the_frame():
    """Issue 22's bound: the design of a frame of numeric and categorical columns
    (dense block and codes, built and held) takes no more memory than the frame."""
    import tracemalloc

    n, levels = 200_000, 300
    rng = np.random.default_rng(8)
    data = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(6)})
    data["g"] = np.char.add("g", rng.integers(0, levels, n).astype(str))
    data["h"] = np.char.add("h", rng.integers(0, 5, n).astype(str))
    data["y"] = rng.integers(0, 2, n)
    formula = "y ~ " + " + ".join(f"x{j}" for j in range(6)) + " + C(g) + C(h) + x0:x1"
    build(formula, data.iloc[:1000], split=True)  # (formulaic's imports)
    frame_bytes = data.memory_usage(deep=True).sum()
    tracemalloc.start()
    try:
        _, design = build(formula, data, split=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert design.X.dense.shape == (n, 7) and design.X.codes.shape == (n, 2)
    assert peak <= frame_bytes, f"peak {peak / 2**20:.1f} MiB, frame {frame_bytes / 2**20:.1f} MiB"


def test_the_reference_level_is_code_minus_one_and_without_intercept_the_first_categorical_is_full():
    data = categorical_frame()
    _, design = build("y ~ x1 + C(g) + h", data, split=True)
    levels = np.array(["a", "b", "c", "d", "e"])
    codes = design.X.codes
    np.testing.assert_array_equal(codes[:, 0], np.searchsorted(levels, data.g) - 1)  # "a" -> -1
    np.testing.assert_array_equal(codes[:, 1], np.searchsorted(["p", "q", "r"], data.h) - 1)
    _, design = build("y ~ C(g) + h + x1 - 1", data, split=True)
    np.testing.assert_array_equal(design.X.codes[:, 0], np.searchsorted(levels, data.g))
    np.testing.assert_array_equal(design.X.codes[:, 1], np.searchsorted(["p", "q", "r"], data.h) - 1)


@pytest.mark.parametrize(
    "formula",
    [
        "y ~ x1 + x2 + x1:x2",  # no categorical
        "y ~ C(g, Sum) + x1",  # not indicators: Sum contrasts code the last level -1
        "y ~ C(g):C(h) + x1",  # the interaction's columns hold two ones in a row
    ],
)
def test_designs_that_do_not_split_stay_dense_or_csr(formula):
    data = categorical_frame()
    spec, design = build(formula, data, split=True)
    assert spec.split is None
    assert isinstance(design.X, np.ndarray) or scipy.sparse.isspmatrix_csr(design.X)


def test_a_wide_sparse_dense_block_keeps_the_whole_design_csr():
    rng = np.random.default_rng(5)
    n = 3000
    data = pd.DataFrame(
        {"x": rng.normal(size=n), "g": rng.integers(0, 60, n).astype(str), "y": rng.integers(0, 2, n)}
    )
    # x:C(g) is 60 columns, one non-zero per row: past SPLIT_SPARSE_DENSE_COLUMNS and mostly zeros.
    spec, design = build("y ~ C(g) + x:C(g)", data, split=True)
    assert spec.split is None and scipy.sparse.isspmatrix_csr(design.X)
    spec, design = build("y ~ C(g) + x", data, split=True)
    assert spec.split is not None and design.X.n_levels.tolist() == [59]


def test_indicator_codes_refuse_anything_but_at_most_one_1_per_row():
    from fastlogit.formula import indicator_codes

    def csc(rows):
        return scipy.sparse.csc_matrix(np.array(rows, dtype=float))

    X = csc([[0, 1, 0, 7.5], [0, 0, 0, 1], [1, 0, 0, 0]])
    np.testing.assert_array_equal(indicator_codes(X, 0, 3), [1, -1, 0])
    assert indicator_codes(X, 1, 4) is None  # 7.5 is not an indicator
    assert indicator_codes(csc([[1, 1], [0, 0]]), 0, 2) is None  # two levels in a row
    stored_zero = csc([[1, 0], [0, 1]])
    stored_zero.data[0] = 0.0  # a stored zero is no level
    np.testing.assert_array_equal(indicator_codes(stored_zero, 0, 2), [-1, 1])


def test_a_new_frame_whose_codes_do_not_apply_is_encoded_as_csr(monkeypatch):
    from fastlogit.formula import SplitLayout

    data = categorical_frame()
    model = LogisticRegression(formula="y ~ x1 + C(g) + h", C=np.inf, solver="newton").fit(data)
    expected = model.predict_proba(data)
    monkeypatch.setattr(SplitLayout, "encode", lambda self, X: None)
    monkeypatch.setattr(model.formula_spec_.split, "direct", None)  # formulaic's full design
    design = model.formula_spec_.design(data, labels=False, na_action="raise", split=True)
    assert scipy.sparse.isspmatrix_csr(design.X)
    np.testing.assert_allclose(model.predict_proba(data), expected, rtol=1e-13)


@pytest.fixture
def row_sources(monkeypatch):
    """The row sources the estimator builds, in order."""
    import fastlogit.model

    made = []

    def spy(cls):
        class Spy(cls):
            def __init__(self, *args, **kwargs):
                made.append(self)
                super().__init__(*args, **kwargs)

        return Spy

    for name in ("ArrayRows", "SplitRows"):
        monkeypatch.setattr(fastlogit.model, name, spy(getattr(fastlogit.model, name)))
    return made


def three_class_frame(n=900, seed=3):
    data = categorical_frame(n, seed)
    rng = np.random.default_rng(seed)
    effect = data.g.map(dict(a=0.0, b=0.6, c=-0.4, d=0.9, e=-0.8)).to_numpy()
    z = np.column_stack([0 * effect, 0.5 * data.x1 + effect, -0.7 * data.x2 + 0.3 * data.x1 * data.x2])
    P = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    data["y"] = np.array(["lo", "mid", "hi"])[(P.cumsum(axis=1) < rng.random((n, 1))).sum(axis=1)]
    return data


@pytest.mark.parametrize("frame", [categorical_frame, three_class_frame], ids=["binary", "K=3"])
@pytest.mark.parametrize("C", [np.inf, 2.0], ids=["unpenalized", "C=2"])
def test_a_formula_fit_on_split_rows_equals_the_fit_on_the_csr_design(frame, C, row_sources):
    from fastlogit.split import SplitRows

    data = frame()
    formula = "y ~ x1 + x2 + C(g) + h + x1:x2"
    weights = np.random.default_rng(4).uniform(0.2, 3.0, len(data))
    model = LogisticRegression(formula=formula, C=C, solver="newton", tol=1e-12, max_iter=200)
    model.fit(data, sample_weight=weights)
    assert len(row_sources) == 1 and isinstance(row_sources[0], SplitRows)
    _, design = build(formula, data)
    ref = LogisticRegression(C=C, solver="newton", tol=1e-12, max_iter=200)
    ref.fit(design.X, design.y, sample_weight=weights)
    np.testing.assert_allclose(model.coef_, ref.coef_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.intercept_, ref.intercept_, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(model.predict_proba(data), ref.predict_proba(design.X), rtol=1e-8, atol=1e-12)
    assert model.score(data, sample_weight=weights) == ref.score(design.X, design.y, sample_weight=weights)
    # Inference reads the split rows too and gives the CSR design's numbers.
    del row_sources[:]
    result = model.inference(data, sample_weight=weights, cov_type="HC0")
    assert isinstance(row_sources[0], SplitRows)
    expected = ref.inference(design.X, design.y, sample_weight=weights, cov_type="HC0")
    np.testing.assert_allclose(result.std_err, expected.std_err, rtol=1e-8)
    groups = np.arange(len(data)) % 13
    clustered = model.inference(data, sample_weight=weights, cov_type="cluster", groups=groups)
    expected = ref.inference(design.X, design.y, sample_weight=weights, cov_type="cluster", groups=groups)
    np.testing.assert_allclose(clustered.std_err, expected.std_err, rtol=1e-8)


def many_levels_frame(n, levels, seed=6):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, levels, n)
    data = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(3)})
    data["g"] = pd.Categorical(np.char.add("g", g.astype(str)))
    z = 0.5 * data.x0 - 0.3 * data.x1 + 0.4 * rng.normal(size=levels)[g]
    data["y"] = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(int)
    return data


def test_a_thousand_level_categorical_costs_codes_not_dummies(row_sources):
    import tracemalloc

    n, levels = 30_000, 1000
    data = many_levels_frame(n, levels)
    formula = "y ~ x0 + x1 + x2 + C(g)"
    LogisticRegression(formula=formula, C=1.0, solver="newton").fit(data.iloc[:2000])  # (compiled)
    del row_sources[:]
    tracemalloc.start()
    try:
        model = LogisticRegression(formula=formula, C=1.0, solver="newton").fit(data)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    (rows,) = row_sources
    design = rows.design
    assert design.codes.dtype == np.int32 and design.codes.shape == (n, 1)
    assert design.dense.shape == (n, 3) and design.n_features == 3 + levels - 1
    held = [v for v in vars(design).values() if isinstance(v, np.ndarray)]
    assert all(a.nbytes < 8 * n * 10 for a in held)  # no (n, levels) array anywhere
    dummies = 8 * n * (levels - 1)  # the dense design's level columns alone: 240 MB
    assert peak < dummies / 10, f"peak {peak / 2**20:.1f} MiB"
    assert model.converged_ and len(model.feature_names_) == 3 + levels - 1


@pytest.mark.parametrize("solver", ["newton", "auto"])
def test_two_thousand_levels_newton_reaches_the_csr_optimum_without_a_dense_hessian(
    solver, row_sources, monkeypatch
):
    import tracemalloc

    import fastlogit.model
    from fastlogit import solvers
    from fastlogit.objective import Objective
    from fastlogit.split import SplitRows

    n, levels = 100_000, 2000
    data = many_levels_frame(n, levels, seed=7)
    formula = "y ~ x0 + x1 + x2 + C(g)"
    LogisticRegression(formula=formula, C=np.inf, solver=solver).fit(data.iloc[:3000])  # (compiled)
    del row_sources[:]

    def refuse(*args, **kwargs):
        raise AssertionError("a dense Hessian (or Newton-CG's products) over the levels")

    for member in ("hessian", "loss_grad_hessian", "hessp"):
        monkeypatch.setattr(SplitRows, member, refuse)
    peaks = []

    def traced(run):
        def solve(objective, x0, **kwargs):
            tracemalloc.start()
            try:
                return run(objective, x0, **kwargs)
            finally:
                peaks.append(tracemalloc.get_traced_memory()[1])
                tracemalloc.stop()

        return solve

    monkeypatch.setitem(fastlogit.model.FULL_BATCH_SOLVERS, solver, traced(solvers.__dict__[solver]))
    model = LogisticRegression(formula=formula, C=np.inf, solver=solver, tol=1e-8).fit(data)
    (rows,) = row_sources
    assert isinstance(rows, SplitRows) and model.converged_
    d = rows.n_features + 1
    assert d == 3 + levels
    assert "newton" in model.solver_
    # The solver's own memory: the Hessian's blocks (O(levels x dense columns)),
    # not the (d, d) matrix of 32 MB.
    assert peaks[0] < 8 * d * d / 10, f"peak {peaks[0] / 2**20:.1f} MiB"
    # The CSR design's optimum by Newton-CG (Hessian-vector products, no blocks).
    _, design = build(formula, data)
    csr = Objective.from_arrays(design.X, design.y, C=np.inf)
    assert not csr.structured_newton
    ref = solvers.newton(csr, np.zeros(csr.n_params), tol=1e-10, max_iter=100, use_cholesky=False)
    assert ref.converged
    ours = csr.value(csr.pack(model.coef_[0], model.intercept_))
    assert ours == pytest.approx(csr.value(ref.x), rel=1e-8)


def test_a_formula_fit_matches_glum_on_the_same_formula():
    glum = pytest.importorskip("glum")
    data = many_levels_frame(4000, 30, seed=8).assign(h=categorical_frame(4000).h)
    formula = "y ~ x0 + x1 + x2 + C(g) + h + x0:x2"
    model = fastlogit.logit(formula, data, solver="newton", tol=1e-12, max_iter=200)
    peer = glum.GeneralizedLinearRegressor(
        family="binomial", formula=formula, alpha=0, drop_first=True, gradient_tol=1e-12, max_iter=200
    ).fit(data)
    # glum names a level's column C(g)[g1] where statsmodels writes C(g)[T.g1].
    theirs = dict(zip(peer.feature_names_, peer.coef_))
    ours = [name.replace("[T.", "[") for name in model.feature_names_]
    assert sorted(ours) == sorted(theirs)
    np.testing.assert_allclose(model.coef_[0], [theirs[name] for name in ours], rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.intercept_[0], peer.intercept_, rtol=1e-6)
    # Penalized: glum's alpha = 1 / (C S), the intercept not penalized (P2 identity over the columns).
    C = 0.05
    model = fastlogit.logit(formula, data, C=C, solver="newton", tol=1e-12)
    peer = glum.GeneralizedLinearRegressor(
        family="binomial",
        formula=formula,
        alpha=1 / (C * len(data)),
        P2="identity",
        drop_first=True,
        gradient_tol=1e-12,
        scale_predictors=False,
    ).fit(data)
    theirs = dict(zip(peer.feature_names_, peer.coef_))
    np.testing.assert_allclose(model.coef_[0], [theirs[name] for name in ours], rtol=1e-6, atol=1e-8)


def test_the_default_solver_converges_on_the_issues_kind_of_design():
    # issue 22's shape, smaller: numeric columns, a 200-level and a 5-level categorical, an interaction.
    rng = np.random.default_rng(9)
    n = 20_000
    data = pd.DataFrame({f"x{j}": rng.normal(size=n) for j in range(10)})
    g, h = rng.integers(0, 200, n), rng.integers(0, 5, n)
    z = data.x0 - 0.5 * data.x3 + 0.5 * rng.normal(size=200)[g] + 0.3 * rng.normal(size=5)[h]
    data["g"], data["h"] = np.char.add("g", g.astype(str)), np.char.add("h", h.astype(str))
    data["y"] = (rng.random(n) < 1 / (1 + np.exp(-(z + 0.2 * data.x0 * data.x1)))).astype(int)
    formula = "y ~ " + " + ".join(f"x{j}" for j in range(10)) + " + C(g) + C(h) + x0:x1"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = fastlogit.logit(formula, data)
    tight = fastlogit.logit(formula, data, solver="newton", tol=1e-12)
    assert model.converged_
    loss = model.inference(data).log_likelihood
    assert loss == pytest.approx(tight.inference(data).log_likelihood, rel=1e-10)
