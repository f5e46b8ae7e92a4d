"""Time to equal accuracy: every library-solver down a tolerance ladder, each in its own process.

A library's time "at ``tol=1e-4``" says little: each library reads ``tol``
its own way (the largest gradient entry of the mean loss, of the summed
loss, the change of the coefficients, a dual gap; see
:mod:`fastlogit.bench.peers`).  What a user wants is the time to reach a
given accuracy, judged on one objective.  So each library-solver is fitted
at every rung of a tolerance ladder (:data:`LADDER`, :data:`QUICK_LADDER`),
each rung timed, and the objective of every fit is evaluated afterwards, in
this process, by one yardstick (:func:`fastlogit.bench.peers.objective_value`,
NumPy and SciPy only).  Then:

- :func:`time_to_accuracy`: each library-solver's fastest time whose
  objective is within ``rtol`` (relative) of the best objective any of them
  reached, or None when it never gets there;
- :func:`convergence_curve`: ``(seconds, relative objective gap)`` points per
  library-solver, sorted by time: what benchopt draws
  (:func:`fastlogit.bench.accuracy_plots.convergence_plot`).

The library-solvers are fastlogit's ``LogisticRegression`` with its default
solver ("fastlogit-auto") and named solvers ("fastlogit-lbfgs",
"fastlogit-newton", "fastlogit-proximal"), and every peer of
:data:`fastlogit.bench.peers.PEERS` ("sklearn-newton-cholesky",
"glum-irls-cd", ...).  Each runs in a fresh Python process
(:mod:`fastlogit.bench.ladder_worker`) with its library's default threads,
so one library's thread pools, caches and imports never touch another's
timings; the data travel once through ``.npy`` files in a temporary folder.
:func:`run_ladder_suite` runs several problems (:class:`LadderProblem`) with
one process per library-solver, not one per library-solver and problem: a
worker's start-up (Python, the library's imports: 1.5 to 2.5 s) is paid
once, and a library-solver's problems run one after another in it.
Inside the worker each rung is timed ``repeats`` times after warm-up fits
(imports and Numba compilation excluded; see
:func:`fastlogit.bench.ladder_worker.run`) and the best time is kept.

A problem may ask for **standard errors** (``standard_errors=True``: an
unpenalized binary fit, ``C = inf``): then every timed fit is the fit and
the standard errors of its coefficients, as the library computes them
(fastlogit's ``inference()``, statsmodels' ``bse``, glum's ``std_errors``;
scikit-learn and sklearnex report none and are not run), the objective still
judges the accuracy, and, untimed, each rung's standard errors are compared
with fastlogit's own at its optimum (:func:`reference_standard_errors`):
``Rung.std_errors_gap``, their largest relative difference.

Nothing here raises for a peer that cannot run: a library that is absent,
a solver that does not minimize this problem's objective (see
:meth:`~fastlogit.bench.peers.Peer.supports`), a fit that fails, a worker
that crashes or times out each yields a :class:`LadderRecord` saying why
(``skipped``: nothing ran; ``stopped``: the ladder ended early).
"""

import json
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import ladder_worker
from .ladder_worker import FASTLOGIT_PREFIX

#: The full ladder of tolerances, loosest first.
LADDER = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)
#: The ladder of ``--quick`` runs: the loose end, the tight end, two between.
QUICK_LADDER = (1e-2, 1e-4, 1e-6, 1e-8)
#: "Equal accuracy": an objective within this of the best one reached (relative).
RTOL = 1e-6
#: Each library's iteration limit (IRLS iterations for glum, epochs for saga):
#: generous, so a fit stops on its tolerance, not on its limit.
MAX_ITER = 1000
#: fastlogit's solvers, the default first.  "lbfgs" is for the L2 penalty only;
#: "proximal" joins the default list when there is an L1 term.
FASTLOGIT_SOLVERS = ("auto", "lbfgs", "newton", "proximal")
#: fastlogit's default solver, as a library-solver name.
FASTLOGIT_DEFAULT = FASTLOGIT_PREFIX + "auto"
#: Lines of a crashed worker's stderr quoted in its record.
STDERR_LINES = 5
#: How often :func:`run_ladder_suite` looks at a worker's progress (seconds).
POLL_S = 0.02
#: The tolerance of fastlogit's Newton fit behind :func:`reference_standard_errors`:
#: far below the ladder, so the reference is the optimum's, not a rung's.
REFERENCE_TOL = 1e-10


# -- records -------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Rung:
    """One rung of a ladder: the fits at one tolerance.

    Attributes
    ----------
    tol : float, the tolerance the library was given (its own meaning).
    seconds : float, the best wall-clock time of the repeats.
    coef : float64 (1, d) for two classes, (K, d) for K.
    intercept : float64 (1,) or (K,).
    n_iter : int or None (a peer's iterations are not reported by
        :meth:`~fastlogit.bench.peers.Peer.fit`).
    converged : bool, whether the library met its own stopping rule.
    times_s : every repeat's seconds.
    solver : the solver that ran (fastlogit's ``solver_``: "auto" says which).
    messages : the warnings the fit raised, one line each.
    objective : float or None, ``F(coef, intercept)`` by
        :func:`~fastlogit.bench.peers.objective_value` (None until evaluated).
    std_errors : float64 (d + 1,) (intercept first) or None: the standard
        errors the library computed in the timed fit, on a problem that asks
        for them.
    std_errors_gap : float or None, their largest relative difference to
        :func:`reference_standard_errors` (None until evaluated, or without
        standard errors).
    """

    tol: float
    seconds: float
    coef: np.ndarray
    intercept: np.ndarray
    n_iter: int | None
    converged: bool
    times_s: tuple = ()
    solver: str | None = None
    messages: tuple = ()
    objective: float | None = None
    std_errors: np.ndarray | None = None
    std_errors_gap: float | None = None

    def as_dict(self):
        """The rung as JSON-able values, without ``coef``, ``intercept`` and
        ``std_errors`` (``std_errors_gap`` says how good they are)."""
        return {
            "tol": self.tol,
            "seconds": self.seconds,
            "times_s": list(self.times_s),
            "n_iter": self.n_iter,
            "converged": self.converged,
            "solver": self.solver,
            "messages": list(self.messages),
            "objective": self.objective,
            "std_errors_gap": self.std_errors_gap,
        }


@dataclass(frozen=True, eq=False)
class LadderRecord:
    """One library-solver's ladder.

    ``rungs`` loosest tolerance first; ``skipped`` says why nothing ran
    (None when it ran), ``stopped`` why the ladder ended before its last
    rung (a budget, a failed fit, a timeout; None when it ran to the end).
    ``warm_up_s`` is the warm-up fits' time (imports and compilation
    included), None when they did not run.
    """

    name: str
    rungs: tuple = ()
    skipped: str | None = None
    stopped: str | None = None
    warm_up_s: float | None = None

    @property
    def library(self):
        """ "fastlogit" or the peer's library ("scikit-learn", "glum", ...)."""
        if self.name.startswith(FASTLOGIT_PREFIX):
            return "fastlogit"
        from .peers import PEERS

        return PEERS[self.name].library if self.name in PEERS else self.name

    def as_dict(self):
        """The record as JSON-able values (rungs without their coefficients)."""
        return {
            "name": self.name,
            "library": self.library,
            "skipped": self.skipped,
            "stopped": self.stopped,
            "warm_up_s": self.warm_up_s,
            "rungs": [rung.as_dict() for rung in self.rungs],
        }


@dataclass(frozen=True)
class Accuracy:
    """A library-solver's time to equal accuracy (see :func:`time_to_accuracy`).

    ``seconds`` is its fastest time within ``rtol`` of the best objective
    (None when it never got there, then ``reason`` says why), ``tol`` the
    rung that gave it, ``gap`` that rung's relative objective gap (when it
    never got there: the smallest gap it reached; None without a rung).
    """

    name: str
    seconds: float | None
    tol: float | None
    gap: float | None
    reason: str | None = None


# -- which library-solvers run a problem -----------------------------------------------


def library_solver_names(l1_ratio=0.0):
    """Every library-solver name for a problem: fastlogit's solvers ("proximal"
    only with an L1 term), then every peer of
    :data:`~fastlogit.bench.peers.PEERS`, available or not."""
    from .peers import PEERS

    solvers = [s for s in FASTLOGIT_SOLVERS if s != "proximal" or float(l1_ratio) > 0.0]
    return [FASTLOGIT_PREFIX + s for s in solvers] + list(PEERS)


def _check_name(name):
    from .peers import PEERS

    if name.startswith(FASTLOGIT_PREFIX):
        if name.removeprefix(FASTLOGIT_PREFIX) in FASTLOGIT_SOLVERS:
            return
    elif name in PEERS:
        return
    known = [FASTLOGIT_PREFIX + s for s in FASTLOGIT_SOLVERS] + list(PEERS)
    raise ValueError(f"names: unknown library-solver {name!r}; known: {', '.join(known)}")


def why_not(
    name, *, n_classes, C, l1_ratio, fit_intercept, sample_weight=False, sparse=False, standard_errors=False
):
    """None when library-solver ``name`` minimizes ``F`` on such a problem (and,
    with ``standard_errors``, reports them), else why not (one line).  Whether a
    peer's library is installed is found out in its worker, not here (this
    imports no peer library)."""
    _check_name(name)
    if name.startswith(FASTLOGIT_PREFIX):
        solver = name.removeprefix(FASTLOGIT_PREFIX)
        if solver == "lbfgs" and float(l1_ratio) > 0.0 and not math.isinf(float(C)):
            return f"{name} supports only the L2 penalty (l1_ratio=0), not l1_ratio={l1_ratio}"
        return None
    from .peers import PEERS

    return PEERS[name].supports(
        n_classes=n_classes,
        C=C,
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        sample_weight=sample_weight,
        sparse=sparse,
        standard_errors=standard_errors,
    )


# -- running the ladders -----------------------------------------------------------------


def _check_settings(tols, repeats, max_iter, budget_s, timeout_s, repeat_limit_s=None):
    try:
        tols = [float(t) for t in np.atleast_1d(np.asarray(tols, dtype=np.float64))]
    except (TypeError, ValueError):
        raise ValueError(f"tols must be finite tolerances > 0, got {tols!r}") from None
    if not tols or not all(math.isfinite(t) and t > 0.0 for t in tols):
        raise ValueError(f"tols must be finite tolerances > 0, at least one, got {tols}")
    if len(set(tols)) != len(tols):
        raise ValueError(f"tols must not repeat a tolerance, got {tols}")
    for argument, value in (("repeats", repeats), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{argument} must be an integer >= 1, got {value!r}")
    for argument, value in (
        ("budget_s", budget_s),
        ("timeout_s", timeout_s),
        ("repeat_limit_s", repeat_limit_s),
    ):
        if value is not None and not (isinstance(value, int | float) and value > 0):
            raise ValueError(f"{argument} must be None or seconds > 0, got {value!r}")
    return sorted(tols, reverse=True)


def _save_data(folder, X, y, sample_weight):
    """Write X, y and the weights once for every worker; the spec's data entries."""
    import scipy.sparse

    if scipy.sparse.issparse(X):
        scipy.sparse.save_npz(folder / "X.npz", X, compressed=False)
        data = {"X": str(folder / "X.npz"), "X_format": "sparse"}
    else:
        np.save(folder / "X.npy", X)
        data = {"X": str(folder / "X.npy"), "X_format": "dense"}
    # Class codes 0 .. K-1 in np.unique order, the order of every library's
    # classes_ and of objective_value: any label type travels as .npy.
    np.save(folder / "y.npy", np.unique(y, return_inverse=True)[1].astype(np.int64))
    data["y"] = str(folder / "y.npy")
    data["sample_weight"] = None
    if sample_weight is not None:
        np.save(folder / "sample_weight.npy", sample_weight)
        data["sample_weight"] = str(folder / "sample_weight.npy")
    return data


def _worker_env(env):
    """The worker's environment: ours, plus ``env``, plus (last, as a fallback) the
    folder this fastlogit was imported from, so the worker imports the same one."""
    merged = dict(os.environ)
    merged.update(env or {})
    root = str(Path(__file__).resolve().parents[2])
    paths = [p for p in merged.get("PYTHONPATH", "").split(os.pathsep) if p]
    merged["PYTHONPATH"] = os.pathsep.join([*paths, root])
    return merged


def _stderr_tail(text):
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return " | ".join(lines[-STDERR_LINES:]) or "no output"


def _run_worker(spec, folder, timeout_s, env):
    """Run one worker; returns ``(result or None, failure or None)``."""
    spec_path = folder / "spec.json"
    spec_path.write_text(json.dumps(spec))
    command = [sys.executable, "-m", "fastlogit.bench.ladder_worker", str(spec_path), str(folder)]
    failure = None
    try:
        proc = subprocess.run(
            command,
            cwd=folder,  # nothing in the caller's folder shadows a library
            env=_worker_env(env),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        failure = f"the worker timed out after timeout_s={timeout_s:g} s"
    else:
        if proc.returncode < 0:
            failure = f"the worker was killed by signal {-proc.returncode}: {_stderr_tail(proc.stderr)}"
        elif proc.returncode != 0:
            failure = f"the worker exited with status {proc.returncode}: {_stderr_tail(proc.stderr)}"
    path = folder / ladder_worker.RESULT
    result = json.loads(path.read_text()) if path.exists() else None
    return result, failure


def _record(name, result, failure, folder):
    if result is None:
        return LadderRecord(name, skipped=failure or "the worker wrote no result")
    rungs = []
    for index, entry in enumerate(result["rungs"]):
        with np.load(folder / ladder_worker.rung_file(index)) as saved:
            coef, intercept = saved["coef"], saved["intercept"]
            std_errors = saved["std_errors"] if "std_errors" in saved.files else None
        rungs.append(
            Rung(
                tol=entry["tol"],
                seconds=min(entry["times_s"]),
                coef=np.atleast_2d(coef),
                intercept=np.asarray(intercept, dtype=np.float64).reshape(-1),
                std_errors=std_errors,
                n_iter=entry["n_iter"],
                converged=entry["converged"],
                times_s=tuple(entry["times_s"]),
                solver=entry["solver"],
                messages=tuple(entry["messages"]),
            )
        )
    skipped = result["skipped"]
    if skipped is None and not rungs and failure is not None:
        skipped = failure
    stopped = result["stopped"] if result["stopped"] is not None else (failure if rungs else None)
    return LadderRecord(name, tuple(rungs), skipped, stopped, result["warm_up_s"])


def _check_data(X, y, sample_weight, where=""):
    """``(y, sample_weight)`` as arrays; ValueError naming the argument when they do not fit X."""
    import scipy.sparse

    if not (scipy.sparse.issparse(X) or (isinstance(X, np.ndarray) and X.ndim == 2)):
        raise ValueError(f"{where}X must be a 2-d array or a scipy sparse matrix, got {type(X).__name__}")
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise ValueError(f"{where}y must have one label per row of X ({X.shape[0]}), got shape {y.shape}")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight, dtype=np.float64)
        if sample_weight.shape != y.shape:
            raise ValueError(f"{where}sample_weight must have shape {y.shape}, got {sample_weight.shape}")
    return y, sample_weight


def _problem_flags(X, y, C, l1_ratio, fit_intercept, sample_weight, standard_errors=False, where=""):
    """The keyword arguments of :func:`why_not` for one problem; ValueError when it
    asks for standard errors of anything but an unpenalized binary fit."""
    import scipy.sparse

    n_classes = len(np.unique(y))
    if standard_errors and not (math.isinf(float(C)) and n_classes == 2):
        raise ValueError(
            f"{where}standard_errors are compared on unpenalized (C=inf) binary fits only, "
            f"got C={C} and {n_classes} classes"
        )
    return {
        "n_classes": n_classes,
        "C": C,
        "l1_ratio": l1_ratio,
        "fit_intercept": fit_intercept,
        "sample_weight": sample_weight is not None,
        "sparse": scipy.sparse.issparse(X),
        "standard_errors": bool(standard_errors),
    }


def reference_standard_errors(X, y, *, fit_intercept=True, sample_weight=None):
    """fastlogit's standard errors at the unpenalized optimum: the yardstick of
    :func:`evaluate_standard_errors`.

    A Newton fit at :data:`REFERENCE_TOL`, then ``inference(X, y).std_err``
    (the inverse Fisher information's, as statsmodels' ``Logit``): float64
    (d + 1,) with the intercept's first (d without ``fit_intercept``).
    """
    from fastlogit import LogisticRegression

    model = LogisticRegression(
        C=np.inf, fit_intercept=fit_intercept, solver="newton", tol=REFERENCE_TOL, max_iter=MAX_ITER
    )
    model.fit(X, y, sample_weight=sample_weight)
    return np.ravel(model.inference(X, y, sample_weight=sample_weight).std_err).astype(np.float64)


def std_errors_gap(std_errors, reference):
    """The largest ``|s - r| / |r|`` over the parameters; NaN when the shapes
    differ or a value is not finite."""
    std_errors, reference = np.ravel(std_errors), np.ravel(reference)
    if std_errors.shape != reference.shape:
        return math.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = float(np.max(np.abs(std_errors - reference) / np.abs(reference)))
    return gap if math.isfinite(gap) else math.nan


def evaluate_standard_errors(records, reference):
    """``records`` with ``std_errors_gap`` set on every rung that has standard
    errors (:func:`std_errors_gap` to ``reference``, e.g.
    :func:`reference_standard_errors`); other rungs unchanged."""
    evaluated = []
    for record in records:
        rungs = tuple(
            rung
            if rung.std_errors is None
            else _with(rung, std_errors_gap=std_errors_gap(rung.std_errors, reference))
            for rung in record.rungs
        )
        evaluated.append(LadderRecord(record.name, rungs, record.skipped, record.stopped, record.warm_up_s))
    return evaluated


def _judge(records, X, y, *, C, l1_ratio, fit_intercept, sample_weight, standard_errors, reference):
    """:func:`evaluate_objectives`, then (a problem with standard errors)
    :func:`evaluate_standard_errors`; ``reference`` is a one-item list caching
    the problem's :func:`reference_standard_errors`, computed at first need."""
    records = evaluate_objectives(records, X, y, C=C, l1_ratio=l1_ratio, sample_weight=sample_weight)
    if not standard_errors or not any(r.std_errors is not None for rec in records for r in rec.rungs):
        return records
    if not reference:
        reference.append(
            reference_standard_errors(X, y, fit_intercept=fit_intercept, sample_weight=sample_weight)
        )
    return evaluate_standard_errors(records, reference[0])


def evaluate_objectives(records, X, y, *, C, l1_ratio, sample_weight=None):
    """``records`` with every rung's ``objective`` set to
    :func:`~fastlogit.bench.peers.objective_value` of its coefficients."""
    from .peers import objective_value

    evaluated = []
    for record in records:
        rungs = tuple(
            _with_objective(
                rung, objective_value(X, y, rung.coef, rung.intercept, C, l1_ratio, sample_weight)
            )
            for rung in record.rungs
        )
        evaluated.append(LadderRecord(record.name, rungs, record.skipped, record.stopped, record.warm_up_s))
    return evaluated


def _with(rung, **changes):
    fields = {name: getattr(rung, name) for name in rung.__dataclass_fields__}
    fields.update(changes)
    return Rung(**fields)


def _with_objective(rung, value):
    return _with(rung, objective=float(value))


def run_ladders(
    X,
    y,
    names=None,
    *,
    C=1.0,
    l1_ratio=0.0,
    fit_intercept=True,
    sample_weight=None,
    standard_errors=False,
    tols=LADDER,
    repeats=3,
    max_iter=MAX_ITER,
    budget_s=None,
    timeout_s=None,
    env=None,
    progress=None,
):
    """Every library-solver of ``names`` down the ladder ``tols``, each in its own process.

    Parameters
    ----------
    X : (n, d) float64 or float32 array, or a scipy sparse matrix.
    y : (n,) labels (two classes: one sigmoid model; K > 2: softmax); the
        workers get their codes ``0 .. K-1`` in ``np.unique`` order.
    names : library-solver names (see :func:`library_solver_names`, the
        default: every one for this problem).
    C, l1_ratio, fit_intercept, sample_weight : the objective ``F`` of
        :mod:`fastlogit.bench.peers`, the same for every library.
    standard_errors : bool; True times each fit with the standard errors of
        its coefficients and judges them (see the module docstring): only
        with ``C=inf`` and two classes (else ValueError); library-solvers
        that report none are skipped.
    tols : tolerances (any order; run loosest first).
    repeats : int >= 1, timed fits per rung (the best is kept), after the
        warm-up fits (fastlogit: at the loosest and the tightest rung; a
        peer: at the loosest).
    max_iter : int >= 1, each library's iteration limit.
    budget_s : seconds or None; a library-solver's ladder stops (``stopped``
        says so) before the next rung once its fits, warm-up included, took
        longer.  The first rung always runs.
    timeout_s : seconds or None; a worker running longer is killed, and its
        record keeps the rungs it finished.
    env : mapping or None, environment variables set for the workers (e.g.
        thread counts); by default each library runs with its own defaults.
        The folder this fastlogit was imported from is appended to their
        ``PYTHONPATH``, so a worker imports the same fastlogit.
    progress : callable or None, called with each :class:`LadderRecord` as
        it is done.

    Returns
    -------
    list of :class:`LadderRecord`, in the order of ``names``, every rung's
    ``objective`` evaluated here by :func:`evaluate_objectives` (and its
    ``std_errors_gap`` by :func:`evaluate_standard_errors`).  A
    library-solver that does not solve this problem (:func:`why_not`), whose
    library is absent, or whose worker failed is a record with ``skipped``
    set; nothing is raised for it.
    """
    tols = _check_settings(tols, repeats, max_iter, budget_s, timeout_s)
    y, sample_weight = _check_data(X, y, sample_weight)
    names = library_solver_names(l1_ratio) if names is None else list(names)
    for name in names:
        _check_name(name)
    problem = _problem_flags(X, y, C, l1_ratio, fit_intercept, sample_weight, standard_errors)
    settings = {
        "C": float(C),
        "l1_ratio": float(l1_ratio),
        "fit_intercept": bool(fit_intercept),
        "standard_errors": bool(standard_errors),
        "tols": tols,
        "repeats": int(repeats),
        "max_iter": int(max_iter),
        "budget_s": budget_s,
    }
    records = []
    reference = []  # the problem's reference standard errors, once needed
    with tempfile.TemporaryDirectory(prefix="fastlogit-ladder-") as tmp:
        data = _save_data(Path(tmp), X, y, sample_weight)
        for index, name in enumerate(names):
            reason = why_not(name, **problem)
            if reason is not None:
                record = LadderRecord(name, skipped=reason)
            else:
                folder = Path(tmp) / f"worker{index}"
                folder.mkdir()
                result, failure = _run_worker({"name": name, **data, **settings}, folder, timeout_s, env)
                record = _record(name, result, failure, folder)
                (record,) = _judge(
                    [record],
                    X,
                    y,
                    C=C,
                    l1_ratio=l1_ratio,
                    fit_intercept=fit_intercept,
                    sample_weight=sample_weight,
                    standard_errors=standard_errors,
                    reference=reference,
                )
            records.append(record)
            if progress is not None:
                progress(record)
    return records


def run_ladder(name, X, y, **options):
    """One library-solver's :class:`LadderRecord`: :func:`run_ladders` with ``names=[name]``."""
    (record,) = run_ladders(X, y, [name], **options)
    return record


# -- several problems, one process per library-solver ----------------------------------------


@dataclass(frozen=True, eq=False)
class LadderProblem:
    """One problem of :func:`run_ladder_suite`.

    Attributes
    ----------
    key : str, the problem's name (unique within a suite).
    X : (n, d) float64 or float32 array, or a scipy sparse matrix.
    y : (n,) labels.
    C, l1_ratio, fit_intercept, sample_weight : the objective ``F`` of
        :mod:`fastlogit.bench.peers`.
    standard_errors : bool, whether each timed fit includes the standard
        errors of its coefficients (as for :func:`run_ladders`).
    names : library-solver names to run, in the order the records come
        back (None: :func:`library_solver_names` of ``l1_ratio``).
    declined : ``{name: reason}``, names of ``names`` not run on this
        problem although they could (e.g. a dense Hessian too large for
        the machine): each is a record with ``skipped`` = its reason.
    tols, budget_s, timeout_s : this problem's own ladder, budget and
        timeout (None: the suite's).  A large problem starts lower on the
        ladder (its loosest rungs stop at zero coefficients) and needs more
        time per rung.
    budget_counts_warm_up : whether the warm-up fits count against
        ``budget_s`` (the suite's way: a slow solver does not spend its
        budget twice).  False for a problem whose warm-up (loading the data,
        a first fit) alone would spend the budget: the budget then counts
        the timed fits only, and ``timeout_s`` bounds the whole.
    """

    key: str
    X: object
    y: np.ndarray
    C: float = 1.0
    l1_ratio: float = 0.0
    fit_intercept: bool = True
    sample_weight: np.ndarray | None = None
    standard_errors: bool = False
    names: tuple | None = None
    declined: dict = field(default_factory=dict)
    tols: tuple | None = None
    budget_s: float | None = None
    timeout_s: float | None = None
    budget_counts_warm_up: bool = True

    def overrides(self, where=""):
        """This problem's own ladder settings, checked: the entries a worker's spec takes
        over the suite's (``tols``, ``budget_s``, ``timeout_s``, ``budget_counts_warm_up``)."""
        out = {"budget_counts_warm_up": bool(self.budget_counts_warm_up)}
        if self.tols is not None:
            try:
                out["tols"] = _check_settings(self.tols, 1, 1, None, None)
            except ValueError as exc:
                raise ValueError(f"{where}{exc}") from None
        for argument in ("budget_s", "timeout_s"):
            value = getattr(self, argument)
            if value is not None:
                if not (isinstance(value, int | float) and value > 0):
                    raise ValueError(f"{where}{argument} must be None or seconds > 0, got {value!r}")
                out[argument] = float(value)
        return out

    def solver_names(self):
        """The library-solver names of this problem, in order."""
        return list(library_solver_names(self.l1_ratio) if self.names is None else self.names)


def _batch_outcomes(entries, folder, timeout_s, env):
    """Run ``entries`` (``[(spec, out_folder)]``, one library-solver's problems) in one
    worker, in order; returns ``[(result or None, failure or None)]``, one per entry.

    ``timeout_s`` bounds each problem (a spec's own ``timeout_s`` replaces it),
    not the batch: the parent watches the
    worker's markers (:data:`~fastlogit.bench.ladder_worker.STARTED`,
    :data:`~fastlogit.bench.ladder_worker.DONE`); a problem running longer is
    killed with its worker, and a fresh worker takes the problems after it.
    So does a worker that crashed on a problem it had started.  A worker that
    fails before it starts any problem fails the rest with it.
    """
    outcomes = [None] * len(entries)
    pending = list(range(len(entries)))
    attempt = 0
    while pending:
        spec = {"batch": [{**entries[i][0], "out": str(entries[i][1])} for i in pending]}
        spec_path = folder / f"batch{attempt}.json"
        spec_path.write_text(json.dumps(spec))
        stderr_path = folder / f"stderr{attempt}.txt"
        attempt += 1
        command = [sys.executable, "-m", "fastlogit.bench.ladder_worker", str(spec_path), str(folder)]
        with open(stderr_path, "w") as stderr:
            proc = subprocess.Popen(
                command,
                cwd=folder,  # nothing in the caller's folder shadows a library
                env=_worker_env(env),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
            current, since, timed_out = None, time.perf_counter(), None
            while True:
                code = proc.poll()
                running = next(
                    (i for i in pending if not (entries[i][1] / ladder_worker.DONE).exists()), None
                )
                if running != current:
                    current, since = running, time.perf_counter()
                if code is not None:
                    break
                limit = timeout_s if current is None else entries[current][0].get("timeout_s", timeout_s)
                if limit is not None and current is not None and time.perf_counter() - since > limit:
                    proc.kill()
                    proc.wait()
                    timed_out = current
                    break
                time.sleep(POLL_S)
        failure = None
        if timed_out is not None:
            limit = entries[timed_out][0].get("timeout_s", timeout_s)
            failure = f"the worker timed out after timeout_s={limit:g} s"
        elif proc.returncode < 0:
            failure = (
                f"the worker was killed by signal {-proc.returncode}: {_stderr_tail(stderr_path.read_text())}"
            )
        elif proc.returncode != 0:
            failure = (
                f"the worker exited with status {proc.returncode}: {_stderr_tail(stderr_path.read_text())}"
            )
        else:
            failure = "the worker wrote no result"
        left = []
        for i in pending:
            out = entries[i][1]
            path = out / ladder_worker.RESULT
            result = json.loads(path.read_text()) if path.exists() else None
            if (out / ladder_worker.DONE).exists():
                outcomes[i] = (result, None)
            elif (out / ladder_worker.STARTED).exists() and not left:
                outcomes[i] = (result, failure)  # the problem the worker failed on
            else:
                left.append(i)
        if len(left) == len(pending):  # no progress: the worker fails before any problem
            for i in left:
                outcomes[i] = (None, failure)
            left = []
        pending = left
    return outcomes


def run_ladder_suite(
    problems,
    *,
    tols=LADDER,
    repeats=3,
    max_iter=MAX_ITER,
    budget_s=None,
    timeout_s=None,
    repeat_limit_s=None,
    env=None,
    progress=None,
):
    """Every library-solver of every problem down the ladder ``tols``, one process per
    library-solver.

    Parameters
    ----------
    problems : :class:`LadderProblem` s (unique keys).
    tols, repeats, max_iter, budget_s, env : as for :func:`run_ladders`;
        ``budget_s`` is per ladder (one library-solver on one problem).
    timeout_s : seconds or None, per problem: a library-solver's worker
        still on one problem after this long is killed, that record keeps
        the rungs it finished, and a fresh worker goes on with the next
        problems.
    repeat_limit_s : seconds or None; a rung is fitted again (up to
        ``repeats`` times) only while its fits took less than this in all:
        a slow fit is timed once, and the ladder goes on to tighter rungs.
    progress : callable or None, called with ``(key, LadderRecord)`` as
        each record is done.

    Returns
    -------
    dict ``{key: [LadderRecord, ...]}`` in the order of ``problems``, each
    list in the order of the problem's names, every rung's ``objective``
    evaluated (:func:`evaluate_objectives`; on a problem with standard
    errors, their ``std_errors_gap`` too).  Each library-solver's
    problems run one after another in one process (its first problem's
    ``warm_up_s`` includes what the library loads at its first fit:
    fastlogit's compiled kernels; a peer's modules are imported before, see
    :meth:`~fastlogit.bench.peers.Peer.available`), the library-solvers one
    after another; a record that could not run says why (``skipped``),
    as in :func:`run_ladders`.
    """
    tols = _check_settings(tols, repeats, max_iter, budget_s, timeout_s, repeat_limit_s)
    problems = list(problems)
    keys = [p.key for p in problems]
    if len(set(keys)) != len(keys):
        raise ValueError(f"problems: keys must be unique, got {keys}")
    checked = []
    for problem in problems:
        where = f"problem {problem.key!r}: "
        y, sample_weight = _check_data(problem.X, problem.y, problem.sample_weight, where)
        names = problem.solver_names()
        for name in [*names, *problem.declined]:
            _check_name(name)
        flags = _problem_flags(
            problem.X,
            y,
            problem.C,
            problem.l1_ratio,
            problem.fit_intercept,
            sample_weight,
            problem.standard_errors,
            where,
        )
        own = problem.overrides(where)  # checked before any worker starts
        checked.append((problem, y, sample_weight, names, flags, own))
    records = {p.key: {} for p in problems}
    references = {p.key: [] for p in problems}  # reference standard errors, once needed
    order = []  # each library-solver once, in the order the problems name them
    for _, _, _, names, _, _ in checked:
        order += [name for name in names if name not in order]
    settings = {
        "tols": tols,
        "repeats": int(repeats),
        "max_iter": int(max_iter),
        "budget_s": budget_s,
        "repeat_limit_s": repeat_limit_s,
    }
    with tempfile.TemporaryDirectory(prefix="fastlogit-ladder-") as tmp:
        data = {}
        for index, (problem, y, sample_weight, _, _, _) in enumerate(checked):
            folder = Path(tmp) / f"problem{index}"
            folder.mkdir()
            data[problem.key] = _save_data(folder, problem.X, y, sample_weight)
        for worker_index, name in enumerate(order):
            entries, runs = [], []
            for problem_index, (problem, _, _, names, flags, own) in enumerate(checked):
                if name not in names:
                    continue
                reason = problem.declined.get(name) or why_not(name, **flags)
                if reason is not None:
                    record = LadderRecord(name, skipped=reason)
                    records[problem.key][name] = record
                    if progress is not None:
                        progress(problem.key, record)
                    continue
                out = Path(tmp) / f"worker{worker_index}" / f"problem{problem_index}"
                out.mkdir(parents=True)
                spec = {
                    "name": name,
                    **data[problem.key],
                    "C": float(problem.C),
                    "l1_ratio": float(problem.l1_ratio),
                    "fit_intercept": bool(problem.fit_intercept),
                    "standard_errors": bool(problem.standard_errors),
                    **settings,
                    **own,
                }
                entries.append((spec, out))
                runs.append(problem_index)
            if not entries:
                continue
            outcomes = _batch_outcomes(entries, Path(tmp) / f"worker{worker_index}", timeout_s, env)
            for problem_index, (_, out), (result, failure) in zip(runs, entries, outcomes, strict=True):
                problem, y, sample_weight, _, _, _ = checked[problem_index]
                record = _record(name, result, failure, out)
                (record,) = _judge(
                    [record],
                    problem.X,
                    y,
                    C=problem.C,
                    l1_ratio=problem.l1_ratio,
                    fit_intercept=problem.fit_intercept,
                    sample_weight=sample_weight,
                    standard_errors=problem.standard_errors,
                    reference=references[problem.key],
                )
                records[problem.key][name] = record
                if progress is not None:
                    progress(problem.key, record)
    return {
        problem.key: [records[problem.key][name] for name in names] for problem, _, _, names, _, _ in checked
    }


# -- time to equal accuracy -----------------------------------------------------------------


def _objectives(records):
    for record in records:
        for rung in record.rungs:
            if rung.objective is None:
                raise ValueError(
                    f"records: a rung of {record.name!r} (tol={rung.tol:g}) has no objective; "
                    "evaluate it first (evaluate_objectives)"
                )
            yield record, rung


def _lowest(records):
    finite = [rung.objective for _, rung in _objectives(records) if math.isfinite(rung.objective)]
    return min(finite) if finite else None


def best_objective(records):
    """The lowest finite objective of any rung of any record.

    Raises ValueError when no rung has a finite objective.
    """
    best = _lowest(records)
    if best is None:
        raise ValueError("records: no rung has a finite objective")
    return best


def relative_gap(value, best):
    """``(value - best) / |best|`` (``value - best`` when ``best`` is 0)."""
    scale = abs(best) if best != 0.0 else 1.0
    return (value - best) / scale


def _check_rtol(rtol):
    if not (isinstance(rtol, int | float) and math.isfinite(rtol) and rtol > 0):
        raise ValueError(f"rtol must be a finite relative tolerance > 0, got {rtol!r}")


def time_to_accuracy(records, rtol=RTOL):
    """Each library-solver's fastest time to within ``rtol`` of the best objective.

    Parameters
    ----------
    records : :class:`LadderRecord` s with evaluated objectives (as
        :func:`run_ladders` returns them).
    rtol : float > 0, relative to the best objective any record reached.

    Returns
    -------
    dict ``{name: Accuracy}`` in the order of ``records``.  ``seconds`` is
    the least ``Rung.seconds`` among the rungs whose objective ``F`` has
    ``(F - F_best) / |F_best| <= rtol``: a looser rung that already got
    there counts, and so does a rung whose library said it did not converge
    (the objective judges, not the library).  None, with a reason, when no
    rung got there (or the record was skipped, or no record has a finite
    objective).
    """
    _check_rtol(rtol)
    best = _lowest(records)
    accuracies = {}
    for record in records:
        points = [
            (rung, relative_gap(rung.objective, best))
            for rung in record.rungs
            if best is not None and math.isfinite(rung.objective)
        ]
        reached = [(rung, gap) for rung, gap in points if gap <= rtol]
        if reached:
            rung, gap = min(reached, key=lambda point: point[0].seconds)
            accuracies[record.name] = Accuracy(record.name, rung.seconds, rung.tol, gap)
        elif record.skipped is not None:
            accuracies[record.name] = Accuracy(record.name, None, None, None, f"skipped: {record.skipped}")
        elif not points:
            accuracies[record.name] = Accuracy(
                record.name, None, None, None, "no rung with a finite objective"
            )
        else:
            rung, gap = min(points, key=lambda point: point[1])
            reason = f"closest: {gap:.1e} relative above the best at tol={rung.tol:g}"
            if record.stopped is not None:
                reason += f"; {record.stopped}"
            accuracies[record.name] = Accuracy(record.name, None, None, gap, reason)
    return accuracies


def convergence_curve(records):
    """``{name: [(seconds, gap), ...]}``: each rung's best time and relative objective
    gap to the best objective of any record, sorted by time.

    One entry per record that has a rung with a finite objective (skipped
    records have none; no entry at all when no rung has one).  A gap is 0 at
    the best objective itself: a log axis needs a floor
    (:func:`fastlogit.bench.accuracy_plots.convergence_plot` draws one).
    """
    best = _lowest(records)
    curves = {}
    for record in records:
        points = sorted(
            (rung.seconds, relative_gap(rung.objective, best))
            for rung in record.rungs
            if best is not None and math.isfinite(rung.objective)
        )
        if points:
            curves[record.name] = points
    return curves
