"""The ``fastlogit`` command: ``fastlogit bench`` and ``fastlogit report``.

Also ``python -m fastlogit``.  Exit status: 0 on success, 2 for bad
arguments (argparse), 1 for an input file that is missing or invalid, and
1 from ``fastlogit report --fail-on-regression`` when a regression is found.
"""

import argparse
import sys
from pathlib import Path

from . import __version__

DEFAULT_OUT = "fastlogit-report"


def _size(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of rows: {text!r}") from None
    if value != int(value) or value < 20:
        raise argparse.ArgumentTypeError(f"a size is a whole number of rows >= 20, got {text!r}")
    return int(value)


def _positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _threshold(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < 10:
        raise argparse.ArgumentTypeError(f"a fraction such as 0.1 (10%), got {text!r}")
    return value


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastlogit", description="Compare fastlogit with NumPy and scikit-learn, and report."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{bench,report}")

    bench = sub.add_parser(
        "bench",
        help="time fastlogit against every peer library to equal accuracy, its NumPy "
        "reference and scikit-learn, and check its probabilities against the truth",
        description="Time every peer solver (scikit-learn, glum, scikit-learn-intelex, statsmodels "
        "where installed) to equal accuracy on eight problems; judge fastlogit's fitted probabilities "
        "against the known Bayes posterior; time fastlogit's kernels against fastlogit.reference "
        "and its fits and SGD epoch against scikit-learn on seeded Gaussian data. Prints the "
        "headline and tables and writes results.json, report.md, report.html and PNG plots "
        "(these need matplotlib).",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="small sizes (10^4, 3x10^4 rows; peers on small problems, a short tolerance "
        "ladder and their strongest solvers): meant to take about a minute on a quiet machine",
    )
    bench.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        metavar="DIR",
        help=f"report folder (default: ./{DEFAULT_OUT}/)",
    )
    bench.add_argument(
        "--sizes",
        type=_size,
        nargs="+",
        metavar="N",
        help="numbers of rows to run (default 1e4 1e5 1e6; --quick: 1e4 3e4); the largest "
        "also caps the peers' problems",
    )
    bench.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="threads for Numba and BLAS (default: all Numba's threads); given, the peers' "
        "processes get it too (default: each library's own)",
    )
    bench.add_argument(
        "--no-dask",
        action="store_true",
        help="skip the Dask comparison (fastlogit vs dask-glm on a local "
        "2-worker cluster at the largest size; it needs the dask extras)",
    )
    bench.add_argument(
        "--no-peers",
        action="store_true",
        help="skip the time-to-equal-accuracy comparison with the peer libraries "
        '(scikit-learn\'s solvers, and glum and scikit-learn-intelex: pip install "fastlogit[peers]")',
    )
    # For tests and experiments: not part of the documented interface.
    bench.add_argument("--repeats", type=_positive_int, help=argparse.SUPPRESS)
    bench.add_argument("--features", type=_positive_int, help=argparse.SUPPRESS)
    bench.add_argument("--no-progress", action="store_true", help=argparse.SUPPRESS)

    report = sub.add_parser(
        "report",
        help="report on pytest-benchmark --benchmark-json output",
        description="Turn pytest-benchmark JSON into report.md, report.html and a PNG (it needs "
        "matplotlib): implementations' time ratios within the run and, given a baseline, "
        "each benchmark's change against it.",
    )
    report.add_argument("run", type=Path, metavar="RUN.json")
    report.add_argument("baseline", type=Path, nargs="?", metavar="BASELINE.json")
    report.add_argument(
        "--out",
        type=Path,
        default=Path(DEFAULT_OUT),
        metavar="DIR",
        help=f"report folder (default: ./{DEFAULT_OUT}/)",
    )
    report.add_argument(
        "--threshold",
        type=_threshold,
        default=0.1,
        help="flag a median slower than the baseline's by more than this fraction (default 0.1)",
    )
    report.add_argument(
        "--fail-on-regression", action="store_true", help="exit with status 1 when a regression is flagged"
    )
    return parser


def _bench(args, parser):
    import numba

    from .bench import plots
    from .bench.pytest_json import ReportError
    from .bench.report import console_summary, write_bench_report
    from .bench.run import FULL, N_FEATURES, QUICK, run_bench

    max_threads = numba.config.NUMBA_NUM_THREADS
    threads = args.threads or max_threads
    if threads > max_threads:
        parser.error(f"--threads {threads}: Numba has at most {max_threads} threads here")
    if args.out.exists() and not args.out.is_dir():
        raise ReportError(f"--out {args.out}: exists and is not a folder")
    png = plots.available()
    if not png:  # said now, not after the measurements
        print(plots.MISSING)
    absent = None
    if not args.no_peers:
        from .bench.equal_accuracy import absent_libraries

        absent = absent_libraries()
        for line in absent.values():  # said now too
            print(line)
    plan = QUICK if args.quick else FULL
    results = run_bench(
        sizes=args.sizes or plan["sizes"],
        threads=threads,
        kernel_repeats=args.repeats or plan["kernel_repeats"],
        fit_repeats=args.repeats or plan["fit_repeats"],
        dask_repeats=args.repeats or plan.get("dask_repeats"),
        n_features=args.features or N_FEATURES,
        quick=args.quick,
        progress=not args.no_progress,
        dask=not args.no_dask,
        peers=not args.no_peers,
        peer_threads=args.threads,
        absent=absent,
    )
    print(console_summary(results))
    paths = write_bench_report(results, args.out, png=png)
    print(f"\n{results['wall_time_s']:.0f} s. Wrote {', '.join(str(p) for p in paths)}")
    return 0


def _report(args):
    from .bench import plots
    from .bench.pytest_json import write_pytest_report

    png = plots.available()
    if not png:
        print(plots.MISSING)
    paths, regressions, warning = write_pytest_report(
        args.run, args.baseline, args.out, args.threshold, png=png
    )
    if warning:
        print(f"Warning: {warning}")
    if args.baseline is not None:
        print(f"{regressions} regression(s) beyond {args.threshold:.0%} against {args.baseline}")
    print(f"Wrote {', '.join(str(p) for p in paths)}")
    return 1 if regressions and args.fail_on_regression else 0


def main(argv=None):
    """Run the ``fastlogit`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    from .bench.pytest_json import ReportError

    try:
        if args.command == "bench":
            return _bench(args, parser)
        return _report(args)
    except (ReportError, OSError) as exc:
        print(f"fastlogit {args.command}: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
