"""Full-batch solvers for :class:`fastlogit.objective.Objective`.

Each solver sees only the objective (its flat parameter vector, values,
gradients, Hessian products and proximal map), never the data, and returns
a :class:`SolverResult`.  ``tol`` means the same everywhere: the solver stops
when the largest entry of the objective's smallest subgradient is at most
``tol`` (:meth:`Objective.optimality`; for a smooth objective ``max |grad|``,
L-BFGS-B's ``gtol``, as scikit-learn uses it).

- :func:`lbfgs`: scipy's L-BFGS-B on the fused value-and-gradient pass.
- :func:`newton`: Newton's method with an Armijo line search; the step solves
  the exact Hessian by Cholesky for small problems, through the Hessian's
  blocks where the objective offers them (a split design's categorical
  levels: :meth:`Objective.newton_system`, exact, no dense Hessian), else by
  truncated conjugate gradients on fused Hessian-vector products (Newton-CG).
- :func:`auto`: Newton when the exact Hessian is cheap, else L-BFGS handing
  over to Newton when it has not converged within ``AUTO_LBFGS_ITER``.
- :func:`proximal`: FISTA (accelerated proximal gradient) with backtracking
  and restarts, for L1 and elastic-net penalties; with an L1 term it works
  on a growing set of features (a working set) and checks the optimality of
  all features with one full gradient.

None of them warns: the caller (:mod:`fastlogit.model`) turns an
unconverged result into one ``ConvergenceWarning`` using ``message``.
"""

import math
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np

from .blas import serial_blas

#: Largest number of parameters for which :func:`newton` forms the exact
#: Hessian and solves by Cholesky (binary and softmax); above it, Newton-CG.
#: Newton-CG needs as many Hessian-vector passes per step as the problem's
#: conditioning demands (up to n_params on raw, unscaled columns), the exact
#: Hessian a fixed O(n p^2) of BLAS work and a Cholesky of O(p^3): up to a
#: few hundred parameters that is the robust choice (digits, K = 10, 650
#: parameters: 13 Cholesky steps, where Newton-CG needed 30 and lbfgs does
#: not converge in 100 iterations).
NEWTON_CHOLESKY_MAX_PARAMS = 700

#: Armijo's sufficient-decrease constant (the usual 1e-4).
ARMIJO = 1e-4

EPS = np.finfo(np.float64).eps

#: A gradient this small where L-BFGS-B finds the value no longer changing in
#: float64 counts as converged: the optimum to machine precision.
MACHINE_PRECISION_GRAD = math.sqrt(np.finfo(np.float64).eps)

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
    solver : the solver(s) that ran (:func:`auto` may run two).
    gap_estimate : lbfgs: how far above the optimum its last point is, as its
        own curvature pairs estimate it (no data pass), or None.
    """

    x: np.ndarray
    n_iter: int
    converged: bool
    loss_curve: list = field(default_factory=list)
    message: str = ""
    solver: str = ""
    gap_estimate: float = None


def _notify(callback, n_iter, loss):
    if callback is not None:
        callback(n_iter, loss)


def lbfgs(objective, x0, *, max_iter=100, tol=1e-4, callback=None, precondition=True):
    """Minimize a smooth ``objective`` with scipy's L-BFGS-B.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective` without an L1 term.
    x0 : float64 (n_params,) starting point.
    max_iter : int, L-BFGS-B iterations at most.
    tol : float: stop when ``max |grad| <= tol`` (the gradient in the
        objective's own parameters, whatever ``precondition``).  ``ftol`` is
        one machine epsilon: L-BFGS-B also stops when an iteration changes
        the value by less than its last bit, when nothing more can be
        resolved.  (scikit-learn's 64 epsilons stopped digits at max|grad| =
        2e-8 with tol=1e-10, 1e-5 from the optimum; one epsilon reaches 6e-10.)
    callback : ``callback(n_iter, loss)`` after each iteration, or None.
    precondition : bool.  True runs L-BFGS-B on the parameters of
        standardized columns when the columns' units are more than
        ``PRECONDITION_SPREAD`` apart (:meth:`Objective.column_scaling`, from
        a sample of rows: O(n_params) per evaluation, no copy of X), so raw columns
        in disparate units or with large offsets converge in about as many
        iterations as standardized ones (300 000 x 30, units over 5 decades
        and offsets to 100: did not converge in 1000 iterations without it).
        The objective, ``tol`` and the result are in the original units.

    Each function evaluation is one fused pass over the data.
    """
    from scipy.optimize import minimize

    if objective.l1_strength:
        raise ValueError("lbfgs needs a smooth objective; an L1 term needs the proximal solver")
    scaling = _scaling(objective, precondition)
    to_x = (lambda v: v) if scaling is None else scaling.to_x
    last = {}  # the last evaluation: its point (in v), value and gradients (in x and in v)

    def loss_grad(v):
        # (L-BFGS-B's first evaluation is at v0, already evaluated for the test below.)
        if "v" in last and np.array_equal(last["v"], v):
            return last["f"], last["gv"].copy()
        x = to_x(v)
        f, g = objective.loss_grad(x)
        gv = g if scaling is None else scaling.grad_to_v(g)
        last.update(v=v.copy(), x=x, g=g, f=f, gv=gv)
        return f, gv.copy()

    def at(v):
        """``(x, grad)`` at ``v``: the last evaluation's (L-BFGS-B's accepted
        point is the last it evaluated), else one more pass."""
        if "v" not in last or not np.array_equal(last["v"], v):
            loss_grad(np.array(v, dtype=np.float64))
        return last["x"], last["g"]

    curve = []
    stopped = []

    def record(intermediate_result):
        curve.append(float(intermediate_result.fun))
        _notify(callback, len(curve), curve[-1])
        # tol is checked here, on the gradient in x (L-BFGS-B's own gtol, 0,
        # would read the gradient in v): True stops L-BFGS-B.
        x, g = at(intermediate_result.x)
        if objective.optimality(x, g) <= tol:
            stopped.append(True)
            return True
        return False

    v0 = np.array(x0, dtype=np.float64) if scaling is None else scaling.to_v(x0)
    with serial_blas():
        if objective.optimality(*at(v0)) <= tol:
            return SolverResult(last["x"], 0, True, [], "")
        res = minimize(
            loss_grad,
            v0,
            method="L-BFGS-B",
            jac=True,
            callback=_halting(record),
            options={"maxiter": max_iter, "maxls": 50, "gtol": 0.0, "ftol": EPS},
        )
        x, g = at(res.x)
    if scaling is not None:
        x = _off_null_space(objective, x)
    x = np.ascontiguousarray(x, dtype=np.float64)
    grad_max = float(np.abs(g).max()) if g.size else 0.0
    # status 0: the value stopped changing in float64 (ftol is one epsilon),
    # possibly before max|grad| <= tol (on digits at tol=1e-10 it stopped at
    # 6e-10).  With a gradient below sqrt(eps) in the standardized parameters
    # that is the optimum to machine precision (digits at tol=1e-10: 1.5e-9,
    # 2e-14 above the optimum), not a failure to converge: on raw columns in
    # large units the gradient in x can stay above tol there (a column in
    # units of 1e3 turns a displacement that moves F by less than its last
    # bit into a gradient of 1e-6).  1: iteration or evaluation limit.  2: the
    # line search found no decrease (or the callback stopped it: tol met).
    g_scaled = g if scaling is None else scaling.grad_to_v(g)
    at_precision = res.status == 0 and float(np.abs(g_scaled).max(initial=0.0)) <= MACHINE_PRECISION_GRAD
    converged = bool(stopped) or grad_max <= tol or at_precision
    gap = _lbfgs_gap(res.hess_inv, g_scaled)
    if converged:
        message = ""
    elif res.status == 1:
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
    return SolverResult(x, int(res.nit), converged, curve, message, gap_estimate=gap)


def _lbfgs_gap(hess_inv, g):
    """``g^T B g / 2``, B L-BFGS's last inverse-Hessian estimate (its correction
    pairs, started from the usual ``s^T y / y^T y`` multiple of the identity):
    how far above its minimum a quadratic with that curvature sits at gradient
    ``g``, an estimate of the objective's gap that costs no data pass.  None
    without correction pairs."""
    sk, yk = getattr(hess_inv, "sk", None), getattr(hess_inv, "yk", None)
    if sk is None or not len(sk):
        return None
    rho = 1.0 / np.einsum("ij,ij->i", sk, yk)
    q = np.array(g, dtype=np.float64)
    alpha = np.empty(len(sk))
    for i in range(len(sk) - 1, -1, -1):
        alpha[i] = rho[i] * float(sk[i] @ q)
        q -= alpha[i] * yk[i]
    q *= float(sk[-1] @ yk[-1]) / float(yk[-1] @ yk[-1])
    for i in range(len(sk)):
        q += sk[i] * (alpha[i] - rho[i] * float(yk[i] @ q))
    gap = 0.5 * float(g @ q)
    return gap if math.isfinite(gap) and gap >= 0.0 else None


def _halting(record):
    """``record`` as a scipy callback that stops the minimizer when it returns True
    (scipy >= 1.11: a callback taking ``intermediate_result`` may raise StopIteration)."""

    def callback(intermediate_result):
        if record(intermediate_result):
            raise StopIteration

    return callback


def _cg(hessp, g, forcing, max_iter, precondition=None):
    """Truncated conjugate gradients for ``H p = -g``, H symmetric PSD via ``hessp``.

    Stops when ``||H p + g|| <= forcing * ||g||``, after ``max_iter``
    products, or on a direction of (numerically) nonpositive curvature,
    returning the last iterate (or ``-g`` when that is the first direction).
    ``precondition(r)``: an approximation of ``H^-1 r`` (symmetric positive
    definite), or None; the stopping test stays on the plain residual.
    """
    p = np.zeros_like(g)
    r = -g.copy()
    z = r if precondition is None else precondition(r)
    d = z.copy()
    rz = float(r @ z)
    target = forcing**2 * float(r @ r)
    for _ in range(max_iter):
        Hd = hessp(d)
        curvature = float(d @ Hd)
        if curvature <= ROUNDING * abs(rz):
            return p if p.any() else -g
        alpha = rz / curvature
        p += alpha * d
        r -= alpha * Hd
        if float(r @ r) <= target:
            break
        z = r if precondition is None else precondition(r)
        rz_new = float(r @ z)
        d = z + (rz_new / rz) * d
        rz = rz_new
    return p


def _jacobi(objective, x):
    """Newton-CG's preconditioner at ``x``: ``r / diag(H)``; None when the
    objective does not give the diagonal (:meth:`Objective.hessian_diagonal`:
    the binary model's) or when the coefficients' diagonal entries are within
    ``PRECONDITION_SPREAD`` squared of each other (the columns' units are, as
    lbfgs' rule has it).

    On text (rare words: columns whose curvatures differ by hundreds) it cut
    CG's products from 112 to 19 (``text_like(200 000, 20 000, 30)``, C = 1:
    2.7 s to 0.52 s) and from 153 to 30 (50 000 x 5 000, C = 10).  On evenly
    spread sparse columns it doubled them (24 to 47, the CSR problem of
    benchmarks/test_solvers.py, diagonal spread 1.8): it then scales the
    intercept, whose large curvature plain CG resolves in one product, down
    among the features'.  Entries below 1e-12 of the largest (a column of
    zeros) are raised to it.
    """
    diag = objective.hessian_diagonal(x) if hasattr(objective, "hessian_diagonal") else None
    if diag is None or not diag.size or not np.all(np.isfinite(diag)) or diag.max() <= 0.0:
        return None
    diag = np.maximum(diag, 1e-12 * diag.max())
    coefs = diag[: objective.n_coef]
    if not coefs.size or coefs.max() <= PRECONDITION_SPREAD**2 * coefs.min():
        return None
    inverse = 1.0 / diag
    return lambda r: inverse * r


def _newton_direction(objective, x, g, H=None):
    """The Newton step: ``H \\ -g`` by Cholesky when the Hessian ``H`` is given (an
    array), by ``H.solve`` when it is a system held by blocks
    (:meth:`Objective.newton_system`), else CG on Hessian-vector products.

    The objective's exact flat directions (the softmax model's common
    shifts, :meth:`Objective.null_space`) are lifted out of the Hessian's
    null space by adding ``c N N^T``: the gradient has no component along
    them, so the step does not either, and elsewhere it is Newton's step.
    (A block system lifts them itself, the same way.)
    """
    if H is not None and not isinstance(H, np.ndarray):
        return H.solve(-g)
    if H is not None:
        from scipy.linalg import LinAlgError, cho_factor, cho_solve

        H = _lifted(H, objective.null_space())
        try:
            return cho_solve(cho_factor(H), -g)
        except LinAlgError:
            # Singular: no penalty and the intercept (or a constant feature)
            # spanning a flat direction, e.g. separable data with C = inf.
            return np.linalg.lstsq(H, -g, rcond=None)[0]
    g_norm = float(np.linalg.norm(g))
    # Eisenstat-Walker-style forcing: loose far away, superlinear near the optimum.
    forcing = min(0.5, math.sqrt(g_norm))
    return _cg(
        lambda v: objective.hessp(x, v),
        g,
        forcing,
        max(20, min(objective.n_params, 200)),
        _jacobi(objective, x),
    )


def _lifted(H, N):
    """``H + c N N^T``: the Hessian made positive definite along the objective's
    exact flat directions ``N`` (orthonormal), where it vanishes, with ``c``
    its mean diagonal; unchanged on every other direction."""
    if not N.shape[1]:
        return H
    return H + max(float(np.mean(np.diag(H))), np.finfo(np.float64).tiny) * (N @ N.T)


def _armijo(evaluate, x, f, g, p):
    """Backtracking line search along ``p`` from step 1, halving.

    ``evaluate(x)`` gives ``(f, g, extra)`` (``extra``: the Hessian of a
    fused pass, or None).  Returns ``(x_new, (f_new, g_new, extra))``, or
    ``(None, None)`` when no step down to 1e-10 decreases f.  A direction
    that is not a descent direction (rounding in CG) is replaced by ``-g``.
    """
    slope = float(g @ p)
    if not slope < 0:
        p, slope = -g, -float(g @ g)
    step = 1.0
    while step >= 1e-10:
        x_new = x + step * p
        trial = evaluate(x_new)
        f_new, g_new = trial[0], trial[1]
        if f_new <= f + ARMIJO * step * slope:
            return x_new, trial
        # At the rounding floor of f, accept a step that still shrinks the gradient.
        if f_new - f <= ROUNDING * abs(f) and np.abs(g_new).max() < np.abs(g).max():
            return x_new, trial
        step *= 0.5
    return None, None


def newton(objective, x0, *, max_iter=100, tol=1e-4, callback=None, use_cholesky=None, structured=None):
    """Minimize a smooth ``objective`` with Newton's method and a line search.

    Parameters
    ----------
    objective : :class:`~fastlogit.objective.Objective` without an L1 term.
    x0 : float64 (n_params,) starting point.
    max_iter : int, Newton steps at most.
    tol : float, stop when ``max |grad| <= tol``.
    callback : ``callback(n_iter, loss)`` after each step, or None.
    use_cholesky : bool or None.  None chooses Cholesky on the exact Hessian
        when ``n_params <= NEWTON_CHOLESKY_MAX_PARAMS`` (binary and softmax,
        whose flat directions are handled exactly); otherwise the Hessian by
        its blocks where the objective offers it (``structured``), else
        Newton-CG, whose inner conjugate-gradient steps each cost one fused
        Hessian-vector pass.
    structured : bool or None.  Without Cholesky, solve each step through the
        Hessian's blocks (:meth:`Objective.newton_system`: a split design's
        categorical levels eliminated by a Schur complement, exact, from one
        pass; no dense (n_params)^2 matrix).  None: whenever
        ``objective.structured_newton``; False: Newton-CG; True: required
        (``ValueError`` when the objective does not offer it) and taken at
        any size, unless ``use_cholesky=True``.

    The step length is 1, halved until Armijo's condition holds; each trial
    is one fused value-and-gradient pass whose gradient the next step reuses.
    With an L1 term: :func:`proximal_newton`.
    """
    if objective.l1_strength:
        return proximal_newton(objective, x0, max_iter=max_iter, tol=tol, callback=callback)
    offered = getattr(objective, "structured_newton", False)
    if structured and not offered:
        raise ValueError(
            "structured=True needs an objective whose row sources give the Hessian by blocks "
            "(a split design's SplitRows); this one does not"
        )
    if use_cholesky is None:
        use_cholesky = not structured and objective.n_params <= NEWTON_CHOLESKY_MAX_PARAMS
    structured = not use_cholesky and offered and structured is not False
    if structured and objective.fused_newton:
        # One pass gives the loss, gradient and the Hessian's blocks.
        evaluate = objective.loss_grad_newton_system
    elif use_cholesky and objective.fused_newton:
        # One pass gives the loss, gradient and Hessian: every trial point's.
        evaluate = objective.loss_grad_hessian
    else:

        def evaluate(x):
            return (*objective.loss_grad(x), None)

    # The BLAS limit is entered and left at every step (25 us each time, 1.1 ms
    # of a 6.4 ms fit on wine, 178 x 13, K = 3) unless held for the whole
    # loop: held, except where a large exact Hessian keeps BLAS's threads.
    blas_threads = (
        use_cholesky and not objective.fused_newton and (objective.hessian_flops >= PARALLEL_HESSIAN_FLOPS)
    )
    with nullcontext() if blas_threads else serial_blas():
        return _newton_steps(objective, x0, evaluate, use_cholesky, structured, max_iter, tol, callback)


def _newton_steps(objective, x0, evaluate, use_cholesky, structured, max_iter, tol, callback):
    """:func:`newton`'s loop, ``evaluate(x)`` giving ``(f, g, H or None)``."""
    x = np.array(x0, dtype=np.float64)
    with serial_blas():
        f, g, H = evaluate(x)
    curve = []
    converged = objective.optimality(x, g) <= tol
    message = ""
    n_iter = 0
    while not converged and n_iter < max_iter:
        if use_cholesky and H is None:
            # The blocked exact Hessian is BLAS work: a large one keeps BLAS's threads.
            small = objective.hessian_flops < PARALLEL_HESSIAN_FLOPS
            with serial_blas() if small else nullcontext():
                H = objective.hessian(x)
        elif structured and H is None:
            with serial_blas():  # (the Gram kernel's BLAS products run inside Numba's threads)
                H = objective.newton_system(x)
        with serial_blas():
            p = _newton_direction(objective, x, g, H)
            x_new, trial = _armijo(evaluate, x, f, g, p)
        n_iter += 1
        if x_new is None:
            message = (
                f"newton's line search found no decrease after {n_iter} steps (max|grad| = "
                f"{np.abs(g).max():.3g}); tol={tol} may be below what float64 resolves, "
                "or scale the data"
            )
            break
        x, (f, g, H) = x_new, trial
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


def proximal(objective, x0, *, max_iter=100, tol=1e-4, callback=None, precondition=True):
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

    With ``precondition`` (the default), when the columns' units are more
    than ``PRECONDITION_SPREAD`` apart, FISTA runs on the parameters of
    standardized columns (:class:`~fastlogit.objective.ScaledObjective`:
    no copy of X, the L1 term's thresholds scaled per column), so columns
    in disparate units do not slow it down; ``tol`` and the result are in
    the objective's own parameters.
    """
    scaling = _scaling(objective, precondition)
    with serial_blas():
        if scaling is None:
            return _proximal(objective, x0, max_iter=max_iter, tol=tol, callback=callback)
        scaled = ScaledObjective(objective, scaling)
        res = _proximal(scaled, scaling.to_v(x0), max_iter=max_iter, tol=tol, callback=callback)
    res.x = _off_null_space(objective, scaling.to_x(res.x))  # a zero in v is a zero in x
    return res


#: Spread of the columns' units (:meth:`Objective.column_spread`) above which
#: :func:`lbfgs` and :func:`proximal` run on standardized parameters.  Below
#: it they take the plain steps (on standardized data, scikit-learn's own
#: iterates), which converge as well there.
PRECONDITION_SPREAD = 10.0


def _scaling(objective, precondition):
    """The :class:`~fastlogit.objective.ColumnScaling` a first-order solver runs on, or None."""
    if not precondition or objective.column_spread() <= PRECONDITION_SPREAD:
        return None
    return objective.column_scaling()


def _off_null_space(objective, x):
    """``x`` without its component along the objective's exact flat directions
    (:meth:`Objective.null_space`): the same value, and the representative an
    unscaled solver started at 0 returns (its steps, made of gradients, never
    leave the complement).  Steps in a :class:`ColumnScaling`'s parameters do
    leave it (the softmax intercepts' common shift moves with ``W @ shift``)."""
    N = objective.null_space()
    if not N.shape[1]:
        return x
    return x - N @ (N.T @ x)


class ScaledObjective:
    """An :class:`~fastlogit.objective.Objective` seen in the parameters ``v`` of a
    :class:`~fastlogit.objective.ColumnScaling`.

    Its value at ``v`` is the objective's at ``scaling.to_x(v)`` (the same
    numbers: only the parameters change), its gradient and the L1 term's
    proximal map are those in ``v``, and :meth:`optimality` measures the
    objective's own optimality at ``to_x(v)``, so a solver's ``tol`` means
    what it means on the objective.  What :func:`proximal` reads of an objective.
    """

    def __init__(self, objective, scaling):
        self.objective, self.scaling = objective, scaling
        for name in ("n_features", "n_scores", "n_coef", "n_params", "l1_strength", "l2_strength"):
            setattr(self, name, getattr(objective, name))

    @property
    def n_passes(self):
        return self.objective.n_passes

    @n_passes.setter
    def n_passes(self, value):
        self.objective.n_passes = value

    def loss_grad(self, v):
        f, g = self.objective.loss_grad(self.scaling.to_x(v))
        return f, self.scaling.grad_to_v(g)

    def l1_penalty(self, v):
        return self.objective.l1_penalty(self.scaling.to_x(v))

    def value(self, v):
        return self.objective.value(self.scaling.to_x(v))

    def optimality(self, v, grad):
        return self.objective.optimality(self.scaling.to_x(v), self.scaling.grad_to_x(grad))

    def prox(self, v, step):
        """Soft-thresholding of each coefficient at ``step * l1_strength / scale_j``
        (``|w_kj| = |v_kj| / scale_j``); intercepts pass unchanged."""
        out = np.array(v, dtype=np.float64)
        if self.l1_strength:
            w = out[: self.n_coef].reshape(self.n_scores, self.n_features)
            threshold = step * self.l1_strength / self.scaling.scale
            np.copysign(np.maximum(np.abs(w) - threshold, 0.0), w, out=w)
        return out

    def lipschitz(self, max_iter=10, rtol=1e-3):
        """As :meth:`~fastlogit.objective.Objective.lipschitz`, of the gradient in ``v``."""
        return self.objective.lipschitz(max_iter, rtol, scaling=self.scaling)

    def select_features(self, features):
        return ScaledObjective(self.objective.select_features(features), self.scaling.restricted(features))

    def feature_index(self, features):
        return self.objective.feature_index(features)


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


def _l1_weights(objective):
    """Per-parameter L1 strength: ``l1_strength`` on coefficients, 0 on intercepts."""
    lam = np.zeros(objective.n_params)
    lam[: objective.n_coef] = objective.l1_strength
    return lam


def _quadratic_l1_step(H, g, x, lam, *, sweeps, rtol):
    """The step ``p`` minimizing ``g.p + p.H.p / 2 + sum lam |x + p|``.

    The subproblem of proximal Newton (glmnet's and glum's inner loop):
    cyclic coordinate descent (exact soft-thresholding per coordinate,
    O(n_params) each to keep the residual ``g + H p`` current) until it
    finds which coefficients are nonzero, then the exact minimizer on that
    support by one linear solve (:func:`_solve_on_support`), accepted when
    the optimality conditions of the zeros hold.  Coordinate descent alone
    converges linearly, slowly on raw columns (large offsets make them
    nearly collinear with the intercept); the solve finishes the job.  Up to
    ``PROXIMAL_NEWTON_ROUNDS`` rounds of both; the last iterate otherwise.
    """
    p = np.zeros_like(x)
    for _ in range(PROXIMAL_NEWTON_ROUNDS):
        p = _coordinate_descent(H, g, x, lam, p, sweeps=sweeps, rtol=rtol)
        exact = _solve_on_support(H, g, x, lam, p)
        if exact is None:
            continue
        r = g + H @ exact  # the model's gradient at the candidate
        zero = (x + exact == 0) & (lam > 0)
        if np.all(np.abs(r[zero]) <= lam[zero] * (1 + 1e-9) + 1e-15):
            return exact
        p = exact  # the zeros' conditions fail: descend again from there
    return p


def _coordinate_descent(H, g, x, lam, p, *, sweeps, rtol):
    """Cyclic exact coordinate minimization of the proximal Newton model from ``p``.

    Stops when a sweep moves no coordinate by more than ``rtol`` times the
    largest.  Coordinates with no curvature (all-zero columns) stay put.
    """
    p = p.copy()
    r = g + H @ p
    diag = np.diag(H).copy()
    for _ in range(sweeps):
        biggest = change = 0.0
        for j in range(x.shape[0]):
            a = diag[j]
            if not a > 0:
                continue
            z = x[j] + p[j] - r[j] / a
            if lam[j]:
                z = math.copysign(max(abs(z) - lam[j] / a, 0.0), z)
            delta = (z - x[j]) - p[j]
            if delta:
                p[j] += delta
                r += delta * H[:, j]
                change = max(change, abs(delta))
            biggest = max(biggest, abs(p[j]))
        if change <= rtol * max(biggest, 1.0):
            break
    return p


def _solve_on_support(H, g, x, lam, p):
    """The exact minimizer of the model on ``p``'s support with ``p``'s signs, or None.

    Coefficients whose sign the solve flips leave the support (they are
    set to zero) and the solve is repeated; None when that does not settle.
    """
    from scipy.linalg import LinAlgError, cho_factor, cho_solve

    z = x + p
    signs = np.sign(z)
    support = (z != 0) | (lam == 0)
    for _ in range(PROXIMAL_NEWTON_ROUNDS):
        if not support.any():
            return -x.copy()
        A = H[np.ix_(support, support)]
        # Minimize over z_S: the model's gradient g + H (z - x) + lam sign(z) is 0 on S.
        rhs = H[support] @ x - g[support] - lam[support] * signs[support]
        try:
            z_support = cho_solve(cho_factor(A), rhs)
        except LinAlgError:
            return None
        flipped = (lam[support] > 0) & (np.sign(z_support) != signs[support])
        if not flipped.any():
            out = -x.copy()
            out[support] = z_support - x[support]
            return out
        index = np.flatnonzero(support)[flipped]
        support[index] = False
        signs[index] = 0.0
    return None


def proximal_newton(objective, x0, *, max_iter=100, tol=1e-4, callback=None):
    """Minimize ``objective`` with an L1 (or elastic-net) term by proximal Newton.

    Each step forms the exact Hessian ``H`` of the smooth part (one blocked
    pass) and minimizes the quadratic model plus the L1 term by coordinate
    descent (:func:`_quadratic_l1_step`: O(n_params^2) per sweep, no data
    pass), then backtracks along that step until the whole objective
    decreases as the model promises (Tseng and Yun's rule).  Near the
    optimum the steps are Newton's on the nonzero coefficients: a handful
    converge whatever the columns' units, where FISTA needs thousands of
    steps on raw data (statsmodels' Spector, L1: 9 steps against 45 000).
    For problems with a cheap exact Hessian (small n or few parameters).
    """
    lam = _l1_weights(objective)
    x = np.array(x0, dtype=np.float64)
    with serial_blas():
        f, g = objective.loss_grad(x)
    F = f + objective.l1_penalty(x)
    curve = []
    converged = objective.optimality(x, g) <= tol
    n_iter = 0
    message = ""
    N = objective.null_space()  # the softmax intercepts' common shift: flat, and kept at 0
    while not converged and n_iter < max_iter:
        H = _lifted(objective.hessian(x), N)
        with serial_blas():
            p = _quadratic_l1_step(H, g, x, lam, sweeps=PROXIMAL_NEWTON_SWEEPS, rtol=1e-12)
            # The model's predicted decrease (negative), the Armijo-like test's slope.
            decrease = float(g @ p) + float(np.sum(lam * (np.abs(x + p) - np.abs(x))))
            step, x_new = 1.0, None
            while step >= 1e-10:
                trial = x + step * p
                f_t, g_t = objective.loss_grad(trial)
                F_t = f_t + objective.l1_penalty(trial)
                # At the rounding floor of F, a step that still improves optimality.
                at_floor = F_t - F <= ROUNDING * abs(F)
                if F_t <= F + ARMIJO * step * decrease or (
                    at_floor and objective.optimality(trial, g_t) < objective.optimality(x, g)
                ):
                    x_new = trial
                    break
                step *= 0.5
        n_iter += 1
        if x_new is None:
            message = (
                f"newton's line search found no decrease after {n_iter} steps; tol={tol} may be "
                "below what float64 resolves"
            )
            break
        x, f, g, F = x_new, f_t, g_t, F_t
        curve.append(F)
        _notify(callback, n_iter, F)
        converged = objective.optimality(x, g) <= tol
    if not converged and not message:
        message = (
            f"newton reached max_iter={max_iter} iterations without reaching tol={tol}; increase max_iter"
        )
    return SolverResult(x, n_iter, converged, curve, message, "newton")


#: Coordinate-descent sweeps per round of a proximal Newton step at most.
PROXIMAL_NEWTON_SWEEPS = 200
#: Rounds of (coordinate descent, exact solve on the support) per step at most.
PROXIMAL_NEWTON_ROUNDS = 5


#: Multiply-adds of one exact Hessian from which :func:`newton` lets its
#: blocked BLAS products use BLAS's threads.  Below, one thread: such a
#: Hessian takes a few milliseconds, threads gain little of that on a quiet
#: machine, and on a busy one (other processes on every core) a parallel BLAS
#: call waits for its threads' time slices: a default fit on 20 000 x 20 beside
#: two processes calling fastlogit was 0.49x scikit-learn's speed with BLAS
#: threads, 2.6x without (benchmarks/test_contention.py, one run each).
PARALLEL_HESSIAN_FLOPS = 1 << 27

#: Multiply-adds of one exact Hessian up to which :func:`auto` starts with
#: Newton on columns in disparate units: the Hessian then costs no more than
#: a few fused passes (about 30 ms on this 2-core machine), and Newton
#: converges in a handful of steps whatever the columns' units, where even
#: preconditioned first-order steps can need dozens (raw breast cancer,
#: wine, an unpenalized formula design with a 200-level categorical).
AUTO_NEWTON_FLOPS = 1 << 27

#: Spread of the columns' units (:meth:`Objective.column_spread`) above which
#: :func:`auto` starts with Newton when its steps are fused passes (binary)
#: solved by Cholesky, whatever the Hessian's cost: raw columns spanning 5
#: orders of magnitude (300 000 x 30, benchmarks/test_solvers.py, tol=1e-6)
#: took standardized L-BFGS 12-15 iterations, Newton 5 steps.  Newton wins
#: or ties when its fused pass costs at most ~3.5 gradient passes: 134 against
#: 276 ms on an AVX-512 machine, 115 against 114 ms on an AVX2 one since the
#: Hessian's tiles are summed from cache (kernels.rows.hessian_add); with the
#: BLAS product before that, 253 against 165 ms there (docs/solvers.md).
AUTO_SPREAD = 100.0

#: L-BFGS iterations :func:`auto` gives a smooth problem before it hands the
#: iterate to Newton: well-conditioned problems converge well within this
#: (5 to 40 iterations at tol=1e-4 .. 1e-6); raw, unscaled columns do not.
AUTO_LBFGS_ITER = 50


def auto(objective, x0, *, max_iter=100, tol=1e-4, callback=None, polish=True):
    """The fastest solver that converges, for any penalty.

    Newton with the exact Hessian when that Hessian is cheap
    (:attr:`Objective.hessian_flops` at most ``AUTO_NEWTON_FLOPS``: small n
    or small d, and at most ``NEWTON_CHOLESKY_MAX_PARAMS`` parameters, so
    that the step is solved by Cholesky, not CG) and either there is an L1
    term (:func:`proximal_newton`: FISTA has no Newton to hand over to, and
    crawls on nearly separable classes) or the columns' units are far apart
    (:meth:`Objective.column_spread` above ``PRECONDITION_SPREAD``, from a
    sample of rows), or when a Newton step is one fused pass
    (:attr:`Objective.fused_newton`) on binary data (a softmax Newton step
    costs K (K + 1) / 2 Hessian blocks), solved by Cholesky, and the
    columns' units are very far apart (above ``AUTO_SPREAD``), and for a
    binary split design (a formula's categoricals as codes,
    :attr:`Objective.structured_newton`), whose Newton step is one fused pass
    and a solve by blocks; otherwise,
    with an L1 term, :func:`proximal`, and
    without one L-BFGS, both on standardized
    parameters when the columns need it and the cheapest per pass (on
    well-scaled small data too: 2 000 x 20, 9 iterations of L-BFGS beat 5
    Newton steps), L-BFGS for at most ``AUTO_LBFGS_ITER`` iterations, and if
    it has not met ``tol`` by then (ill-conditioned: strongly correlated
    columns, nearly separable classes), Newton from L-BFGS's iterate, which
    then needs only a few steps, where Newton's step is exact (at most
    ``NEWTON_CHOLESKY_MAX_PARAMS`` parameters, or a split design's blocks;
    beyond, Newton-CG is no faster than L-BFGS itself, which goes on).
    ``max_iter`` bounds the iterations of both together; ``solver`` on the
    result says which ran ("newton", "lbfgs" or "lbfgs+newton").
    ``polish=False`` skips the final Newton step of :func:`_polished` (the
    cross-validation paths, whose k-fold Hessian costs k blocked passes,
    polish only the refit).
    """
    newton_first = (
        (
            # Cheap in flops, and exact: beyond NEWTON_CHOLESKY_MAX_PARAMS Newton's
            # step is CG on Hessian-vector products (and proximal Newton's a dense
            # n_params-square Hessian), whose cost hessian_flops does not measure.
            # Sparse text (rare words: spread columns, few nonzeros a row) made
            # this clause pick Newton-CG at 7.8x lbfgs' time (50 000 x 5 000).
            objective.hessian_flops <= AUTO_NEWTON_FLOPS
            and objective.n_params <= NEWTON_CHOLESKY_MAX_PARAMS
            and (objective.l1_strength > 0 or objective.column_spread() > PRECONDITION_SPREAD)
        )
        or (
            # A binary split design (a formula's categoricals as codes): Newton's step is one
            # fused pass and a solve through the Hessian's blocks, and lbfgs crawls on the
            # levels' small curvatures (1 000 000 rows, a 1 000-level categorical: Newton
            # 0.50 s, lbfgs then Newton 0.84 s; benchmarks/test_formula.py)
            objective.fused_newton
            and getattr(objective, "structured_newton", False)
            and objective.binary
            and not objective.l1_strength
        )
        or (
            objective.fused_newton
            and objective.binary
            and not objective.l1_strength
            and objective.n_params <= NEWTON_CHOLESKY_MAX_PARAMS
            and objective.column_spread() > AUTO_SPREAD
        )
    )
    if newton_first:
        res = newton(objective, x0, max_iter=max_iter, tol=tol, callback=callback)
        res.solver = "newton"
        return _polished(objective, res, tol, callback) if polish else res
    if objective.l1_strength:
        res = proximal(objective, x0, max_iter=max_iter, tol=tol, callback=callback)
        res.solver = "proximal"
        return _polished(objective, res, tol, callback) if polish else res
    # Newton takes over only where its step is solved exactly (Cholesky, or the
    # blocks of a split design).  Newton-CG, unpreconditioned, crawls where lbfgs
    # does: on text (rare words) lbfgs alone took 2.9 s to converge (144
    # iterations), lbfgs then Newton-CG 7.1 s (200 000 x 20 000, C = 100).
    exact = objective.n_params <= NEWTON_CHOLESKY_MAX_PARAMS or getattr(objective, "structured_newton", False)
    first_iter = min(max_iter, AUTO_LBFGS_ITER) if exact else max_iter
    first = lbfgs(objective, x0, max_iter=first_iter, tol=tol, callback=callback)
    if first.converged or first.n_iter >= max_iter:
        first.solver = "lbfgs"
        return _polished(objective, first, tol, callback) if polish else first

    def shifted(n_iter, loss):
        _notify(callback, first.n_iter + n_iter, loss)

    second = newton(objective, first.x, max_iter=max_iter - first.n_iter, tol=tol, callback=shifted)
    res = SolverResult(
        second.x,
        first.n_iter + second.n_iter,
        second.converged,
        first.loss_curve + second.loss_curve,
        second.message,
        "lbfgs+newton",
    )
    return _polished(objective, res, tol, callback) if polish else res


#: Multiply-adds of one exact Hessian up to which :func:`auto` may end a
#: converged fit with one more Newton step (about 0.1 s here at most).
AUTO_POLISH_FLOPS = 1 << 30

#: A gradient of ``tol`` leaves the objective up to ``tol**2 / (2 mu)`` above
#: its optimum, ``mu`` the smallest curvature: with a weak ``mu = 1e-4``
#: (nearly separated classes, raw columns) that exceeds 1e-7 of the value
#: when ``tol**2 > POLISH_RATIO * value``.
POLISH_RATIO = 2e-11

#: A penalized L-BFGS result whose own curvature pairs put it within this
#: (relative) of the optimum (:attr:`SolverResult.gap_estimate`) is not
#: polished.  The estimate was within 1-3x of the true gap on penalized,
#: well-conditioned data and up to 50x low on raw digits (whose estimate,
#: 1.6e-4, is far above this); without a penalty, along nearly flat
#: directions, it was 14x low (an unpenalized formula with 40-level
#: categoricals on 4 000 rows: 1.9e-7 for a true 2.6e-6), so unpenalized
#: fits, the ones standard errors are computed from, are always polished.  A
#: Newton step costs d + 1 passes' worth of multiply-adds (15 ms of a 45 ms
#: fit at 66 667 x 50, the fit of a GridSearchCV worker).
POLISH_GAP = 1e-6


def _polished(objective, res, tol, callback):
    """``res`` after one more (proximal) Newton step, when it converged at a
    tolerance loose for its objective value and the exact Hessian is affordable.

    ``tol`` bounds the gradient, and a small gradient is a small error in the
    objective only where the curvature is not small: on raw or nearly
    separable data ``max |grad| = 1e-4`` (the default) left the objective
    1e-5 to 1e-3 (relative) above its optimum.  Newton converges
    quadratically, so one step from there reaches the optimum to about the
    square of that.  Kept only if the objective does not increase.  At
    tight tolerances (``tol**2 <= POLISH_RATIO * value``), or when a
    penalized L-BFGS fit's own estimate of its gap is below ``POLISH_GAP``,
    the step is skipped: it would cost more than it could gain.
    """
    if not res.converged or objective.hessian_flops > AUTO_POLISH_FLOPS:
        return res
    value = res.loss_curve[-1] if res.loss_curve else objective.value(res.x)
    if tol**2 <= POLISH_RATIO * abs(value):
        return res
    penalized = getattr(objective, "l2_strength", 0.0) > 0.0
    if penalized and res.gap_estimate is not None and res.gap_estimate <= POLISH_GAP * abs(value):
        return res
    structured = objective.n_params > NEWTON_CHOLESKY_MAX_PARAMS
    if structured and (objective.l1_strength or not getattr(objective, "structured_newton", False)):
        return res
    if objective.l1_strength:
        step = proximal_newton(objective, res.x, max_iter=1, tol=0.0)
        if not step.n_iter:
            return res
        x_new, F_new = step.x, step.loss_curve[-1]
    else:
        with serial_blas():
            if structured:
                f, g, H = objective.loss_grad_newton_system(res.x)
            elif objective.fused_newton:
                f, g, H = objective.loss_grad_hessian(res.x)
            else:
                f, g = objective.loss_grad(res.x)
                H = objective.hessian(res.x)
            p = _newton_direction(objective, res.x, g, H)
            x_new, trial = _armijo(lambda x: (*objective.loss_grad(x), None), res.x, f, g, p)
        if x_new is None:
            return res
        F_new = trial[0]
    if not F_new <= objective.value(res.x):
        return res
    _notify(callback, res.n_iter + 1, F_new)
    res.x = x_new
    res.n_iter += 1
    res.loss_curve = res.loss_curve + [F_new]
    if "newton" not in res.solver:
        res.solver += "+newton"
    return res
