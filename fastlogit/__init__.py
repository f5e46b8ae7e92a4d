"""fastlogit: fast, numerically exact logistic and softmax regression.

Importing fastlogit compiles nothing and loads neither scikit-learn nor
scipy.optimize: every Numba kernel compiles (or loads from its on-disk
cache) on its first call, and :class:`LogisticRegression` (which needs
scikit-learn) is imported on first access.
"""

from .runtime import ensure_cache_dir as _ensure_cache_dir

_ensure_cache_dir()  # before any kernel is defined: see fastlogit.runtime

from . import functions as _functions  # noqa: E402
from .functions import (  # noqa: E402
    FoldLossGrad,
    binary_hessian,
    binary_hessp,
    binary_loss_grad,
    binary_loss_grad_hessian,
    binary_predict_raw,
    fold_hessp,
    fold_loss_grad,
    log1pexp,
    log_sigmoid,
    log_softmax,
    logsumexp,
    multinomial_hessian,
    multinomial_hessp,
    multinomial_loss_grad,
    multinomial_loss_grad_hessian,
    multinomial_predict_raw,
    sigmoid,
    softmax,
)

__all__ = [
    *_functions.__all__,
    "LogisticRegression",
    "LogisticRegressionCV",
    "logistic_path",
    "logit",
    "lr_test",
]


def _installed_version():
    # The version is written once, in pyproject.toml; an installed fastlogit
    # (editable or not) carries it in its metadata.  A source tree imported
    # without being installed has none.
    from importlib import metadata

    try:
        return metadata.version("fastlogit")
    except metadata.PackageNotFoundError:
        return "0+unknown"


__version__ = _installed_version()
del _installed_version

# Names served by a submodule imported on first access (PEP 562), so that
# `import fastlogit` stays as cheap as `import numba`.
_LAZY = {
    "LogisticRegression": "fastlogit.model",
    "LogisticRegressionCV": "fastlogit.cv",
    "logistic_path": "fastlogit.cv",
    "logit": "fastlogit.model",
    "lr_test": "fastlogit.inference",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastlogit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
