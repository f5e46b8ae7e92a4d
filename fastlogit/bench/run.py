"""The comparison behind ``fastlogit bench``: fastlogit against its NumPy
reference (kernels) and against scikit-learn (full fits and one SGD epoch),
on the built-in Gaussian data of :mod:`fastlogit.bench.problems`; every
peer library-solver to equal accuracy (:mod:`fastlogit.bench.equal_accuracy`);
and the fitted probabilities against the Bayes posterior
(:mod:`fastlogit.bench.calibration`).
"""

import time
import warnings
from datetime import datetime, timezone

import numpy as np

from .machine import busy_warning, cpu_seconds, load_average, machine_info, usable_cpus
from .problems import gaussian_classes
from .timing import is_unstable, measure, peak_memory, spread

SEED = 20240601
N_CLASSES = 10
N_FEATURES = 100
#: Regularization of every fit, scikit-learn's default.
C = 1.0
#: Generous for both libraries: the fits stop on their own tolerance.
MAX_ITER = 1000

FULL = {"sizes": [10_000, 100_000, 1_000_000], "kernel_repeats": 21, "fit_repeats": 7}
#: A quick run's sizes and repeats: 3 repeats still show a spread
#: (timing.UNSTABLE_SPREAD).  10^5 rows went: scikit-learn's K = 10 lbfgs fit
#: alone took 6 to 13 s there, four times (a warm-up and 3 repeats), and the
#: peers section (:data:`fastlogit.bench.equal_accuracy.PLANS`) needs 15 to 20 s
#: of the minute.
#: One timed Dask fit each after the warm-up (``dask_repeats``): dask-glm's
#: fit at 3 * 10^4 rows is about 2.3 s of scheduling, and the section took 15 s
#: of a 71 s quick run with 3 (this 2-core AMD machine).
QUICK = {"sizes": [10_000, 30_000], "kernel_repeats": 9, "fit_repeats": 3, "dask_repeats": 1}
#: Training sizes of the calibration learning curve below a run's largest size,
#: added to the run's own sizes.
CALIBRATION_SIZES = (1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000)

#: Kernels timed against their twin in fastlogit.reference: (name, model).
KERNELS = [
    ("binary_loss_grad", "binary"),
    ("binary_hessp", "binary"),
    ("binary_predict_raw", "binary"),
    ("sigmoid", "binary"),
    ("multinomial_loss_grad", "multinomial"),
    ("multinomial_hessp", "multinomial"),
    ("logsumexp", "multinomial"),
    ("softmax", "multinomial"),
]
MEMORY_KERNELS = ["binary_loss_grad", "multinomial_loss_grad"]
FITS = ["binary", "multinomial"]
STEPS_PER_SIZE = len(KERNELS) + 2 * len(MEMORY_KERNELS) + 2 * len(FITS) + 2 + 2  # one per bar.update()


def kernel_call(module, name, X, y, coef, intercept, scores):
    """A no-argument call of kernel ``name`` from ``module`` on one problem."""
    f = getattr(module, name)
    if name.endswith("loss_grad"):
        return lambda: f(X, y, coef, intercept)
    if name.endswith("hessp"):
        return lambda: f(X, coef, intercept, coef)
    if name.endswith("predict_raw"):
        return lambda: f(X, coef, intercept)
    if name == "sigmoid":
        return lambda: f(scores)
    return lambda: f(scores, axis=-1)  # logsumexp, softmax over the classes


def objective(X, y, coef, intercept, C):
    """scikit-learn's L2 objective divided by ``C n``: mean log-loss + |coef|^2 / (2 C n)."""
    import fastlogit
    from fastlogit.objective import l2_penalty, penalty_strengths

    coef = np.asarray(coef, dtype=np.float64)
    intercept = np.asarray(intercept, dtype=np.float64)
    if coef.shape[0] == 1:  # a binary model stored as (1, d)
        loss = fastlogit.binary_loss_grad(X, y, coef[0], float(intercept.reshape(-1)[0]))[0]
    else:
        loss = fastlogit.multinomial_loss_grad(X, y, coef, intercept)[0]
    l2, _ = penalty_strengths(C, 0.0, X.shape[0])
    return float(loss + l2_penalty(coef.ravel(), l2))


def make_fit(which, solver):
    """A fresh estimator: fastlogit's or scikit-learn's, same objective."""
    if which == "fastlogit":
        from fastlogit import LogisticRegression

        if solver == "sgd":
            return LogisticRegression(solver="sgd", max_iter=1, tol=None, random_state=0)
        return LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER)
    if solver == "sgd":
        from sklearn.linear_model import SGDClassifier

        return SGDClassifier(loss="log_loss", max_iter=1, tol=None, random_state=0)
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, solver="lbfgs", max_iter=MAX_ITER)


def fit_quietly(model, X, y):
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(X, y)


def run_bench(
    sizes,
    threads,
    kernel_repeats,
    fit_repeats,
    n_features=N_FEATURES,
    quick=False,
    progress=True,
    dask=True,
    peers=True,
    peer_threads=None,
    absent=None,
    calibration=True,
    dask_repeats=None,
):
    """Run every comparison at every size; returns the JSON-ready results dict.

    ``timings`` holds one record per (family, case, n, implementation) with
    the median and spread of seconds per call; ``comparisons`` the same-run
    ratio baseline / fastlogit of each pair (> 1: fastlogit is faster);
    ``memory`` the peak traced bytes of one loss+gradient evaluation;
    ``load`` the load average before and after, and ``busy_warning`` a line
    saying the machine looked busy (None when it did not).
    With ``dask`` (and dask, distributed and dask-glm installed), the largest
    size is also fitted on a 2-worker LocalCluster (see :func:`_dask_fits`),
    timed ``dask_repeats`` times (default ``fit_repeats``).

    With ``peers``, ``peers`` holds :func:`fastlogit.bench.equal_accuracy.run_peers`
    on the problems of the quick or the full plan
    (:data:`~fastlogit.bench.equal_accuracy.PLANS`), capped by the largest
    size; ``peer_threads`` (None: each library's default) the workers'
    threads, ``absent`` the peer libraries not installed (default:
    :func:`~fastlogit.bench.equal_accuracy.absent_libraries`).  Without,
    ``peers`` is ``{"skipped": why}``.  With ``calibration``,
    ``calibration`` holds :func:`run_calibration` (its peers skipped
    without ``peers``, fitted up to :data:`QUICK_PEER_CALIBRATION_MAX_ROWS`
    rows with ``quick``).  ``sections_s`` is each
    part's wall time.
    """
    import numba
    from threadpoolctl import threadpool_limits
    from tqdm import tqdm

    import fastlogit
    from fastlogit import reference

    started, cpu_started = time.perf_counter(), cpu_seconds()
    load_start = load_average()
    timings, memory = [], []
    numba.set_num_threads(threads)
    dask_note = _dask_available() if dask else "skipped (--no-dask)"
    bar = tqdm(
        total=len(sizes) * STEPS_PER_SIZE + (DASK_STEPS if dask_note is None else 0),
        desc="fastlogit bench",
        unit="step",
        disable=not progress,
    )
    with threadpool_limits(limits=threads):
        for n in sizes:
            problems = {
                "binary": gaussian_classes(n, n_features, 2, seed=SEED),
                "multinomial": gaussian_classes(n, n_features, N_CLASSES, seed=SEED + 1),
            }
            scores = {
                "binary": fastlogit.binary_predict_raw(*_xci(problems["binary"])),
                "multinomial": fastlogit.multinomial_predict_raw(*_xci(problems["multinomial"])),
            }
            for name, model in KERNELS:
                X, y, coef, intercept = problems[model]
                K = N_CLASSES if model == "multinomial" else 2
                bar.set_postfix_str(f"{name} n={n}")
                for which, module in (("fastlogit", fastlogit), ("reference", reference)):
                    call = kernel_call(module, name, X, y, coef, intercept, scores[model])
                    timings.append(
                        {
                            "family": "kernel",
                            "case": name,
                            "n": n,
                            "d": n_features,
                            "K": K,
                            "implementation": which,
                            **measure(call, kernel_repeats, settle=which == "fastlogit"),
                        }
                    )
                bar.update()
            for name in MEMORY_KERNELS:
                model = name.split("_")[0]
                X, y, coef, intercept = problems[model]
                for which, module in (("fastlogit", fastlogit), ("reference", reference)):
                    bar.set_postfix_str(f"memory {name} n={n}")
                    call = kernel_call(module, name, X, y, coef, intercept, None)
                    memory.append(
                        {
                            "case": name,
                            "n": n,
                            "d": n_features,
                            "implementation": which,
                            "peak_bytes": peak_memory(call),
                            "X_bytes": X.nbytes,
                        }
                    )
                    bar.update()
            for model in FITS:
                timings.extend(_fits(model, problems[model], n, n_features, fit_repeats, bar))
            timings.extend(_sgd_epochs(problems["binary"], n, n_features, fit_repeats, bar))
            timings.extend(_out_of_core(problems["binary"], n, n_features, fit_repeats, bar))
            if dask_note is None and n == max(sizes):
                timings.extend(_dask_fits(problems, n, n_features, dask_repeats or fit_repeats, bar))
            del problems, scores
    bar.close()
    sections = {"kernels, fits, SGD, out of core, Dask": time.perf_counter() - started}

    if peers:
        section_started = time.perf_counter()
        peer_results = _peers(quick, max(sizes), n_features, peer_threads, absent, progress)
        sections["peers"] = time.perf_counter() - section_started
    else:
        peer_results = {"skipped": "skipped (--no-peers)"}
    if calibration:
        section_started = time.perf_counter()
        with threadpool_limits(limits=threads):
            calibrated = run_calibration(
                sizes,
                n_features,
                peers=peers,
                peer_max_rows=QUICK_PEER_CALIBRATION_MAX_ROWS if quick else PEER_CALIBRATION_MAX_ROWS,
            )
        sections["calibration"] = time.perf_counter() - section_started
    else:
        calibrated = {"skipped": "skipped"}
    wall_time = time.perf_counter() - started
    load = {
        "usable_cpus": usable_cpus(),
        "start": load_start,
        "end": load_average(),
        "bench_cpus": (cpu_seconds() - cpu_started) / wall_time,
    }
    compared = comparisons(timings)
    return {
        "schema": "fastlogit-bench/2",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "quick": quick,
        "settings": {
            "sizes": list(sizes),
            "n_features": n_features,
            "n_classes": N_CLASSES,
            "C": C,
            "seed": SEED,
            "threads": threads,
            "kernel_repeats": kernel_repeats,
            "fit_repeats": fit_repeats,
            "dask_repeats": dask_repeats or fit_repeats,
        },
        "machine": machine_info(threads),
        "timings": timings,
        "comparisons": compared,
        "memory": memory,
        "dask": dask_note or "run at the largest size",
        "load": load,
        "busy_warning": busy_warning(load, sum(c["unstable"] for c in compared), len(compared)),
        "peers": peer_results,
        "calibration": calibrated,
        "sections_s": sections,
        "wall_time_s": wall_time,
    }


def _peers(quick, max_rows, n_features, threads, absent, progress):
    """The peers section (:func:`fastlogit.bench.equal_accuracy.run_peers`), with a progress bar."""
    from tqdm import tqdm

    from . import equal_accuracy

    plan = equal_accuracy.PLANS["quick" if quick else "full"]
    absent = equal_accuracy.absent_libraries() if absent is None else absent
    problems = equal_accuracy.peer_problems(
        plan, max_rows=max_rows, n_features=n_features, n_classes=N_CLASSES, seed=SEED, absent=absent
    )
    bar = tqdm(
        total=equal_accuracy.count_records(problems),
        desc="peers to equal accuracy",
        unit="ladder",
        disable=not progress,
    )

    def done(key, record):
        bar.set_postfix_str(f"{key} {record.name}")
        bar.update()

    try:
        return equal_accuracy.run_peers(plan, problems, absent=absent, threads=threads, progress=done)
    finally:
        bar.close()


def calibration_sizes(sizes):
    """The training sizes of the calibration learning curve: the run's sizes and
    those of :data:`CALIBRATION_SIZES` below the largest, in increasing order."""
    largest = max(sizes)
    return sorted({int(s) for s in sizes} | {s for s in CALIBRATION_SIZES if s < largest})


def _one_thread(fit):
    """``fit`` under one BLAS/OpenMP thread.  The peers' fits are untimed, and
    their OpenMP threads spin: scikit-learn's K = 10 lbfgs on 30 000 x 100 took
    0.4 s on one thread and 17 s on two of a machine a second process kept busy."""
    from threadpoolctl import threadpool_limits

    def fit_one_thread(X, y, X_test):
        with threadpool_limits(limits=1):
            return fit(X, y, X_test)

    return fit_one_thread


#: The peers' calibration fits stop at this many rows: they fit the same
#: objective as fastlogit (their probabilities agree to 1e-4 in log-loss), and
#: scikit-learn's K = 10 lbfgs on one thread would add minutes at 10^6 rows.
PEER_CALIBRATION_MAX_ROWS = 100_000
#: The same in a ``--quick`` run: its peers' fits at 30 000 rows were 1.4 s of
#: its 5 s calibration section (scikit-learn-intelex's K = 10 fit 0.7 s).
QUICK_PEER_CALIBRATION_MAX_ROWS = 10_000


def run_calibration(sizes, n_features, peers=True, peer_max_rows=PEER_CALIBRATION_MAX_ROWS):
    """The fitted probabilities of fastlogit's default model, and of each peer
    library's as a user fits it, against the Bayes posterior.

    For the bench's binary and K = :data:`N_CLASSES` data (the truth of
    ``gaussian_classes(n, n_features, K, SEED)`` and ``SEED + 1``: the same at
    every n), :func:`~fastlogit.bench.calibration.calibration_learning_curves`
    of ``LogisticRegression()`` (C = 1) and, with ``peers``, of each
    importable library of :data:`~fastlogit.bench.calibration.USER_FITS` at
    the same C (in-process, untimed, on one thread), at
    :func:`calibration_sizes`, every fit judged on the same held-out rows.

    Returns
    -------
    dict: ``sizes``, ``n_test``, ``estimator`` (a sentence), and
    ``binary`` and ``multinomial``, each fastlogit's curve (a list of
    :func:`~fastlogit.bench.calibration.calibration_summary` dicts with
    ``n``), the largest n last; ``peers``: ``binary`` and ``multinomial``
    (``{library: curve}``, the peers that fit such data), ``models``
    (``{library: the call fitted}``), ``notes`` (``{library: remark}``) and
    ``skipped`` (``{library: why}``: not importable, ``--no-peers``, or a
    fit that raised).  The peers are fitted up to ``peer_max_rows`` rows.
    """
    from fastlogit import LogisticRegression

    from .calibration import FASTLOGIT, N_TEST, USER_FITS, calibration_learning_curves, estimator_fit

    curve_sizes = calibration_sizes(sizes)
    skipped, present = {}, {}
    for name, user in USER_FITS.items():
        why = user.absent() if peers else "skipped (--no-peers)"
        if why is None:
            present[name] = user
        else:
            skipped[name] = why
    result = {
        "sizes": curve_sizes,
        "n_test": N_TEST,
        "estimator": f"fastlogit LogisticRegression() defaults (C = {C:g}, solver='auto')",
    }
    peer_curves = {}
    capped = f"fitted up to {peer_max_rows:,} rows" if curve_sizes[-1] > peer_max_rows else ""
    for key, n_classes, seed in (("binary", 2, SEED), ("multinomial", N_CLASSES, SEED + 1)):
        fits = {FASTLOGIT: estimator_fit(LogisticRegression())}
        for name, user in present.items():
            if n_classes == 2 or not user.binary_only:
                fits[name] = _one_thread(user.make(C))
        failures = {}
        curves = calibration_learning_curves(
            curve_sizes,
            n_features=n_features,
            n_classes=n_classes,
            fits=fits,
            n_test=N_TEST,
            seed=seed,
            failures=failures,
            max_rows={name: peer_max_rows for name in fits if name != FASTLOGIT},
        )
        if FASTLOGIT in failures:  # fastlogit's own failure is the bench's
            raise failures[FASTLOGIT][1]
        result[key] = curves.pop(FASTLOGIT)
        peer_curves[key] = curves
        for name, (n, exc) in failures.items():
            skipped[name] = f"its {key} fit on {n:,} rows failed: {type(exc).__name__}: {exc}"
    result["peers"] = {
        **peer_curves,
        "models": {name: user.call(C) for name, user in present.items()},
        "notes": {name: "; ".join(filter(None, (user.note, capped))) for name, user in present.items()},
        "skipped": skipped,
    }
    return result


def _xci(problem):
    X, _, coef, intercept = problem
    return X, coef, intercept


def _time_fit(which, solver, X, y, repeats):
    """(timing summary, the last fitted model) of ``repeats`` fits from scratch."""
    # Warm-up on a slice: compiles or loads every kernel the fit uses.
    fit_quietly(make_fit(which, solver), X[:2000], y[:2000])
    fitted = []

    def fit():
        fitted.append(fit_quietly(make_fit(which, solver), X, y))

    return measure(fit, repeats, warm_up=False, settle=which == "fastlogit"), fitted[-1]


def _fits(model, problem, n, d, repeats, bar):
    X, y, true_coef, true_intercept = problem
    K = N_CLASSES if model == "multinomial" else 2
    true_loss = objective(X, y, np.atleast_2d(true_coef), np.atleast_1d(true_intercept), C)
    records = []
    for which in ("fastlogit", "sklearn"):
        bar.set_postfix_str(f"fit {model} {which} n={n}")
        stats, last = _time_fit(which, "lbfgs", X, y, repeats)
        records.append(
            {
                "family": "fit",
                "case": f"{model} lbfgs",
                "n": n,
                "d": d,
                "K": K,
                "implementation": which,
                **stats,
                "final_loss": objective(X, y, last.coef_, last.intercept_, C),
                "true_model_loss": true_loss,
                "n_iter": int(np.max(last.n_iter_)),
            }
        )
        bar.update()
    return records


def _sgd_epochs(problem, n, d, repeats, bar):
    X, y, _, _ = problem
    records = []
    for which in ("fastlogit", "sklearn"):
        bar.set_postfix_str(f"sgd epoch {which} n={n}")
        stats, last = _time_fit(which, "sgd", X, y, repeats)
        import fastlogit

        raw = fastlogit.binary_predict_raw(X, last.coef_.reshape(-1), float(last.intercept_[0]))
        log_loss = float(np.mean(fastlogit.log1pexp(raw) - y * raw))
        records.append(
            {
                "family": "sgd",
                "case": "binary epoch",
                "n": n,
                "d": d,
                "K": 2,
                "implementation": which,
                **stats,
                "final_log_loss": log_loss,
            }
        )
        bar.update()
    return records


def _out_of_core(problem, n, d, repeats, bar):
    """The binary lbfgs fit from a ``.npy`` file (memory-mapped, streamed in
    chunks) against the same fit of the array in memory.

    The file is written to a temporary directory and read once before timing,
    so it is in the page cache: what is measured is the cost of streaming,
    not the disk.  The ratio is in-memory / file (1 = no cost).
    """
    import os
    import tempfile

    from fastlogit import LogisticRegression

    X, y, _, _ = problem
    records = []
    with tempfile.TemporaryDirectory(prefix="fastlogit-bench-") as tmp:
        path = os.path.join(tmp, "X.npy")
        np.save(path, X)
        sources = {"fastlogit": path, "in-memory": X}
        for which, source in sources.items():
            bar.set_postfix_str(f"out of core {which} n={n}")
            fit_quietly(LogisticRegression(solver="lbfgs"), source, y)  # warm: page cache, kernels
            fitted = []

            def fit(fitted=fitted, source=source):
                fitted.append(fit_quietly(LogisticRegression(solver="lbfgs"), source, y))

            stats = measure(fit, repeats, warm_up=False)
            records.append(
                {
                    "family": "out-of-core",
                    "case": "binary lbfgs from .npy",
                    "n": n,
                    "d": d,
                    "K": 2,
                    "implementation": which,
                    **stats,
                    "n_iter": int(fitted[-1].n_iter_[0]),
                }
            )
            bar.update()
    return records


DASK_STEPS = 3
DASK_CHUNKS = 8


def _dask_available():
    """None when the Dask comparison can run, else why not."""
    try:
        import dask.array  # noqa: F401
        import dask_glm  # noqa: F401
        import distributed  # noqa: F401
    except ImportError as exc:
        return f'skipped: {exc.name} is not installed (pip install "fastlogit[dev]")'
    return None


def _dask_fits(problems, n, d, repeats, bar):
    """Fits on a LocalCluster(2 workers x 1 thread): fastlogit vs dask-glm's lbfgs (binary)
    and fastlogit's softmax, the data in DASK_CHUNKS row chunks persisted on the workers.

    Both libraries minimize the same function: dask-glm's lbfgs penalizes every
    coefficient and has no separate intercept, so both fit without intercept,
    ``sum_i l_i + ||w||^2 / (2 C)`` (fastlogit's objective times n), dask-glm with
    ``normalize=False`` and its gradient tolerance on the sum (n times fastlogit's
    tol on the mean).  Each record holds the final objective (per row).
    """
    import dask.array as da
    import distributed
    from dask_glm.algorithms import lbfgs as dask_glm_lbfgs

    from fastlogit import LogisticRegression

    tol = 1e-4
    rows = -(-n // DASK_CHUNKS)
    records = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # cluster start-up chatter, dask-glm's deprecations
        with (
            distributed.LocalCluster(
                n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            arrays = {}
            for model in ("binary", "multinomial"):
                X, y, _, _ = problems[model]
                arrays[model] = client.persist(
                    [da.from_array(X, chunks=(rows, d)), da.from_array(y, chunks=rows)]
                )
            runs = [
                (
                    "binary lbfgs, no intercept",
                    "binary",
                    "fastlogit",
                    lambda dX, dy: LogisticRegression(
                        C=C, fit_intercept=False, tol=tol, solver="lbfgs", max_iter=MAX_ITER
                    ).fit(dX, dy),
                ),
                (
                    "binary lbfgs, no intercept",
                    "binary",
                    "dask_glm",
                    lambda dX, dy: np.asarray(
                        dask_glm_lbfgs(
                            dX,
                            dy,
                            regularizer="l2",
                            lamduh=1.0 / C,
                            normalize=False,
                            tol=tol * n,
                            max_iter=MAX_ITER,
                        )
                    ),
                ),
                (
                    f"softmax K={N_CLASSES} lbfgs, no intercept",
                    "multinomial",
                    "fastlogit",
                    lambda dX, dy: LogisticRegression(
                        C=C, fit_intercept=False, tol=tol, solver="lbfgs", max_iter=MAX_ITER
                    ).fit(dX, dy),
                ),
            ]
            for case, model, which, fit in runs:
                bar.set_postfix_str(f"dask {case} {which} n={n}")
                dX, dy = arrays[model]
                fit(dX, dy)  # warm: workers import and load the kernels
                fitted = []
                stats = measure(
                    lambda fitted=fitted, fit=fit, dX=dX, dy=dy: fitted.append(fit(dX, dy)),
                    repeats,
                    warm_up=False,
                )
                last = fitted[-1]
                coef = last if which == "dask_glm" else last.coef_
                X, y, _, _ = problems[model]
                records.append(
                    {
                        "family": "dask",
                        "case": case,
                        "n": n,
                        "d": d,
                        "K": N_CLASSES if model == "multinomial" else 2,
                        "implementation": which,
                        **stats,
                        "final_loss": _objective_no_intercept(X, y, coef),
                        "chunks": DASK_CHUNKS,
                        "workers": 2,
                    }
                )
                bar.update()
    return records


def _objective_no_intercept(X, y, coef):
    coef = np.atleast_2d(np.asarray(coef, dtype=np.float64))
    return objective(X, y, coef, np.zeros(coef.shape[0]), C)


def comparisons(timings):
    """Same-run ratios baseline / fastlogit for each (family, case, n).

    ``ratio`` compares medians; ``ratio_low`` / ``ratio_high`` the worst and
    best case of the spread (baseline min / fastlogit max, and the reverse);
    ``unstable`` whether either side's max / min over its ``repeats`` exceeds
    :data:`~fastlogit.bench.timing.UNSTABLE_SPREAD` (``spread``: the larger one).
    """
    by_key = {}
    for t in timings:
        by_key.setdefault((t["family"], t["case"], t["n"]), {})[t["implementation"]] = t
    out = []
    for (family, case, n), impls in by_key.items():
        fast = impls.get("fastlogit")
        for which, base in impls.items():
            if which == "fastlogit" or fast is None:
                continue
            out.append(
                {
                    "family": family,
                    "case": case,
                    "n": n,
                    "baseline": which,
                    "ratio": base["median_s"] / fast["median_s"],
                    "ratio_low": base["min_s"] / fast["max_s"],
                    "ratio_high": base["max_s"] / fast["min_s"],
                    "spread": max(spread(base), spread(fast)),
                    "repeats": min(len(base["times_s"]), len(fast["times_s"])),
                    "unstable": is_unstable(base, fast),
                }
            )
    return out
