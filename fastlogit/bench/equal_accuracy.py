"""The peers section of ``fastlogit bench``: every library-solver to equal accuracy.

For each problem of :func:`peer_problems` (dense binary and K = 10 Gaussian
classes, the bench's own data; the dense binary data as float32; a CSR
text-like binary problem; an L1 fit with a sparse truth; an unpenalized fit
timed with the standard errors of its coefficients; two unscaled data sets
that ship with scikit-learn), fastlogit's solvers and every peer of
:data:`fastlogit.bench.peers.PEERS` that minimizes that problem's objective
go down a tolerance ladder, one process per library-solver
(:func:`fastlogit.bench.ladder.run_ladder_suite`).
Each fit's objective is judged by one yardstick
(:func:`fastlogit.bench.peers.objective_value`), and what is kept is each
library-solver's **time to equal accuracy**
(:func:`~fastlogit.bench.ladder.time_to_accuracy`: its fastest time within
:data:`~fastlogit.bench.ladder.RTOL` of the best objective any of them
reached) and its convergence curve.

The float32 problem hands every library the same float32 array: fastlogit
computes in float32 (with float64 sums), scikit-learn's newton-cholesky,
glum and sklearnex keep float32 too, scikit-learn's lbfgs copies it to
float64: each does what it does with such data, and the yardstick judges
every fit in float64.  The standard-errors problem times what a user who
wants them runs: fastlogit's ``fit`` then ``inference(X, y)``, statsmodels'
``Logit(y, add_constant(X)).fit()`` then ``bse``, glum's ``fit`` then
``std_errors(X, y)`` (see :mod:`fastlogit.bench.peers` for the mapping);
its accuracy is still the objective's, and each fit's standard errors are
compared with fastlogit's at the optimum, untimed
(:func:`~fastlogit.bench.ladder.reference_standard_errors`): the
``std_errors_gap`` of every rung and of each time to equal accuracy.

A peer whose library is not installed is not started: its records say so,
with the line that installs it (its ``install``: glum and sklearnex come
with :data:`~fastlogit.bench.peers.PEERS_EXTRA`), and
:func:`absent_libraries` lists them before the run begins.  Finding out
imports nothing (``importlib.util.find_spec``): a library that is installed
but broken is found out in its worker, whose record then says why.
"""

import importlib.util
import math

import numpy as np

from .ladder import (
    FASTLOGIT_DEFAULT,
    LADDER,
    QUICK_LADDER,
    RTOL,
    LadderProblem,
    convergence_curve,
    library_solver_names,
    run_ladder_suite,
    time_to_accuracy,
)
from .peers import PEERS
from .problems import gaussian_classes, real_data, sparse_truth, text_like

#: The peer solvers of a ``--quick`` run: scikit-learn's two strongest smooth
#: solvers, glum's IRLS with coordinate descent, sklearnex; saga for L1 (with
#: glum's irls-cd, the only peers of an L1 fit with an intercept).  Each is one
#: worker process (1.5 to 2.5 s of start-up); a full run starts every peer.
QUICK_L2_NAMES = (
    FASTLOGIT_DEFAULT,
    "sklearn-newton-cholesky",
    "sklearn-lbfgs",
    "glum-irls-cd",
    "sklearnex-lbfgs",
)
QUICK_L1_NAMES = (FASTLOGIT_DEFAULT, "sklearn-saga", "glum-irls-cd")
#: The float32 problem's quick peer: scikit-learn's newton-cholesky (its worker
#: runs the float64 problems anyway: no start-up of its own).
QUICK_FLOAT32_NAMES = (FASTLOGIT_DEFAULT, "sklearn-newton-cholesky")
#: The standard-errors problem's quick peers: statsmodels (one more worker) and
#: glum's irls-cd.
QUICK_SE_NAMES = (FASTLOGIT_DEFAULT, "statsmodels-newton", "glum-irls-cd")

#: How a run goes down the ladders: ``tols``, ``repeats`` (the best is kept),
#: ``repeat_limit_s`` (a rung whose fits took this long is not repeated),
#: ``budget_s`` (a ladder stops once its fits took this long) and
#: ``timeout_s`` (a worker still on one problem after this long is killed);
#: the problems' sizes (each capped by the run's largest size, so a tiny run
#: has tiny problems): ``dense_rows`` (the Gaussian binary, its float32 twin
#: and K = 10 data), ``sparse`` (rows, columns, words per row of the
#: text-like CSR problem; ``sparse_ladder``, optional: that problem's own
#: ``tols``, ``budget_counts_warm_up`` and ``timeout_s``, see
#: :class:`~fastlogit.bench.ladder.LadderProblem`), ``l1`` (rows, columns of the sparse-truth
#: problem), ``se`` (rows, columns of the standard-errors problem).
PLANS = {
    "quick": {
        "tols": QUICK_LADDER,
        "repeats": 1,
        "repeat_limit_s": None,
        "budget_s": 1.0,
        "timeout_s": 20.0,
        "dense_rows": 5_000,
        "sparse": (20_000, 2_000, 20),
        "l1": (5_000, 100),
        "se": (5_000, 10),
        "quick": True,
    },
    "full": {
        "tols": LADDER,
        "repeats": 3,
        "repeat_limit_s": 1.0,
        "budget_s": 6.0,
        "timeout_s": 60.0,
        "dense_rows": 50_000,
        # 10^6 x 10^5, 30 million nonzeros: its own ladder from 1e-4 (at 1e-2
        # and 1e-3 every library stops at zero coefficients: the gradient at
        # zero is below them on 10^5 rare columns), its budget without the
        # warm-up (loading the data, compiling, the 1e-8 fit: 30-50 s), and
        # 240 s for each worker.  fastlogit's Newton-CG is Jacobi-preconditioned
        # there (4.3 s to tol=1e-8; unpreconditioned it did not finish its
        # warm-up in 240 s).
        "sparse": (1_000_000, 100_000, 30),
        "sparse_ladder": {"tols": LADDER[2:], "budget_counts_warm_up": False, "timeout_s": 240.0},
        "l1": (20_000, 300),
        "se": (100_000, 20),
        "quick": False,
    },
}
#: What the plans cost, measured on a 2-core machine that was not quiet
#: (load 1 to 4): the quick plan's section 18 to 34 s (six worker processes,
#: 1.5 to 5 s of start-up each there); the full plan's, with budget_s=15,
#: repeat_limit_s=2, 10^5 dense rows and every peer, 590 s, of which the
#: slowest peers on their budgets (saga, liblinear, glum, scikit-learn's
#: K = 10 and CSR fits) and 20 to 55 s per fastlogit solver (7 rungs x 3
#: repeats on 6 problems): hence the smaller budget, repeat limit and rows.
#: With the float32 and standard-errors problems the quick section took 18.7 s
#: (load 2.5 to 3.4; seven workers, statsmodels' the one more).  glum's IRLS on
#: float32 data cannot meet gradient_tol=1e-8 (its gradient is float32's; 1e-7
#: it meets), so its rungs stop at 1e-7 (:mod:`fastlogit.bench.peers`).

#: Peers that form and factor a dense Hessian of ``p^2`` entries (``p = d K``
#: parameters, ``d`` for two classes) at every iteration.
DENSE_HESSIAN_PEERS = ("sklearn-newton-cholesky", "glum-irls-cd", "glum-irls-ls")
#: Beyond 8 192 parameters such a Hessian takes 512 MiB and more: declined.
DENSE_HESSIAN_MAX_PARAMS = 8_192
#: Multiply-adds of one such Hessian, ``n (nnz per row * K)^2 + p^3 / 3`` (the
#: products of every row's nonzeros, the Cholesky factorization), beyond which
#: the peer is declined: scikit-learn's newton-cholesky took 17 s for its first
#: fit at 5.3e9 (5 000 x 100, K = 10, a busy 2-core machine), past a quick
#: run's whole budget, and 0.4 s at 2.7e9 (20 000 x 2 000 CSR, 20 nonzeros a
#: row, binary: the Cholesky factorization is most of it).
DENSE_HESSIAN_MAX_FLOPS = 5e9
#: The L1 problem's penalty per row, ``1 / (C n)``: at 0.02 the L1 fit of
#: :func:`~fastlogit.bench.problems.sparse_truth` keeps about its 10 true columns.
L1_STRENGTH = 0.02
#: Seeds of the problems (the Gaussian ones are the bench's own data: see
#: :data:`fastlogit.bench.run.SEED`).
SPARSE_SEED, L1_SEED, SE_SEED = 11, 12, 13


def installed(module):
    """Whether ``module`` can be found on the path (``importlib.util.find_spec``;
    nothing is imported)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def absent_libraries():
    """``{distribution: reason}`` for each peer library that is not installed.

    Looks for the modules without importing them (:func:`installed`: the
    bench's own process loads no peer library); a broken install is found
    out by its worker.  Each reason names the peers skipped and the line
    that installs them.
    """
    absent = {}
    for peer in PEERS.values():
        if peer.distribution in absent or installed(peer.module):
            continue
        names = ", ".join(p.name for p in PEERS.values() if p.distribution == peer.distribution)
        absent[peer.distribution] = f"{peer.distribution} is not installed: {names} skipped; {peer.install}"
    return absent


def _names(quick, l1_ratio, quick_names=None):
    if quick:
        if quick_names is not None:
            return quick_names
        return QUICK_L1_NAMES if l1_ratio > 0 else QUICK_L2_NAMES
    return tuple(library_solver_names(l1_ratio))


def hessian_flops(n, nnz, d, n_classes):
    """Multiply-adds of one dense Hessian of a logistic model: ``n (r K)^2 + p^3 / 3``
    with ``r = nnz / n`` nonzeros per row, ``K`` the classes (1 for two),
    ``p = d K`` the parameters."""
    k = 1 if n_classes == 2 else n_classes
    per_row = nnz / max(n, 1)
    params = d * k
    return n * (per_row * k) ** 2 + params**3 / 3


def _declined(names, description, absent):
    """``{name: reason}``: peers not started on this problem (library absent, Hessian too large)."""
    k = 1 if description["n_classes"] == 2 else description["n_classes"]
    params = description["d"] * k
    flops = hessian_flops(description["n"], description["nnz"], description["d"], description["n_classes"])
    declined = {}
    for name in names:
        peer = PEERS.get(name)
        if peer is None:
            continue
        if peer.distribution in absent:
            declined[name] = f"{peer.distribution} is not installed; {peer.install}"
        elif name in DENSE_HESSIAN_PEERS and params > DENSE_HESSIAN_MAX_PARAMS:
            declined[name] = (
                f"declined: {name} forms a dense Hessian of {params:,}^2 entries "
                f"({params**2 * 8 / 2**30:.1f} GiB; the limit is {DENSE_HESSIAN_MAX_PARAMS:,} parameters)"
            )
        elif name in DENSE_HESSIAN_PEERS and flops > DENSE_HESSIAN_MAX_FLOPS:
            declined[name] = (
                f"declined: {name} forms a dense Hessian of {params:,} parameters, "
                f"~{flops:.1e} multiply-adds per iteration (the limit is {DENSE_HESSIAN_MAX_FLOPS:.0e})"
            )
    return declined


def _built(
    key, title, X, y, data, *, C=1.0, l1_ratio=0.0, quick_names=None, standard_errors=False, ladder=None
):
    """One problem of :func:`peer_problems` before its peers are chosen (``ladder``: its
    own :class:`~fastlogit.bench.ladder.LadderProblem` settings, or None)."""
    return {
        "ladder": dict(ladder or {}),
        "key": key,
        "title": title,
        "X": X,
        "y": y,
        "data": data,
        "C": C,
        "l1_ratio": l1_ratio,
        "quick_names": quick_names,
        "standard_errors": standard_errors,
    }


def peer_problems(plan, *, max_rows, n_features, n_classes, seed, absent=None):
    """The problems of the peers section: ``[(LadderProblem, description), ...]``.

    Parameters
    ----------
    plan : a value of :data:`PLANS`.
    max_rows : int, the run's largest size: every synthetic problem's rows
        are capped by it.
    n_features : int, the Gaussian problems' d (the bench's).
    n_classes : int, the multinomial Gaussian problem's K (the bench's).
    seed : the bench's seed: the Gaussian problems are
        ``gaussian_classes(n, n_features, 2, seed)`` (and its float32 copy)
        and ``gaussian_classes(n, n_features, n_classes, seed + 1)``, the
        bench's data (the same truth at any n); the standard-errors problem
        is ``sparse_truth(n, d, n_nonzero=d, seed=SE_SEED)`` with the plan's
        ``se`` (a dense logistic truth).
    absent : :func:`absent_libraries` (default: found out now).

    Returns
    -------
    list of ``(LadderProblem, dict)``; the dict (JSON-able) holds ``key``,
    ``title``, ``data`` (a sentence), ``n``, ``d``, ``n_classes``,
    ``format`` ("dense" or "CSR"), ``dtype`` ("float64" or "float32"),
    ``nnz``, ``C`` (None: no penalty), ``l1_ratio`` and
    ``standard_errors`` (whether the timed fits include them).
    """
    absent = absent_libraries() if absent is None else absent
    quick = plan["quick"]
    n_dense = min(plan["dense_rows"], max_rows)
    n_sparse, d_sparse, words = plan["sparse"]
    n_sparse = min(n_sparse, max_rows)
    d_sparse = min(d_sparse, max(n_sparse // 10, 50))
    words = min(words, d_sparse)
    n_l1, d_l1 = plan["l1"]
    n_l1 = min(n_l1, max_rows)
    d_l1 = max(min(d_l1, n_l1 // 10), 20)
    n_se, d_se = plan["se"]
    n_se = min(n_se, max_rows)
    d_se = max(min(d_se, n_se // 10), 2)

    gaussian = "Gaussian classes with a shared covariance"
    built = []
    X, y, _, _ = gaussian_classes(n_dense, n_features, 2, seed=seed)
    built.append(_built("dense-binary", "dense binary", X, y, f"{gaussian} (the bench's data)"))
    built.append(
        _built(
            "dense-float32",
            "dense binary float32",
            X.astype(np.float32),
            y,
            "the dense binary data rounded to float32; every library gets the float32 array "
            "(fastlogit fits it in float32), every fit is judged in float64",
            quick_names=QUICK_FLOAT32_NAMES,
        )
    )
    X, y, _, _ = gaussian_classes(n_dense, n_features, n_classes, seed=seed + 1)
    built.append(
        _built(f"dense-K{n_classes}", f"dense softmax K={n_classes}", X, y, f"{gaussian} (the bench's data)")
    )
    X, y, _, _ = text_like(n_sparse, d_sparse, words, seed=SPARSE_SEED)
    built.append(
        _built(
            "csr-text",
            "CSR text-like binary",
            X,
            y,
            f"{words} Zipf-distributed words per row, log1p counts, unit-norm rows; a logistic truth",
            ladder=plan.get("sparse_ladder"),
        )
    )
    X, y, _, _ = sparse_truth(n_l1, d_l1, seed=L1_SEED)
    built.append(
        _built(
            "l1-sparse-truth",
            "L1, sparse truth",
            X,
            y,
            f"standard normal columns, 10 of {d_l1} true coefficients nonzero; L1 penalty "
            f"1/(C n) = {L1_STRENGTH:g} per row",
            C=1.0 / (L1_STRENGTH * n_l1),
            l1_ratio=1.0,
        )
    )
    # A logistic truth with overlapping classes (log-loss ~0.45): the maximum
    # likelihood estimate exists even at a tiny run's 200 rows, where Gaussian
    # classes this well apart would be (quasi-)separated and have no standard errors.
    X, y, _, _ = sparse_truth(n_se, d_se, n_nonzero=d_se, seed=SE_SEED)
    built.append(
        _built(
            "unpenalized-se",
            "unpenalized + standard errors",
            X,
            y,
            f"standard normal columns, a logistic truth with all {d_se} coefficients nonzero, no "
            "penalty (C = inf); each timed fit includes the standard errors of "
            "its coefficients (fastlogit: inference(); statsmodels: Logit(...).fit().bse; glum: "
            "std_errors(X, y)), and the note gives their largest relative difference to fastlogit's "
            "at the optimum",
            C=math.inf,
            quick_names=QUICK_SE_NAMES,
            standard_errors=True,
        )
    )
    for name, title, classes in (
        ("breast_cancer", "breast cancer (raw)", "binary"),
        ("wine", "wine (raw)", "K=3"),
    ):
        X, y = real_data(name)
        built.append(
            _built(
                name.replace("_", "-"),
                title,
                X,
                y,
                f"scikit-learn's load_{name}(), {classes}, columns unscaled (as a user's data come)",
            )
        )

    problems = []
    for entry in built:
        X, y, C, l1_ratio = entry["X"], entry["y"], entry["C"], entry["l1_ratio"]
        K = len(np.unique(y))
        names = _names(quick, l1_ratio, entry["quick_names"])
        sparse = not isinstance(X, np.ndarray)
        description = {
            "key": entry["key"],
            "title": entry["title"],
            "data": entry["data"],
            "n": int(X.shape[0]),
            "d": int(X.shape[1]),
            "n_classes": int(K),
            "format": "CSR" if sparse else "dense",
            "dtype": str(X.dtype),
            "nnz": int(X.nnz) if sparse else int(X.size),
            "C": None if math.isinf(C) else float(C),  # None: strict JSON has no Infinity
            "l1_ratio": float(l1_ratio),
            "standard_errors": entry["standard_errors"],
        }
        if "tols" in entry["ladder"]:
            description["tols"] = [float(t) for t in entry["ladder"]["tols"]]
        problem = LadderProblem(
            entry["key"],
            X,
            y,
            C=C,
            l1_ratio=l1_ratio,
            standard_errors=entry["standard_errors"],
            names=names,
            declined=_declined(names, description, absent),
            **entry["ladder"],
        )
        problems.append((problem, description))
    return problems


def _std_errors_gap(record, tol):
    """The ``std_errors_gap`` of ``record``'s rung at ``tol`` (None: its tightest
    rung's); None when no such rung has standard errors."""
    rungs = [r for r in record.rungs if r.std_errors_gap is not None]
    if tol is not None:
        rungs = [r for r in rungs if r.tol == tol]
    return rungs[-1].std_errors_gap if rungs else None


def _accuracy_dict(accuracy, record):
    return {
        "seconds": accuracy.seconds,
        "tol": accuracy.tol,
        "gap": accuracy.gap,
        "reason": accuracy.reason,
        "std_errors_gap": _std_errors_gap(record, accuracy.tol),
    }


def summarize_records(records, rtol=RTOL):
    """The JSON-able results of one problem's ladders.

    Returns
    -------
    dict: ``records`` (each :meth:`~fastlogit.bench.ladder.LadderRecord.as_dict`),
    ``accuracy`` (``{name: {"seconds", "tol", "gap", "reason",
    "std_errors_gap"}}``, from :func:`~fastlogit.bench.ladder.time_to_accuracy`;
    ``std_errors_gap`` is that rung's, or the tightest rung's when it never
    got there, None without standard errors), ``curves``
    (``{name: [[seconds, gap], ...]}``, :func:`~fastlogit.bench.ladder.convergence_curve`)
    and ``best_objective`` (None when no rung has a finite objective).
    """
    finite = [r.objective for rec in records for r in rec.rungs if math.isfinite(r.objective)]
    by_name = {record.name: record for record in records}
    return {
        "best_objective": min(finite) if finite else None,
        "records": [record.as_dict() for record in records],
        "accuracy": {
            name: _accuracy_dict(a, by_name[name]) for name, a in time_to_accuracy(records, rtol).items()
        },
        "curves": {
            name: [list(point) for point in points] for name, points in convergence_curve(records).items()
        },
    }


def run_peers(plan, problems, *, absent, threads=None, progress=None):
    """Run the peers section; returns its JSON-ready dict.

    Parameters
    ----------
    plan : a value of :data:`PLANS` (or a dict of the same keys).
    problems : :func:`peer_problems` of this plan.
    absent : ``{distribution: reason}``, :func:`absent_libraries` (the peers
        ``problems`` declined for it).
    threads : int or None; None lets every library run with its default
        threads, an int sets ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
        ``MKL_NUM_THREADS`` and ``NUMBA_NUM_THREADS`` in the workers.
    progress : callable or None, called with ``(key, LadderRecord)`` as each
        record is done (:func:`count_records` of them).

    Returns
    -------
    dict: ``settings`` (the ladder, repeats, budgets, ``rtol``, threads),
    ``absent`` (``{distribution: reason}``), ``problems`` (one dict per
    problem: its description from :func:`peer_problems` and
    :func:`summarize_records`) and ``wall_time_s``.
    """
    import time

    started = time.perf_counter()
    env = None
    if threads is not None:
        env = {
            var: str(threads)
            for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
        }
    records = run_ladder_suite(
        [problem for problem, _ in problems],
        tols=plan["tols"],
        repeats=plan["repeats"],
        repeat_limit_s=plan["repeat_limit_s"],
        budget_s=plan["budget_s"],
        timeout_s=plan["timeout_s"],
        env=env,
        progress=progress,
    )
    return {
        "settings": {
            "tols": list(plan["tols"]),
            "repeats": plan["repeats"],
            "repeat_limit_s": plan["repeat_limit_s"],
            "budget_s": plan["budget_s"],
            "timeout_s": plan["timeout_s"],
            "rtol": RTOL,
            "threads": threads,
            "quick": plan["quick"],
        },
        "absent": absent,
        "problems": [
            {**description, **summarize_records(records[problem.key])} for problem, description in problems
        ],
        "wall_time_s": time.perf_counter() - started,
    }


def count_records(problems):
    """How many records :func:`run_peers` reports on ``problems`` (for a progress bar)."""
    return sum(len(problem.solver_names()) for problem, _ in problems)


def headline(problem):
    """One problem's headline from its JSON (an entry of ``run_peers(...)["problems"]``).

    Returns
    -------
    dict: ``fastlogit`` (the default solver's ``accuracy`` entry, or None
    when it did not run), ``fastest_fastlogit`` (the name of fastlogit's
    fastest solver at equal accuracy, or None), ``best_peer`` (the name of
    the fastest peer at equal accuracy, or None when none got there),
    ``best_peer_seconds``, ``ratio`` (best peer's time / fastlogit's default's:
    > 1 when fastlogit is faster; None unless both got there) and
    ``peers_run`` (how many peers ran at all).
    """
    accuracy = problem["accuracy"]
    ours = accuracy.get(FASTLOGIT_DEFAULT)
    timed = {name: a["seconds"] for name, a in accuracy.items() if a["seconds"] is not None}
    fastlogit_times = {n: s for n, s in timed.items() if n not in PEERS}
    peer_times = {n: s for n, s in timed.items() if n in PEERS}
    best_peer = min(peer_times, key=peer_times.get) if peer_times else None
    ratio = None
    if best_peer is not None and ours is not None and ours["seconds"] is not None:
        ratio = peer_times[best_peer] / ours["seconds"]
    ran = {r["name"] for r in problem["records"] if r["skipped"] is None}
    return {
        "fastlogit": ours,
        "fastest_fastlogit": min(fastlogit_times, key=fastlogit_times.get) if fastlogit_times else None,
        "best_peer": best_peer,
        "best_peer_seconds": peer_times.get(best_peer),
        "ratio": ratio,
        "peers_run": len(ran & set(PEERS)),
    }
