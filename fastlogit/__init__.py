"""fastlogit: fast, numerically exact logistic and softmax regression.

Importing fastlogit compiles nothing and loads neither Numba, scikit-learn
nor scipy.optimize: the kernel functions (:mod:`fastlogit.functions`, which
loads Numba) and :class:`LogisticRegression` (which needs scikit-learn) are
imported on first access, and every Numba kernel compiles (or loads from
its on-disk cache) on its first call.
"""

# The kernel functions, served by fastlogit.functions on first access (see
# _LAZY below); the list is fastlogit.functions.__all__, which a test checks
# (that module cannot import this one: it sits in a lower layer).
_FUNCTIONS = (
    "sigmoid",
    "log_sigmoid",
    "log1pexp",
    "logsumexp",
    "softmax",
    "log_softmax",
    "binary_loss_grad",
    "multinomial_loss_grad",
    "binary_hessp",
    "multinomial_hessp",
    "binary_hessian",
    "binary_loss_grad_hessian",
    "multinomial_hessian",
    "multinomial_loss_grad_hessian",
    "binary_predict_raw",
    "multinomial_predict_raw",
    "FoldLossGrad",
    "fold_loss_grad",
    "fold_hessp",
)

__all__ = [
    *_FUNCTIONS,
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
# `import fastlogit` imports neither Numba nor scikit-learn: a process that
# needs only a part of the package (the bench's peer workers, which fit
# scikit-learn or glum) does not pay for the rest.
_LAZY = {
    **dict.fromkeys(_FUNCTIONS, "fastlogit.functions"),
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
