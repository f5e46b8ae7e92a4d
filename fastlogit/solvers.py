"""Full-batch solvers for :class:`fastlogit.objective.Objective`.

Each solver sees only the objective (its flat parameter vector, values,
gradients, Hessian products and proximal map), never the data, and returns
a :class:`SolverResult`.  ``tol`` means the same everywhere: the solver stops
when the largest entry of the objective's smallest subgradient is at most
``tol`` (:meth:`Objective.optimality`; for a smooth objective ``max |grad|``,
L-BFGS-B's ``gtol``, as scikit-learn uses it).

- :func:`lbfgs`: scipy's L-BFGS-B on the fused value-and-gradient pass.
- :func:`newton`: Newton's method with an Armijo line search; the step solves
  the exact Hessian by Cholesky for small binary problems, else truncated
  conjugate gradients on fused Hessian-vector products (Newton-CG).
- :func:`proximal`: FISTA (accelerated proximal gradient) with backtracking
  and restarts, for L1 and elastic-net penalties; with an L1 term it works
  on a growing set of features (a working set) and checks the optimality of
  all features with one full gradient.

None of them warns: the caller (:mod:`fastlogit.model`) turns an
unconverged result into one ``ConvergenceWarning`` using ``message``.
"""

import math
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

#: Largest number of parameters for which :func:`newton` forms the exact
#: Hessian (and ``solver="auto"`` picks Newton for binary dense data).  The
#: blocked BLAS Hessian costs about as much as 2 fused passes at d = 5 and 9
#: at d = 32 (27 ms vs 3 ms at 200 000 rows), 13 at d = 100.  Up to this size
#: Newton converges in a handful of steps whatever the scaling of X (raw
#: breast cancer: 9 steps, where lbfgs stops at max_iter=100), at 2-5x the
#: time of lbfgs on well-scaled data; above it the Hessian dominates.
NEWTON_CHOLESKY_MAX_PARAMS = 33

#: Armijo's sufficient-decrease constant (the usual 1e-4).
ARMIJO = 1e-4

EPS = np.finfo(np.float64).eps

#: Relative size below which a change of the objective is rounding noise:
#: a float64 sum over the rows carries that much error.
ROUNDING = 64 * EPS


@dataclass
class SolverResult:
    """What a solver returns.

    x : float64 (n_params,), the final parameters.
    n_iter : iterations run (for newton: Newton steps; proximal: accelerated
        steps; lbfgs: L-BFGS-B iterations).
    converged : whether ``tol`` was reached.
    loss_curve : the objective after each iteration (list of floats).
    message : why it stopped, a sentence for a ConvergenceWarning.
    """

    x: np.ndarray
    n_iter: int
    converged: bool
    loss_curve: list = field(default_factory=list)
    message: str = ""


_blas_controller = None
# BLAS limits are process-wide, and fits may run in several Python threads:
# the first region to enter sets the limit, the last to leave restores it
# (nested "limit" contexts would restore out of order: one fit leaving would
# lift the limit under another, and the last could leave BLAS at 1 thread).
_blas_lock = threading.Lock()
_blas_depth = 0
_blas_limiter = None


@contextmanager
def _serial_blas():
    """Limit BLAS to one thread while a solver's own vector work runs.

    The data passes run on Numba's OpenMP threads, which spin-wait after each
    parallel region; OpenBLAS's threads (scipy carries its own copy) spin
    too.  Alternating the two pools on the same cores made L-BFGS-B on
    digits 17x slower (1.18 s instead of 0.07 s), while the solvers' BLAS
    work (vectors of n_params, a Cholesky of at most 33 x 33) gains nothing
    from threads.  The controller is built once (a 4 ms library scan); each
    limit costs about 10 microseconds.  Thread-safe: overlapping regions of
    concurrent fits hold one limit between them.
    """
    global _blas_controller, _blas_depth, _blas_limiter
    with _blas_lock:
        if _blas_controller is None:
            import scipy.linalg  # noqa: F401  (loads scipy's OpenBLAS before the scan)
            from threadpoolctl import ThreadpoolController

            _blas_controller = ThreadpoolController()
        if _blas_depth == 0:
            _blas_limiter = _blas_controller.limit(limits=1, user_api="blas")
        _blas_depth += 1
    try:
        yield
    finally:
        with _blas_lock:
            _blas_depth -= 1
            if _blas_depth == 0:
                _blas_limiter.restore_original_limits()
                _blas_limiter = None


def _notify(callback, n_iter, loss):
    if callback is not None:
        callback(n_iter, loss)


def lbfgs(objective, x0, *, max_iter=100, tol=1e-4, callback=None):
    """Minimize a smooth ``objective`` with scipy's L-BFGS-B.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective` without an L1 term.
    x0 : float64 (n_params,) starting point.
    max_iter : int, L-BFGS-B iterations at most.
    tol : float, ``gtol``: stop when ``max |grad| <= tol``.  ``ftol`` is one
        machine epsilon: L-BFGS-B also stops when an iteration changes the
        value by less than its last bit, when nothing more can be resolved.
        (scikit-learn's 64 epsilons stopped digits at max|grad| = 2e-8 with
        tol=1e-10, 1e-5 from the optimum; one epsilon reaches 6e-10.)
    callback : ``callback(n_iter, loss)`` after each iteration, or None.

    Each function evaluation is one fused pass over the data.
    """
    from scipy.optimize import minimize

    if objective.l1_strength:
        raise ValueError("lbfgs needs a smooth objective; an L1 term needs the proximal solver")
    curve = []

    def record(intermediate_result):
        curve.append(float(intermediate_result.fun))
        _notify(callback, len(curve), curve[-1])

    with _serial_blas():
        res = minimize(
            objective.loss_grad,
            np.array(x0, dtype=np.float64),
            method="L-BFGS-B",
            jac=True,
            callback=record,
            options={"maxiter": max_iter, "maxls": 50, "gtol": tol, "ftol": EPS},
        )
    x = np.ascontiguousarray(res.x, dtype=np.float64)
    # status 0: gtol met, or ftol: the value stopped changing in float64, which
    # can happen before max|grad| <= tol (on digits at tol=1e-10 it stopped at
    # 6e-10); then tol was not reached and the result says so.  1: iteration
    # or evaluation limit.  2: the line search found no decrease.
    grad_max = float(np.abs(res.jac).max()) if res.jac.size else 0.0
    converged = res.status == 0 and grad_max <= tol
    if res.status == 1:
        message = (
            f"lbfgs reached max_iter={max_iter} iterations without max|grad| <= tol={tol}; "
            "increase max_iter, or scale the data (e.g. StandardScaler)"
        )
    elif res.status == 0:
        message = (
            f"lbfgs stopped after {res.nit} iterations with max|grad| = {grad_max:.3g} > "
            f"tol={tol}: the objective no longer changes in float64; use solver='newton' "
            "for a tolerance this tight, or raise tol"
        )
    else:
        message = (
            f"lbfgs stopped after {res.nit} iterations: {res.message}; the objective cannot "
            f"decrease further in float64, so tol={tol} may be too small (solver='newton' "
            "reaches tighter tolerances), or scale the data"
        )
    return SolverResult(x, int(res.nit), converged, curve, message)


def _cg(hessp, g, forcing, max_iter):
    """Truncated conjugate gradients for ``H p = -g``, H symmetric PSD via ``hessp``.

    Stops when ``||H p + g|| <= forcing * ||g||``, after ``max_iter``
    products, or on a direction of (numerically) nonpositive curvature,
    returning the last iterate (or ``-g`` when that is the first direction).
    """
    p = np.zeros_like(g)
    r = -g.copy()
    d = r.copy()
    rr = float(r @ r)
    target = forcing**2 * rr
    for _ in range(max_iter):
        Hd = hessp(d)
        curvature = float(d @ Hd)
        if curvature <= ROUNDING * rr:
            return p if p.any() else -g
        alpha = rr / curvature
        p += alpha * d
        r -= alpha * Hd
        rr_new = float(r @ r)
        if rr_new <= target:
            break
        d = r + (rr_new / rr) * d
        rr = rr_new
    return p


def _newton_direction(objective, x, g, H=None):
    """The Newton step: ``H \\ -g`` by Cholesky when the Hessian ``H`` is given, else CG."""
    if H is not None:
        from scipy.linalg import LinAlgError, cho_factor, cho_solve

        try:
            return cho_solve(cho_factor(H), -g)
        except LinAlgError:
            # Singular: no penalty and the intercept (or a constant feature)
            # spanning a flat direction, e.g. separable data with C = inf.
            return np.linalg.lstsq(H, -g, rcond=None)[0]
    g_norm = float(np.linalg.norm(g))
    # Eisenstat-Walker-style forcing: loose far away, superlinear near the optimum.
    forcing = min(0.5, math.sqrt(g_norm))
    return _cg(lambda v: objective.hessp(x, v), g, forcing, max(20, min(objective.n_params, 200)))


def _armijo(objective, x, f, g, p):
    """Backtracking line search along ``p`` from step 1, halving.

    Returns ``(x_new, f_new, g_new, step)``, or ``(None, None, None, step)``
    when no step down to 1e-10 decreases f.  A direction that is not a
    descent direction (rounding in CG) is replaced by ``-g``.
    """
    slope = float(g @ p)
    if not slope < 0:
        p, slope = -g, -float(g @ g)
    step = 1.0
    while step >= 1e-10:
        x_new = x + step * p
        f_new, g_new = objective.loss_grad(x_new)
        if f_new <= f + ARMIJO * step * slope:
            return x_new, f_new, g_new, step
        # At the rounding floor of f, accept a step that still shrinks the gradient.
        if f_new - f <= ROUNDING * abs(f) and np.abs(g_new).max() < np.abs(g).max():
            return x_new, f_new, g_new, step
        step *= 0.5
    return None, None, None, step


def newton(objective, x0, *, max_iter=100, tol=1e-4, callback=None, use_cholesky=None):
    """Minimize a smooth ``objective`` with Newton's method and a line search.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective` without an L1 term.
    x0 : float64 (n_params,) starting point.
    max_iter : int, Newton steps at most.
    tol : float, stop when ``max |grad| <= tol``.
    callback : ``callback(n_iter, loss)`` after each step, or None.
    use_cholesky : bool or None.  None chooses Cholesky on the exact Hessian
        when the objective has one (binary) and ``n_params <=
        NEWTON_CHOLESKY_MAX_PARAMS``; otherwise Newton-CG, whose inner
        conjugate-gradient steps each cost one fused Hessian-vector pass.

    The step length is 1, halved until Armijo's condition holds; each trial
    is one fused value-and-gradient pass whose gradient the next step reuses.
    """
    if objective.l1_strength:
        raise ValueError("newton needs a smooth objective; an L1 term needs the proximal solver")
    if use_cholesky is None:
        use_cholesky = objective.has_hessian and objective.n_params <= NEWTON_CHOLESKY_MAX_PARAMS
    x = np.array(x0, dtype=np.float64)
    with _serial_blas():
        f, g = objective.loss_grad(x)
    curve = []
    converged = objective.optimality(x, g) <= tol
    message = ""
    n_iter = 0
    while not converged and n_iter < max_iter:
        # The exact Hessian is BLAS work on blocks of rows: it keeps BLAS's threads.
        H = objective.hessian(x) if use_cholesky else None
        with _serial_blas():
            p = _newton_direction(objective, x, g, H)
            x_new, f_new, g_new, step = _armijo(objective, x, f, g, p)
        n_iter += 1
        if x_new is None:
            message = (
                f"newton's line search found no decrease after {n_iter} steps (max|grad| = "
                f"{np.abs(g).max():.3g}); tol={tol} may be below what float64 resolves, "
                "or scale the data"
            )
            break
        x, f, g = x_new, f_new, g_new
        curve.append(f)
        _notify(callback, n_iter, f)
        converged = objective.optimality(x, g) <= tol
    if not converged and not message:
        message = (
            f"newton reached max_iter={max_iter} iterations without max|grad| <= tol={tol}; "
            "increase max_iter, or scale the data (e.g. StandardScaler)"
        )
    return SolverResult(x, n_iter, converged, curve, message)


def _fista(objective, x0, *, max_iter, tol, callback=None, start_iter=0):
    """FISTA with backtracking and adaptive restarts: a :class:`SolverResult`.

    Each step: the smooth gradient at the extrapolated point y, the proximal
    step ``x+ = prox(y - grad / L, 1 / L)``, and one pass at x+ that gives
    both the backtracking test ``f(x+) <= f(y) + g.(x+ - y) + L/2 ||x+ - y||^2``
    (L doubles until it holds) and the gradient for the optimality test.
    After a step that needed no backtracking L shrinks a little, so the step
    follows the local curvature, which for logistic losses is often well
    below the global 1/4 (or 1/2) bound.  When the momentum points uphill
    it is reset (O'Donoghue and Candes' gradient restart), and the next y is
    x+ itself, whose gradient is already known.
    """
    x = np.array(x0, dtype=np.float64)
    f_x, g_x = objective.loss_grad(x)
    if objective.optimality(x, g_x) <= tol:
        return SolverResult(x, 0, True, [])
    L = max(objective.lipschitz(), np.finfo(np.float64).tiny)
    y, f_y, g_y = x, f_x, g_x
    t = 1.0
    curve = []
    for n_iter in range(1, max_iter + 1):
        for _ in range(MAX_BACKTRACKS):
            x_new = objective.prox(y - g_y / L, 1.0 / L)
            f_new, g_new = objective.loss_grad(x_new)
            dx = x_new - y
            bound = f_y + float(g_y @ dx) + 0.5 * L * float(dx @ dx)
            if f_new <= bound + ROUNDING * abs(f_y):
                break
            L *= 2.0
        else:
            raise FloatingPointError(
                f"proximal: no step length decreases the objective (value {f_y!r}); the data "
                "or the starting point gives non-finite losses"
            )
        F_new = f_new + objective.l1_penalty(x_new)
        curve.append(F_new)
        _notify(callback, start_iter + n_iter, F_new)
        if objective.optimality(x_new, g_new) <= tol:
            return SolverResult(x_new, n_iter, True, curve)
        # Restart when the step x_new - x points against the gradient mapping
        # L (y - x_new), i.e. momentum carried the iterate uphill.  Unlike the
        # test F_new > F_x it reads no function values, which near the optimum
        # differ by less than their rounding: there the value test restarted at
        # random and the elastic net on 1500 x 12 x 3 needed 2513 steps for
        # tol=1e-10 instead of 401.
        if float((y - x_new) @ (x_new - x)) > 0.0:
            t = 1.0
            y, f_y, g_y = x_new, f_new, g_new
        else:
            t_new = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
            beta = (t - 1.0) / t_new
            t = t_new
            if beta == 0.0:
                y, f_y, g_y = x_new, f_new, g_new
            else:
                y = x_new + beta * (x_new - x)
                f_y, g_y = objective.loss_grad(y)
        x = x_new
        L *= 0.9
    return SolverResult(x, max_iter, False, curve)


#: Doublings of L per step at most: 2**60 times the first estimate means the
#: objective is not finite, not that the curvature is that large.
MAX_BACKTRACKS = 60

#: Features of the first working set, and the least a working set grows by.
WORKING_SET_MIN = 10

#: A working set holding more than this fraction of the features is
#: replaced by all of them: restricting would copy most of X for no gain.
WORKING_SET_MAX_FRACTION = 0.5


def proximal(objective, x0, *, max_iter=100, tol=1e-4, callback=None):
    """Minimize ``objective`` (smooth part + L1 term) by accelerated proximal gradient.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective`, any penalty.
    x0 : float64 (n_params,) starting point.
    max_iter : int, FISTA steps at most, counted over all working sets.
    tol : float, stop when the smallest subgradient's max-norm is <= tol
        (:meth:`Objective.optimality`).
    callback : ``callback(n_iter, loss)`` after each step, or None; with
        working sets the loss is that of the restricted problem, which
        equals the full objective at the restricted iterate.

    With an L1 term the solution is sparse, so most of the work happens on
    a working set of features: the nonzeros of the current iterate plus the
    features whose gradient most violates optimality (``|g_j| >
    l1_strength``), solved with FISTA on a copy of those columns.  One full
    gradient then checks every feature; the set grows (at least doubling)
    until the full problem is optimal to ``tol``.  Without an L1 term, or
    once the set would hold most features, FISTA runs on the full problem.

    Each FISTA step costs two fused passes (at y and at the new iterate).
    Extra memory: a copy of the working set's columns, less than half of X.
    """
    with _serial_blas():
        return _proximal(objective, x0, max_iter=max_iter, tol=tol, callback=callback)


def _proximal(objective, x0, *, max_iter, tol, callback):
    x = np.array(x0, dtype=np.float64)
    if not objective.l1_strength:
        res = _fista(objective, x, max_iter=max_iter, tol=tol, callback=callback)
        return _proximal_result(res, max_iter, tol)
    d = objective.n_features
    f, g = objective.loss_grad(x)
    if objective.optimality(x, g) <= tol:
        return SolverResult(x, 0, True, [])
    n_iter = 0
    curve = []
    ws_size = 0
    while True:
        # Per feature: is it nonzero in any class, and how far does its gradient
        # exceed the L1 threshold (its optimality violation while at zero)?
        coef = x[: objective.n_coef].reshape(objective.n_scores, d)
        grad = g[: objective.n_coef].reshape(objective.n_scores, d)
        active = np.any(coef != 0, axis=0)
        violation = np.max(np.abs(grad), axis=0) - objective.l1_strength
        violation[active] = np.inf
        ws_size = max(WORKING_SET_MIN, 2 * ws_size, 2 * int(active.sum()))
        if ws_size > WORKING_SET_MAX_FRACTION * d:
            break
        features = np.sort(np.argsort(-violation, kind="stable")[:ws_size])
        sub = objective.select_features(features)
        index = objective.feature_index(features)
        # The subproblem is solved a little tighter than tol, so that the full
        # problem, whose other features it does not see, can meet tol.
        res = _fista(
            sub, x[index], max_iter=max_iter - n_iter, tol=0.5 * tol, callback=callback, start_iter=n_iter
        )
        objective.n_passes += sub.n_passes
        n_iter += res.n_iter
        curve.extend(res.loss_curve)
        x = np.zeros_like(x)
        x[index] = res.x
        f, g = objective.loss_grad(x)
        if objective.optimality(x, g) <= tol:
            return SolverResult(x, n_iter, True, curve)
        if n_iter >= max_iter:
            return _proximal_result(SolverResult(x, n_iter, False, curve), max_iter, tol)
    res = _fista(objective, x, max_iter=max_iter - n_iter, tol=tol, callback=callback, start_iter=n_iter)
    res = SolverResult(res.x, n_iter + res.n_iter, res.converged, curve + res.loss_curve)
    return _proximal_result(res, max_iter, tol)


def _proximal_result(res, max_iter, tol):
    if not res.converged:
        res.message = (
            f"proximal reached max_iter={max_iter} iterations without reaching "
            f"tol={tol}; increase max_iter, or scale the data (e.g. StandardScaler)"
        )
    return res
