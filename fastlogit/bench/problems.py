"""Built-in data for ``fastlogit bench``: Gaussian classes with a shared covariance.

If ``x | y=k ~ N(mu_k, Sigma)`` with class priors ``pi_k``, Bayes' rule gives a
posterior that is exactly a softmax (a sigmoid for two classes) of a linear
score, with ``w_k = Sigma^-1 mu_k`` and
``b_k = log(pi_k) - mu_k' Sigma^-1 mu_k / 2``.  So the data are realistic for
logistic regression and the true coefficients are known.  ``Sigma`` is
diagonal here (per-feature scales drawn once), which keeps generation O(n d).
"""

import numpy as np

#: Scale of the class means, as a multiple of 1/sqrt(d): the classes overlap,
#: so the fits stay finite and take several iterations, as real data do.
MEAN_SCALE = 2.0


def gaussian_classes(n, d, n_classes, seed=0):
    """Seeded ``(X, y, coef, intercept)`` from ``n_classes`` Gaussian classes.

    Returns
    -------
    X : (n, d) float64, C order.
    y : (n,) float64 labels in {0, 1} when ``n_classes == 2``, else int64
        labels in ``0 .. n_classes - 1``.
    coef : the true posterior's coefficients, (d,) for two classes (class 1
        against class 0), else (n_classes, d).
    intercept : float for two classes, else (n_classes,).
    """
    rng = np.random.default_rng(seed)
    scales = rng.uniform(0.7, 1.3, d)  # Sigma = diag(scales**2), shared by every class
    means = rng.standard_normal((n_classes, d)) * (MEAN_SCALE / np.sqrt(d))
    priors = rng.uniform(0.5, 1.5, n_classes)
    priors /= priors.sum()
    y = rng.choice(n_classes, size=n, p=priors)
    X = rng.standard_normal((n, d))
    X *= scales
    X += means[y]
    coef = means / scales**2
    intercept = np.log(priors) - 0.5 * np.einsum("kd,kd->k", means, coef)
    if n_classes == 2:
        return X, y.astype(np.float64), coef[1] - coef[0], float(intercept[1] - intercept[0])
    return X, y.astype(np.int64), coef, intercept


#: Nonzero columns of the sparse truth behind :func:`sparse_truth`.
SPARSE_TRUTH_NONZEROS = 10
#: Standard deviation of the true score (``x @ coef``) of :func:`text_like` and
#: :func:`sparse_truth`: the classes overlap, as in :func:`gaussian_classes`.
SCORE_SCALE = 2.0
#: Exponent offset of the column frequencies of :func:`text_like`: column ``j``
#: is drawn with probability ``∝ 1 / (j + ZIPF_OFFSET)`` (Zipf's law, flattened
#: at the head so the commonest column is not in every row).
ZIPF_OFFSET = 10.0


def _bernoulli_labels(rng, score):
    """0/1 float64 labels drawn with ``P(y = 1) = sigmoid(score)``."""
    from scipy.special import expit

    return (rng.random(score.shape[0]) < expit(score)).astype(np.float64)


def text_like(n, d, nnz_per_row, seed=0):
    """Seeded ``(X, y, coef, intercept)``: a CSR bag-of-words-like binary problem.

    Each row draws ``nnz_per_row`` column indices from a Zipf-like law (a
    few common columns, a long tail of rare ones: what words in documents
    do); repeated draws count, each entry is ``log1p(count)`` and each row
    is scaled to unit Euclidean norm (tf-idf's sublinear counts and its row
    normalization).  The labels follow a logistic model with a dense true
    ``coef`` ((d,) float64, ``N(0, SCORE_SCALE^2)``: the true score's
    standard deviation is :data:`SCORE_SCALE` on a unit-norm row) and
    ``intercept`` 0.

    Returns
    -------
    X : (n, d) scipy.sparse CSR float64 (sorted indices, no duplicates).
    y : (n,) float64 labels in {0, 1}.
    coef : (d,) float64.  intercept : float.
    """
    import scipy.sparse

    rng = np.random.default_rng(seed)
    weights = 1.0 / (np.arange(d) + ZIPF_OFFSET)
    cols = rng.choice(d, size=(n, nnz_per_row), p=weights / weights.sum())
    rows = np.repeat(np.arange(n), nnz_per_row)
    X = scipy.sparse.csr_matrix(
        (np.ones(n * nnz_per_row), (rows, cols.ravel())), shape=(n, d), dtype=np.float64
    )
    X.sum_duplicates()  # counts
    X.data = np.log1p(X.data)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    X = scipy.sparse.diags(1.0 / norms) @ X
    X = X.tocsr()
    X.sort_indices()
    coef = rng.standard_normal(d) * SCORE_SCALE
    return X, _bernoulli_labels(rng, X @ coef), coef, 0.0


def sparse_truth(n, d, n_nonzero=SPARSE_TRUTH_NONZEROS, seed=0):
    """Seeded ``(X, y, coef, intercept)``: a dense binary problem whose truth has
    ``n_nonzero`` nonzero coefficients (what an L1 penalty is for).

    X is standard normal, the nonzero coefficients ``± SCORE_SCALE /
    sqrt(n_nonzero)`` on randomly chosen columns (the true score's standard
    deviation is :data:`SCORE_SCALE`), the intercept 0.5.

    Returns
    -------
    X : (n, d) float64, C order.  y : (n,) float64 labels in {0, 1}.
    coef : (d,) float64 with ``n_nonzero`` nonzeros.  intercept : float.
    """
    if not 1 <= n_nonzero <= d:
        raise ValueError(f"n_nonzero must be in 1 .. d ({d}), got {n_nonzero}")
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    coef = np.zeros(d)
    support = rng.choice(d, size=n_nonzero, replace=False)
    coef[support] = rng.choice([-1.0, 1.0], size=n_nonzero) * (SCORE_SCALE / np.sqrt(n_nonzero))
    intercept = 0.5
    return X, _bernoulli_labels(rng, X @ coef + intercept), coef, intercept


#: Real data sets that ship with scikit-learn (no download), with their raw,
#: unscaled columns: the conditioning a user's data bring.
REAL_DATA = {
    "breast_cancer": "load_breast_cancer",
    "wine": "load_wine",
}


def real_data(name):
    """``(X, y)`` of a data set shipped with scikit-learn, columns as they come.

    ``name``: a key of :data:`REAL_DATA` ("breast_cancer": 569 × 30, two
    classes; "wine": 178 × 13, three classes).  X is float64 C order, y
    int64 class codes.
    """
    if name not in REAL_DATA:
        raise ValueError(f"name must be one of {', '.join(REAL_DATA)}, got {name!r}")
    import sklearn.datasets

    X, y = getattr(sklearn.datasets, REAL_DATA[name])(return_X_y=True)
    return np.ascontiguousarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
