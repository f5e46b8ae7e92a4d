"""The child process of :mod:`fastlogit.bench.ladder`: one library-solver down one
tolerance ladder, timed.

Run as ``python -m fastlogit.bench.ladder_worker SPEC OUT``: ``SPEC`` is the
JSON file written by :func:`fastlogit.bench.ladder.run_ladders` (the
library-solver, the problem's settings, the ladder, the paths of the data
files), ``OUT`` a folder.  The worker loads the data, warms the solver up,
then fits once per repeat at every rung, loosest tolerance first, and after
each rung writes what it has: ``rung<i>.npz`` (``coef``, ``intercept``, and
``std_errors`` when the spec asks for them) then :data:`RESULT` (JSON).
A parent that kills the worker part-way (a timeout) still reads the rungs
finished before it.

Nothing is timed but the fit (with ``"standard_errors": true`` in the spec,
the fit and then the standard errors of its coefficients, as the library
computes them: a user who wants them pays for both): the data are loaded,
the library imported and the solver warmed up first.  The worker sets no
thread counts: every library runs with its defaults, in a process of its
own.

A ``SPEC`` holding ``{"batch": [spec, ...]}`` (each with its own ``"out"``
folder) runs one library-solver on several problems, one after another in
this one process (:func:`fastlogit.bench.ladder.run_ladder_suite`): each
problem's folder gets :data:`STARTED` when it begins and :data:`DONE` when
it ends, so the parent knows which problem a worker is on.
"""

import gc
import json
import math
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np

#: Name prefix of fastlogit's own solvers ("fastlogit-auto", "fastlogit-newton", ...);
#: every other name is a peer of :data:`fastlogit.bench.peers.PEERS`.
FASTLOGIT_PREFIX = "fastlogit-"
#: The JSON file the worker (re)writes after each rung.
RESULT = "result.json"
#: Empty marker files of a batch: a problem begun, a problem finished.
STARTED, DONE = "started", "done"
#: Message fragments by which a library says a fit stopped on its iteration
#: limit, for libraries that warn with a category other than ConvergenceWarning.
NOT_CONVERGED = ("failed to converge", "did not converge", "not converge")


def rung_file(index):
    """The ``.npz`` holding rung ``index``'s ``coef`` and ``intercept``."""
    return f"rung{index}.npz"


def load_data(spec):
    """``(X, y, sample_weight)`` from the files named in ``spec``: X a ``.npy``
    array or a scipy ``.npz`` sparse matrix, y and sample_weight ``.npy``."""
    if spec["X_format"] == "sparse":
        import scipy.sparse

        X = scipy.sparse.load_npz(spec["X"])  # in the caller's format (CSR, CSC)
    else:
        X = np.load(spec["X"])
    y = np.load(spec["y"])
    weights = None if spec["sample_weight"] is None else np.load(spec["sample_weight"])
    return X, y, weights


class Skip(Exception):
    """The library-solver cannot run here (its library does not import)."""


def make_fit(name, *, C, l1_ratio, fit_intercept, max_iter, standard_errors=False):
    """``fit(X, y, sample_weight, tol) -> dict`` for library-solver ``name``.

    The dict holds ``coef`` ((1, d) or (K, d) float64), ``intercept`` ((1,)
    or (K,)), ``std_errors`` (with ``standard_errors``: the coefficients'
    standard errors, (d + 1,) float64 with the intercept's first, computed
    after the fit inside the same call: fastlogit's
    ``inference(X, y).std_err``, a peer's by
    :meth:`~fastlogit.bench.peers.Peer.fit`; else None), ``n_iter`` (int,
    or None when the library does not say:
    :meth:`~fastlogit.bench.peers.Peer.fit` returns the coefficients only),
    ``converged`` (fastlogit's ``converged_``; a peer converged unless it
    warned that it did not), ``solver`` (the solver that ran: fastlogit's
    ``solver_``, which for "auto" says which it chose) and ``messages`` (the
    warnings raised, one line each).  Raises :class:`Skip` when a peer's
    library is absent.
    """
    if name.startswith(FASTLOGIT_PREFIX):
        from fastlogit import LogisticRegression

        solver = name.removeprefix(FASTLOGIT_PREFIX)

        def fit(X, y, sample_weight, tol):
            model = LogisticRegression(
                C=C, l1_ratio=l1_ratio, fit_intercept=fit_intercept, solver=solver, tol=tol, max_iter=max_iter
            )
            std_errors = None
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model.fit(X, y, sample_weight=sample_weight)
                if standard_errors:
                    std_errors = model.inference(X, y, sample_weight=sample_weight).std_err
            return {
                "coef": model.coef_,
                "intercept": model.intercept_,
                "std_errors": std_errors,
                "n_iter": int(model.n_iter_[0]),
                "converged": bool(model.converged_),
                "solver": model.solver_,
                "messages": _lines(caught),
            }

        return fit

    from .peers import PEERS

    peer = PEERS[name]
    if not peer.available():
        raise Skip(peer.reason)

    def fit(X, y, sample_weight, tol):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            coef, intercept, *std_errors = peer.fit(
                X,
                y,
                C=C,
                l1_ratio=l1_ratio,
                fit_intercept=fit_intercept,
                tol=tol,
                max_iter=max_iter,
                sample_weight=sample_weight,
                standard_errors=standard_errors,
            )
        return {
            "coef": coef,
            "intercept": intercept,
            "std_errors": std_errors[0] if std_errors else None,
            "n_iter": None,
            "converged": not any(_says_not_converged(w) for w in caught),
            "solver": peer.solver,
            "messages": _lines(caught),
        }

    return fit


def _says_not_converged(warning):
    text = str(warning.message).lower()
    return "convergence" in warning.category.__name__.lower() or any(m in text for m in NOT_CONVERGED)


def _lines(caught):
    """One line per distinct warning, in the order raised."""
    lines = []
    for w in caught:
        line = f"{w.category.__name__}: {' '.join(str(w.message).split())}"
        if line not in lines:
            lines.append(line)
    return lines


def timed(fit, repeats, limit_s=None):
    """``(times, outcome)``: ``repeats`` wall-clock seconds of ``fit()`` and the
    last call's result (every call does the same deterministic work).

    With ``limit_s``, no further call once the calls so far took ``limit_s``
    seconds or more: a slow fit is timed fewer times (once at least).
    """
    times = []
    outcome = None
    for _ in range(repeats):
        gc.collect()  # a collection left over from the previous fit is not this one's cost
        start = time.perf_counter()
        outcome = fit()
        times.append(time.perf_counter() - start)
        if limit_s is not None and sum(times) >= limit_s:
            break
    return times, outcome


def _why(exc):
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


def _write_json(path, payload):
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload))
    os.replace(tmp, path)  # a reader sees the old file or the new one, never half of one


def _write_rung(out, index, outcome):
    path = out / rung_file(index)
    tmp = out / f"rung{index}.tmp.npz"
    arrays = {"coef": np.asarray(outcome["coef"], dtype=np.float64), "intercept": outcome["intercept"]}
    if outcome.get("std_errors") is not None:
        arrays["std_errors"] = np.ravel(np.asarray(outcome["std_errors"], dtype=np.float64))
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def run(spec, out):
    """Run the ladder ``spec`` describes; write the rungs and :data:`RESULT` into ``out``.

    The JSON holds ``skipped`` (why nothing ran, or None), ``stopped`` (why
    the ladder ended before its last rung, or None), ``warm_up_s`` and one
    entry per finished rung: ``tol``, ``times_s`` (every repeat), ``n_iter``,
    ``converged``, ``solver``, ``messages``.  A library that fails to import
    or to fit is reported there, never raised.  Each rung is fitted
    ``spec["repeats"]`` times, fewer when the optional
    ``spec["repeat_limit_s"]`` is set and its fits take that long
    (:func:`timed`).

    The warm-up fits are where Numba compilation (or loading from its
    cache, ~0.3 s a kernel) and any import a library defers to its first fit
    happen (a peer's fitting modules are imported before, by
    :meth:`~fastlogit.bench.peers.Peer.available`).  Which of fastlogit's
    kernels a fit reaches depends on ``tol`` ("auto" may end a loose fit
    with one Newton step, and switches from lbfgs to Newton when lbfgs is
    slow to meet a tight one): fastlogit warms up at the loosest and at the
    tightest rung.  A peer, with nothing to compile, warms up at the
    loosest only, so a slow solver does not spend its budget twice at its
    slowest rung.  ``warm_up_s`` is their total.
    """
    out = Path(out)
    result = {"name": spec["name"], "skipped": None, "stopped": None, "warm_up_s": None, "rungs": []}
    result_path = out / RESULT
    try:
        X, y, weights = load_data(spec)
        fit = make_fit(
            spec["name"],
            C=spec["C"],
            l1_ratio=spec["l1_ratio"],
            fit_intercept=spec["fit_intercept"],
            max_iter=spec["max_iter"],
            standard_errors=spec.get("standard_errors", False),
        )
    except Skip as exc:
        result["skipped"] = str(exc)
        _write_json(result_path, result)
        return result
    except Exception as exc:
        result["skipped"] = f"could not start: {_why(exc)}"
        _write_json(result_path, result)
        return result

    tols = sorted(spec["tols"], reverse=True)
    budget = math.inf if spec["budget_s"] is None else spec["budget_s"]
    warm_tols = [tols[0]]
    if spec["name"].startswith(FASTLOGIT_PREFIX) and len(tols) > 1:
        warm_tols.append(tols[-1])
    spent = 0.0
    for warm_tol in warm_tols:
        try:
            warm_up, _ = timed(lambda warm_tol=warm_tol: fit(X, y, weights, warm_tol), 1)
        except Exception as exc:
            result["skipped"] = f"the warm-up fit at tol={warm_tol:g} failed: {_why(exc)}"
            _write_json(result_path, result)
            return result
        spent += warm_up[0]
    result["warm_up_s"] = spent
    if not spec.get("budget_counts_warm_up", True):
        spent = 0.0  # the budget counts the timed fits only (timeout_s bounds the whole)
    _write_json(result_path, result)
    # What lives now (the libraries' modules, the data) lives to the end: out of
    # the collector's sight, the collection before each timed fit costs
    # microseconds, not the ~90 ms of a full pass over scikit-learn's objects.
    gc.collect()
    gc.freeze()

    for index, tol in enumerate(tols):
        if index > 0 and spent > budget:  # the first rung always runs: a slow solver still shows
            result["stopped"] = (
                f"budget_s={budget:g} spent ({spent:.3g} s, warm-up "
                f"{'included' if spec.get('budget_counts_warm_up', True) else 'not counted'}): "
                f"tol <= {tol:g} not run"
            )
            break
        try:
            times, outcome = timed(
                lambda tol=tol: fit(X, y, weights, tol), spec["repeats"], spec.get("repeat_limit_s")
            )
        except Exception as exc:
            result["stopped"] = f"the fit at tol={tol:g} failed: {_why(exc)}"
            break
        spent += sum(times)
        _write_rung(out, index, outcome)
        result["rungs"].append(
            {
                "tol": tol,
                "times_s": times,
                "n_iter": outcome["n_iter"],
                "converged": outcome["converged"],
                "solver": outcome["solver"],
                "messages": outcome["messages"],
            }
        )
        _write_json(result_path, result)
    _write_json(result_path, result)
    return result


def main(argv=None):
    """``python -m fastlogit.bench.ladder_worker SPEC OUT``; exit status 0 unless
    the arguments are wrong (a failing fit is reported in :data:`RESULT`).
    A batch spec (see the module's docstring) ignores ``OUT``."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("usage: python -m fastlogit.bench.ladder_worker SPEC OUT", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    if "batch" in spec:
        run_batch(spec["batch"])
    else:
        run(spec, argv[1])
    return 0


def run_batch(specs):
    """:func:`run` of each spec into its own ``spec["out"]`` folder, in order,
    each framed by the :data:`STARTED` and :data:`DONE` markers."""
    for spec in specs:
        out = Path(spec["out"])
        (out / STARTED).touch()
        run(spec, out)
        (out / DONE).touch()


if __name__ == "__main__":
    sys.exit(main())
