"""Formulas at every scale: a frame in memory, a Parquet file, a dask DataFrame.

A formula model is fitted on a pandas DataFrame in memory (see
:mod:`fastlogit.formula`), and, with the same results, on data that is not
one frame:

- **Parquet** (a file or a directory of files): :class:`FormulaParquetChunks`
  is a chunk source (:mod:`fastlogit.sources`) whose chunks are the row
  groups, each read (only the formula's columns) as a pandas frame and
  encoded by the formula's fixed spec into ``(X, y, sample_weight)``.  The
  spec is fixed before any chunk is encoded: the levels of every categorical
  factor are collected in one pass over the columns those factors read (a
  categorical, i.e. dictionary-typed, column gives its dictionaries; a
  string column is read dictionary-encoded), so a level that first appears
  in the last row group is a level like any other.  Random access by row
  group, so SGD shuffles their order.
- **dask DataFrames**: :func:`dask_design` collects the levels on the cluster
  (a categorical column's known categories, else one ``unique()`` pass over
  the categorical columns), encodes every partition on the workers with the
  fixed spec and gives a dask array ``X`` (dense: formulaic's CSR design of a
  many-level categorical is densified per partition) with known row chunks,
  its labels and weights alongside, for :func:`fastlogit.distributed.dask_rows`.

Rows with a missing value in a variable of the formula are dropped per
chunk or partition (and counted) or, with ``na_action="raise"``, refused
with a ``ValueError`` naming the column, as in memory.  Stateful transforms
(``center(x)``, ``scale(x)``, splines) need the whole data at once and are
refused here.

:func:`formula_data` is the estimator's one entry: a formula (or a fitted
spec) and the data, whatever its kind, to the design the row sources take.
A frame in memory can come as a split design (categorical terms as codes,
``split=True``; see :mod:`fastlogit.formula`); Parquet row groups and dask
partitions stay dense or CSR (their row sources, ChunkRows and DaskRows,
take arrays).
"""

import os

import numpy as np

from .formula import build, build_from_levels, check_na_action, kept_rows
from .sources import ChunkSource, parquet_dataset


class FormulaData:
    """A formula's design of some data: what :meth:`LogisticRegression.fit` hands on.

    X, y, sample_weight : the design (in memory: an array and the labels;
        Parquet: a :class:`FormulaParquetChunks`, y and sample_weight None;
        dask: dask arrays).
    n_dropped : rows dropped for missing values (for Parquet, once every row
        group has been read).
    rows : in memory, the positions of the kept rows (else None).
    """

    def __init__(self, X, y, sample_weight, *, n_dropped=0, rows=None, source=None):
        self.X, self.y, self.sample_weight = X, y, sample_weight
        self.rows = rows
        self._n_dropped = n_dropped
        self._source = source

    @property
    def n_dropped(self):
        return self._source.n_dropped if self._source is not None else int(self._n_dropped)

    def kept(self, values, name):
        """``values`` (one per row of the frame, or None) at the rows kept (in memory;
        other data: as they are)."""
        if self.rows is None:
            return values
        return kept_rows(values, self.rows, self.n_dropped, name)


def formula_data(
    formula, X, y=None, sample_weight=None, *, na_action="drop", spec=None, weight=None, split=False
):
    """``(spec, FormulaData)``: the design of ``formula`` on ``X``.

    ``X``: a pandas DataFrame, a path to a Parquet file or directory, or a
    dask DataFrame.  ``spec``: a fitted :class:`~fastlogit.formula.FormulaSpec`
    to encode with (prediction, inference), or None to fit one (training).
    ``y``: the labels when the formula has no left side.  ``sample_weight``:
    one weight per row (in memory, dask), or for Parquet ``weight=`` the name
    of a weight column.  ``split``: a frame's design as a
    :class:`~fastlogit.formula.SplitMatrix` when it splits (see
    :mod:`fastlogit.formula`); Parquet and dask designs are dense or CSR
    whatever it says.
    """
    na_action = check_na_action(na_action)
    if isinstance(X, (str, os.PathLike)):
        if y is not None or sample_weight is not None:
            raise ValueError(
                f"with Parquet data ({os.fspath(X)!r}) and a formula, the labels are the formula's "
                "left side and the weights a column: pass weight='column', not y/sample_weight"
            )
        source = FormulaParquetChunks(X, formula, weight=weight, na_action=na_action, spec=spec)
        return source.spec, FormulaData(source, None, None, source=source)
    if weight is not None:
        raise ValueError("weight= names a column of Parquet data; for a data frame pass sample_weight")
    if type(X).__module__.partition(".")[0] in ("dask", "dask_expr"):
        spec, X, y, sample_weight, n_dropped = dask_design(
            formula, X, y, sample_weight, na_action=na_action, spec=spec
        )
        return spec, FormulaData(X, y, sample_weight, n_dropped=n_dropped)
    if spec is None:
        spec, design = build(formula, X, y=y, na_action=na_action, split=split)
    else:
        design = spec.design(X, y=y, labels=True, na_action=na_action, split=split)
    data = FormulaData(design.X, design.y, None, n_dropped=design.n_dropped, rows=design.rows)
    data.sample_weight = data.kept(sample_weight, "sample_weight")
    return spec, data


# -- Parquet ------------------------------------------------------------------------


class FormulaParquetChunks(ChunkSource):
    """The row groups of a Parquet file or dataset, encoded by a formula.

    Parameters
    ----------
    path : a ``.parquet`` file or a directory of them.
    formula : the formula (ignored when ``spec`` is given).
    weight : an optional column of sample weights (nonnegative, no nulls).
    na_action : "drop" (rows with a missing value in a variable of the formula
        are dropped per row group and counted in :attr:`n_dropped`) or "raise".
    spec : a fitted :class:`~fastlogit.formula.FormulaSpec` (new data for a
        fitted model), or None: one is fitted, the levels collected in one
        pass over the columns the categorical factors read.

    Each chunk is a row group read (the formula's columns, and the weight
    column) as a pandas frame and encoded by :attr:`spec`: ``(X, y,
    sample_weight)``, X dense or CSR as the spec says.  A row group whose
    every row is dropped gives no chunk (chunk ``i`` is the ``i``-th row group
    that keeps a row, fixed by the first full pass).
    """

    def __init__(self, path, formula=None, *, weight=None, na_action="drop", spec=None):
        self.path, self._dataset = parquet_dataset(path)
        self.na_action = check_na_action(na_action)
        self._schema = self._dataset.schema
        names = list(self._schema.names)
        if weight is not None:
            if not isinstance(weight, str):
                raise TypeError(f"weight must name the weight column (a str), got {weight!r}")
            if weight not in names:
                raise ValueError(f"weight column {weight!r} is not in {self.path!r}; its columns are {names}")
        self.weight = weight
        self._fragments = [
            rg for fragment in self._dataset.get_fragments() for rg in fragment.split_by_row_group()
        ]
        if not self._fragments:
            raise ValueError(f"{self.path!r} holds no row groups")
        sample = self._schema.empty_table().to_pandas()
        if spec is None:
            spec = build_from_levels(
                formula, sample, self._levels, na_action=na_action, name=self.name, first=self._first
            )
        else:
            spec._check_columns(sample, self.name, labels=True)
        self.spec = spec
        needed = set(spec.model_spec.required_variables)
        if spec.label_column is not None:
            needed.add(spec.label_column)
        elif spec.label_spec is not None:
            needed |= set(spec.label_spec.required_variables)
        if weight is not None:
            needed.add(weight)
        self._columns = [c for c in names if c in needed]
        self._dropped = [None] * len(self._fragments)
        self._groups = None  # the row groups that keep a row, once a pass has found them

    @property
    def name(self):
        return os.path.basename(self.path.rstrip(os.sep)) or self.path

    def _read(self, i, columns, fragment=None):
        fragment = self._fragments[i] if fragment is None else fragment
        try:
            return fragment.to_table(columns=columns)
        except OSError as exc:
            raise OSError(f"reading {fragment.path!r} (chunk {i} of {self.path!r}) failed: {exc}") from exc

    def _frame(self, i, extra=()):
        columns = self._columns + [c for c in extra if c not in self._columns]
        return self._read(i, columns).to_pandas()

    def _first(self, columns):
        """The first row group's ``columns``: the rows whose design chooses dense or CSR."""
        return self._read(0, [c for c in self._schema.names if c in set(columns)]).to_pandas()

    def _levels(self, columns):
        """``{column: distinct values}`` over every row group, one pass over ``columns``
        only: a dictionary-typed (categorical) column's dictionaries in order of
        first appearance (as pyarrow unifies them, e.g. in ``pd.read_parquet``),
        any other column's distinct non-missing values (a string column read
        dictionary-encoded: its distinct values are the dictionary's used entries)."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds
        import pyarrow.types as pt

        kinds = {c: self._schema.field(c).type for c in columns}
        strings = [c for c, t in kinds.items() if pt.is_string(t) or pt.is_large_string(t)]
        fmt = ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=strings))
        dataset = ds.dataset(self.path, format=fmt)
        fragments = [rg for fragment in dataset.get_fragments() for rg in fragment.split_by_row_group()]
        found = {c: {} for c in columns}
        for i, fragment in enumerate(fragments):
            table = self._read(i, list(columns), fragment)
            for c in columns:
                for chunk in table.column(c).chunks:
                    if pt.is_dictionary(chunk.type):
                        if pt.is_dictionary(kinds[c]):  # a categorical: all its categories
                            values = chunk.dictionary.to_pylist()
                        else:
                            used = pc.unique(chunk.indices.drop_null())
                            values = chunk.dictionary.take(used).to_pylist()
                    else:
                        values = pc.unique(chunk.drop_null()).to_pylist()
                    found[c].update(dict.fromkeys(v for v in values if not _missing(v)))
        return {c: list(values) for c, values in found.items()}

    def _chunk(self, group):
        """Row group ``group`` encoded: ``(X, y, sample_weight)``; its dropped rows counted."""
        frame = self._frame(group)
        design = self.spec.design(
            frame, labels=True, na_action=self.na_action, name=f"{self.name} (row group {group})"
        )
        sw = None
        if self.weight is not None:
            values = frame[self.weight]
            if values.isna().any():
                raise ValueError(f"weight column {self.weight!r} of {self.path!r} has missing values (nulls)")
            sw = values.to_numpy(dtype=np.float64)[design.rows]
        self._dropped[group] = design.n_dropped
        return design.X, design.y, sw

    def __iter__(self):
        """The encoded row groups in order, less those whose every row was dropped
        (which chunk ``i`` of random access is, is fixed by the first full pass)."""
        groups = []
        for group in range(len(self._fragments)):
            chunk = self._chunk(group)
            if chunk[0].shape[0]:
                groups.append(group)
                yield chunk
        if not groups:
            raise ValueError(
                f"every row of {self.path!r} has a missing value in a variable of "
                f"formula={self.spec.formula!r}"
            )
        self._groups = groups

    def _kept_groups(self):
        if self._groups is None:
            for _ in self:
                pass
        return self._groups

    def __len__(self):
        return len(self._kept_groups())

    def __getitem__(self, i):
        groups = self._kept_groups()
        if not 0 <= i < len(groups):
            raise IndexError(i)
        return self._chunk(groups[i])

    @property
    def n_dropped(self):
        """Rows dropped for missing values, over every row group (a pass, if one has not been made)."""
        if any(dropped is None for dropped in self._dropped):
            self._kept_groups()
        return int(sum(self._dropped))

    def column(self, name, what="column"):
        """The column ``name`` at the rows the chunks keep, row groups in chunk order
        (for ``inference(groups=name)``); ``ValueError`` naming ``what`` for a missing
        column or nulls."""
        names = list(self._schema.names)
        if name not in names:
            raise ValueError(f"{what} {name!r} is not in {self.path!r}; its columns are {names}")
        parts = []
        for i in range(len(self._fragments)):
            frame = self._frame(i, extra=[name])
            rows = self.spec.design(frame, labels=True, na_action=self.na_action, name=self.name).rows
            values = frame[name].iloc[rows]
            if values.isna().any():
                raise ValueError(f"{what} {name!r} of {self.path!r} has missing values (nulls)")
            parts.append(values.to_numpy())
        return np.concatenate(parts)


def _missing(value):
    return value is None or (isinstance(value, float) and np.isnan(value))


# -- dask ---------------------------------------------------------------------------


def dask_design(formula, ddf, y=None, sample_weight=None, *, na_action="drop", spec=None):
    """The formula's design of the dask DataFrame ``ddf``, encoded on the workers.

    Returns ``(spec, X, y, sample_weight, n_dropped)``: X a float64 dask array
    (dense) with known row chunks (one per partition that keeps a row), y and
    sample_weight dask arrays in the same row chunks (sample_weight None
    without weights).  ``y``: the labels when the formula has no left side,
    and ``sample_weight``: one weight per row of ``ddf``; each a dask Series
    or array with ``ddf``'s partitions (the same number of rows in each), or
    an in-memory array (split as ``ddf``'s partitions, after one pass that
    counts their rows).

    The levels are collected first (a categorical column's known categories,
    else ``unique()`` of each column a categorical factor reads, computed in
    one pass); the encoded partitions are persisted (held on the workers, or
    in memory without a client) while their rows are counted.
    """
    import dask
    import dask.array as da
    import pandas as pd

    if not hasattr(ddf, "to_delayed") or not hasattr(ddf, "_meta") or getattr(ddf, "ndim", 2) != 2:
        raise TypeError(f"X must be a dask DataFrame holding the formula's columns, got {type(ddf).__name__}")
    sample = ddf._meta
    if not isinstance(sample, pd.DataFrame):
        raise TypeError(
            f"X must be a dask DataFrame of pandas partitions, got partitions of {type(sample).__name__}"
        )
    if spec is None:
        spec = build_from_levels(
            formula, sample, lambda columns: _dask_levels(ddf, columns), na_action=na_action
        )
        spec.dense = True
    else:
        spec._check_columns(sample, "X", labels=True)
    parts = ddf.to_delayed()
    lengths = None
    if any(v is not None and not _is_dask(v) for v in (y, sample_weight)):
        lengths = [int(n) for n in ddf.map_partitions(len).compute()]
    y_parts = _partitioned(y, "y", ddf, parts, lengths)
    sw_parts = _partitioned(sample_weight, "sample_weight", ddf, parts, lengths)
    encode = dask.delayed(_encode_partition, pure=True)
    spec_key = dask.delayed(spec, pure=True)
    designs = [
        encode(spec_key, part, y_part, sw_part, na_action, i)
        for i, (part, y_part, sw_part) in enumerate(zip(parts, y_parts, sw_parts))
    ]
    designs = dask.persist(*designs)
    shapes = dask.compute(*[dask.delayed(_shape)(d) for d in designs])
    n_dropped = sum(s[1] for s in shapes)
    kept = [(d, s) for d, s in zip(designs, shapes) if s[0] > 0]
    if not kept:
        raise ValueError(f"every row of X has a missing value in a variable of formula={spec.formula!r}")
    d = len(spec.feature_names)
    y_dtype = kept[0][1][2]
    item = dask.delayed(_item, pure=True)
    X = da.concatenate(
        [da.from_delayed(item(p, 0), shape=(s[0], d), dtype=np.float64) for p, s in kept], axis=0
    )
    labels = da.concatenate([da.from_delayed(item(p, 1), shape=(s[0],), dtype=y_dtype) for p, s in kept])
    weights = None
    if sample_weight is not None:
        weights = da.concatenate(
            [da.from_delayed(item(p, 2), shape=(s[0],), dtype=np.float64) for p, s in kept]
        )
    return spec, X, labels, weights, int(n_dropped)


def _is_dask(values):
    return type(values).__module__.partition(".")[0] in ("dask", "dask_expr")


def _dask_levels(ddf, columns):
    """``{column: distinct values}`` of a dask DataFrame's ``columns``: a categorical
    column's categories (known, or made known), the others' distinct values, found
    per partition on the workers (one pass over those columns only) and united in
    partition order on the client."""
    import dask
    import pandas as pd

    found, pending = {}, []
    for column in columns:
        series = ddf[column]
        if isinstance(series.dtype, pd.CategoricalDtype):
            if not series.cat.known:
                series = series.cat.as_known()
            found[column] = list(series.cat.categories)
        else:
            pending.append(column)
    if pending:
        distinct = dask.delayed(_distinct, pure=True)
        parts = dask.compute(*[distinct(part) for part in ddf[pending].to_delayed()])
        for column in pending:
            values = {}
            for part in parts:
                values.update(dict.fromkeys(part[column]))
            found[column] = list(values)
    return found


def _distinct(frame):
    """``{column: its distinct non-missing values}`` of a partition."""
    import pandas as pd

    return {str(c): [v for v in pd.unique(frame[c].dropna()) if not _missing(v)] for c in frame.columns}


def _partitioned(values, name, ddf, parts, lengths):
    """``values`` (one per row of ``ddf``, or None) as one piece per partition."""
    if values is None:
        return [None] * len(parts)
    if _is_dask(values):
        if getattr(values, "ndim", 1) != 1:
            raise ValueError(f"{name} must be 1-d (a dask Series or array), got {values.ndim} dimensions")
        pieces = values.to_delayed()
        pieces = list(pieces.ravel()) if isinstance(pieces, np.ndarray) else list(pieces)
        if len(pieces) != len(parts):
            raise ValueError(
                f"{name} must come in X's {len(parts)} partitions (the same rows in each), got "
                f"{len(pieces)} pieces"
            )
        return pieces
    values = np.asarray(values)
    n = sum(lengths)
    if values.ndim != 1 or len(values) != n:
        raise ValueError(f"{name} must have one value per row of X ({n}), got shape {values.shape}")
    bounds = np.cumsum([0] + lengths)
    return [values[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]


def _encode_partition(spec, frame, y, sample_weight, na_action, index):
    """One partition encoded (on a worker): ``(X, y, sample_weight, n_dropped)``."""
    name = f"X (partition {index})"
    if y is not None:
        y = np.asarray(y)
    design = spec.design(frame, y=y, labels=True, na_action=na_action, name=name)
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64).reshape(-1)
        if len(sw) != len(frame):
            raise ValueError(
                f"sample_weight has {len(sw)} values in partition {index}, whose frame has {len(frame)} rows"
            )
        sw = sw[design.rows]
    X = design.X
    if not isinstance(X, np.ndarray):
        X = X.toarray()
    return np.ascontiguousarray(X, dtype=np.float64), design.y, sw, design.n_dropped


def _shape(design):
    X, y, _, n_dropped = design
    return X.shape[0], n_dropped, y.dtype


def _item(design, i):
    return design[i]


# -- prediction ---------------------------------------------------------------------


def parquet_design(spec, path):
    """The design of every row of the Parquet data ``path``, encoded by ``spec``
    (missing values refused, as for prediction on a frame), row groups stacked in
    order: what ``predict(path)`` scores.  One array in memory."""
    import scipy.sparse as sp

    source = FormulaParquetChunks(path, spec=spec, na_action="raise")
    blocks = [X for X, _, _ in _unlabelled(source)]
    if not blocks:
        raise ValueError(f"{source.path!r} has no rows")
    return sp.vstack(blocks, format="csr") if sp.issparse(blocks[0]) else np.concatenate(blocks)


def _unlabelled(source):
    """``source``'s chunks encoded without the labels (new data may lack the label column)."""
    for group in range(len(source._fragments)):
        frame = source._frame(group)
        design = source.spec.design(
            frame, labels=False, na_action="raise", name=f"{source.name} (row group {group})"
        )
        if design.X.shape[0]:
            yield design.X, None, None


def predict_dask_frame(model, ddf, method):
    """``model.<method>`` (a fitted formula model) of every partition of the dask
    DataFrame ``ddf``, on the workers: a lazy dask array, row chunks of unknown
    size (one per partition), rows in ``ddf``'s order."""
    import dask
    import dask.array as da
    import pandas as pd

    if not hasattr(ddf, "to_delayed") or not isinstance(getattr(ddf, "_meta", None), pd.DataFrame):
        raise TypeError(
            f"X is a {type(ddf).__name__}, but this model was fitted on a formula: pass a pandas or "
            "dask DataFrame holding the formula's columns"
        )
    K = len(model.classes_)
    if method == "predict":
        tail, dtype = (), model.classes_.dtype
    elif method == "decision_function":
        tail, dtype = (() if K == 2 else (K,)), np.float64
    else:
        tail, dtype = (K,), np.float64
    call = dask.delayed(_call, pure=True)
    fitted = dask.delayed(model, pure=True)
    blocks = [
        da.from_delayed(call(fitted, method, part), shape=(np.nan, *tail), dtype=dtype)
        for part in ddf.to_delayed()
    ]
    return da.concatenate(blocks, axis=0, allow_unknown_chunksizes=True)


def _call(model, method, frame):
    return getattr(model, method)(frame)
