"""Statistical inference for a fitted model: standard errors, tests, intervals.

What :meth:`fastlogit.LogisticRegression.inference` returns, an
:class:`InferenceResult`, holds what statsmodels' ``Logit`` / ``MNLogit``
(or ``GLM(..., family=Binomial(), freq_weights=s)``) report for the same
model: coefficients, standard errors from the inverse of the observed
information, z statistics, two-sided p-values, confidence intervals, odds
ratios, the log-likelihood and the intercept-only null model's, McFadden's
pseudo R-squared, the likelihood-ratio test, AIC and BIC.

Conventions (those of statsmodels, so numbers compare one to one):

- ``sample_weight`` are frequency weights: a weight of 3 is the row
  repeated three times.  The number of observations is the weight sum.
- The information is the Hessian of the weighted negative log-likelihood,
  ``sum_i s_i [x_i, 1] [x_i, 1]^T p_i (1 - p_i)`` (softmax: ``(diag(p) - p
  p^T) kron ...``), summed over the data's row sources: everything here
  goes through the :class:`~fastlogit.objective.Objective` (one fused
  pass for the log-likelihood, one for the class weights, one blocked BLAS
  pass for the Hessian), never through X itself, so in-memory, chunked
  and distributed data give the same result.
- Penalized fits (``C`` finite, L2 only) use the penalized information
  ``Hessian + I / C`` (the intercepts unpenalized): the inverse of the
  penalized objective's curvature, not a sandwich.  The result and its
  summary say so.  An L1 or elastic-net penalty raises ``ValueError``:
  after variable selection by the L1 penalty these standard errors (and
  p-values) are not valid.
- Softmax (K > 2): parameters of class k minus those of the first class
  (the reference), k = 1..K-1, as statsmodels' ``MNLogit``; their
  covariance is the inverse of the information of that identifiable
  parameterization (with a penalty: of the penalty profiled over the
  symmetric model's free shift, which equals transforming the symmetric
  model's pseudo-inverse by the contrast matrix).
- The null model is the intercept-only model with the same weights
  (closed form ``sum_k S_k log(S_k / S)`` with ``S_k`` the class weight
  sums), also without ``fit_intercept``, as statsmodels computes ``llnull``.
- Number of parameters = the numerical rank of the information (the
  identifiable parameters); ``df_model`` = that minus one per equation, as
  statsmodels counts it; ``AIC = -2 LL + 2 k``, ``BIC = -2 LL + k log(n)``.
- Separation (no penalty): if scaling the fitted parameters up by
  ``SEPARATION_SCALE`` loses less than half the fitted log-loss, the fitted
  scores classify (almost) every row correctly with a positive margin: the
  data are separated, the likelihood keeps rising along that ray, and the
  maximum likelihood estimate does not exist (at the MLE of non-separated
  data, the loss along the ray is smallest at scale 1).  One fused pass.
- A singular or near-singular information (collinear columns; separation)
  gives an :class:`InferenceWarning` naming the problem and the affected
  parameters, whose standard errors (z, p, intervals) are NaN; the others
  are those of any generalized inverse (the same for every identifiable
  parameter).  Separation without a penalty makes every standard error NaN.
"""

import math
import warnings
from functools import partial

import numpy as np

__all__ = ["InferenceResult", "InferenceWarning", "compute_inference"]

#: Eigenvalues of the scaled information (unit diagonal) below this times
#: the largest are treated as zero: condition numbers above 1e10 leave
#: fewer than ~6 correct digits in a standard error.
SINGULAR_RTOL = 1e-10
#: A parameter is affected by the dropped directions when their squared
#: components on it add up to more than this.
AFFECTED_TOL = 1e-8
#: Separation test: the log-likelihood at the fitted parameters times this.
SEPARATION_SCALE = 1e3

COLUMNS = [
    "coef",
    "std_err",
    "z",
    "p_value",
    "ci_lower",
    "ci_upper",
    "odds_ratio",
    "odds_ratio_lower",
    "odds_ratio_upper",
]


class InferenceWarning(UserWarning):
    """The information matrix is singular or near-singular, or the classes are separated."""


#: The covariance types of :func:`compute_inference`, statsmodels' names.
COV_TYPES = ("nonrobust", "HC0", "HC1", "cluster")


def check_cov_type(cov_type):
    """``cov_type`` as one of COV_TYPES (HC names in any case), or ``ValueError`` naming it."""
    if isinstance(cov_type, str):
        for name in COV_TYPES:
            if cov_type.lower() == name.lower():
                return name
    raise ValueError(f"cov_type must be one of {', '.join(map(repr, COV_TYPES))}, got {cov_type!r}")


def check_alpha(alpha):
    """``alpha`` as a float in (0, 1), else ``ValueError`` naming it."""
    try:
        value = float(alpha)
    except (TypeError, ValueError):
        raise ValueError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < value < 1.0:
        raise ValueError(f"alpha must be in (0, 1) (e.g. 0.05 for 95% intervals), got {alpha!r}")
    return value


def _parameter_index(objective):
    """Each equation's parameters in the class-major Hessian of the row sources, ``const`` first.

    Row k holds class k's indices ``k (d + 1) + d`` (its intercept, only
    with ``fit_intercept``) then ``k (d + 1) + j``, j < d.
    """
    d = objective.n_features
    m = d + 1
    rows = [
        ([k * m + d] if objective.fit_intercept else []) + list(range(k * m, k * m + d))
        for k in range(objective.n_scores)
    ]
    return np.array(rows, dtype=np.intp)


def _data_hessian(objective, x):
    """``sum_i s_i H_i`` at ``x``, class-major (K (d + 1) square; binary d + 1): the sources' sum."""
    coef, intercept = objective.unpack(np.ascontiguousarray(x, dtype=np.float64))
    return np.asarray(objective.sum_sources("hessian", coef, intercept), dtype=np.float64)


def _class_weight_sums(objective):
    """Weight sum of each class, float64 (K,), from one fused pass at zero parameters.

    At zero scores every probability is 1/K, so the intercepts' gradient is
    ``S / K - S_k``: exact up to rounding, whatever the row source.
    """
    K, d = objective.n_classes, objective.n_features
    if objective.binary:
        coef, intercept = np.zeros(d), 0.0
    else:
        coef, intercept = np.zeros((K, d)), np.zeros(K)
    _, total = objective.sum_sources("loss_grad", coef, intercept)
    S = objective.weight_sum
    if objective.binary:
        s1 = S / 2.0 - float(total[-1])
        sums = np.array([S - s1, s1])
    else:
        sums = S / K - total[:, -1]
    return np.clip(sums, 0.0, S)


def _null_log_likelihood(sums):
    S = sums.sum()
    positive = sums[sums > 0]
    return float(np.sum(positive * np.log(positive / S)))


def _identifiable(objective, index):
    """The class-major indices of the identifiable parameters: every one (binary), or
    those of classes 1..K-1 (softmax, class 0 the reference)."""
    return index.ravel() if objective.binary else index[1:].ravel()


def _meat(objective, x, index, cov_type, groups, n_groups):
    """The sandwich's meat for ``cov_type`` (HC0/HC1: summed score outer products;
    cluster: the groups' summed scores' outer products) on the identifiable
    parameters, times statsmodels' small-sample factor, and a note for the summary.

    statsmodels' discrete models (Logit, MNLogit) apply no factor to HC0 or
    HC1, so the two agree here as there (Stata's ``vce(robust)`` multiplies
    by n / (n - 1)); ``cluster`` is CRV1 with the factor
    ``G / (G - 1) * (n - 1) / (n - k)``, k the parameters, n the weight sum.
    """
    idx = _identifiable(objective, index)
    if cov_type in ("HC0", "HC1"):
        B = objective.score_outer(x)[np.ix_(idx, idx)]
        return B, (
            f"Standard errors are heteroscedasticity robust ({cov_type}, the sandwich of the "
            "information and the rows' score outer products; no small-sample factor, as statsmodels)."
        )
    S = objective.score_group_sums(x, groups, n_groups)[:, idx]
    n, k = objective.weight_sum, idx.size
    factor = n_groups / (n_groups - 1.0) * (n - 1.0) / (n - k)
    return factor * (S.T @ S), (
        f"Standard errors are robust to clustering in {n_groups} groups (CRV1, factor "
        f"G/(G-1) (n-1)/(n-k) = {factor:.6g}, as statsmodels)."
    )


def _information(objective, H, index, penalty=True):
    """The information of the identifiable parameters from the data Hessian ``H``.

    Binary: ``H`` restricted to ``index[0]``.  Softmax: the block of classes
    1..K-1 (with class 0 at zero the likelihood is a function of the
    differences, and its Hessian there is that block; the Hessian does not
    depend on which representative of the fit it is taken at).  With the
    L2 penalty (``penalty=True``, C finite): plus ``I / C`` on the
    coefficients (binary), or plus the penalty profiled over the symmetric
    model's free shift, ``(1/C) (I - 1 1^T / K) kron I`` on the
    coefficients (softmax): its inverse is the contrast-transformed
    pseudo-inverse of the symmetric model's penalized Hessian.
    """
    idx = _identifiable(objective, index)
    G = H[np.ix_(idx, idx)]
    lam = objective.l2_strength * objective.weight_sum if penalty else 0.0  # 1 / C
    if lam:
        n_eq, p = (1, index.shape[1]) if objective.binary else (index.shape[0] - 1, index.shape[1])
        coef_pos = np.arange(int(objective.fit_intercept), p)
        K = objective.n_classes
        for k in range(n_eq):
            for l in range(n_eq):
                share = 0.0 if objective.binary else 1.0 / K
                G[k * p + coef_pos, l * p + coef_pos] += lam * ((k == l) - share)
    return G


def _curvature_rows(objective, H):
    """Rows' worth of curvature: ``sum_i s_i c_i / max c``, ``c_i`` a row's curvature
    along the intercept(s) (``p (1 - p)``; softmax ``sum_k p_k (1 - p_k)``)."""
    d = objective.n_features
    m = d + 1
    diag = np.diag(H)[d::m]
    top = 0.25 if objective.binary else 1.0 - 1.0 / objective.n_classes
    return float(diag.sum()) / top


def _scaled_eigen(G):
    """Eigen-decomposition of ``G`` scaled to a unit diagonal.

    Returns ``(scale, eigenvalues, eigenvectors, zero)``: ``G = D^-1 U L
    U^T D^-1`` with ``D = diag(scale)`` on the parameters whose diagonal is
    positive; ``zero`` flags the others (not identified at all).
    """
    diag = np.diag(G).copy()
    zero = ~(diag > 0) | ~np.isfinite(diag)
    scale = np.zeros_like(diag)
    scale[~zero] = 1.0 / np.sqrt(diag[~zero])
    R = G * scale[:, None] * scale[None, :]
    R = 0.5 * (R + R.T)
    sub = np.flatnonzero(~zero)
    lam, U_sub = np.linalg.eigh(R[np.ix_(sub, sub)]) if sub.size else (np.zeros(0), np.zeros((0, 0)))
    U = np.zeros((G.shape[0], sub.size))
    U[sub] = U_sub
    return scale, lam, U, zero


def _collinear_directions(objective, index, scale, U_dropped):
    """Which dropped directions are also flat in the information at zero parameters.

    At zero the curvature of every row is the same, so the information is
    a fixed multiple of the weighted Gram matrix of ``[X, 1]``: a direction
    that is flat there is a linear dependence among the columns; one that
    is flat only at the fit is carried by rows predicted with probability
    0 or 1 (separation).  One more Hessian pass, made only on this path.
    """
    G0 = _information(objective, _data_hessian(objective, np.zeros(objective.n_params)), index, penalty=False)
    R0 = G0 * scale[:, None] * scale[None, :]
    top = max(float(np.abs(np.linalg.eigvalsh(0.5 * (R0 + R0.T))).max()), np.finfo(float).tiny)
    q = np.einsum("ij,ik,kj->j", U_dropped, R0, U_dropped) / top
    return q <= 1e3 * SINGULAR_RTOL


def _format_names(names, limit=8):
    shown = [repr(n) for n in names[:limit]]
    if len(names) > limit:
        shown.append(f"... ({len(names) - limit} more)")
    return "[" + ", ".join(shown) + "]"


def compute_inference(
    objective,
    coef,
    intercept,
    *,
    alpha=0.05,
    feature_names=None,
    classes=None,
    intercept_name="const",
    converged=None,
    n_iter=None,
    cov_type="nonrobust",
    groups=None,
    n_groups=None,
):
    """Inference for the fitted ``(coef, intercept)`` on the data of ``objective``.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective` of the fitted model
        (its C, l1_ratio, fit_intercept) on the data; only its row sources'
        sums are used, so any row source works.
    coef : (1, d) or (d,) binary, (K, d) softmax; intercept : (1,) or (K,)
        (ignored without ``fit_intercept``): the fitted parameters.
    alpha : float in (0, 1): intervals at level ``1 - alpha``.
    feature_names : d names, or None (``x1 .. xd``).
    classes : the K class labels, or None (``0 .. K-1``).
    intercept_name : the intercept's row name.
    converged, n_iter : whether the fit met its stopping rule, and its
        iterations (None: not known, e.g. coefficients from elsewhere).
    cov_type : "nonrobust" (the inverse information), "HC0" or "HC1" (the
        sandwich ``A^-1 B A^-1``: A the information, penalized for L2
        fits, B the summed outer products of the rows' scores, frequency
        weights counted once), or "cluster" (B from each group's summed
        scores, with statsmodels' CRV1 factor).  One more pass over the data.
    groups, n_groups : for "cluster": int codes in [0, n_groups), one per
        row of the objective's sources in order (see
        :func:`fastlogit.data.as_group_codes`).

    Returns
    -------
    :class:`InferenceResult`.  Warns :class:`InferenceWarning` when the fit
    did not converge (the coefficients are then not the estimate these
    standard errors describe), when the information is singular or
    near-singular, or when the classes are separated.
    """
    alpha = check_alpha(alpha)
    cov_type = check_cov_type(cov_type)
    if cov_type == "cluster":
        if groups is None:
            raise ValueError("cov_type='cluster' needs groups=: one cluster label per row")
        if n_groups < 2:
            raise ValueError(f"cov_type='cluster' needs at least 2 groups, got {n_groups}")
    elif groups is not None:
        raise ValueError(f"groups= applies to cov_type='cluster', not {cov_type!r}")
    if objective.l1_strength:
        raise ValueError(
            "inference after an L1 or elastic-net penalty (l1_ratio > 0 with finite C) is not "
            "valid: the penalty selects variables, and standard errors from the curvature ignore "
            "that selection; refit with l1_ratio=0 (L2) or C=np.inf for inference"
        )
    from scipy.stats import chi2, norm

    K, d = objective.n_classes, objective.n_features
    classes = np.arange(K) if classes is None else np.asarray(classes)
    names = [f"x{j + 1}" for j in range(d)] if feature_names is None else [str(f) for f in feature_names]
    if len(names) != d:
        raise ValueError(f"feature_names must have {d} entries, got {len(names)}")
    names = ([intercept_name] if objective.fit_intercept else []) + names

    x = objective.pack(coef, np.ravel(intercept) * np.ones(objective.n_scores))
    S = objective.weight_sum
    mean_loss, _ = objective.data_loss_grad(x)
    ll = -mean_loss * S
    sums = _class_weight_sums(objective)
    ll_null = _null_log_likelihood(sums)

    full, b = objective.to_estimator(x)
    if objective.fit_intercept:
        full = np.column_stack([b, full])
    estimates = full if objective.binary else full[1:] - full[0]  # vs the reference class
    n_eq, p = estimates.shape
    index = _parameter_index(objective)
    H = _data_hessian(objective, x)
    G = _information(objective, H, index)
    m = G.shape[0]
    labels = [(None if objective.binary else classes[k + 1], name) for k in range(n_eq) for name in names]

    scale, lam, U, zero_diag = _scaled_eigen(G)
    messages = []
    if converged is False:
        messages.append(
            f"the fit did not converge ({n_iter} iterations, its stopping rule not met): the "
            "coefficients are not the maximum (penalized) likelihood estimate, so these standard "
            "errors, p-values and intervals do not describe it; refit with a larger max_iter (or "
            "solver='newton') before reading them"
        )
    lam_max = float(lam.max()) if lam.size else 0.0
    keep = lam > SINGULAR_RTOL * lam_max if lam_max > 0 else np.zeros(lam.size, dtype=bool)
    lam_min = float(lam.min()) if lam.size else 0.0
    condition = lam_max / lam_min if lam_min > 0 else math.inf
    U_keep, U_drop = U[:, keep], U[:, ~keep]
    affected = zero_diag | ((U_drop**2).sum(axis=1) > AFFECTED_TOL)
    rank = int(keep.sum())
    cov = (U_keep / lam[keep]) @ U_keep.T * scale[:, None] * scale[None, :]
    cov_note = None
    if cov_type != "nonrobust":
        B, cov_note = _meat(objective, x, index, cov_type, groups, n_groups)
        cov = cov @ B @ cov
        cov = 0.5 * (cov + cov.T)

    if affected.any():
        bad = [_label(labels[i]) for i in np.flatnonzero(affected)]
        cause = ""
        if U_drop.shape[1]:
            collinear = _collinear_directions(objective, index, scale, U_drop)
            if collinear.all():
                cause = f": columns {_format_names(_feature_set(labels, affected))} look collinear"
            elif not collinear.any():
                cause = (
                    ": separation? the rows that carry these directions are predicted with probability 0 or 1"
                )
            else:
                cause = ": collinear columns and separation"
        elif zero_diag.any():
            cause = ": these parameters have no information (an all-zero column, or no weight)"
        messages.append(
            f"the Fisher information is singular or near-singular (condition number "
            f"{condition:.3g}){cause}; standard errors of {_format_names(bad)} are NaN"
        )
    if not objective.l2_strength:
        scaled_loss = objective.data_loss_grad(x * SEPARATION_SCALE)[0]
        effective_rows = _curvature_rows(objective, H)
        if effective_rows < m:
            messages.append(
                "quasi-separation: predicted probabilities are 0 or 1 for almost every row (the "
                f"curvature of the fit adds up to {effective_rows:.3g} rows' worth, fewer than the "
                f"{m} parameters); the maximum likelihood estimate probably does not exist, so "
                "every standard error is NaN (fit with a finite C for penalized estimates)"
            )
            affected[:] = True
        elif scaled_loss < 0.5 * mean_loss:
            messages.append(
                "perfect separation: predicted probabilities are 0 or 1 for (almost) every row "
                f"along the fitted direction (mean log-loss {mean_loss:.3g}, and "
                f"{scaled_loss:.3g} with the parameters scaled by {SEPARATION_SCALE:g}); the "
                "maximum likelihood estimate does not exist, so every standard error is NaN "
                "(fit with a finite C for penalized estimates, or drop the separating columns)"
            )
            affected[:] = True
    cov[affected, :] = np.nan
    cov[:, affected] = np.nan
    for message in messages:
        warnings.warn(message, InferenceWarning, stacklevel=3)

    se = np.sqrt(np.clip(np.diag(cov), 0.0, None)).reshape(n_eq, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = estimates / se
    p_value = 2.0 * norm.sf(np.abs(z))
    q = float(norm.ppf(1.0 - alpha / 2.0))
    ci = np.stack([estimates - q * se, estimates + q * se], axis=-1)

    n_eq_params = n_eq  # statsmodels: df_model = rank - one constant per equation
    df_model = float(rank - n_eq_params)
    llr = 2.0 * (ll - ll_null)
    return InferenceResult(
        coef=estimates[0] if objective.binary else estimates,
        std_err=se[0] if objective.binary else se,
        z=z[0] if objective.binary else z,
        p_value=p_value[0] if objective.binary else p_value,
        conf_int=ci[0] if objective.binary else ci,
        cov=cov,
        parameter_names=names,
        classes=classes,
        binary=objective.binary,
        log_likelihood=ll,
        null_log_likelihood=ll_null,
        n_obs=S,
        n_params=rank,
        df_model=df_model,
        df_resid=S - rank,
        llr=llr,
        llr_p_value=float(chi2.sf(llr, df_model)) if df_model > 0 else math.nan,
        alpha=alpha,
        C=objective.C,
        penalized=bool(objective.l2_strength),
        condition_number=condition,
        singular=affected.reshape(n_eq, p)[0] if objective.binary else affected.reshape(n_eq, p),
        warnings=messages,
        class_weight_sums=sums,
        converged=converged,
        n_iter=n_iter,
        covariance_type=cov_type,
        covariance_note=cov_note,
        n_groups=n_groups if cov_type == "cluster" else None,
        fit_intercept=objective.fit_intercept,
    )


#: Rows per block of :func:`prediction_intervals`: its temporaries are
#: O(PREDICTION_BLOCK * K * p), whatever the number of rows.
PREDICTION_BLOCK = 8192


def _leading_row_product(X, A, fit_intercept):
    """``[1, X] @ A`` (or ``X @ A`` without an intercept) for a dense or CSR block: float64."""
    out = np.asarray(X @ A[int(fit_intercept) :], dtype=np.float64)
    if fit_intercept:
        out += A[0]
    return out


def _row_quadratic(X, T, fit_intercept):
    """``sum_j T[i, j] x~[i, j]`` per row, ``x~ = [1, x]`` (or ``x``): float64 (m,)."""
    body = T[:, int(fit_intercept) :]
    if isinstance(X, np.ndarray):
        total = np.einsum("ij,ij->i", body, X)  # no (m, p) temporary
    else:  # CSR
        total = np.asarray(X.multiply(body).sum(axis=1)).ravel()
    if fit_intercept:
        total = total + T[:, 0]
    return total


def _cholesky_or_none(cov):
    """The lower Cholesky factor of a finite, positive definite ``cov``; None otherwise
    (NaN entries, or singular: the general path then propagates them)."""
    if not np.isfinite(cov).all():
        return None
    try:
        return np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        return None


def _log_odds_and_variance(Xb, factor, coef_in_factor, buffer, fit_intercept):
    """``(x~^T b, x~^T V x~)`` per row of a dense block with ``V = L L^T``: ``T = X~ L``
    by BLAS's triangular product (half a general product's work, in place in
    ``buffer``), then ``|T|^2`` and ``T L^-1 b`` from cache."""
    from scipy.linalg.blas import dtrmm

    if fit_intercept:
        buffer[:, 0] = 1.0
        buffer[:, 1:] = Xb
    else:
        buffer[:] = Xb
    # buffer is C-ordered (m, p): its transpose is Fortran-ordered, so BLAS forms
    # L^T buffer^T = (buffer L)^T in place without a copy.
    T = dtrmm(1.0, factor, buffer.T, side=0, lower=1, trans_a=1, overwrite_b=1).T
    return T @ coef_in_factor, np.einsum("ij,ij->i", T, T)


def prediction_intervals(X, estimates, cov, *, fit_intercept, binary, alpha):
    """Predicted probabilities with delta-method standard errors and intervals.

    ``X``: a validated (n, d) matrix (C-contiguous float ndarray or CSR);
    ``estimates`` (p,) binary or (K - 1, p) softmax (each class against
    class 0, ``p = d + fit_intercept``, the intercept first) and ``cov``
    their covariance (any :data:`COV_TYPES`), as :class:`InferenceResult`
    holds them.

    Returns ``(predicted, se, lower, upper)``: float64 (n,) for the binary
    model (the probability of ``classes[1]``), (n, K) for softmax (every
    class).  ``se`` is the delta method's standard error of the
    probability; the interval is computed on the log-odds of each class
    (the linear predictor, binary) and mapped back through the sigmoid, so
    it stays inside [0, 1]: statsmodels' ``get_prediction`` for ``Logit``.
    Rows go in blocks of PREDICTION_BLOCK: no temporary grows with n.
    """
    from scipy.special import expit, logsumexp
    from scipy.stats import norm

    q = float(norm.ppf(1.0 - alpha / 2.0))
    n = X.shape[0]
    B = np.atleast_2d(estimates)
    n_eq, p = B.shape
    K = 2 if binary else n_eq + 1
    shape = (n,) if binary else (n, K)
    predicted, se, lower, upper = (np.empty(shape) for _ in range(4))
    factor = _cholesky_or_none(cov) if binary and isinstance(X, np.ndarray) else None
    if factor is not None:
        # z = x~^T b = (x~^T L) (L^-1 b): one triangular product per block gives both.
        from scipy.linalg import solve_triangular

        coef_in_factor = solve_triangular(factor, B[0], lower=True)
        buffer = np.empty((min(n, PREDICTION_BLOCK), p))
    for lo in range(0, n, PREDICTION_BLOCK):
        hi = min(lo + PREDICTION_BLOCK, n)
        Xb = X[lo:hi]
        if factor is not None:
            z, var_z = _log_odds_and_variance(Xb, factor, coef_in_factor, buffer[: hi - lo], fit_intercept)
        else:
            Z = _leading_row_product(Xb, B.T, fit_intercept)  # (m, n_eq): each equation's log-odds
            # Q[:, j, l] = x~^T V_jl x~, the covariance of equations j and l's log-odds.
            Q = np.empty((hi - lo, n_eq, n_eq))
            for j in range(n_eq):
                T = _leading_row_product(Xb, cov[j * p : (j + 1) * p, :], fit_intercept)
                for l in range(n_eq):
                    Q[:, j, l] = _row_quadratic(Xb, T[:, l * p : (l + 1) * p], fit_intercept)
            if binary:
                z, var_z = Z[:, 0], Q[:, 0, 0]
        if binary:
            prob = expit(z)
            se_z = np.sqrt(np.clip(var_z, 0.0, None))
            predicted[lo:hi], se[lo:hi] = prob, prob * (1.0 - prob) * se_z
            lower[lo:hi], upper[lo:hi] = expit(z - q * se_z), expit(z + q * se_z)
            continue
        scores = np.column_stack([np.zeros(hi - lo), Z])  # class 0 is the reference
        log_p = scores - logsumexp(scores, axis=1, keepdims=True)
        prob = np.exp(log_p)
        for k in range(K):
            # d p_k / d beta_j = p_k (1{k = j + 1} - p_{j + 1}) x~ for equation j (class j + 1).
            a = (np.arange(1, K) == k) - prob[:, 1:]
            var_p = prob[:, k] ** 2 * np.einsum("mj,mjl,ml->m", a, Q, a)
            se_k = np.sqrt(np.clip(var_p, 0.0, None))
            others = np.delete(scores, k, axis=1)
            eta = scores[:, k] - logsumexp(others, axis=1)  # log(p_k / (1 - p_k)), stably
            with np.errstate(divide="ignore", invalid="ignore"):
                se_eta = se_k / (prob[:, k] * (1.0 - prob[:, k]))
            predicted[lo:hi, k], se[lo:hi, k] = prob[:, k], se_k
            lower[lo:hi, k], upper[lo:hi, k] = expit(eta - q * se_eta), expit(eta + q * se_eta)
    return predicted, se, lower, upper


class TestResult:
    """A chi-squared test: ``statistic``, ``p_value``, ``df`` and what was tested
    (``name``: "Wald" or "likelihood ratio"; ``restrictions``: a text)."""

    def __init__(self, name, statistic, df, restrictions=""):
        from scipy.stats import chi2

        self.name = name
        self.statistic = float(statistic)
        self.df = int(df)
        self.p_value = float(chi2.sf(self.statistic, self.df))
        self.restrictions = restrictions

    def __repr__(self):
        return (
            f"<{self.name} test (chi2): statistic={self.statistic:.6g}, p-value={self.p_value:.6g}, "
            f"df={self.df}{'; ' + self.restrictions if self.restrictions else ''}>"
        )


def lr_test(full, restricted):
    """Likelihood-ratio test of a model against a nested, restricted one.

    ``full``, ``restricted``: :class:`InferenceResult` of unpenalized fits
    (``C=np.inf``) on the same rows, the restricted model's parameters a
    subset of the full model's (by label: fit the restricted model on a
    subset of the columns, with their names).  The statistic ``2 (LL_full -
    LL_restricted)`` is chi-squared with the difference in the number of
    parameters as degrees of freedom.  ``ValueError`` when the two are not
    nested that way (other rows or classes, a parameter the full model lacks,
    no fewer parameters, a larger restricted likelihood) or either is penalized.
    Returns a :class:`TestResult`.
    """
    for name, res in (("full", full), ("restricted", restricted)):
        if not isinstance(res, InferenceResult):
            raise TypeError(
                f"{name} must be an InferenceResult (model.inference(...)), got {type(res).__name__}"
            )
        if res.penalized:
            raise ValueError(
                f"the {name} model is penalized (C={res.C:g}): a likelihood-ratio test needs "
                "maximum-likelihood fits (C=np.inf)"
            )
    if full.n_obs != restricted.n_obs or list(full.classes) != list(restricted.classes):
        raise ValueError(
            "the models are not nested: they were fitted on different rows or classes "
            f"(observations {full.n_obs:g} vs {restricted.n_obs:g})"
        )
    missing = sorted(set(restricted.labels) - set(full.labels))
    if missing:
        raise ValueError(
            f"the models are not nested: the full model has no parameter {_format_names(missing)}"
        )
    df = full.n_params - restricted.n_params
    if df <= 0:
        raise ValueError(
            f"the models are not nested: the restricted model has {restricted.n_params} parameters, "
            f"the full one {full.n_params}"
        )
    statistic = 2.0 * (full.log_likelihood - restricted.log_likelihood)
    if statistic < -1e-6 * max(1.0, abs(full.log_likelihood)):
        raise ValueError(
            "the restricted model fits better than the full one (log-likelihood "
            f"{restricted.log_likelihood:.6g} > {full.log_likelihood:.6g}): not nested, or a fit "
            "did not converge"
        )
    dropped = sorted(set(full.labels) - set(restricted.labels))
    return TestResult("likelihood ratio", max(statistic, 0.0), df, f"dropped {_format_names(dropped)}")


def _constraint_matrix(text, labels):
    """``(R, q)`` of linear restrictions ``R b = q`` written on parameter labels:
    ``"GPA = 0, TUCE = PSI"``, ``"2*x1 - x2 = 1"`` (one restriction per comma; one
    without ``=`` equals 0).  ``ValueError`` naming what it cannot read."""
    import re

    names = sorted(labels, key=len, reverse=True)  # the longest label first: "x10" before "x1"
    token = re.compile(
        r"\s*(?:(?P<name>" + "|".join(re.escape(n) for n in names) + r")"
        r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<op>[-+*]))\s*"
    )
    where = {label: i for i, label in enumerate(labels)}

    def linear_form(expr, restriction):
        tokens, pos = [], 0
        while pos < len(expr):
            m = token.match(expr, pos)
            if m is None or m.end() == pos:
                raise ValueError(
                    f"restriction {restriction!r}: cannot read {expr[pos:].strip()!r} "
                    f"(the parameters are {', '.join(labels)})"
                )
            tokens.append(next((k, v) for k, v in m.groupdict().items() if v is not None))
            pos = m.end()
        coef, const, sign, i = np.zeros(len(labels)), 0.0, 1.0, 0
        while i < len(tokens):
            kind, value = tokens[i]
            if kind == "op" and value in "+-":
                sign = -sign if value == "-" else sign
                i += 1
                continue
            if kind == "number" and tokens[i + 1 : i + 2] == [("op", "*")]:
                if tokens[i + 2 : i + 3] and tokens[i + 2][0] == "name":
                    coef[where[tokens[i + 2][1]]] += sign * float(value)
                    i += 3
                else:
                    raise ValueError(f"restriction {restriction!r}: '*' must be followed by a parameter")
            elif kind == "number":
                const += sign * float(value)
                i += 1
            elif kind == "name":
                coef[where[value]] += sign
                i += 1
            else:
                raise ValueError(f"restriction {restriction!r}: unexpected {value!r}")
            sign = 1.0
            if i < len(tokens) and not (tokens[i][0] == "op" and tokens[i][1] in "+-"):
                raise ValueError(f"restriction {restriction!r}: expected + or - before {tokens[i][1]!r}")
        return coef, const

    rows, rhs = [], []
    for restriction in text.split(","):
        sides = restriction.split("=")
        if len(sides) > 2 or not restriction.strip():
            raise ValueError(f"restriction {restriction.strip()!r}: write 'expression = expression'")
        left, left_const = linear_form(sides[0], restriction.strip())
        right, right_const = linear_form(sides[1], restriction.strip()) if len(sides) == 2 else (0.0, 0.0)
        row = left - right
        if not row.any():
            raise ValueError(f"restriction {restriction.strip()!r} constrains no parameter")
        rows.append(row)
        rhs.append(right_const - left_const)
    return np.array(rows), np.array(rhs)


def _margeff_sums(X, estimates, sw, *, fit_intercept, binary):
    """One block's weighted sums behind :meth:`InferenceResult.get_margeff`:
    ``(S, effect_sum, jacobian_sum)``, the effects (binary (d,), softmax (K, d))
    and their Jacobian against the parameters ((d, m) or (K d, m), m =
    n_eq p) summed over the rows with the weights ``sw`` (None: 1)."""
    from scipy.special import expit, logsumexp

    B = np.atleast_2d(estimates)
    n_eq, p = B.shape
    n, d = X.shape
    off = int(fit_intercept)
    s = np.ones(n) if sw is None else np.asarray(sw, dtype=np.float64)
    S = float(s.sum())
    Z = _leading_row_product(X, B.T, fit_intercept)
    if binary:
        prob = expit(Z[:, 0])
        h = prob * (1.0 - prob)
        beta = B[0, off:]
        effect = float(s @ h) * beta
        w = s * h * (1.0 - 2.0 * prob)
        v = np.asarray(X.T @ w).ravel()  # sum_i s h (1 - 2p) x_i
        v_full = np.concatenate([[w.sum()], v]) if fit_intercept else v
        J = np.outer(beta, v_full)
        J[np.arange(d), np.arange(d) + off] += float(s @ h)
        return S, effect, J
    K = n_eq + 1
    full = np.vstack([np.zeros(p), B])[:, off:]  # (K, d): class 0's coefficients are 0
    scores = np.column_stack([np.zeros(n), Z])
    P = np.exp(scores - logsumexp(scores, axis=1, keepdims=True))
    b_bar = P @ full  # (n, d): the probability-weighted mean coefficient of each feature
    Ps = P * s[:, None]
    effect = Ps.sum(axis=0)[:, None] * full - Ps.T @ b_bar  # (K, d)
    J = np.zeros((K * d, n_eq * p))
    for k in range(K):
        for m in range(1, K):
            # rows' coefficients of x~_t in d ME_kj / d beta_mt, then summed against x~.
            C = Ps[:, k, None] * (
                ((k == m) - P[:, m, None]) * (full[k] - b_bar) - P[:, m, None] * (full[m] - b_bar)
            )
            block = np.asarray(X.T @ C).T  # (d, d): features j against x columns
            cols = slice((m - 1) * p + off, m * p)
            J[k * d : (k + 1) * d, cols] += block
            if fit_intercept:
                J[k * d : (k + 1) * d, (m - 1) * p] += C.sum(axis=0)
            J[k * d + np.arange(d), (m - 1) * p + off + np.arange(d)] += float(
                Ps[:, k] @ ((k == m) - P[:, m])
            )
    return S, effect, J


class MarginalEffects:
    """Average marginal effects (``dp / dx`` averaged over rows) with delta-method
    standard errors: what :meth:`InferenceResult.get_margeff` returns.

    ``margeff``, ``margeff_se``, ``z``, ``p_value``: (d,) binary (the effect on
    the probability of ``classes[1]``), (K, d) softmax (one row per class,
    reference class included); ``conf_int`` (..., 2).
    """

    def __init__(self, effect, cov, names, classes, binary, alpha):
        from scipy.stats import norm

        self.margeff = effect
        self.cov = cov
        self.margeff_se = np.sqrt(np.clip(np.diag(cov), 0.0, None)).reshape(effect.shape)
        with np.errstate(divide="ignore", invalid="ignore"):
            self.z = effect / self.margeff_se
        self.p_value = 2.0 * norm.sf(np.abs(self.z))
        q = float(norm.ppf(1.0 - alpha / 2.0))
        self.conf_int = np.stack([effect - q * self.margeff_se, effect + q * self.margeff_se], axis=-1)
        self.names, self.classes, self.binary, self.alpha = list(names), classes, bool(binary), float(alpha)

    def summary_frame(self):
        """A pandas DataFrame: dy/dx, std_err, z, p_value, ci_lower, ci_upper per feature
        (softmax: per (class, feature))."""
        import pandas as pd

        columns = ["dy/dx", "std_err", "z", "p_value", "ci_lower", "ci_upper"]
        data = np.column_stack(
            [a.reshape(-1) for a in (self.margeff, self.margeff_se, self.z, self.p_value)]
            + [self.conf_int[..., 0].reshape(-1), self.conf_int[..., 1].reshape(-1)]
        )
        if self.binary:
            index = pd.Index(self.names, name="feature")
        else:
            index = pd.MultiIndex.from_product([list(self.classes), self.names], names=["class", "feature"])
        return pd.DataFrame(data, index=index, columns=columns)


class PredictionResult:
    """Predicted probabilities with their uncertainty: what :meth:`InferenceResult.predict` returns.

    Attributes: ``predicted``, ``se``, ``ci_lower``, ``ci_upper``: float64
    (n,) for two classes (the probability of ``classes[1]``), (n, K) for
    more (columns in ``classes`` order); dask arrays (lazy) for dask input.
    ``alpha``: the intervals' level is ``1 - alpha``.
    """

    def __init__(self, predicted, se, ci_lower, ci_upper, *, alpha, classes, binary):
        self.predicted = predicted
        self.se = se
        self.ci_lower = ci_lower
        self.ci_upper = ci_upper
        self.alpha = float(alpha)
        self.classes = classes
        self.binary = bool(binary)

    def summary_frame(self):
        """A pandas DataFrame: columns predicted, se, ci_lower, ci_upper (statsmodels'
        ``get_prediction().summary_frame()`` for Logit); softmax: one row per
        (row, class).  Computes dask arrays."""
        import pandas as pd

        arrays = [np.asarray(a) for a in (self.predicted, self.se, self.ci_lower, self.ci_upper)]
        names = ["predicted", "se", "ci_lower", "ci_upper"]
        if self.binary:
            return pd.DataFrame(dict(zip(names, arrays)))
        n, K = arrays[0].shape
        index = pd.MultiIndex.from_product([range(n), list(self.classes)], names=["row", "class"])
        return pd.DataFrame({name: a.reshape(-1) for name, a in zip(names, arrays)}, index=index)


def _label(label):
    cls, name = label
    return name if cls is None else f"{cls}:{name}"


def _feature_set(labels, affected):
    seen = []
    for (_, name), hit in zip(labels, affected):
        if hit and name not in seen:
            seen.append(name)
    return seen


class InferenceResult:
    """Inference for a fitted logistic-regression model (see :mod:`fastlogit.inference`).

    Attributes
    ----------
    coef, std_err, z, p_value : float64 (p,) for two classes; (K - 1, p) for
        softmax, row k - 1 for class ``classes[k]`` against the reference
        ``classes[0]``.  Order of the p entries: ``parameter_names``
        (the intercept first, as ``sm.add_constant`` puts it).
    conf_int : (..., 2) lower and upper bounds at level ``1 - alpha``.
    odds_ratio, odds_ratio_conf_int : ``exp`` of the above.
    cov : (m, m) covariance of the flattened parameters (class-major), NaN
        in the rows and columns of parameters whose information is singular.
    singular : bool like ``coef``: True where the standard error is NaN.
    log_likelihood, null_log_likelihood, pseudo_r2 (McFadden), llr,
    llr_p_value, aic, bic : floats.
    n_obs : the weight sum (frequency weights).  n_params : identifiable
        parameters (rank of the information).  df_model, df_resid.
    penalized : bool; C : the model's C.  covariance_type : "nonrobust",
    "HC0", "HC1" or "cluster" (then ``n_groups``: the clusters), and
    covariance_note its line in the summary's notes.
    warnings : the messages warned (also shown by :meth:`summary`).
    n_dropped : rows of the data a formula dropped for missing values (None
        without a formula; noted by :meth:`summary`).
    converged : whether the fit met its stopping rule (None: not known);
        n_iter : its iterations.  A fit that did not converge warns, and the
        summary says "Converged: no".
    """

    def __init__(
        self,
        *,
        coef,
        std_err,
        z,
        p_value,
        conf_int,
        cov,
        parameter_names,
        classes,
        binary,
        log_likelihood,
        null_log_likelihood,
        n_obs,
        n_params,
        df_model,
        df_resid,
        llr,
        llr_p_value,
        alpha,
        C,
        penalized,
        condition_number,
        singular,
        warnings,
        class_weight_sums,
        converged=None,
        n_iter=None,
        covariance_type="nonrobust",
        covariance_note=None,
        n_groups=None,
        fit_intercept=True,
    ):
        self.coef = coef
        self.std_err = std_err
        self.z = z
        self.p_value = p_value
        self.conf_int = conf_int
        self.cov = cov
        self.parameter_names = list(parameter_names)
        self.classes = classes
        self.binary = binary
        self.log_likelihood = float(log_likelihood)
        self.null_log_likelihood = float(null_log_likelihood)
        self.n_obs = float(n_obs)
        self.n_params = int(n_params)
        self.df_model = float(df_model)
        self.df_resid = float(df_resid)
        self.llr = float(llr)
        self.llr_p_value = float(llr_p_value)
        self.alpha = float(alpha)
        self.C = float(C)
        self.penalized = bool(penalized)
        self.condition_number = float(condition_number)
        self.singular = singular
        self.warnings = list(warnings)
        self.class_weight_sums = class_weight_sums
        self.converged = None if converged is None else bool(converged)
        self.n_iter = None if n_iter is None else int(n_iter)
        self.covariance_type = covariance_type
        self.covariance_note = covariance_note
        self.n_groups = n_groups
        self.fit_intercept = bool(fit_intercept)
        #: Rows of the data a formula dropped for missing values (set by
        #: LogisticRegression.inference; None without a formula).
        self.n_dropped = None
        #: How predict() and get_margeff() reach new data (set by
        #: LogisticRegression.inference: the estimator's own checks, and dask
        #: arrays); None: plain 2-d arrays.
        self._predictor = None

    def predict(self, X, alpha=None):
        """Predicted probabilities for the rows of ``X`` with standard errors and
        ``1 - alpha`` intervals (default: this result's alpha), from this
        result's covariance (its ``covariance_type``): a :class:`PredictionResult`.

        The delta method on each class's log-odds, mapped back through the
        sigmoid (see :func:`prediction_intervals`); ``X`` as the estimator's
        ``predict_proba`` takes it (a dask array gives lazy dask arrays).
        """
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        if self._predictor is not None:
            return self._predictor(X, alpha)
        X = np.ascontiguousarray(X, dtype=np.float64)
        d = len(self.parameter_names) - int(self.fit_intercept)
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"X must have shape (n, {d}), got {X.shape}")
        return self.intervals_for(X, alpha)

    @property
    def labels(self):
        """Each parameter's label in :attr:`cov`'s order: the names (binary), or
        ``"class:name"`` per equation (softmax): what restrictions are written on."""
        return [_label((cls, name)) for cls, name, *_ in self._rows()]

    def wald_test(self, R, q=None):
        """Wald test of the linear restrictions ``R b = q`` on this result's parameters.

        ``R``: a (r, n_params) matrix on the parameters in :attr:`labels`
        order, with ``q`` (r,) (default 0); or a string on the labels,
        ``"GPA = 0, TUCE = PSI"`` (``q`` then not given).  The statistic
        ``(R b - q)^T (R V R^T)^-1 (R b - q)`` with this result's covariance
        (any ``covariance_type``), chi-squared with r degrees of freedom, as
        statsmodels' ``wald_test(..., scalar=True)`` for discrete models.
        Returns a :class:`TestResult`.
        """
        labels = self.labels
        b = np.ravel(self.coef)
        if isinstance(R, str):
            if q is not None:
                raise ValueError("q= goes with a matrix R; a string writes the right-hand sides itself")
            text = R
            R, q = _constraint_matrix(R, labels)
        else:
            R = np.atleast_2d(np.asarray(R, dtype=np.float64))
            if R.ndim != 2 or R.shape[1] != b.size:
                raise ValueError(
                    f"R must have shape (restrictions, {b.size}): one column per parameter "
                    f"({', '.join(labels)}), got {np.shape(R)}"
                )
            q = np.zeros(R.shape[0]) if q is None else np.atleast_1d(np.asarray(q, dtype=np.float64))
            if q.shape != (R.shape[0],):
                raise ValueError(
                    f"q must have shape ({R.shape[0]},), one value per restriction, got {q.shape}"
                )
            text = f"{R.shape[0]} restriction(s)"
        if not (np.isfinite(R).all() and np.isfinite(q).all()):
            raise ValueError("R and q must be finite")
        used = np.flatnonzero(np.abs(R).sum(axis=0))
        if not np.isfinite(self.cov[np.ix_(used, used)]).all():
            raise ValueError(
                "the restrictions involve parameters without a covariance (NaN: singular "
                "information or separation; see the result's warnings)"
            )
        diff = R @ b - q
        middle = R @ self.cov @ R.T
        if np.linalg.matrix_rank(middle) < R.shape[0]:
            raise ValueError(
                "the restrictions are linearly dependent (R V R^T is singular): drop redundant rows"
            )
        return TestResult("Wald", float(diff @ np.linalg.solve(middle, diff)), R.shape[0], text)

    def get_margeff(self, X, sample_weight=None, alpha=None):
        """Average marginal effects over the rows of ``X`` (usually the training
        data), as statsmodels' ``get_margeff(at="overall", method="dydx")``.

        For each feature, the derivative of each class's predicted probability
        with respect to it, averaged over the rows (weighted by
        ``sample_weight``), with delta-method standard errors from this
        result's covariance (any ``covariance_type``).  Every feature is
        treated as continuous.  ``X`` as :meth:`predict` takes it; one pass
        over it (a dask array: one task per block, summed).  Returns
        :class:`MarginalEffects`.
        """
        alpha = self.alpha if alpha is None else check_alpha(alpha)
        blocks = self._margeff_blocks(X, sample_weight)
        S, effect, J = 0.0, 0.0, 0.0
        for part in blocks:
            S, effect, J = S + part[0], effect + part[1], J + part[2]
        if not S > 0:
            raise ValueError("get_margeff needs rows with a positive total weight")
        effect, J = effect / S, J / S
        names = self.parameter_names[int(self.fit_intercept) :]
        return MarginalEffects(effect, J @ self.cov @ J.T, names, self.classes, self.binary, alpha)

    def _margeff_blocks(self, X, sample_weight):
        """Each row block's :func:`_margeff_sums`: the estimator's hook (validation,
        dask) when this result came from one, else one plain 2-d array."""
        sums = partial(
            _margeff_sums, estimates=self.coef, fit_intercept=self.fit_intercept, binary=self.binary
        )
        if self._predictor is not None:
            return self._predictor.margeff_blocks(X, sample_weight, sums)
        X = np.ascontiguousarray(X, dtype=np.float64)
        d = len(self.parameter_names) - int(self.fit_intercept)
        if X.ndim != 2 or X.shape[1] != d:
            raise ValueError(f"X must have shape (n, {d}), got {X.shape}")
        sw = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        return [sums(X, sw=sw)]

    def compare_lr_test(self, restricted):
        """Likelihood-ratio test of this (full) model against a nested ``restricted``
        one, as statsmodels' ``compare_lr_test``: see :func:`lr_test`."""
        return lr_test(self, restricted)

    def __getstate__(self):
        # The estimator's validation hook is a closure: a pickled result
        # predicts from plain arrays.
        state = self.__dict__.copy()
        state["_predictor"] = None
        return state

    def intervals_for(self, X, alpha):
        """:meth:`predict` on an already validated matrix (dense or CSR)."""
        arrays = prediction_intervals(
            X, self.coef, self.cov, fit_intercept=self.fit_intercept, binary=self.binary, alpha=alpha
        )
        return PredictionResult(*arrays, alpha=alpha, classes=self.classes, binary=self.binary)

    @property
    def reference_class(self):
        """The softmax model's reference class (``classes[0]``); None for two classes."""
        return None if self.binary else self.classes[0]

    @property
    def odds_ratio(self):
        return np.exp(self.coef)

    @property
    def odds_ratio_conf_int(self):
        return np.exp(self.conf_int)

    @property
    def pseudo_r2(self):
        """McFadden's ``1 - LL / LL_null`` (NaN when ``LL_null`` is 0)."""
        if self.null_log_likelihood == 0:
            return math.nan
        return 1.0 - self.log_likelihood / self.null_log_likelihood

    @property
    def aic(self):
        return -2.0 * self.log_likelihood + 2.0 * self.n_params

    @property
    def bic(self):
        return -2.0 * self.log_likelihood + math.log(self.n_obs) * self.n_params

    def _rows(self):
        """``(class or None, name, coef, se, z, p, lo, hi)`` per parameter."""
        coef = np.atleast_2d(self.coef)
        se, z, p = (np.atleast_2d(a) for a in (self.std_err, self.z, self.p_value))
        ci = self.conf_int.reshape(coef.shape + (2,))
        eq_classes = [None] if self.binary else list(self.classes[1:])
        for k, cls in enumerate(eq_classes):
            for j, name in enumerate(self.parameter_names):
                yield cls, name, coef[k, j], se[k, j], z[k, j], p[k, j], ci[k, j, 0], ci[k, j, 1]

    def to_frame(self):
        """One row per parameter, a pandas DataFrame (MultiIndex (class, feature) for softmax).

        Columns: coef, std_err, z, p_value, ci_lower, ci_upper, odds_ratio,
        odds_ratio_lower, odds_ratio_upper.
        """
        try:
            import pandas as pd
        except ImportError as exc:  # pragma: no cover - pandas is in the dev environment
            raise ImportError("InferenceResult.to_frame() needs pandas: pip install pandas") from exc
        rows = list(self._rows())
        data = np.array([r[2:] for r in rows], dtype=np.float64).reshape(len(rows), 6)
        data = np.column_stack([data, np.exp(data[:, [0, 4, 5]])])
        if self.binary:
            index = pd.Index([r[1] for r in rows], name="feature")
        else:
            index = pd.MultiIndex.from_tuples([(r[0], r[1]) for r in rows], names=["class", "feature"])
        frame = pd.DataFrame(data, index=index, columns=COLUMNS)
        frame.attrs["covariance_type"] = self.covariance_type
        return frame

    def summary(self):
        """A statsmodels-style text table: the fit's statistics, then one row per parameter."""
        width = 78
        model = "Logit" if self.binary else "MNLogit"
        n_obs = f"{self.n_obs:.0f}" if float(self.n_obs).is_integer() else f"{self.n_obs:.6g}"
        penalty = "no (MLE)" if not self.penalized else f"L2, C={self.C:.6g}"
        classes = ", ".join(str(c) for c in self.classes)
        left = [
            ("Dep. classes:", classes if len(classes) <= 22 else classes[:19] + "..."),
            ("Model:", model),
            ("Method:", "MLE" if not self.penalized else "penalized MLE"),
            ("Penalized:", penalty),
            ("Reference class:", "-" if self.binary else str(self.reference_class)),
            ("Covariance Type:", self.covariance_type),
            ("Converged:", {None: "-", True: "yes", False: "no"}[self.converged]),
            ("No. Iterations:", "-" if self.n_iter is None else str(self.n_iter)),
            ("AIC:", f"{self.aic:.6g}"),
        ]
        right = [
            ("No. Observations:", n_obs),
            ("Df Residuals:", f"{self.df_resid:.6g}"),
            ("Df Model:", f"{self.df_model:.6g}"),
            ("Pseudo R-squ.:", f"{self.pseudo_r2:.4g}"),
            ("Log-Likelihood:", f"{self.log_likelihood:.5g}"),
            ("LL-Null:", f"{self.null_log_likelihood:.5g}"),
            ("LLR p-value:", f"{self.llr_p_value:.4g}"),
            ("BIC:", f"{self.bic:.6g}"),
            ("Condition No.:", f"{self.condition_number:.3g}"),
        ]
        lines = [f"{model} Regression Results (fastlogit)".center(width), "=" * width]
        for (lk, lv), (rk, rv) in zip(left, right):
            lines.append(f"{lk:<17}{lv:>21} {rk:<18}{rv:>21}")
        nw = min(max(13, max(len(n) for n in self.parameter_names) + 1), 40)  # name column
        table = max(width, nw + 65)
        lines.append("=" * table)
        lo, hi = self.alpha / 2, 1 - self.alpha / 2
        head = f"{'coef':>10} {'std err':>10} {'z':>10} {'P>|z|':>10} {f'[{lo:g}':>11} {f'{hi:g}]':>11}"
        previous = None
        for i, (cls, name, c, se, z, p, a, b) in enumerate(self._rows()):
            if i == 0 or cls != previous:  # a new equation (softmax: one per class)
                if i:
                    lines.append("-" * table)
                lines.append(f"{'' if cls is None else f'y={cls}':<{nw}}" + head)
                lines.append("-" * table)
                previous = cls
            lines.append(
                f"{name[: nw - 1]:<{nw}}"
                + " ".join(_fmt(v, w) for v, w in ((c, 10), (se, 10), (z, 10), (p, 10), (a, 11), (b, 11)))
            )
        lines.append("=" * table)
        notes = []
        if self.penalized:
            notes.append(
                f"Penalized fit (L2, C={self.C:.6g}): standard errors from the inverse of "
                "the penalized information (Fisher information + I/C, intercepts "
                "unpenalized); estimates are shrunk toward 0, p-values approximate."
            )
        if self.covariance_note:
            notes.append(self.covariance_note)
        if self.n_dropped:
            notes.append(
                f"{self.n_dropped} row(s) with missing values dropped (na_action='drop'); "
                "No. Observations counts the rows used."
            )
        notes.extend(self.warnings)
        if not self.binary:
            notes.append(
                f"Coefficients of each class minus those of the reference class {self.reference_class}."
            )
        for i, note in enumerate(notes, 1):
            lines.append(f"[{i}] {note}")
        return "\n".join(lines)

    def __repr__(self):
        return self.summary()


def _fmt(value, width):
    if not np.isfinite(value):
        return f"{'nan' if np.isnan(value) else value:>{width}}"
    magnitude = abs(value)
    if magnitude != 0 and (magnitude >= 1e5 or magnitude < 1e-3):
        return f"{value:>{width}.3e}"
    return f"{value:>{width}.4f}"
