"""Formulas over data frames: the design matrix and the labels, through formulaic.

``"admit ~ gre + gpa + C(rank) + gre:gpa"`` is parsed and encoded by formulaic
(the optional extra ``fastlogit[formula]``, the library glum uses), never by a
hand-written parser.  This module adds what a fitted model needs on top:

- statsmodels' column order and names (``Intercept``, ``C(rank)[T.2]``,
  ``gre:gpa``): the terms are put in patsy's order before formulaic encodes
  them (the order decides which dummy an interaction drops), the rule
  statsmodels applies to formulaic (its ``ordering="legacy"``);
- the intercept taken out of ``X`` (the estimator fits it unpenalized) and
  reported as ``fit_intercept``;
- the labels: a left side that names a column gives that column's values
  as they are (strings, bools, numbers), not formulaic's one-hot columns;
- missing values: formulaic's rule (rows with a missing value in any
  variable used, the labels included, are dropped, and counted) or
  ``na_action="raise"``;
- new frames encoded exactly as the training frame was
  (:meth:`FormulaSpec.design`), with a ``ValueError`` naming the column for a
  missing column, a numeric column that is not numeric any more, and a
  category level never seen in training (formulaic would turn it into a
  missing value, and drop the row, with a warning).

The design is dense (a C-ordered float64 array) when the formula has no
categorical factor, and otherwise a CSR matrix unless at least half of its
entries are non-zero (a few numeric columns beside a categorical of a few
levels), where a dense array is both smaller and faster to multiply.

Asked for (``split=True``, what the estimator asks in memory), a design with
categorical terms comes as a :class:`SplitMatrix` instead: a dense block and
one int32 code per row and categorical term (the arrays of
:class:`fastlogit.split.SplitDesign`), never a column per level.  The rule
(:func:`split_layout`, fixed on the training frame and kept in the spec):

- a term made only of categorical factors (``C(g)``, a string or category
  column ``g``, ``C(g, Treatment("c"))``; ``C(g):C(h)`` when its columns are
  the pairs of levels) whose columns hold at most one 1 per row and nothing
  else, treatment or full-rank coding, is held as codes: the index of the
  row's column within the term's, -1 for none (the reference level);
- every other column (numeric terms, interactions with numbers, other
  contrasts such as ``Sum``) goes to the dense block, in formula order;
- the split design is used when at least one term is held as codes and the
  dense block is either more than DENSE_ABOVE_DENSITY non-zero or at most
  SPLIT_SPARSE_DENSE_COLUMNS wide.  Otherwise (``x:C(g)`` over many levels,
  whose columns are mostly zeros) the design stays CSR (or dense) as above.

The codes are read off formulaic's own encoding of each frame (so levels,
names, reference levels, dropped rows and errors are formulaic's); a new
frame on which a coded term's columns are not indicators (a contrast that
codes a level absent from the training frame otherwise) is given as CSR.  The split design's
columns are stored dense block first; ``SplitMatrix.column_order`` puts them
back in the formula's order (``feature_names``).

formulaic is imported on first use, never by ``import fastlogit``.  This
module imports nothing of fastlogit: it sees data frames and returns arrays.
"""

import re
import warnings
from typing import NamedTuple

import numpy as np

#: What to do with rows that have a missing value in a variable of the formula.
NA_ACTIONS = ("drop", "raise")

#: The design stays dense when more than this fraction of its entries are non-zero:
#: CSR stores 12 bytes per non-zero (value and column index) against 8 per dense entry.
DENSE_ABOVE_DENSITY = 0.5

#: A split design keeps a dense block that is mostly zeros when it has at most this many
#: columns (``x1:h`` over a few levels beside numeric columns): a row then reads at most
#: this many dense values, as cheap as its CSR nonzeros' values and column indices.
SPLIT_SPARSE_DENSE_COLUMNS = 32

INSTALL_HINT = 'formulas need formulaic: pip install "fastlogit[formula]"'


def import_formulaic():
    """The formulaic module, or ``ImportError`` saying how to install it."""
    try:
        import formulaic
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return formulaic


def check_na_action(na_action):
    """``na_action`` as one of NA_ACTIONS, or ``ValueError`` naming it."""
    if na_action not in NA_ACTIONS:
        raise ValueError(f"na_action must be one of {', '.join(map(repr, NA_ACTIONS))}, got {na_action!r}")
    return na_action


def check_formula(formula, name="formula"):
    """``formula`` as a non-empty string, or ``TypeError``/``ValueError`` naming it."""
    if not isinstance(formula, str):
        raise TypeError(f"{name} must be a string such as 'y ~ x1 + C(x2)', got {type(formula).__name__}")
    if not formula.strip():
        raise ValueError(f"{name} must not be empty; write e.g. 'y ~ x1 + C(x2)'")
    return formula


def check_frame(data, name="X"):
    """A pandas DataFrame, or ``TypeError`` naming ``name`` and what to pass instead."""
    module = type(data).__module__.partition(".")[0]
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - formulaic depends on pandas
        pd = None
    if pd is not None and isinstance(data, pd.DataFrame):
        return data
    if module in ("polars", "pyarrow"):
        hint = "; convert it with .to_pandas()"
    elif module in ("dask", "dask_expr"):
        hint = (
            "; a formula model takes a dask DataFrame in fit, predict and inference (score takes a "
            "pandas DataFrame: .compute() one that fits in memory)"
        )
    else:
        hint = ""
    raise TypeError(
        f"{name} must be a pandas DataFrame holding the formula's columns, got {type(data).__name__}{hint}"
    )


class SplitMatrix:
    """A formula's design as a dense block and categorical codes (see the module's rule).

    The arrays of :class:`fastlogit.split.SplitDesign` (which this module,
    a leaf, does not import): ``SplitDesign(m.dense, m.codes.T, m.n_levels,
    column_order=m.column_order)`` is the matrix.

    Attributes
    ----------
    dense : float64 (n, p), C-ordered: the columns not held as codes.
    codes : int32 (n, m), C-ordered (``codes.T``, what
        :class:`~fastlogit.split.SplitDesign` takes, is used in place): per coded term, the index of the row's
        column among the term's columns, -1 for none (the reference level).
    n_levels : int64 (m,): the coded terms' column counts.
    column_order : intp (d,): the design's column e (``feature_names[e]``) is
        stored column ``column_order[e]``, stored columns being the dense
        block's, then each coded term's.
    """

    def __init__(self, dense, codes, n_levels, column_order):
        self.dense = dense
        self.codes = codes
        self.n_levels = np.asarray(n_levels, dtype=np.int64)
        self.column_order = column_order

    @property
    def shape(self):
        return (self.dense.shape[0], len(self.column_order))


class SplitLayout:
    """Which columns of a formula's design (formulaic's, the intercept included) are
    held as codes: fixed on the training frame (:func:`split_layout`), applied to
    every frame the spec encodes (:meth:`encode`).

    Attributes
    ----------
    blocks : list of ``(lo, hi)``: the columns ``lo .. hi - 1`` of each coded term.
    dense_columns : intp, the other columns but the intercept, in order.
    column_order : intp (d,): as :attr:`SplitMatrix.column_order`.
    """

    def __init__(self, blocks, dense_columns, features, n_columns):
        self.blocks = [(int(lo), int(hi)) for lo, hi in blocks]
        self.dense_columns = np.asarray(dense_columns, dtype=np.intp)
        stored = np.concatenate([self.dense_columns] + [np.arange(lo, hi) for lo, hi in self.blocks])
        # features: formulaic's column of each design column (the intercept left out)
        where = np.full(n_columns, -1, dtype=np.intp)
        where[stored] = np.arange(len(stored))
        self.column_order = where[np.asarray(features, dtype=np.intp)]

    #: How each coded term's codes are read off its frame column (:class:`DirectCodes`,
    #: one per block) and formulaic's spec of the dense block's terms, fitted on the
    #: training frame; None when the codes are read off formulaic's full design.
    direct = None
    dense_spec = None
    #: By the direct route, when every factor reads a column as it is: each dense
    #: term's spec and width (encoded one at a time, :func:`_dense_by_term`) and the
    #: columns they read (a missing value drops the row).
    dense_parts = None
    read = ()

    def encode_frame(self, data, drop, na_action, name):
        """``data`` as a :class:`SplitMatrix` by the direct route (:attr:`direct` set):
        the codes read off the frame's columns, only the dense block's terms encoded by
        formulaic.  ``drop`` (a set of row positions, the labels' missing rows) gains
        the rows dropped for missing values.  ``(SplitMatrix, kept row positions)``."""
        n = len(data)
        codes = np.empty((n, len(self.direct)), dtype=np.int32)
        unseen = []
        for j, direct in enumerate(self.direct):
            codes[:, j], new = direct.codes(data, name, na_action, drop)
            unseen.append(new)
        parts = getattr(self, "dense_parts", None)
        if parts is not None:
            _drop_missing(data, self.read, na_action, name, drop)
            for direct, new in zip(self.direct, unseen):
                direct.check_unseen(data, new, drop, name)
            dense = _dense_by_term(parts, data, drop, na_action) if parts else np.empty((n - len(drop), 0))
        elif self.dense_spec is not None:
            spec = self.dense_spec.update(na_action=na_action)
            dense = np.ascontiguousarray(
                spec.get_model_matrix(data, context={}, drop_rows=drop), dtype=np.float64
            )
        else:
            dense = np.empty((n - len(drop), 0))
        for direct, new in zip(self.direct, unseen):
            direct.check_unseen(data, new, drop, name)
        rows = _kept_positions(n, drop, dense.shape[0])
        if len(rows) < n:
            codes = codes[rows]
        return SplitMatrix(dense, codes, [hi - lo for lo, hi in self.blocks], self.column_order), rows

    def encode(self, X):
        """formulaic's design ``X`` of a frame (CSC, the kept rows) as a :class:`SplitMatrix`,
        or None when a coded term's columns are not indicators on these rows."""
        import scipy.sparse as sp

        X = sp.csc_matrix(X)
        n = X.shape[0]
        codes = np.empty((n, len(self.blocks)), dtype=np.int32)
        for j, (lo, hi) in enumerate(self.blocks):
            column = indicator_codes(X, lo, hi)
            if column is None:
                return None
            codes[:, j] = column
        dense = X[:, self.dense_columns].toarray() if len(self.dense_columns) else np.empty((n, 0))
        dense = np.ascontiguousarray(dense, dtype=np.float64)
        n_levels = [hi - lo for lo, hi in self.blocks]
        return SplitMatrix(dense, codes, n_levels, self.column_order)


class ColumnError(ValueError):
    """A column of a frame that cannot be encoded (the message names it)."""


class DirectCodes:
    """A coded term's codes read off its frame column, without formulaic's design.

    The term is one categorical factor reading one column (``g``, ``C(g)``,
    ``C(g, Treatment("b"))``).  Its column's values seen in training are
    :attr:`levels`; :attr:`table` holds the code of each (the index of its
    column among the term's, -1 for the reference level), read off formulaic's
    encoding of one training row per level, so contrasts and reference levels
    are formulaic's.
    """

    def __init__(self, column, levels, table):
        self.column = column
        self.levels = [_plain(v) for v in levels]
        self.table = np.asarray(table, dtype=np.int32)

    def codes(self, data, name, na_action, drop):
        """``(codes, unseen)``: int32 (n,), the code of each row of ``data`` (-1 for a
        missing value, whose row is added to ``drop``, and for a level never seen in
        training), and the positions of the rows with such a level (an error unless
        they are dropped: :meth:`check_unseen`).  ``ValueError`` naming the column
        for a missing value under ``na_action="raise"``."""
        import pandas as pd

        values = data[self.column]
        index, seen = pd.factorize(values)  # (hashes the column in place: no Python objects)
        at = pd.Index(self.levels).get_indexer(pd.Index(seen))
        codes = np.where(at < 0, -1, self.table[at])[index]
        missing = index < 0
        unseen = np.flatnonzero((at[index] < 0) & ~missing) if (at < 0).any() else np.empty(0, np.intp)
        if missing.any():
            if na_action == "raise":
                raise _missing_values(self.column, name)
            drop.update(np.flatnonzero(missing).tolist())
            codes[missing] = -1
        return codes.astype(np.int32, copy=False), unseen

    def check_unseen(self, data, unseen, drop, name):
        """``ValueError`` naming the column and the levels, if a row kept (not in
        ``drop``) has a level never seen in training."""
        kept = [i for i in unseen.tolist() if i not in drop]
        if kept:
            import pandas as pd

            new = pd.unique(data[self.column].iloc[kept])
            shown = ", ".join(repr(_plain(v)) for v in new[:5]) + (" ..." if len(new) > 5 else "")
            raise ColumnError(
                f"column {self.column!r} of {name} has level(s) {shown} never seen in training "
                f"(fitted on {sorted(self.levels, key=str)})"
            )


def indicator_codes(X, lo, hi):
    """The columns ``lo .. hi - 1`` of the CSC matrix ``X`` as int32 codes (n,): the
    index of each row's non-zero among them, -1 for a row without one; None unless
    every row has at most one non-zero there and it is 1."""
    start, stop = X.indptr[lo], X.indptr[hi]
    values = X.data[start:stop]
    rows = X.indices[start:stop]
    columns = np.repeat(np.arange(hi - lo, dtype=np.int32), np.diff(X.indptr[lo : hi + 1]))
    nonzero = values != 0.0
    if not nonzero.all():  # (stored zeros are no level)
        values, rows, columns = values[nonzero], rows[nonzero], columns[nonzero]
    if not np.all(values == 1.0):
        return None
    codes = np.full(X.shape[0], -1, dtype=np.int32)
    codes[rows] = columns
    if np.count_nonzero(codes >= 0) != len(rows):  # a row with two non-zeros in the term
        return None
    return codes


def split_layout(model_spec, X, categorical):
    """The :class:`SplitLayout` of formulaic's design ``X`` (sparse) of the training frame
    by the module's rule, or None when the design stays CSR or dense.  ``categorical``:
    the factors formulaic encodes as categories."""
    import scipy.sparse as sp

    if not categorical or not sp.issparse(X):
        return None
    X = sp.csc_matrix(X)
    n = X.shape[0]
    blocks, others, features = [], [], []
    at = 0
    for part in model_spec.structure:
        lo, hi = at, at + len(part.columns)
        at = hi
        term = part.term
        if term.degree == 0:
            continue
        features.extend(range(lo, hi))
        coded = all(str(f) in categorical for f in term.factors) and hi > lo
        if coded and indicator_codes(X, lo, hi) is not None:
            blocks.append((lo, hi))
        else:
            others.extend(range(lo, hi))
    if not blocks:
        return None
    width = len(others)
    if width > SPLIT_SPARSE_DENSE_COLUMNS:
        nnz = int(np.diff(X.indptr)[others].sum())
        if nnz / max(n * width, 1) <= DENSE_ABOVE_DENSITY:
            return None
    return SplitLayout(blocks, others, features, X.shape[1])


class Design(NamedTuple):
    """A frame encoded by a :class:`FormulaSpec`.

    X : float64 (n_kept, d), C-ordered ndarray or CSR matrix, without the
        intercept column; with ``split=True`` and a spec whose design splits
        (:attr:`FormulaSpec.split`), a :class:`SplitMatrix`.
    y : (n_kept,) labels, or None when asked for no labels (or the formula
        has no left side).
    rows : intp (n_kept,), the positions of the kept rows in the frame
        (``range(n)`` when no row is dropped).
    n_dropped : rows dropped for missing values.
    """

    X: object
    y: object
    rows: np.ndarray
    n_dropped: int

    def kept(self, values, name):
        """``values`` (one per row of the frame, or None) at the rows kept."""
        return kept_rows(values, self.rows, self.n_dropped, name)


def kept_rows(values, rows, n_dropped, name):
    """``values`` (one per row of a frame, or None) at its kept ``rows`` (``n_dropped``
    rows dropped for missing values); ValueError naming ``name`` for a wrong length."""
    if values is None:
        return None
    values = np.asarray(values)
    n = len(rows) + n_dropped
    if values.ndim != 1 or len(values) != n:
        raise ValueError(
            f"{name} must have one value per row of the data frame ({n}), got shape {values.shape}"
        )
    return values if n_dropped == 0 else values[rows]


class FormulaSpec:
    """What a model fitted on a formula keeps of it: enough to encode new frames
    exactly as the training frame was (picklable).

    Attributes
    ----------
    formula : str, as given.
    model_spec : formulaic's ``ModelSpec`` of the right side (levels,
        contrasts, stateful transforms), as fitted.
    label : the left side as written ("" without one); ``label_column``: the
        column it names, or None for an expression (``I(y > 0)``).
    fit_intercept : whether the formula keeps its intercept.
    feature_names : the design's column names without the intercept,
        statsmodels' spelling and order.
    dense : whether designs are dense arrays (else CSR).
    numeric_columns : the frame's columns the formula read as numbers, with
        their training dtypes.
    split : the :class:`SplitLayout` of designs asked for as split
        (``split=True``), or None when they stay dense or CSR (the module's rule).
    """

    def __init__(
        self, formula, model_spec, label, label_column, label_spec, dense, numeric_columns, split=None
    ):
        self.formula = formula
        self.split = split
        self.model_spec = model_spec
        self.label = label
        self.label_column = label_column
        self.label_spec = label_spec
        self.dense = bool(dense)
        self.numeric_columns = dict(numeric_columns)
        names = list(model_spec.column_names)
        self._intercept = [j for j, term in enumerate(_term_columns(model_spec)) if term.degree == 0]
        self.fit_intercept = bool(self._intercept)
        self.feature_names = [n for j, n in enumerate(names) if j not in self._intercept]

    def design(self, data, *, y=None, labels, na_action, name="X", split=False):
        """``data`` encoded as the training frame was: a :class:`Design`.

        ``labels``: also evaluate the left side (``y`` must then be None), or
        take ``y`` (an array, one label per row of ``data``) when the formula
        has no left side; False: no labels.  ``na_action``: "drop" rows with
        a missing value (counted in ``n_dropped``) or "raise".  ``split``:
        X as a :class:`SplitMatrix` when the spec's designs split (else, and
        by default, dense or CSR).
        """
        data = _plain_strings(check_frame(data, name))
        self._check_columns(data, name, labels)
        for column, dtype in self.numeric_columns.items():
            if column in data.columns and not _is_numeric(data[column]):
                raise ValueError(
                    f"column {column!r} of {name} has dtype {data[column].dtype}, but the model was "
                    f"fitted with it numeric ({dtype}); convert it (e.g. pd.to_numeric) first"
                )
        left = (self.formula, self.label, self.label_column, self.label_spec)
        y_values, drop = _labels(left, data, y, labels=labels, na_action=na_action, name=name)
        layout = getattr(self, "split", None)  # (None in a spec pickled before split designs)
        direct = split and layout is not None and getattr(layout, "direct", None) is not None
        with warnings.catch_warnings():
            formulaic = import_formulaic()
            warnings.simplefilter("error", formulaic.errors.DataMismatchWarning)
            try:
                if direct:
                    X, rows = layout.encode_frame(data, drop, na_action, name)
                else:
                    # (update() first: get_model_matrix(na_action=...) would lose drop_rows)
                    spec = self.model_spec.update(na_action=na_action)
                    X = spec.get_model_matrix(data, context={}, drop_rows=drop)
            except formulaic.errors.DataMismatchWarning as exc:
                raise self._unseen_levels(data, name, exc) from None
            except ColumnError:
                raise
            except (ValueError, formulaic.errors.FormulaicError) as exc:
                raise _named_error(
                    exc, name, f"{name} cannot be encoded by the formula {self.formula!r}"
                ) from None
        if not direct:
            coded = layout.encode(X) if split and layout is not None else None
            if coded is not None:
                X, rows = coded, _kept_positions(len(data), drop, coded.shape[0])
            else:
                X, rows = self._finish(X, len(data), drop)
        if y_values is not None and len(rows) < len(data):
            y_values = y_values[rows]
        return Design(X, y_values, rows, len(data) - len(rows))

    def _check_columns(self, data, name, labels):
        needed = set(self.model_spec.required_variables)
        if labels and self.label_spec is not None:
            needed |= set(self.label_spec.required_variables)
        missing = sorted(str(c) for c in needed - set(data.columns))
        if missing:
            raise ValueError(
                f"{name} has no column {', '.join(map(repr, missing))}, used by the formula {self.formula!r}"
            )

    def _finish(self, X, n, drop):
        """Drop the intercept column; the chosen layout; the kept rows' positions."""
        import scipy.sparse as sp

        keep = [j for j in range(X.shape[1]) if j not in self._intercept]
        if sp.issparse(X):
            X = sp.csc_matrix(X)[:, keep].tocsr() if len(keep) < X.shape[1] else sp.csr_matrix(X)
            X = X.toarray() if self.dense else X
            if not self.dense:
                X.sort_indices()
                X.data = X.data.astype(np.float64, copy=False)
        else:
            X = np.asarray(X)[:, keep]
        if self.dense:
            X = np.ascontiguousarray(X, dtype=np.float64)
        return X, _kept_positions(n, drop, X.shape[0])

    def _unseen_levels(self, data, name, warning):
        """The ``ValueError`` for category levels never seen in training."""
        import pandas as pd

        for factor, (kind, state) in self.model_spec.encoder_state.items():
            if getattr(kind, "value", kind) != "categorical":
                continue
            levels = set(state.get("categories", ()))
            for column in self.model_spec.required_variables:
                if column not in data.columns or not re.search(rf"\b{re.escape(str(column))}\b", factor):
                    continue
                values = data[column]
                seen = pd.unique(values[values.notna()])
                new = [v for v in seen if v not in levels]
                if new:
                    shown = ", ".join(repr(_plain(v)) for v in new[:5]) + (" ..." if len(new) > 5 else "")
                    return ValueError(
                        f"column {column!r} of {name} has level(s) {shown} never seen in training "
                        f"({factor} was fitted on {sorted(map(_plain, levels), key=str)})"
                    )
        return ValueError(f"{name} has category levels never seen in training: {warning}")


def _kept_positions(n, drop, n_kept):
    """The positions of a frame's ``n`` rows less those in ``drop``: intp (n_kept,), or
    ``range(n)`` when none is dropped (no array of n positions beside the design)."""
    if drop:
        keep = np.ones(n, dtype=bool)
        keep[np.fromiter(drop, dtype=np.intp, count=len(drop))] = False
        rows = np.flatnonzero(keep)
    else:
        rows = range(n)
    if n_kept != len(rows):  # pragma: no cover - formulaic reports every row it drops
        raise RuntimeError(f"formulaic kept {n_kept} rows but reported {len(rows)}")
    return rows


def build(formula, data, *, y=None, na_action="drop", name="X", split=False):
    """Parse ``formula`` on the training frame ``data``: ``(spec, design)``.

    Parameters
    ----------
    formula : str, e.g. ``"y ~ x1 + C(x2) + x1:x3"`` (``- 1`` or ``+ 0``: no
        intercept).  Without a left side (``"~ x1 + C(x2)"``) the labels are
        ``y``.
    data : pandas DataFrame.
    y : (n,) labels when the formula has no left side, else None.
    na_action : "drop" (formulaic's rule: rows with a missing value in a
        variable of the formula are dropped and counted) or "raise".
    split : give X as a :class:`SplitMatrix` when the design splits (the
        module's rule; :attr:`FormulaSpec.split` says so for every frame
        the spec encodes); by default, and otherwise, dense or CSR.

    Returns
    -------
    (:class:`FormulaSpec`, :class:`Design`)
    """
    formulaic = import_formulaic()
    formula = check_formula(formula)
    na_action = check_na_action(na_action)
    data = _plain_strings(check_frame(data, name))
    lhs, rhs = _parse(formulaic, formula, data, name)
    label, label_column, label_spec = _left_side(formulaic, lhs, data, formula)
    categorical = _categorical_factors(formulaic, rhs, data, formula, name)
    terms = _statsmodels_order(list(rhs), categorical)
    model_spec = formulaic.ModelSpec.from_spec(
        formulaic.Formula(terms, _ordering="none"),
        output="sparse" if categorical else "numpy",
        na_action=na_action,
    )
    left = (formula, label, label_column, label_spec)
    y_values, drop = _labels(left, data, y, labels=True, na_action=na_action, name=name)
    if split and categorical:
        direct = _build_direct(formulaic, formula, data, terms, categorical, drop, na_action, name)
        if direct is not None:
            model_spec, layout, X, rows, dense = direct
            numeric = {
                str(c): str(data[c].dtype)
                for c in model_spec.required_variables
                if c in data.columns and _is_numeric(data[c])
            }
            spec = FormulaSpec(formula, model_spec, label, label_column, label_spec, dense, numeric, layout)
            y_kept = y_values if len(rows) == len(data) else y_values[rows]
            return spec, Design(X, y_kept, rows, len(data) - len(rows))
    try:
        X = model_spec.get_model_matrix(data, context={}, drop_rows=drop)
    except (ValueError, formulaic.errors.FormulaicError) as exc:
        raise _named_error(exc, name, f"formula={formula!r} cannot be evaluated on {name}") from None
    model_spec = X.model_spec
    dense = not categorical or _density(X) > DENSE_ABOVE_DENSITY
    numeric = {
        str(c): str(data[c].dtype)
        for c in model_spec.required_variables
        if c in data.columns and _is_numeric(data[c])
    }
    layout = split_layout(model_spec, X, categorical)
    spec = FormulaSpec(formula, model_spec, label, label_column, label_spec, dense, numeric, layout)
    coded = layout.encode(X) if split and layout is not None else None
    if coded is not None:
        X, rows = coded, _kept_positions(len(data), drop, coded.shape[0])
    else:
        X, rows = spec._finish(X, len(data), drop)
    if len(rows) == 0:
        raise ValueError(f"every row of {name} has a missing value in a variable of formula={formula!r}")
    return spec, Design(X, y_values[rows], rows, len(data) - len(rows))


def _build_direct(formulaic, formula, data, terms, categorical, drop, na_action, name):
    """The split design of the training frame by the direct route, or None where it
    does not apply (then :func:`build` goes through formulaic's full design).

    formulaic's full design holds a value and a column index per row and level
    column (several times the frame's size at a million rows); here only the dense
    block's terms are encoded by formulaic, and each coded term's codes are read
    off its column (:class:`DirectCodes`).  The spec of the whole formula is fitted
    by formulaic on one kept row per level of each categorical column (what it
    learns from a frame is those levels; a formula with stateful transforms, whose
    state needs every row, goes the full way), so names, levels and contrasts are
    formulaic's.  The route applies when every categorical factor reads one column,
    some term is one categorical factor (which is then held as codes) and no term is
    a product of categorical factors.

    ``(model_spec, SplitLayout, SplitMatrix, kept row positions, dense)``, where
    ``dense`` is whether the full design would be more than DENSE_ABOVE_DENSITY
    non-zero (:attr:`FormulaSpec.dense`).
    """

    columns = {str(c) for c in data.columns}
    factor_column = {}
    for term in terms:
        for factor in term.factors:
            if str(factor) in categorical:
                used = _factor_columns(factor, columns)
                if len(used) != 1:
                    return None
                factor_column[str(factor)] = next(iter(used))
    coded = [t for t in terms if t.degree == 1 and str(next(iter(t.factors))) in categorical]
    if not coded or any(t.degree > 1 and all(str(f) in categorical for f in t.factors) for t in terms):
        return None  # (``C(g):C(h)`` is held as codes of the pairs of levels by the full way)
    drop = set(drop)
    n = len(data)
    dense_terms = [t for t in terms if t.degree > 0 and t not in coded]
    # every factor reads a column as it is (``x``, ``C(g)``): a row is dropped for a
    # missing value in one of those columns, known before any term is encoded
    read = _lookup_columns(dense_terms, factor_column)
    _drop_missing(data, [factor_column[str(next(iter(t.factors)))] for t in coded], na_action, name, drop)
    if read is not None:
        _drop_missing(data, read, na_action, name, drop)
    dense_spec, dense = None, None
    if dense_terms and read is None:
        dense_spec = formulaic.ModelSpec.from_spec(
            formulaic.Formula(dense_terms, _ordering="none"), output="numpy", na_action=na_action
        )
        try:
            matrix = dense_spec.get_model_matrix(data, context={}, drop_rows=drop)
        except (ValueError, formulaic.errors.FormulaicError) as exc:
            raise _named_error(exc, name, f"formula={formula!r} cannot be evaluated on {name}") from None
        dense_spec = matrix.model_spec
        if dense_spec.transform_state:
            return None
        dense = np.ascontiguousarray(matrix, dtype=np.float64)
        del matrix
    rows = _kept_positions(n, drop, n - len(drop))
    if len(rows) == 0 or (dense is not None and dense.shape[0] != len(rows)):
        return None
    if dense is None:
        dense = np.empty((len(rows), 0))
    # one kept row per level of every categorical column, on which formulaic fits the spec
    firsts = {}
    for column in sorted(set(factor_column.values())):
        kept = data[column].iloc[rows] if len(rows) < n else data[column]
        firsts[column] = np.flatnonzero(~kept.duplicated().to_numpy())
    sample_rows = np.unique(np.concatenate([[0], *firsts.values()]))
    sample = data.iloc[np.asarray(rows)[sample_rows] if len(rows) < n else sample_rows]
    model_spec = formulaic.ModelSpec.from_spec(
        formulaic.Formula(terms, _ordering="none"), output="sparse", na_action=na_action
    )
    try:
        fitted = model_spec.get_model_matrix(sample, context={})
    except (ValueError, formulaic.errors.FormulaicError):
        return None
    model_spec = fitted.model_spec
    if fitted.shape[0] != len(sample) or model_spec.transform_state:
        return None
    import scipy.sparse as sp

    fitted = sp.csc_matrix(fitted)
    blocks, others, features, direct = [], [], [], []
    at = 0
    for part in model_spec.structure:
        lo, hi = at, at + len(part.columns)
        at = hi
        if part.term.degree == 0:
            continue
        features.extend(range(lo, hi))
        if part.term in coded and hi > lo:
            column = factor_column[str(next(iter(part.term.factors)))]
            at_levels = np.searchsorted(sample_rows, firsts[column])
            table = indicator_codes(fitted, lo, hi)
            if table is None:
                return None
            levels = (
                data[column]
                .iloc[np.asarray(rows)[firsts[column]] if len(rows) < n else firsts[column]]
                .tolist()
            )
            blocks.append((lo, hi))
            direct.append(DirectCodes(column, levels, table[at_levels]))
        else:
            others.extend(range(lo, hi))
    codes = np.empty((len(rows), len(direct)), dtype=np.int32)
    for j, reader in enumerate(direct):
        column, _ = reader.codes(data, name, na_action, set())  # (new levels: only in dropped rows)
        codes[:, j] = column[rows] if len(rows) < n else column
        del column
    names = list(model_spec.column_names)
    parts = None
    if read is not None:
        parts = [
            _dense_part(model_spec, part, data, categorical)
            for part in model_spec.structure
            if part.term.degree > 0 and (part.term not in coded or not part.columns) and part.columns
        ]
        if not parts:
            dense = np.empty((len(rows), 0))
        else:
            try:
                dense = _dense_by_term(parts, data, drop, na_action)
            except (ValueError, formulaic.errors.FormulaicError) as exc:
                raise _named_error(exc, name, f"formula={formula!r} cannot be evaluated on {name}") from None
            if dense.shape[0] != len(rows):
                return None
    elif [names[j] for j in others] != list(dense_spec.column_names if dense_spec is not None else []):
        return None
    width = len(others)
    if (
        width > SPLIT_SPARSE_DENSE_COLUMNS
        and np.count_nonzero(dense) / max(dense.size, 1) <= DENSE_ABOVE_DENSITY
    ):
        return None
    layout = SplitLayout(blocks, others, features, at)
    layout.direct, layout.dense_spec, layout.dense_parts, layout.read = direct, dense_spec, parts, read
    intercept = at - len(features)
    nnz = np.count_nonzero(dense) + np.count_nonzero(codes >= 0) + intercept * len(rows)
    full_dense = nnz / max(len(rows) * at, 1) > DENSE_ABOVE_DENSITY
    X = SplitMatrix(dense, codes, [hi - lo for lo, hi in blocks], layout.column_order)
    return model_spec, layout, X, rows, full_dense


def _lookup_columns(terms, factor_column):
    """The columns the terms' factors read, when each reads one as it is (a column
    name, or a categorical factor of one column: ``factor_column``); else None."""
    read = set()
    for term in terms:
        for factor in term.factors:
            if str(factor) in factor_column:
                read.add(factor_column[str(factor)])
            elif getattr(factor.eval_method, "value", None) == "lookup":
                read.add(str(factor.expr))
            else:
                return None
    return sorted(read)


def _drop_missing(data, columns, na_action, name, drop):
    """Add to ``drop`` the rows with a missing value in one of ``columns``
    (``ColumnError`` naming the column under ``na_action="raise"``)."""
    for column in columns:
        missing = np.flatnonzero(_is_missing(data[column]))
        if len(missing) and na_action == "raise":
            raise _missing_values(column, name)
        drop.update(missing.tolist())


def _dense_part(model_spec, part, data, categorical):
    """How :func:`_dense_by_term` encodes a dense term: ``(ModelSpec, width, columns)``,
    ``columns`` the numeric columns whose product the term is (``x0``, ``x0:x1``: read
    off the frame into the block, no copy beside it), or None (formulaic encodes it)."""
    spec = model_spec.subset([part.term]).update(output="numpy")
    columns = []
    for factor in part.term.factors:
        column = str(factor.expr)
        lookup = getattr(factor.eval_method, "value", None) == "lookup" and str(factor) not in categorical
        dtype = data[column].dtype if lookup and column in data.columns else None
        if not isinstance(dtype, np.dtype) or dtype.kind not in "fiu" or len(part.columns) != 1:
            return spec, len(part.columns), None
        columns.append(column)
    return spec, 1, columns


def _dense_by_term(parts, data, drop, na_action):
    """The dense block (C-ordered float64, the rows not in ``drop``), one term at a
    time (``parts``: :func:`_dense_part`'s) into one array: a product of numeric
    columns is multiplied in place, other terms encoded by formulaic, never more than
    one term's columns beside the block.  ``drop`` gains any row formulaic drops
    (then the block is encoded again on the fewer rows)."""
    n = len(data)
    while True:
        before = len(drop)
        rows = _kept_positions(n, drop, n - before) if before else None
        block = np.empty((n - before, sum(width for _, width, _ in parts)))
        at = 0
        for spec, width, columns in parts:
            if columns is not None:
                out = block[:, at]
                for k, column in enumerate(columns):
                    values = data[column].to_numpy()
                    if values.dtype.kind not in "fiu":  # (a nullable dtype in a new frame)
                        values = data[column].to_numpy(dtype=np.float64, na_value=np.nan)
                    values = values if rows is None else values[rows]
                    if k == 0:
                        out[...] = values
                    else:
                        np.multiply(out, values, out=out)
                at += 1
                continue
            values = spec.update(na_action=na_action).get_model_matrix(data, context={}, drop_rows=drop)
            if len(drop) != before:
                break
            block[:, at : at + width] = values
            at += width
            del values
        else:
            return block


def build_from_levels(formula, sample, levels, *, na_action="drop", name="X", first=None):
    """The :class:`FormulaSpec` of ``formula`` on data read in parts (the row groups
    of a Parquet file, the partitions of a dask DataFrame), fixed before any part is
    encoded, so that every part is encoded with the same columns.

    What a spec learns from its training frame is the levels of its categorical
    factors; they come from ``levels``, one pass over the columns those factors
    read.  The spec is then fitted by formulaic on a small frame holding each of
    those columns' distinct values (a categorical column with its categories, in
    their order): formulaic orders the levels as it would on the whole frame
    (sorted values, or a categorical's own order), so the columns, their names
    and the dropped reference levels are the in-memory fit's.

    Parameters
    ----------
    formula : str, as for :func:`build` (a left side naming the label column, or
        an expression of columns; without one the labels are given apart).
    sample : a pandas DataFrame with the data's columns and dtypes (zero rows
        are enough).
    levels : callable, ``levels(columns) -> {column: distinct values}``: the
        distinct non-missing values of each column (a categorical column: its
        categories, in order), over all the data.  Called once.
    na_action : "drop" or "raise", as for :func:`build`.
    name : what error messages call the data (e.g. the file).
    first : None for a dense design (``spec.dense``), or a callable,
        ``first(columns)`` -> a frame of those columns over some rows of the
        data (e.g. the first row group), whose design's density chooses dense
        or CSR as :func:`build` does.

    Raises ``ValueError`` naming the column for a column the formula needs that
    ``sample`` lacks, a categorical column without a non-missing value, a
    categorical factor that reads more than one column (``C(a + b)``: compute
    the column first), and stateful transforms (``center``, ``scale``, ``bs``,
    ...), whose state needs the whole data at once.
    """
    formulaic = import_formulaic()
    formula = check_formula(formula)
    na_action = check_na_action(na_action)
    sample = _plain_strings(check_frame(sample, name))
    columns = {str(c) for c in sample.columns}
    lhs, rhs = _parse(formulaic, formula, sample, name)
    label_column = None
    if len(lhs) == 1 and len(lhs[0].factors) == 1:
        factor = next(iter(lhs[0].factors))
        if getattr(factor.eval_method, "value", None) == "lookup":
            label_column = str(factor.expr)
    if label_column is not None and label_column not in columns:
        raise ValueError(f"{name} has no column {label_column!r}, the formula's left side")
    categorical = _categorical_factors(formulaic, rhs, sample.iloc[:0], formula, name)
    level_columns = set()
    for term in rhs:
        for factor in term.factors:
            if str(factor) not in categorical:
                continue
            used = _factor_columns(factor, columns)
            if len(used) != 1:
                raise ValueError(
                    f"formula={formula!r}: the categorical factor {str(factor)!r} reads "
                    f"{len(used)} columns ({', '.join(map(repr, sorted(used)))}); on data read in parts "
                    "(Parquet, dask) a categorical factor must read one column: compute the combined "
                    "column first"
                )
            level_columns |= used
    found = levels(sorted(level_columns)) if level_columns else {}
    for column in sorted(level_columns):
        if len(found.get(column, ())) == 0:
            raise ValueError(
                f"column {column!r} of {name} has no non-missing value: a categorical factor "
                "of the formula needs at least one level"
            )
    read = {c for term in [*lhs, *rhs] for f in term.factors for c in _factor_columns(f, columns)}
    probe = _probe(sample, read, found)
    label, label_column, label_spec = _left_side(formulaic, lhs, probe, formula)
    model_spec = formulaic.ModelSpec.from_spec(
        formulaic.Formula(_statsmodels_order(list(rhs), categorical), _ordering="none"),
        output="sparse" if categorical else "numpy",
        na_action=na_action,
    )
    try:
        model_spec = model_spec.get_model_matrix(probe, context={}).model_spec
    except (ValueError, formulaic.errors.FormulaicError) as exc:
        raise _named_error(exc, name, f"formula={formula!r} cannot be evaluated on {name}") from None
    stateful = sorted(model_spec.transform_state)
    if label_spec is not None:
        stateful += sorted(label_spec.transform_state)
    if stateful:
        raise ValueError(
            f"formula={formula!r} uses stateful transform(s) {', '.join(map(repr, stateful))}, whose "
            f"state needs the whole data at once; on data read in parts ({name}) compute those "
            "columns first"
        )
    numeric = {
        str(c): str(sample[c].dtype)
        for c in model_spec.required_variables
        if c in sample.columns and _is_numeric(sample[c])
    }
    dense = True
    if categorical and first is not None:
        rows = first(sorted(map(str, model_spec.required_variables)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            raw = model_spec.get_model_matrix(rows, context={}, na_action="drop")
        dense = _density(raw) > DENSE_ABOVE_DENSITY
    return FormulaSpec(formula, model_spec, label, label_column, label_spec, dense, numeric)


def _parse(formulaic, formula, data, name):
    """``(lhs terms, rhs)`` of ``formula``; ``ValueError`` for a formula that does not
    parse or a column it names that ``data`` lacks."""
    try:
        parsed = formulaic.Formula(formula, _ordering="none")
    except formulaic.errors.FormulaicError as exc:
        raise ValueError(f"formula={formula!r} cannot be parsed: {exc}") from None
    if hasattr(parsed, "rhs"):
        lhs, rhs = list(parsed.lhs), parsed.rhs
    else:
        lhs, rhs = [], parsed
    missing = sorted(str(c) for c in _lookup_names(rhs) - set(map(str, data.columns)))
    if missing:
        raise ValueError(f"{name} has no column {', '.join(map(repr, missing))}, used by formula={formula!r}")
    return lhs, rhs


def _factor_columns(factor, columns):
    """The columns (of ``columns``) that the factor reads."""
    if getattr(factor.eval_method, "value", None) == "lookup":
        return {str(factor.expr)} & columns
    if getattr(factor.eval_method, "value", None) != "python":
        return set()
    from formulaic.utils.variables import get_expression_variables

    return {str(v) for v in get_expression_variables(factor.expr)} & columns


def _probe(sample, read, levels):
    """A frame over the columns ``read`` with ``sample``'s dtypes: each column of
    ``levels`` holds its distinct values (padded by repeating the last), the others
    a placeholder (zeros, empty strings)."""
    import pandas as pd

    n = max([1] + [len(v) for v in levels.values()])
    columns = {}
    for column in sample.columns:
        if str(column) not in read:
            continue
        dtype = sample[column].dtype
        values = list(levels.get(str(column), ()))
        if isinstance(dtype, pd.CategoricalDtype):
            categories = values or list(dtype.categories)
            fill = values + values[-1:] * (n - len(values)) if values else [None] * n
            columns[column] = pd.Categorical(fill, categories=categories, ordered=dtype.ordered)
        elif values:
            columns[column] = pd.Series(values + values[-1:] * (n - len(values)), dtype=dtype)
        elif _is_numeric(sample[column]) or pd.api.types.is_bool_dtype(dtype):
            columns[column] = pd.Series(np.zeros(n), dtype=dtype)
        else:
            columns[column] = pd.Series([""] * n, dtype=dtype)
    return pd.DataFrame(columns, index=pd.RangeIndex(n))


def _labels(left, data, y, *, labels, na_action, name):
    """The labels as an array over all rows, and the set of row positions to drop.

    ``left``: ``(formula, label, label column or None, label ModelSpec or None)``.
    """
    formula, label, label_column, label_spec = left
    if not labels:
        return None, set()
    if label:
        if y is not None:
            raise ValueError(
                f"y must be None: the formula's left side {label!r} gives the labels "
                f"(or write the formula without a left side, '~ ...', and pass y)"
            )
        if label_column is not None:
            if label_column not in data.columns:
                raise ValueError(f"{name} has no column {label_column!r}, the formula's left side")
            values = _column_values(data[label_column])
        else:
            values = _label_expression(label, label_spec, data)
    else:
        if y is None:
            raise ValueError(
                f"the formula {formula!r} has no left side: pass y, or write the label "
                "column on the left ('y ~ ...')"
            )
        values = np.asarray(y)
        if values.ndim != 1 or len(values) != len(data):
            raise ValueError(
                f"y must have one label per row of {name} ({len(data)}), got shape {values.shape}"
            )
    missing = np.flatnonzero(_is_missing(values))
    if len(missing) and na_action == "raise":
        raise ValueError(
            f"the labels ({label or 'y'}) have {len(missing)} missing value(s) (first at row "
            f"{missing[0]}); na_action='raise'"
        )
    return values, {int(i) for i in missing}


def _label_expression(label, label_spec, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = label_spec.get_model_matrix(data, context={}, na_action="ignore")
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 2 and values.shape[1] != 1:
        raise ValueError(
            f"the formula's left side {label!r} gives {values.shape[1]} columns; it must give "
            "one label per row (name the label column: 'y ~ ...')"
        )
    return values.reshape(-1)


def _left_side(formulaic, lhs, data, formula):
    """``(label text, column or None, ModelSpec of an expression or None)``."""
    if not lhs:
        return "", None, None
    label = " + ".join(str(t) for t in lhs)
    if len(lhs) == 1 and len(lhs[0].factors) == 1:
        factor = next(iter(lhs[0].factors))
        if getattr(factor.eval_method, "value", None) == "lookup":
            return label, str(factor.expr), None
    if len(lhs) != 1:
        raise ValueError(f"formula={formula!r}: the left side must be one label column, got {label!r}")
    label_spec = formulaic.ModelSpec.from_spec(formulaic.Formula(lhs, _ordering="none"), output="numpy")
    label_spec = label_spec.get_model_matrix(data, context={}, na_action="ignore").model_spec
    return label, None, label_spec


def _lookup_names(terms):
    """The names the terms read from the frame directly (``x`` in ``x:C(g)``)."""
    return {
        str(f.expr)
        for term in terms
        for f in term.factors
        if getattr(f.eval_method, "value", None) == "lookup"
    }


def _categorical_factors(formulaic, rhs, data, formula, name="X"):
    """The factors formulaic encodes as categories, from a zero-row copy of the frame
    (what makes a factor categorical is its dtype or ``C()``, not its rows)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            probe = formulaic.ModelSpec.from_spec(rhs, na_action="ignore").get_model_matrix(
                data.iloc[:0], context={}
            )
        except (ValueError, formulaic.errors.FormulaicError) as exc:
            raise _named_error(exc, name, f"formula={formula!r} cannot be evaluated") from None
    return {
        factor
        for factor, (kind, _) in probe.model_spec.encoder_state.items()
        if getattr(kind, "value", kind) == "categorical"
    }


def _statsmodels_order(terms, categorical):
    """patsy's (and statsmodels') term order: the intercept, the terms made only of
    categorical factors (by degree), then the other terms grouped by their numeric
    factors, groups in order of first appearance, each by degree."""
    intercept = [t for t in terms if t.degree == 0]
    rest = [t for t in terms if t.degree > 0]
    cats = sorted((t for t in rest if all(str(f) in categorical for f in t.factors)), key=lambda t: t.degree)
    groups = {}
    for term in rest:
        if term in cats:
            continue
        numeric = tuple(sorted(str(f) for f in term.factors if str(f) not in categorical))
        groups.setdefault(numeric, []).append(term)
    return intercept + cats + [t for group in groups.values() for t in sorted(group, key=lambda t: t.degree)]


def _term_columns(model_spec):
    """The term of each column of the design, in column order."""
    return [part.term for part in model_spec.structure for _ in part.columns]


def _density(X):
    n, d = X.shape
    nnz = X.nnz if hasattr(X, "nnz") else np.count_nonzero(X)
    return nnz / max(n * d, 1)


def _plain_strings(data):
    """``data`` with its ``string`` columns (pandas' StringDtype with ``pd.NA``, dask's
    default for text) as ``str`` columns, which formulaic encodes as categories (it
    would read ``string`` as numbers); other frames as they are."""
    import pandas as pd

    strings = [
        c
        for c, dtype in data.dtypes.items()
        if isinstance(dtype, pd.StringDtype) and getattr(dtype, "na_value", pd.NA) is pd.NA
    ]
    if not strings:
        return data
    data = data.copy(deep=False)
    for column in strings:
        data[column] = data[column].astype("str")
    return data


def _is_numeric(series):
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series.dtype)


def _is_missing(values):
    import pandas as pd

    return np.asarray(pd.isna(values), dtype=bool).reshape(-1)


def _column_values(series):
    """A label column's values: NumPy values for NumPy dtypes, objects otherwise."""
    if isinstance(series.dtype, np.dtype):
        return series.to_numpy()
    return series.to_numpy(dtype=object)


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


def _missing_values(column, name):
    """The ``ValueError`` for missing values in ``column`` under ``na_action="raise"``."""
    return ColumnError(
        f"column {column!r} of {name} has missing values and na_action='raise' "
        "(na_action='drop' drops those rows)"
    )


def _named_error(exc, name, context):
    """A ``ValueError`` for formulaic's error ``exc``, naming the column where formulaic
    says which (a missing variable, missing values under ``na_action="raise"``)."""
    text = str(exc)
    found = re.search(r"`([^`]+)` contains null values", text)
    if found:
        return _missing_values(found.group(1), name)
    found = re.search(r"`([^`]+)` is not present in the dataset", text) or re.search(
        r"NameError: name '([^']+)' is not defined", text
    )
    if found:
        return ValueError(f"{name} has no column {found.group(1)!r}, used by the formula")
    return ValueError(f"{context}: {text}")
