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
