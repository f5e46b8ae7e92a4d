"""The layers of ARCHITECTURE.md, read from the source: imports run one way.

Every ``import`` inside the package (module level or inside a function) is
checked against the layer table below: a module may import only modules of
a lower layer.  Solvers and inference import nothing of fastlogit; nothing
inside imports the public façade (``fastlogit.functions``).
"""

import ast
from pathlib import Path

import pytest

import fastlogit

PACKAGE = Path(fastlogit.__file__).parent

#: Layer of every module (lower layers never import higher ones).
LAYERS = {
    "fastlogit.data": 0,
    "fastlogit.blas": 0,
    "fastlogit.runtime": 0,
    "fastlogit.solvers": 1,
    "fastlogit.formula": 1,
    "fastlogit.block_hessian": 1,
    "fastlogit.inference": 0,
    "fastlogit._sgd": 0,
    "fastlogit.kernels.special": 0,
    "fastlogit.kernels.rows": 0,
    "fastlogit.kernels.binary": 1,
    "fastlogit.kernels.multinomial": 1,
    "fastlogit.kernels.folds": 1,
    "fastlogit.kernels.split": 1,
    "fastlogit.kernels": 2,
    "fastlogit.reference": 1,
    "fastlogit.reference_split": 2,
    "fastlogit.matrix": 3,
    "fastlogit.sources": 3,
    "fastlogit.row_sources": 4,
    "fastlogit.formula_scale": 4,
    "fastlogit.functions": 4,
    "fastlogit.objective": 5,
    "fastlogit.split": 5,
    "fastlogit.distributed": 5,
    "fastlogit.sgd": 6,
    "fastlogit.model": 7,
    "fastlogit.cv": 8,
    "fastlogit": 9,
    "fastlogit.bench": 10,
    "fastlogit.__main__": 11,
}

#: Modules that import nothing of fastlogit but the BLAS thread limit: they see
#: arrays and an Objective.
LEAVES = (
    "fastlogit.data",
    "fastlogit.blas",
    "fastlogit.runtime",
    "fastlogit.solvers",
    "fastlogit.formula",
    "fastlogit.block_hessian",
    "fastlogit.inference",
    "fastlogit.kernels.special",
    "fastlogit.kernels.rows",
)


def module_name(path):
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def layer(name):
    while name not in LAYERS:
        name = name.rpartition(".")[0]  # fastlogit.bench.run -> fastlogit.bench
    return LAYERS[name]


def internal_imports(path):
    """The fastlogit modules ``path`` imports, anywhere in the file."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == "fastlogit")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            elif (node.module or "").split(".")[0] == "fastlogit":
                target = node.module
            else:
                continue
            if node.module:
                found.add(target)
            # `from . import x` / `from .kernels import binary`: submodules.
            for alias in node.names:
                candidate = f"{target}.{alias.name}"
                if (
                    (PACKAGE.parent / candidate.replace(".", "/")).with_suffix(".py").exists()
                    or (PACKAGE.parent / candidate.replace(".", "/") / "__init__.py").exists()
                    or candidate == "fastlogit._sgd"
                ):
                    found.add(candidate)
                elif not node.module:
                    found.add(target)
    found.discard(name)
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    for path in SOURCES:
        layer(module_name(path))  # KeyError for a module missing from the table


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_imports_run_down_the_layers(path):
    name = module_name(path)
    # (the bench package is the application on top: its modules use each other)
    upward = sorted(
        dep
        for dep in internal_imports(path)
        if layer(dep) >= layer(name)
        and not dep.startswith(name + ".")
        and not (name.startswith("fastlogit.bench") and dep.startswith("fastlogit.bench"))
    )
    assert not upward, f"{name} (layer {layer(name)}) imports {upward} from its own layer or above"


@pytest.mark.parametrize("name", LEAVES)
def test_rules_solvers_and_inference_import_nothing_of_fastlogit(name):
    path = PACKAGE.parent / (name.replace(".", "/") + ".py")
    assert internal_imports(path) <= {"fastlogit.blas"}


def test_nothing_inside_imports_the_public_facade():
    importers = sorted(
        module_name(p)
        for p in SOURCES
        if "fastlogit.functions" in internal_imports(p) and module_name(p) != "fastlogit"
    )
    assert importers == []


def test_the_checker_sees_relative_and_function_level_imports(tmp_path):
    # The checker itself: a module importing upward inside a function is caught.
    assert "fastlogit.objective" in internal_imports(PACKAGE / "sgd.py")
    assert "fastlogit.distributed" in internal_imports(PACKAGE / "model.py")  # lazily, in a method
    assert "fastlogit.kernels.binary" in internal_imports(PACKAGE / "matrix.py")


def test_every_row_source_implements_the_protocol():
    import numpy as np

    from fastlogit.row_sources import ArrayRows, ChunkRows, RowSource
    from fastlogit.split import SplitDesign, SplitRows

    X, y = np.eye(4), np.array([0, 1, 0, 1])
    assert isinstance(ArrayRows(X, y), RowSource)
    assert isinstance(ChunkRows([(X, y)]), RowSource)
    design = SplitDesign(X[:, :2], [np.array([0, -1, 1, 0])], [2], column_order=[3, 0, 2, 1])
    assert isinstance(SplitRows(design, y), RowSource)
    assert isinstance(SplitRows(design, np.array([0, 1, 2, 1]), n_classes=3), RowSource)
    members = [m for m in vars(RowSource) if not m.startswith("_")] + list(RowSource.__annotations__)
    distributed = pytest.importorskip("fastlogit.distributed")
    for member in members:
        assert hasattr(distributed.DaskRows, member) or member in (
            "n_features",
            "n_classes",
            "weight_sum",
            "n_samples",
            "fused_newton",
        ), member
