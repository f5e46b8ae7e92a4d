"""The comparison runner and report writer behind the ``fastlogit`` command.

``fastlogit bench`` (:func:`fastlogit.bench.run.run_bench` and
:func:`fastlogit.bench.report.write_bench_report`) times fastlogit against
its NumPy reference and scikit-learn on built-in data; ``fastlogit report``
(:func:`fastlogit.bench.pytest_json.write_pytest_report`) turns
pytest-benchmark JSON into the same kind of report.  Plots need matplotlib
(``pip install fastlogit[report]``), imported only when a report is written.
"""
