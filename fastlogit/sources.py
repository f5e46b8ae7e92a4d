"""Chunk sources: data read a block of rows at a time (out of core).

A chunk source only reads: it yields the user's chunks as they are stored.
:class:`fastlogit.row_sources.ChunkRows` validates them and sums the
objective over them; this module imports nothing of fastlogit but the
argument rules (see ARCHITECTURE.md).

The objective is a sum over rows, so data larger than memory is fitted by
streaming it in *chunks* of rows: one pass over the chunks per evaluation of
a full-batch solver, one per SGD epoch.  Peak extra memory is a few chunks
plus O(d K), whatever the number of rows.

The protocol (:class:`ChunkSource`)
-----------------------------------
Any object that can be iterated **more than once** (each ``iter()`` starts
over), yielding tuples ``(X, y)`` or ``(X, y, sample_weight)``:

- ``X``: a 2-d array-like or scipy.sparse matrix of rows, the same width and
  the same float dtype in every chunk (int/bool chunks are converted to
  float64, float16 to float32: per chunk, so every chunk must convert to the
  same dtype);
- ``y``: the chunk's labels (any kind: strings, ints, bools);
- ``sample_weight``: the chunk's nonnegative weights, or None.

Optionally, ``len(source)`` and ``source[i]`` (the i-th chunk, as the
iteration would yield it) make the source *random access*: SGD then visits
the chunks in an order shuffled by ``random_state`` each epoch; otherwise in
iteration order.  A list of tuples is a valid random-access source.  A
one-shot iterator (a generator object) is rejected: fitting needs several
passes.

Built-in sources: :class:`ArrayChunks` (an array or ``np.memmap``, and
``.npy`` files through :func:`npy_source`) and :class:`ParquetChunks`
(row groups of a Parquet file or dataset, via pyarrow).
"""

import math
import os

import numpy as np

from .data import as_label_vector

#: Bytes of X per chunk when a source chooses its own chunk size: large
#: enough that the per-chunk kernel call (and thread wake-up) costs nothing
#: measurable, small enough that a few chunks fit any machine.
CHUNK_BYTES = 1 << 27


def default_chunk_rows(n_features, itemsize=8):
    """Rows per chunk for ``n_features`` columns: about CHUNK_BYTES of X."""
    return max(1, CHUNK_BYTES // max(1, n_features * itemsize))


class ChunkSource:
    """The chunk-source protocol (documentation and an optional base class).

    Subclasses implement ``__iter__`` (a fresh iterator of ``(X, y)`` or
    ``(X, y, sample_weight)`` tuples on every call) and, for random access,
    ``__len__`` and ``__getitem__`` — then the inherited ``__iter__`` reads
    the chunks by index.  Any object with the same behaviour works without
    subclassing.
    """

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @property
    def name(self):
        """What error messages call this source."""
        return type(self).__name__


class ArrayChunks(ChunkSource):
    """Row chunks of an in-memory array, an ``np.memmap`` or a sparse matrix.

    Parameters
    ----------
    X : (n, d) ndarray / np.memmap (C order is read in place, a view per
        chunk; another layout is copied one chunk at a time) or scipy.sparse
        matrix (converted to CSR once).
    y : (n,) labels (array-like, or an ``np.memmap``); sliced per chunk.
    sample_weight : (n,) weights or None; sliced per chunk.
    chunk_rows : rows per chunk (default: about 128 MiB of X: a view, no copy, for C-order arrays).
    name : what error messages call X (e.g. the file name).
    """

    def __init__(self, X, y, sample_weight=None, chunk_rows=None, name="X"):
        import scipy.sparse as sp

        if sp.issparse(X):
            X = X.tocsr()
        elif not hasattr(X, "shape") or not hasattr(X, "dtype"):
            X = np.asarray(X)
        if len(X.shape) != 2:
            raise ValueError(f"{name} must be 2-d (n_samples, n_features), got shape {X.shape}")
        self.X = X
        n, d = X.shape
        self.y = as_label_vector(y, n, "y", rows_of=name)
        if sample_weight is not None:
            sample_weight = sample_weight if hasattr(sample_weight, "shape") else np.asarray(sample_weight)
            if sample_weight.ndim != 1 or sample_weight.shape[0] != n:
                raise ValueError(
                    f"sample_weight must be 1-d with one weight per row of {name} ({n}), got "
                    f"shape {sample_weight.shape}"
                )
        self.sample_weight = sample_weight
        if chunk_rows is None:
            chunk_rows = default_chunk_rows(d, X.dtype.itemsize)
        if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)) or chunk_rows < 1:
            raise ValueError(f"chunk_rows must be a positive int, got {chunk_rows!r}")
        self.chunk_rows = int(chunk_rows)
        self._name = name
        self.files = []  # (path, size in bytes) of memory-mapped files, checked per chunk

    @property
    def name(self):
        return self._name

    def __len__(self):
        return max(1, math.ceil(self.X.shape[0] / self.chunk_rows))

    def __getitem__(self, i):
        if not 0 <= i < len(self):
            raise IndexError(i)
        for path, size in self.files:
            _check_unchanged(path, size)
        lo = i * self.chunk_rows
        hi = min(lo + self.chunk_rows, self.X.shape[0])
        sw = None if self.sample_weight is None else self.sample_weight[lo:hi]
        return self.X[lo:hi], self.y[lo:hi], sw


def _load_npy(path, name):
    try:
        arr = np.load(path, mmap_mode="r", allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"{name}: no such file: {os.fspath(path)!r}") from None
    except ValueError as exc:
        raise ValueError(f"{name}: {os.fspath(path)!r} is not a readable .npy array ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise ValueError(f"{name}: {os.fspath(path)!r} holds no array")
    return arr


def npy_source(path, y, sample_weight=None, chunk_rows=None):
    """An :class:`ArrayChunks` over a ``.npy`` file, memory-mapped read-only (never loaded whole).

    ``y`` and ``sample_weight`` may be arrays or paths to ``.npy`` files
    (memory-mapped too).  A Fortran-order file is read one chunk at a time
    into C order (a copy per chunk).
    """
    files = [os.fspath(path)]
    X = _load_npy(path, "X")
    if isinstance(y, (str, os.PathLike)):
        files.append(os.fspath(y))
        y = _load_npy(y, "y")
    if isinstance(sample_weight, (str, os.PathLike)):
        files.append(os.fspath(sample_weight))
        sample_weight = _load_npy(sample_weight, "sample_weight")
    source = ArrayChunks(X, y, sample_weight, chunk_rows=chunk_rows, name=os.fspath(path))
    source.files = [(f, os.stat(f).st_size) for f in files]
    return source


def _check_unchanged(path, size):
    """Raise OSError naming ``path`` if the mapped file vanished or changed size.

    Reading a memory-mapped page past a truncated file's end kills the
    process (SIGBUS), so a stream checks its files before each chunk.
    """
    try:
        now = os.stat(path).st_size
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path!r} disappeared while being read (it was removed during the fit)"
        ) from None
    if now != size:
        raise OSError(
            f"{path!r} changed size while being read ({size} bytes when the fit started, {now} now): "
            "it was truncated or rewritten during the fit"
        )


def parquet_dataset(path, format="parquet"):
    """``(path, pyarrow.dataset.Dataset)`` of a Parquet file or directory: ImportError
    naming the extra without pyarrow, FileNotFoundError naming a missing path."""
    try:
        import pyarrow.dataset as ds
    except ImportError:
        raise ImportError('reading Parquet needs pyarrow: pip install "fastlogit[parquet]"') from None
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such Parquet file or directory: {path!r}")
    return path, ds.dataset(path, format=format)


class ParquetChunks(ChunkSource):
    """Row groups of a Parquet file or dataset (a directory of files), streamed with pyarrow.

    Parameters
    ----------
    path : a ``.parquet`` file or a directory of them.
    target : the label column.
    features : the feature columns, in order (default: every column except
        ``target`` and ``weight``); numeric columns without nulls.
    weight : an optional column of sample weights.

    Each chunk is one row group, converted to a C-order float array (a copy
    of that row group: the columns are stored apart).  Random access by row
    group, so SGD shuffles their order.
    """

    def __init__(self, path, target, features=None, weight=None):
        self.path, dataset = parquet_dataset(path)
        names = list(dataset.schema.names)
        if not isinstance(target, str):
            raise TypeError(f"target must name the label column (a str), got {target!r}")
        if target not in names:
            raise ValueError(f"target column {target!r} is not in {self.path!r}; its columns are {names}")
        if weight is not None and weight not in names:
            raise ValueError(f"weight column {weight!r} is not in {self.path!r}; its columns are {names}")
        if features is None:
            features = [c for c in names if c not in (target, weight)]
        else:
            if isinstance(features, str):
                raise TypeError(f"features must be a list of column names, got the string {features!r}")
            features = list(features)
            missing = [c for c in features if c not in names]
            if missing:
                raise ValueError(
                    f"feature columns {missing} are not in {self.path!r}; its columns are {names}"
                )
        if not features:
            raise ValueError(f"{self.path!r} has no feature columns besides target={target!r}")
        for c in features:
            kind = dataset.schema.field(c).type
            if not (_pa_numeric(kind)):
                raise TypeError(f"feature column {c!r} of {self.path!r} must be numeric, got {kind}")
        self.target, self.features, self.weight = target, features, weight
        self._columns = features + [target] + ([weight] if weight is not None else [])
        self._fragments = [rg for fragment in dataset.get_fragments() for rg in fragment.split_by_row_group()]

    @property
    def name(self):
        return os.path.basename(self.path.rstrip(os.sep)) or self.path

    def __len__(self):
        return len(self._fragments)

    def column(self, name, what="column"):
        """All values of the column ``name``, the row groups in chunk order: an
        (n,) array aligned with the rows the chunks give (one read of that
        column).  ``ValueError`` naming ``what`` for a missing column or nulls."""
        import pyarrow.dataset as ds

        names = list(ds.dataset(self.path, format="parquet").schema.names)
        if name not in names:
            raise ValueError(f"{what} {name!r} is not in {self.path!r}; its columns are {names}")
        parts = []
        for i, fragment in enumerate(self._fragments):
            try:
                values = fragment.to_table(columns=[name]).column(name)
            except OSError as exc:
                raise OSError(
                    f"reading {fragment.path!r} (chunk {i} of {self.path!r}) failed: {exc}"
                ) from exc
            if values.null_count:
                raise ValueError(f"{what} {name!r} of {self.path!r} has missing values (nulls)")
            parts.append(values.to_numpy(zero_copy_only=False))
        return np.concatenate(parts) if parts else np.empty(0)

    def __getitem__(self, i):
        fragment = self._fragments[i]
        try:
            table = fragment.to_table(columns=self._columns)
        except OSError as exc:
            raise OSError(f"reading {fragment.path!r} (chunk {i} of {self.path!r}) failed: {exc}") from exc
        d = len(self.features)
        X = np.empty((table.num_rows, d), dtype=_common_dtype(table, self.features))
        for j, c in enumerate(self.features):
            column = table.column(c)
            if column.null_count:
                raise ValueError(f"feature column {c!r} of {self.path!r} has missing values (nulls)")
            X[:, j] = column.to_numpy()
        y = table.column(self.target)
        if y.null_count:
            raise ValueError(f"target column {self.target!r} of {self.path!r} has missing values (nulls)")
        y = y.to_numpy()
        sw = None
        if self.weight is not None:
            sw = table.column(self.weight).to_numpy(zero_copy_only=False)
        return X, y, sw


def parquet_columns(path, exclude=()):
    """The column names of the Parquet file or dataset ``path``, in order, less ``exclude``
    (the default feature columns when some columns are labels, weights or fold ids)."""
    _, dataset = parquet_dataset(path)
    return [c for c in dataset.schema.names if c not in exclude]


def _pa_numeric(kind):
    import pyarrow.types as pt

    return pt.is_integer(kind) or pt.is_floating(kind) or pt.is_boolean(kind)


def _common_dtype(table, columns):
    """float32 when every feature column is float32/float16, else float64."""
    import pyarrow as pa

    types = {table.schema.field(c).type for c in columns}
    return np.float32 if types <= {pa.float32(), pa.float16()} else np.float64


class _Iterable(ChunkSource):
    """A user's re-iterable of chunk tuples, checked to be re-iterable."""

    def __init__(self, obj):
        if iter(obj) is obj:
            raise TypeError(
                f"a one-shot iterator ({type(obj).__name__}) cannot be fitted: fitting reads the "
                "chunks several times. Pass a re-iterable source: a list of (X, y) tuples, or an "
                "object whose __iter__ starts over (see fastlogit.sources.ChunkSource)"
            )
        self.obj = obj
        self.random_access = hasattr(obj, "__len__") and hasattr(obj, "__getitem__")

    @property
    def name(self):
        return getattr(self.obj, "name", type(self.obj).__name__)

    def __len__(self):
        return len(self.obj)

    def __getitem__(self, i):
        return self.obj[i]

    def __iter__(self):
        return iter(self.obj)


def is_chunked_input(X):
    """Whether ``fit`` should stream ``X`` in chunks rather than hold it as one array."""
    import scipy.sparse as sp

    if isinstance(X, (str, os.PathLike, np.memmap, ChunkSource)):
        return True
    if isinstance(X, (np.ndarray, list, tuple)) or sp.issparse(X) or hasattr(X, "__array__"):
        # A list of (X, y) tuples is a chunk source; a list of rows is data.
        return (
            isinstance(X, (list, tuple))
            and len(X) > 0
            and all(isinstance(c, tuple) and len(c) in (2, 3) and hasattr(c[0], "shape") for c in X)
        )
    return hasattr(X, "__iter__")


def as_chunk_source(X, y=None, sample_weight=None, *, target=None, features=None, weight=None):
    """The chunk source for ``fit``'s ``X`` (see :func:`is_chunked_input`).

    - a path ending in ``.npy``: :func:`npy_source` with ``y`` (array or path);
    - another path (a ``.parquet`` file or a directory): :class:`ParquetChunks`
      with ``target``, ``features``, ``weight``;
    - an ``np.memmap``: :class:`ArrayChunks` with ``y``;
    - a :class:`ChunkSource` or any re-iterable of chunk tuples: as it is.
    """
    parquet_options = {"target": target, "features": features, "weight": weight}
    if isinstance(X, (str, os.PathLike)):
        if os.fspath(X).endswith(".npy"):
            _no_options(parquet_options, "a .npy file")
            if y is None:
                raise ValueError("y is required with a .npy file of X (an array or a .npy path)")
            return npy_source(X, y, sample_weight)
        if target is None:
            raise ValueError(f"fitting the Parquet data {os.fspath(X)!r} needs target= (the label column)")
        if y is not None or sample_weight is not None:
            raise ValueError("with Parquet data, name the columns: target= and weight=, not y/sample_weight")
        return ParquetChunks(X, target, features, weight)
    _no_options(parquet_options, "this input")
    if isinstance(X, np.memmap):
        if y is None:
            raise ValueError("y is required with an np.memmap X")
        return ArrayChunks(X, y, sample_weight, name="X (memmap)")
    if y is not None or sample_weight is not None:
        raise ValueError(
            "a chunk source yields its own labels and weights: pass y=None and sample_weight=None"
        )
    if isinstance(X, ChunkSource):
        return X
    return _Iterable(X)


def _no_options(options, what):
    given = [k for k, v in options.items() if v is not None]
    if given:
        raise ValueError(f"{', '.join(given)}= apply to Parquet data only, not to {what}")
