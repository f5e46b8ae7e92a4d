"""The package as a user installs it: the compiled extension, a cheap import."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest


def run_python(code):
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def test_sgd_extension_is_compiled_by_cython():
    from fastlogit import _sgd

    assert _sgd.compiled_with_cython()
    assert _sgd.__file__.endswith((".so", ".pyd"))


def test_import_compiles_no_kernel_and_loads_no_heavy_module():
    # The import-time contract (import numba + 0.3 s) holds when nothing
    # compiles and nothing large is imported: check the causes, not a clock.
    out = run_python(
        """
        import sys
        import numba.core.registry
        import fastlogit
        from fastlogit.kernels import special
        from numba.core.dispatcher import Dispatcher
        compiled = [n for n, f in vars(special).items()
                    if isinstance(f, Dispatcher) and f.signatures]
        heavy = [m for m in ("sklearn", "scipy.optimize", "matplotlib", "dask", "pandas", "mpmath")
                 if m in sys.modules]
        print(compiled, heavy)
        """
    )
    assert out == "[] []"


def test_import_loads_no_numba_until_a_kernel_function_is_used():
    # The bench's peer workers import fastlogit.bench only to fit scikit-learn
    # or glum: they must not pay for Numba (0.35 s a process).
    out = run_python(
        """
        import sys
        import fastlogit
        import fastlogit.bench.ladder_worker
        before = "numba" in sys.modules
        fastlogit.sigmoid(0.0)
        print(before, "numba" in sys.modules, "sigmoid" in dir(fastlogit))
        """
    )
    assert out == "False True True"


def test_the_lazy_function_names_are_the_functions_module_s():
    import fastlogit
    from fastlogit import functions

    assert sorted(fastlogit._FUNCTIONS) == sorted(functions.__all__)
    for name in functions.__all__:
        assert getattr(fastlogit, name) is getattr(functions, name)
    with pytest.raises(AttributeError, match="no attribute 'not_a_function'"):
        fastlogit.not_a_function  # noqa: B018


def test_a_first_small_fit_compiles_only_the_small_kernels():
    # The cold-start contract (a first binary and K = 3 fit on 10 000 x 20 in a
    # new process: a few seconds of compiling, not eight) holds when such
    # fits compile the small loss/gradient kernels and not the register-blocked
    # ones: check the cause, not a clock.
    out = run_python(
        """
        import numpy as np
        from fastlogit import LogisticRegression
        from fastlogit.kernels import binary, multinomial

        rng = np.random.default_rng(0)
        X = rng.standard_normal((10_000, 20))
        LogisticRegression().fit(X, (X[:, 0] + rng.standard_normal(10_000) > 0).astype(int))
        LogisticRegression().fit(X, np.digitize(X[:, 1] + rng.standard_normal(10_000), [-0.5, 0.5]))
        print(
            bool(binary.loss_grad_small.signatures),
            bool(multinomial.loss_grad_small.signatures),
            bool(binary.loss_grad.serial.signatures or binary.loss_grad.parallel.signatures),
            bool(multinomial.loss_grad.serial.signatures or multinomial.loss_grad.parallel.signatures),
        )
        """
    )
    assert out == "True True False False"


def test_public_functions_are_exported_at_top_level():
    import fastlogit

    for name in ("sigmoid", "log_sigmoid", "log1pexp", "logsumexp", "softmax", "log_softmax"):
        assert callable(getattr(fastlogit, name))
        assert name in fastlogit.__all__


def test_estimator_is_exported_and_imported_on_first_use():
    # LogisticRegression needs scikit-learn: importing it eagerly would break
    # the cheap import above, so fastlogit resolves the name lazily (PEP 562).
    out = run_python(
        """
        import sys
        import fastlogit
        before = "sklearn" in sys.modules
        estimator = fastlogit.LogisticRegression()
        print(before, "sklearn" in sys.modules, "LogisticRegression" in fastlogit.__all__,
              "LogisticRegression" in dir(fastlogit), type(estimator).__module__)
        """
    )
    assert out == "False True True True fastlogit.model"


def test_version_is_the_installed_metadata():
    # pyproject.toml holds the one version; fastlogit.__version__ reads it
    # from the installed package's metadata (reinstall after changing it).
    from importlib import metadata

    import fastlogit

    assert fastlogit.__version__ == metadata.version("fastlogit")
    pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    if pyproject.is_file():
        assert fastlogit.__version__ == tomllib.loads(pyproject.read_text())["project"]["version"]


def test_version_without_metadata_is_unknown():
    # A source tree imported without being installed has no metadata.
    out = run_python(
        """
        from importlib import metadata
        def version(name):
            raise metadata.PackageNotFoundError(name)
        metadata.version = version
        import fastlogit
        print(fastlogit.__version__)
        """
    )
    assert out == "0+unknown"
