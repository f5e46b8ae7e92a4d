"""Peer solvers made to minimize fastlogit's objective, and one yardstick to judge them.

Every peer minimizes the objective of :mod:`fastlogit.objective` (scikit-learn's)::

    F(W, b) = (1/S) sum_i s_i l_i(W, b)
              + (1 - r) / (2 C S) ||W||_2^2 + r / (C S) ||W||_1

with ``S = sum_i s_i`` (n without sample weights), ``r = l1_ratio``,
``l_i`` the binary log-loss (two classes, one sigmoid model, ``coef`` (1, d))
or the softmax log-loss (K > 2 classes, the full symmetric parameterization,
``coef`` (K, d)), the intercept never penalized and ``C = inf`` meaning no
penalty.  How each library's parameters map onto ``(C, r)``:

- **scikit-learn** ``LogisticRegression`` (lbfgs, newton-cholesky,
  newton-cg, saga, liblinear) minimizes ``C sum_i s_i l_i + (1 - r)/2
  ||W||^2 + r ||W||_1 = C S F``: the same minimizer, ``C`` and
  ``l1_ratio`` passed as they are (scikit-learn < 1.8: ``penalty`` "l2",
  "l1", "elasticnet" or None for ``C = inf``).  lbfgs, newton-cholesky and
  newton-cg stop when the largest entry of the gradient of ``F`` (the mean
  loss: scikit-learn divides by ``S``) is at most ``tol``, fastlogit's own
  rule; saga stops on the change of the coefficients relative to their
  size, liblinear on its own dual criterion.  lbfgs, newton-cholesky,
  newton-cg: L2 or no penalty, binary and multinomial.  saga: every
  penalty, binary and multinomial.  liblinear (binary only: its multiclass
  is one-vs-rest, a different model; L2 or L1; finite ``C``) fits the
  intercept as the coefficient ``b / s`` of an extra column of value
  ``s = intercept_scaling`` and *penalizes it*: it minimizes ``F`` plus
  ``b^2 / (2 C S s^2)`` (L2) or ``|b| / (C S s)`` (L1).  Without an
  intercept it minimizes ``F`` exactly.  With one, the peer sets
  ``s = LIBLINEAR_INTERCEPT_SCALING`` (1e3) under L2: the extra term's
  gradient at the optimum is ``b / (C S s^2)``, and the objective gap it
  causes is of second order in it (measured 1e-15 to 7e-10 relative on the
  test problems; s = 1e4 is worse, liblinear's own precision on a column
  that large).  Under L1 the gap is of first order, ~ ``|b| / (C S s)``
  (2e-8 to 5e-7 relative at s = 1e3 on the test problems): liblinear with
  an intercept and an L1 penalty is declined.
- **glum** ``GeneralizedLinearRegressor(family="binomial")`` minimizes
  ``1/(2 S) sum_i s_i deviance_i + alpha r ||w||_1 + alpha (1 - r)/2
  ||w||^2``; the binomial unit deviance is twice the log-loss, so this is
  ``F`` exactly with ``alpha = 1 / (C S)`` (``alpha = 0`` for ``C = inf``),
  the same ``l1_ratio``, ``P1 = P2 = "identity"`` (the intercept is not
  penalized) and ``scale_predictors=False``.  glum's ``gradient_tol`` is
  ``tol``: irls-ls and lbfgs stop when the largest entry of the gradient of
  ``F`` is at most ``tol`` (fastlogit's rule), irls-cd when the *sum* of the
  minimum-norm subgradient's entries is.  glum has no multinomial family
  (one-vs-rest binomial fits would be a different model): glum's peers are
  binary only.  irls-cd: every penalty; irls-ls and lbfgs: L2 or none.
- **scikit-learn-intelex** (``sklearnex.linear_model.LogisticRegression``,
  oneDAL's loss, gradient and Hessian under scipy's L-BFGS-B) takes
  scikit-learn's ``C`` (it sets oneDAL's L2 factor to ``1/(2 C n)`` on the
  mean loss, the same ``F``) but optimizes ``n F``: its ``gtol`` bounds the
  gradient of the summed loss, so ``tol`` is passed as ``n * tol``.  oneDAL
  runs only the lbfgs solver (newton-cg is a preview) on dense X with a
  finite ``C``, the L2 penalty and no sample weights; anything else falls
  back to stock scikit-learn (already a peer) without a word, so the peer
  declines those problems, and :meth:`Peer.fit` reads sklearnex's own log
  and raises if a fit ran on scikit-learn after all.
- **statsmodels** ``Logit(y, add_constant(X)).fit(method="newton")``
  maximizes the log-likelihood, ``-S F`` without a penalty: the unpenalized
  binary ``F`` exactly (``C = inf`` only: its ``fit_regularized`` is an L1
  path of its own; no sample weights, no sparse X, no multinomial peer
  here).  Its ``tol`` is passed as it is and means its own thing: Newton
  stops when no parameter moved by more than ``tol`` in the last step.

The other arguments of every ``fit``: ``fit_intercept``; ``max_iter``, the
library's iteration limit (IRLS outer iterations for glum, epochs for saga,
Newton steps for statsmodels); ``tol`` as above.

**Standard errors** (``fit(..., standard_errors=True)``, unpenalized binary
fits): the square roots of the diagonal of the inverse Fisher information
``[X, 1]^T diag(p (1 - p)) [X, 1]`` at the fit, what statsmodels'
``Logit(...).fit().bse`` reports and fastlogit's ``inference().std_err``
(intercept first, then one per column).  glum's ``std_errors(X, y)``
defaults to other quantities: heteroscedasticity-robust (``robust=True``)
and, for the binomial family, scaled by a Pearson estimate of the
dispersion; the peer asks for ``dispersion=1, robust=False``, and undoes the
factor ``S / (S - p)`` (``p`` parameters) that glum's non-robust covariance
carries, i.e. multiplies its standard errors by ``sqrt((S - p) / S)``.
scikit-learn and sklearnex report no standard errors.

Precision limits (tests/test_peers.py, ``tol=1e-10``): every peer reaches
fastlogit's Newton optimum to 1e-8 relative (most to 1e-12) on
well-conditioned data, synthetic or standardized; on the raw breast-cancer
and wine columns the second-order peers and sklearnex do too, while
scikit-learn's and glum's lbfgs stop on their line search 3e-9 to 2e-8
above the optimum and saga's coefficient-change rule is met 75 % to 500 %
above it.

Nothing here imports a peer library at module level: ``import fastlogit``
(and this module) load neither glum nor sklearnex.  :meth:`Peer.available`
imports a peer's library on first use (``pip install "fastlogit[peers]"``
brings glum and scikit-learn-intelex, ``pip install statsmodels``
statsmodels); :func:`absent_peers` says which are
missing and why.  :func:`objective_value` evaluates ``F`` with NumPy and
SciPy only, not fastlogit's kernels, so every library, fastlogit included,
is judged by the same code; X of another dtype (float32 data) is evaluated
as its float64 values.
"""

import functools
import importlib
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: What to install for the optional peers (the ``peers`` extra).
PEERS_EXTRA = 'pip install "fastlogit[peers]"'


# -- the yardstick ------------------------------------------------------------


def objective_value(X, y, coef, intercept, C, l1_ratio, sample_weight=None):
    """``F(coef, intercept)``: the weighted mean log-loss plus the penalty, in NumPy.

    Parameters
    ----------
    X : (n, d) array or scipy sparse matrix.
    y : (n,) labels; ``np.unique(y)`` orders the classes (class ``k`` is
        ``coef[k]``; for two classes the second label is the positive one).
    coef : (1, d) or (d,) for two classes, (K, d) for K > 2 classes.
    intercept : scalar or (1,) for two classes, (K,) for K classes.
    C : float > 0 or ``np.inf`` (no penalty).  l1_ratio : float in [0, 1].
    sample_weight : (n,) non-negative weights or None (all ones).

    Every product is taken in float64: float32 X (or any other dtype) is
    cast first, so a float32 fit is judged on the float32 data's exact
    values, by the same arithmetic as a float64 fit.

    The binary loss is ``log(1 + exp(-z))`` for a positive row and
    ``log(1 + exp(z))`` for a negative one (``np.logaddexp``), the softmax
    loss ``logsumexp(z) - z_y`` (``scipy.special.logsumexp``); neither
    overflows or rounds a confident row's loss to 0.
    """
    from scipy.special import logsumexp

    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
    n = codes.shape[0]
    K = coef.shape[0]
    if K == 1 and len(classes) > 2:
        raise ValueError(f"one row of coefficients for {len(classes)} classes")
    if K > 1 and len(classes) > K:
        raise ValueError(f"{K} rows of coefficients for {len(classes)} classes")
    if X.dtype != np.float64:
        X = X.astype(np.float64)  # the yardstick stays float64 whatever the data's dtype
    Z = np.asarray(X @ coef.T, dtype=np.float64) + intercept  # (n, K); works for sparse X
    if K == 1:
        z = Z[:, 0]
        losses = np.logaddexp(0.0, np.where(codes == 1, -z, z))
    else:
        losses = logsumexp(Z, axis=1) - Z[np.arange(n), codes]
    if sample_weight is None:
        weight_sum = float(n)
        data_term = math.fsum(losses) / weight_sum
    else:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        weight_sum = math.fsum(sample_weight)
        data_term = math.fsum(sample_weight * losses) / weight_sum
    C, l1_ratio = float(C), float(l1_ratio)
    if math.isinf(C):
        return data_term
    flat = coef.ravel()
    l2 = (1.0 - l1_ratio) / (2.0 * C * weight_sum) * math.fsum(flat * flat)
    l1 = l1_ratio / (C * weight_sum) * math.fsum(np.abs(flat))
    return data_term + l2 + l1


# -- the registry -------------------------------------------------------------


@functools.cache
def _import_error(module):
    """None when ``module`` imports, else why not (one line); cached."""
    try:
        importlib.import_module(module)
    except Exception as exc:  # ImportError, or a broken install failing at import
        return f"{type(exc).__name__}: {exc}"
    return None


@dataclass(frozen=True)
class Peer:
    """One peer library's solver, fitted to fastlogit's objective.

    ``name`` is "library-solver" (e.g. "glum-irls-cd"); ``distribution`` the
    package to install, ``module`` the one to import, ``imports`` the module
    that holds its fitting code (what :meth:`available` imports, so a bench
    worker has loaded it before its warm-up fits: a second of scikit-learn's
    or statsmodels' imports is no fit's cost, nor its ladder's budget's),
    ``install`` the line that installs it.  The capability flags say which
    problems the solver minimizes ``F`` on and whether it reports standard
    errors (see :meth:`supports`).
    """

    name: str
    library: str
    distribution: str
    module: str
    solver: str
    multinomial: bool
    l1: bool  # l1_ratio = 1
    elastic_net: bool  # 0 < l1_ratio < 1
    unpenalized: bool  # C = inf
    penalized: bool  # a finite C
    l1_intercept: bool  # an unpenalized intercept under an L1 penalty too
    sample_weight: bool
    sparse: bool
    standard_errors: bool  # of an unpenalized binary fit (see the module docstring)
    imports: str
    install: str
    notes: str
    _fit: Callable

    def _import_error(self):
        # The library first: a fit module imported before stays in sys.modules
        # even when the library itself no longer imports.
        return _import_error(self.module) or _import_error(self.imports)

    def available(self):
        """Whether the peer's library imports (imports ``module`` and ``imports``
        on the first call)."""
        return self._import_error() is None

    @property
    def reason(self):
        """Why the peer is unavailable (None when it is available)."""
        error = self._import_error()
        if error is None:
            return None
        return f"{self.distribution} is not importable ({error}); {self.install}"

    def supports(
        self,
        *,
        n_classes,
        C,
        l1_ratio,
        fit_intercept,
        sample_weight=False,
        sparse=False,
        standard_errors=False,
    ):
        """None when this solver minimizes ``F`` on such a problem (and, with
        ``standard_errors``, reports them), else why not (one line)."""
        C, l1_ratio = float(C), float(l1_ratio)
        if n_classes > 2 and not self.multinomial:
            return f"{self.name} fits no multinomial model"
        if math.isinf(C):
            if not self.unpenalized:
                return f"{self.name} needs a finite C (a penalty)"
        elif not self.penalized:
            return f"{self.name} fits only the unpenalized model (C=inf)"
        elif l1_ratio == 1.0 and not self.l1:
            return f"{self.name} has no L1 penalty"
        elif 0.0 < l1_ratio < 1.0 and not self.elastic_net:
            return f"{self.name} has no elastic-net penalty"
        if fit_intercept and l1_ratio > 0.0 and not math.isinf(C) and not self.l1_intercept:
            return f"{self.name} penalizes the intercept under L1 (a different objective)"
        if sample_weight and not self.sample_weight:
            return f"{self.name} takes no sample weights on its own path"
        if sparse and not self.sparse:
            return f"{self.name} takes no sparse X on its own path"
        if standard_errors and not self.standard_errors:
            return f"{self.name} reports no standard errors"
        return None

    def fit(
        self, X, y, *, C, l1_ratio, fit_intercept, tol, max_iter, sample_weight=None, standard_errors=False
    ):
        """Minimize ``F``: returns ``(coef, intercept)``, float64 arrays of shapes
        (1, d) and (1,) for two classes, (K, d) and (K,) for K; the intercept is
        zeros without ``fit_intercept``.  Classes in ``np.unique(y)`` order.

        With ``standard_errors``, returns ``(coef, intercept, std_errors)``:
        ``std_errors`` float64 (d + 1,) with the intercept's first (d without
        ``fit_intercept``), the inverse Fisher information's (see the module
        docstring), computed after the fit by the library's own code.

        Raises ValueError for a problem the peer does not solve (see
        :meth:`supports`) and ImportError when its library is absent.
        """
        import scipy.sparse

        classes, codes = np.unique(np.asarray(y), return_inverse=True)
        if len(classes) < 2:
            raise ValueError(f"{self.name} needs at least two classes, got {classes.tolist()}")
        why = self.supports(
            n_classes=len(classes),
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            sample_weight=sample_weight is not None,
            sparse=scipy.sparse.issparse(X),
            standard_errors=standard_errors,
        )
        if why is not None:
            raise ValueError(why)
        if not self.available():
            raise ImportError(self.reason)
        coef, intercept, std_errors = self._fit(
            X,
            codes,
            C=float(C),
            l1_ratio=float(l1_ratio),
            fit_intercept=bool(fit_intercept),
            tol=float(tol),
            max_iter=int(max_iter),
            sample_weight=sample_weight,
            standard_errors=bool(standard_errors),
        )
        coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
        intercept = np.asarray(intercept, dtype=np.float64).reshape(-1)
        if not fit_intercept:
            intercept = np.zeros(coef.shape[0])
        if standard_errors:
            return coef, intercept, np.asarray(std_errors, dtype=np.float64).reshape(-1)
        return coef, intercept


# -- scikit-learn ---------------------------------------------------------------


def _sklearn_penalty(C, l1_ratio):
    """LogisticRegression's penalty arguments for ``(C, r)``: ``C`` and ``l1_ratio``
    from scikit-learn 1.8 on, ``penalty`` (+ ``l1_ratio`` for elastic net) before."""
    import sklearn

    major, minor = (int(part) for part in sklearn.__version__.split(".")[:2])
    if (major, minor) >= (1, 8):
        return {"C": C, "l1_ratio": l1_ratio}
    if math.isinf(C):
        return {"penalty": None}
    if l1_ratio == 0.0:
        return {"C": C, "penalty": "l2"}
    if l1_ratio == 1.0:
        return {"C": C, "penalty": "l1"}
    return {"C": C, "penalty": "elasticnet", "l1_ratio": l1_ratio}


#: liblinear's ``intercept_scaling`` with an intercept (see the module docstring).
LIBLINEAR_INTERCEPT_SCALING = 1e3


def _sklearn_fit(solver):
    def fit(X, y, *, C, l1_ratio, fit_intercept, tol, max_iter, sample_weight, standard_errors=False):
        from sklearn.linear_model import LogisticRegression

        scaling = {"intercept_scaling": LIBLINEAR_INTERCEPT_SCALING} if solver == "liblinear" else {}
        model = LogisticRegression(
            solver=solver,
            fit_intercept=fit_intercept,
            **scaling,
            tol=tol,
            max_iter=max_iter,
            **_sklearn_penalty(C, l1_ratio),
        )
        model.fit(X, y, sample_weight=sample_weight)
        return model.coef_, model.intercept_, None

    return fit


# -- glum -------------------------------------------------------------------------


def glum_alpha(C, weight_sum):
    """glum's ``alpha`` for scikit-learn's ``C``: ``1 / (C S)``, 0 for ``C = inf``."""
    return 0.0 if math.isinf(C) else 1.0 / (C * weight_sum)


def glum_std_errors_factor(weight_sum, n_params):
    """What turns glum's non-robust standard errors into the inverse Fisher
    information's: ``sqrt((S - p) / S)`` (glum's covariance carries ``S / (S - p)``)."""
    return math.sqrt((weight_sum - n_params) / weight_sum)


def _glum_fit(solver):
    def fit(X, y, *, C, l1_ratio, fit_intercept, tol, max_iter, sample_weight, standard_errors=False):
        from glum import GeneralizedLinearRegressor

        weight_sum = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        if solver == "irls-cd" and isinstance(X, np.ndarray):
            X = np.asfortranarray(X)  # what glum's coordinate descent reads without a copy
        model = GeneralizedLinearRegressor(
            family="binomial",
            link="logit",
            alpha=glum_alpha(C, weight_sum),
            l1_ratio=l1_ratio,
            P1="identity",
            P2="identity",
            fit_intercept=fit_intercept,
            solver=solver,
            # (float32 data: glum's gradient is float32's, which meets 1e-7 but never 1e-8;
            # a tighter rung would run to max_iter)
            gradient_tol=max(tol, 1e-7) if X.dtype == np.float32 else tol,
            max_iter=max_iter,
            scale_predictors=False,
        )
        y = y.astype(np.float64)
        model.fit(X, y, sample_weight=sample_weight)
        std_errors = None
        if standard_errors:
            # dispersion 1 and not robust: the inverse Fisher information (module docstring).
            raw = model.std_errors(X, y, sample_weight=sample_weight, dispersion=1.0, robust=False)
            std_errors = raw * glum_std_errors_factor(weight_sum, X.shape[1] + int(fit_intercept))
        return model.coef_, model.intercept_, std_errors

    return fit


# -- scikit-learn-intelex ---------------------------------------------------------

#: sklearnex's log line when a fit ran on stock scikit-learn instead of oneDAL.
_SKLEARNEX_FALLBACK = "fallback to original scikit-learn"


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__(level=logging.INFO)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def _sklearnex_fit(X, y, *, C, l1_ratio, fit_intercept, tol, max_iter, sample_weight, standard_errors=False):
    from sklearnex.linear_model import LogisticRegression

    model = LogisticRegression(
        C=C,
        solver="lbfgs",
        fit_intercept=fit_intercept,
        tol=tol * X.shape[0],  # oneDAL's gradient is of the summed loss, n F
        max_iter=max_iter,
    )
    # sklearnex logs at INFO whether oneDAL or scikit-learn ran the fit: read
    # that line alone (its own stderr handler and the root's get nothing).
    logger = logging.getLogger("sklearnex")
    handler = _Lines()
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        model.fit(X, y)
    finally:
        logger.handlers, logger.propagate = saved[0], saved[2]
        logger.setLevel(saved[1])
    fallbacks = [line for line in handler.lines if _SKLEARNEX_FALLBACK in line.lower()]
    if fallbacks:
        raise RuntimeError(f"sklearnex ran stock scikit-learn, not oneDAL: {fallbacks[0]}")
    return model.coef_, model.intercept_, None


# -- statsmodels --------------------------------------------------------------------------

#: What installs statsmodels (it is not in the ``peers`` extra; ``.[dev]`` has it).
STATSMODELS_INSTALL = "pip install statsmodels"


def _statsmodels_fit(
    X, y, *, C, l1_ratio, fit_intercept, tol, max_iter, sample_weight, standard_errors=False
):
    # The two modules a user's `sm.Logit` and `sm.add_constant` are, without the
    # seconds of imports `statsmodels.api` adds.
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.tools import add_constant

    design = add_constant(X, prepend=True, has_constant="add") if fit_intercept else X
    result = Logit(y.astype(np.float64), design).fit(method="newton", tol=tol, maxiter=max_iter, disp=0)
    params = np.asarray(result.params, dtype=np.float64)
    coef, intercept = (params[1:], params[:1]) if fit_intercept else (params, np.zeros(1))
    std_errors = np.asarray(result.bse, dtype=np.float64) if standard_errors else None
    return coef, intercept, std_errors


# -- the peers --------------------------------------------------------------------


#: The module holding each library's fitting code, where it is not the top one
#: (``import sklearn`` loads little; ``sklearn.linear_model`` takes ~1 s).
_FIT_MODULES = {
    "sklearn": "sklearn.linear_model",
    "sklearnex": "sklearnex.linear_model",
    "statsmodels": "statsmodels.discrete.discrete_model",
}


def _peer(name, library, distribution, module, solver, fit, notes, **capabilities):
    flags = {
        "multinomial": True,
        "l1": False,
        "elastic_net": False,
        "unpenalized": True,
        "penalized": True,
        "l1_intercept": True,
        "sample_weight": True,
        "sparse": True,
        "standard_errors": False,
        "imports": _FIT_MODULES.get(module, module),
        "install": PEERS_EXTRA,
    }
    flags.update(capabilities)
    return Peer(name, library, distribution, module, solver, notes=notes, _fit=fit, **flags)


_SK = ("scikit-learn", "scikit-learn", "sklearn")
_GLUM = ("glum", "glum", "glum")

#: Every peer solver by name, in the order a report lists them.
PEERS = {
    peer.name: peer
    for peer in (
        _peer("sklearn-lbfgs", *_SK, "lbfgs", _sklearn_fit("lbfgs"), "L-BFGS-B; L2 or none"),
        _peer(
            "sklearn-newton-cholesky",
            *_SK,
            "newton-cholesky",
            _sklearn_fit("newton-cholesky"),
            "Newton with a Cholesky solve of the exact Hessian; L2 or none",
        ),
        _peer(
            "sklearn-newton-cg",
            *_SK,
            "newton-cg",
            _sklearn_fit("newton-cg"),
            "Newton-CG on Hessian-vector products; L2 or none",
        ),
        _peer(
            "sklearn-saga",
            *_SK,
            "saga",
            _sklearn_fit("saga"),
            "SAGA (stochastic average gradient); every penalty; slow on unscaled columns",
            l1=True,
            elastic_net=True,
        ),
        _peer(
            "sklearn-liblinear",
            *_SK,
            "liblinear",
            _sklearn_fit("liblinear"),
            "LIBLINEAR trust-region Newton (L2) / coordinate descent (L1); binary; penalizes "
            "the intercept: intercept_scaling=1e3 under L2, no intercept under L1",
            multinomial=False,
            l1=True,
            unpenalized=False,
            l1_intercept=False,
        ),
        _peer(
            "glum-irls-cd",
            *_GLUM,
            "irls-cd",
            _glum_fit("irls-cd"),
            "IRLS with coordinate descent; alpha = 1/(C S); binary only; every penalty",
            multinomial=False,
            l1=True,
            elastic_net=True,
            standard_errors=True,
        ),
        _peer(
            "glum-irls-ls",
            *_GLUM,
            "irls-ls",
            _glum_fit("irls-ls"),
            "IRLS with a least-squares solve; alpha = 1/(C S); binary only; L2 or none",
            multinomial=False,
            standard_errors=True,
        ),
        _peer(
            "glum-lbfgs",
            *_GLUM,
            "lbfgs",
            _glum_fit("lbfgs"),
            "L-BFGS-B; alpha = 1/(C S); binary only; L2 or none",
            multinomial=False,
            standard_errors=True,
        ),
        _peer(
            "sklearnex-lbfgs",
            "scikit-learn-intelex",
            "scikit-learn-intelex",
            "sklearnex",
            "lbfgs",
            _sklearnex_fit,
            "oneDAL's loss and gradient under L-BFGS-B; tol scaled by n; dense X, finite C, "
            "L2, no sample weights (else scikit-learn runs instead)",
            unpenalized=False,
            sample_weight=False,
            sparse=False,
        ),
        _peer(
            "statsmodels-newton",
            "statsmodels",
            "statsmodels",
            "statsmodels",
            "newton",
            _statsmodels_fit,
            "Logit(y, add_constant(X)).fit(method='newton'): unpenalized only; tol on the "
            "parameters' change; binary, dense, no sample weights",
            multinomial=False,
            penalized=False,
            sample_weight=False,
            sparse=False,
            standard_errors=True,
            install=STATSMODELS_INSTALL,
        ),
    )
}


def available_peers():
    """The peers whose library imports, by name (imports each library once)."""
    return {name: peer for name, peer in PEERS.items() if peer.available()}


def absent_peers():
    """``{name: reason}`` for every peer whose library does not import."""
    return {name: peer.reason for name, peer in PEERS.items() if not peer.available()}


def peers_for(
    *, n_classes, C, l1_ratio, fit_intercept, sample_weight=False, sparse=False, standard_errors=False
):
    """The available peers that minimize ``F`` on such a problem (and, with
    ``standard_errors``, report them), by name."""
    return {
        name: peer
        for name, peer in available_peers().items()
        if peer.supports(
            n_classes=n_classes,
            C=C,
            l1_ratio=l1_ratio,
            fit_intercept=fit_intercept,
            sample_weight=sample_weight,
            sparse=sparse,
            standard_errors=standard_errors,
        )
        is None
    }
