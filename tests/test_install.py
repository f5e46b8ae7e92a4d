"""Where ``import fastlogit`` finds the package, whatever the current folder."""

import subprocess
import sys
from pathlib import Path

import pytest

import fastlogit

ROOT = Path(__file__).resolve().parent.parent


def test_import_from_the_folder_that_holds_a_clone_named_fastlogit(tmp_path):
    # A clone named fastlogit seen from its parent folder (sys.path[0] for
    # `python -c`): the clone, with no __init__.py at its top, is a namespace
    # portion named fastlogit.  The installed package must win: a regular
    # package found anywhere on sys.path does, but an editable install served
    # by an import hook (setuptools' finder, behind sys.path) did not.
    clone = tmp_path / "fastlogit"
    try:
        clone.symlink_to(ROOT, target_is_directory=True)
    except (OSError, NotImplementedError):
        pytest.skip("cannot make a symbolic link here")
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fastlogit, fastlogit.kernels; print(fastlogit.__file__, callable(fastlogit.sigmoid))",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, (
        f"{result.stderr}\nIf fastlogit is installed in editable mode, reinstall it "
        '(pip install -e ".[dev]"): an install made before pyproject.toml set package-dir '
        "is served by an import hook that the clone folder shadows."
    )
    file, has_sigmoid = result.stdout.split()
    assert has_sigmoid == "True"
    assert Path(file).resolve() == Path(fastlogit.__file__).resolve()
