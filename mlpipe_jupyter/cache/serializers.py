"""One registry of artifact serializers: Parquet, Arrow IPC, .npy, cloudpickle, plugins.

Built-ins are registered here, tried in order; third-party serializers come
from the entry point group `mlpipe_jupyter.serializers` (each entry point
names a `Serializer` instance or a zero-argument factory) and are tried
before the built-ins. cloudpickle is the catch-all, last.

Lossless or not at all (issue 21): a value goes to a fast format only when
its round trip through that format is exact. Each serializer says what it
preserves (`preserves`) and may have a metadata check (`lossy`) that names
what the format would lose for this value (`"PeriodIndex"`, `"column b:
object"`); the registry skips a format whose check names something and
records why (`Choice.why`, kept in the artifact ref and shown by `mlpipe runs
show` as `ts: cloudpickle (PeriodIndex)`). The checks read dtypes, index
types and names only, never the data (about 0.1 ms for 1,000 columns), and
decide before anything is written.

pandas, pyarrow and numpy are never imported to *decide*: a value can only
be a DataFrame if pandas is already in `sys.modules`. They are imported when
a value of their type is saved or loaded.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any, Callable
from ..errors import MlpipeError


log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mlpipe_jupyter.serializers"
_SERIES_COLUMN = "__mlpipe_series__"
_SERIES_META = b"mlpipe.series"


class UnsavableValue(MlpipeError, TypeError):
    """An output value no serializer can store; names the variable and its type."""

    def __init__(self, var: str, type_name: str, reason: str, step: str | None = None) -> None:
        self.var = var
        self.type_name = type_name
        self.reason = reason
        self.step = step
        if type_name in _ITERATOR_TYPES:
            fix = f"drop it from the step's outputs or convert it (e.g. list({var}))"
        else:
            fix = (
                f"drop it from the step's outputs (del {var} at the end of the step)"
                " or convert it to plain data"
            )
        where = f"step '{step}': " if step else ""
        super().__init__(
            f"{where}output '{var}' of type {type_name} cannot be saved: {reason}; {fix}"
        )

    def __reduce__(self) -> tuple[Any, ...]:  # picklable across processes (Dask, kernels)
        return (type(self), (self.var, self.type_name, self.reason, self.step))


_ITERATOR_TYPES = {"generator", "map", "filter", "zip", "enumerate", "itertools.count"}


class Declined(MlpipeError):
    """Raised by `Serializer.dump` when the value turns out not to fit; the next one is tried."""


@dataclass(frozen=True)
class Serializer:
    """How one kind of value is stored.

    `format` is recorded in the artifact ref and picks the loader; `ext` is the
    file extension. `accepts` must be cheap and must not import heavy modules.
    `preserves` says in words what a save-then-load keeps; `lossy(value)`, when
    given, names what this format would lose for that value (None: nothing), from
    the value's metadata only: the registry then passes on to the next format.
    """

    format: str
    ext: str
    accepts: Callable[[Any], bool]
    dump: Callable[[Any, IO[bytes]], None]
    load: Callable[[bytes], Any]
    preserves: str = ""
    lossy: Callable[[Any], str | None] | None = None


def type_name(value: Any) -> str:
    """`pandas.DataFrame`, `numpy.ndarray`, `dict`, `generator`."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _loaded(module: str) -> Any:
    return sys.modules.get(module)


# -- pandas -----------------------------------------------------------------
#
# What Parquet (pyarrow, with pandas' schema metadata) gives back exactly, by
# `pandas.testing.assert_frame_equal` with every check on and by repr: checked
# by tests/cache/test_serializers_lossless.py. Everything else is pickled.

_TIME_UNITS = frozenset({"ns", "us", "ms"})  # Parquet has no seconds: `s` comes back `ms`
_MASKED = frozenset({"Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64",
                     "Float32", "Float64", "boolean"})
_RESERVED = "__index_level_"  # pyarrow's names for unnamed index columns
_dtype_verdicts: dict[Any, str | None] = {}


def _is_dataframe(value: Any) -> bool:
    pd = _loaded("pandas")
    return pd is not None and type(value) is pd.DataFrame


def _is_series(value: Any) -> bool:
    pd = _loaded("pandas")
    return pd is not None and type(value) is pd.Series


def _arrow_string(dtype: Any) -> bool:
    """pandas' own string dtype stored by pyarrow (`str`, `string[pyarrow]`)."""
    pd = sys.modules["pandas"]
    return isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"


def _numpy_loss(dtype: Any) -> str | None:
    import numpy as np

    if not dtype.isnative:
        return f"dtype {dtype.str} (byte order)"
    if dtype.kind in "biu" or (dtype.kind == "f" and dtype.itemsize in (2, 4, 8)):
        return None
    if dtype.kind in "mM" and np.datetime_data(dtype)[0] in _TIME_UNITS:
        return None
    if dtype.kind == "m" and np.datetime_data(dtype)[0] == "s":
        return None
    return f"dtype {dtype}"


def _arrow_dtype_loss(dtype: Any) -> str | None:
    import pyarrow as pa

    t = dtype.pyarrow_dtype
    if (pa.types.is_integer(t) or pa.types.is_boolean(t) or pa.types.is_large_string(t)
            or pa.types.is_date32(t) or pa.types.is_duration(t) or pa.types.is_timestamp(t)
            or (pa.types.is_floating(t) and not pa.types.is_float16(t))):
        return None
    return f"dtype {dtype}"


def _dtype_loss(dtype: Any) -> str | None:
    """What Parquet would change about a column of this dtype, or None; remembered by
    dtype (a categorical by the dtype of its categories: hashing its own dtype hashes
    every category)."""
    pd = sys.modules["pandas"]
    key = ("categorical", dtype.categories.dtype) if isinstance(dtype, pd.CategoricalDtype) \
        else dtype
    try:
        verdict = _dtype_verdicts.get(key, _dtype_verdicts)
    except TypeError:  # unhashable
        return _decide_dtype(dtype)
    if verdict is _dtype_verdicts:
        verdict = _dtype_verdicts[key] = _decide_dtype(dtype)
    return verdict  # type: ignore[return-value]


def _decide_dtype(dtype: Any) -> str | None:
    import numpy as np

    pd = sys.modules["pandas"]
    if isinstance(dtype, np.dtype):
        return _numpy_loss(dtype)
    if isinstance(dtype, pd.StringDtype):
        return None if dtype.storage == "pyarrow" else f"dtype {dtype} (python storage)"
    if isinstance(dtype, pd.CategoricalDtype):
        categories = dtype.categories.dtype
        return None if _arrow_string(categories) else f"categorical of {categories}"
    if isinstance(dtype, pd.DatetimeTZDtype):
        return None if dtype.unit in _TIME_UNITS else f"dtype {dtype}"
    if isinstance(dtype, pd.ArrowDtype):
        return _arrow_dtype_loss(dtype)
    if getattr(dtype, "name", None) in _MASKED:
        return None
    return f"dtype {dtype}"


def _label_loss(label: Any, what: str) -> str | None:
    return None if label is None or isinstance(label, str) else f"non-string {what}"


def _index_loss(index: Any) -> str | None:
    """What Parquet would change about this row index, or None."""
    pd = sys.modules["pandas"]
    cls = type(index)
    if cls is pd.RangeIndex:
        pass
    elif cls is pd.Index:
        import numpy as np

        dtype = index.dtype
        if isinstance(dtype, np.dtype):
            plain = dtype.kind in "biuf" and dtype.itemsize != 2 and dtype.isnative
        else:  # `str` only: a `string` (NA) index comes back `str`
            plain = _arrow_string(dtype) and dtype.na_value is not sys.modules["pandas"].NA
        if not plain:
            return f"index of {dtype}"
    elif cls in (pd.DatetimeIndex, pd.TimedeltaIndex):
        if index.freq is not None:
            return f"{cls.__name__} with freq {index.freqstr}"
        loss = _dtype_loss(index.dtype)
        if loss:
            return f"{cls.__name__} of {loss}"
    else:
        return cls.__name__  # PeriodIndex, MultiIndex, IntervalIndex, CategoricalIndex
    return _label_loss(index.name, "index name")


def _pandas_loss(value: Any) -> str | None:
    """Common to frames and series: attrs and flags Parquet does not keep."""
    if value.attrs:
        return "attrs"
    if not value.flags.allows_duplicate_labels:
        return "flags"
    return _index_loss(value.index)


def dataframe_loss(frame: Any) -> str | None:
    """What a Parquet round trip would change about `frame` (metadata only), or None."""
    pd = sys.modules["pandas"]
    loss = _pandas_loss(frame)
    if loss:
        return loss
    columns = frame.columns
    if type(columns) is not pd.Index:
        return f"columns: {type(columns).__name__}"
    if not _arrow_string(columns.dtype):
        return "non-string column labels" if columns.dtype != object or \
            columns.inferred_type != "string" else "column labels of dtype object"
    if columns.name is not None and not isinstance(columns.name, str):
        return "non-string columns name"
    if not columns.is_unique:
        return "duplicate column labels"
    if f"{_RESERVED}0__" in columns:  # pyarrow's name for the index column
        return f"a column named {_RESERVED}0__"
    if frame.index.name is not None and frame.index.name in columns:
        return "index name equal to a column label"
    empty = len(frame) == 0
    seen: set[int] = set()
    for position, dtype in enumerate(frame.dtypes.values):
        if id(dtype) in seen:  # columns of one dtype share the dtype object
            continue
        seen.add(id(dtype))
        loss = _dtype_loss(dtype)
        if loss is None and empty and isinstance(dtype, pd.CategoricalDtype):
            loss = "empty categorical"
        if loss:
            return f"column {columns[position]}: {loss}"
    return None


def series_loss(series: Any) -> str | None:
    """What a Parquet round trip would change about `series` (metadata only), or None."""
    pd = sys.modules["pandas"]
    loss = _pandas_loss(series) or _label_loss(series.name, "series name")
    if loss:
        return loss
    if series.name is not None and series.name.startswith(_RESERVED):
        return f"series named {_RESERVED}*"
    loss = _dtype_loss(series.dtype)
    if loss is None and len(series) == 0 and isinstance(series.dtype, pd.CategoricalDtype):
        loss = "empty categorical"
    return loss


def _write_parquet(table: Any, fh: IO[bytes]) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, fh)


def _read_parquet(data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))


def _frame_to_arrow(frame: Any) -> Any:
    import pyarrow as pa

    try:
        return pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise Declined(str(exc)) from exc


def _dump_dataframe(value: Any, fh: IO[bytes]) -> None:
    _write_parquet(_frame_to_arrow(value), fh)


def _load_dataframe(data: bytes) -> Any:
    import pandas  # noqa: F401 - its Arrow extension types, before the table is read

    return _read_parquet(data).to_pandas()


def _dump_series(value: Any, fh: IO[bytes]) -> None:
    name = value.name
    column = _SERIES_COLUMN if name is None else name
    table = _frame_to_arrow(value.to_frame(name=column))
    meta = dict(table.schema.metadata or {})
    meta[_SERIES_META] = json.dumps({"column": column, "name": name}).encode()
    _write_parquet(table.replace_schema_metadata(meta), fh)


def _load_series(data: bytes) -> Any:
    import pandas  # noqa: F401 - its Arrow extension types, before the table is read

    table = _read_parquet(data)
    info = json.loads(table.schema.metadata[_SERIES_META])
    series = table.to_pandas()[info["column"]]
    series.name = info["name"]
    return series


# -- pyarrow ----------------------------------------------------------------


def _is_arrow_table(value: Any) -> bool:
    pa = _loaded("pyarrow")
    return pa is not None and type(value) is pa.Table


def _dump_arrow_ipc(value: Any, fh: IO[bytes]) -> None:
    import pyarrow as pa

    with pa.ipc.new_file(fh, value.schema) as writer:
        writer.write_table(value)


def _load_arrow_ipc(data: bytes) -> Any:
    import pyarrow as pa

    return pa.ipc.open_file(pa.BufferReader(data)).read_all()


# -- numpy ------------------------------------------------------------------


def _is_plain_ndarray(value: Any) -> bool:
    np = _loaded("numpy")
    return np is not None and type(value) is np.ndarray


def ndarray_loss(value: Any) -> str | None:
    """What `.npy` would change about the array: object dtypes need pickle."""
    return "object dtype" if value.dtype.hasobject else None


def _dump_npy(value: Any, fh: IO[bytes]) -> None:
    import numpy as np

    np.save(fh, value, allow_pickle=False)


def _load_npy(data: bytes) -> Any:
    import numpy as np

    array = np.load(io.BytesIO(data), allow_pickle=False)
    # some NumPy versions give a read-only view of `data`: a step may write into it
    return array if array.flags.writeable else array.copy(order="K")


# -- cloudpickle (catch-all) -----------------------------------------------


def _dump_pickle(value: Any, fh: IO[bytes]) -> None:
    import cloudpickle

    cloudpickle.dump(value, fh, protocol=5)


_OFFERED: list[dict[str, Any]] = []  # namespaces offered to values as they unpickle


@contextmanager
def offering(namespace: dict[str, Any]) -> Iterator[None]:
    """Unpickle with `namespace` as the globals of the frame that calls `pickle.loads`.

    A value that looks names up in its caller's frames as it loads (a statsmodels
    formula model re-evaluates `y ~ double_it(x)` with patsy's `EvalEnvironment`)
    finds the notebook's names there, as it would in the notebook's kernel.
    """
    _OFFERED.append(namespace)
    try:
        yield
    finally:
        _OFFERED.pop()


def _load_pickle(data: bytes) -> Any:
    import pickle

    if not _OFFERED:
        return pickle.loads(data)  # cloudpickle's pickles load with plain pickle
    scope = _OFFERED[-1]
    if "__builtins__" not in scope:
        scope = {**scope, "__builtins__": __builtins__}
    loads = eval("lambda data, __loads: __loads(data)", scope)  # noqa: S307 - a frame in scope
    return loads(data, pickle.loads)


def _never(value: Any) -> bool:
    return False


def _dump_bytes(value: Any, fh: IO[bytes]) -> None:
    fh.write(bytes(value))


#: The bytes of a file a step wrote (`Store.put_file`): never picked for a value.
FILE_FORMAT = "file"

_PANDAS_KEEPS = (
    "values and dtypes (numpy bool/int/uint/float, datetime64 and timedelta64 in ms/us/ns,"
    " nullable Int/UInt/Float/boolean, str/string[pyarrow], categoricals of strings, ordered"
    " or not, tz-aware datetimes, Arrow-backed numbers/timestamps/dates/durations/"
    "large_string), a RangeIndex or flat Index of numbers/strings, a DatetimeIndex or"
    " TimedeltaIndex without freq, string labels and names; anything else is pickled"
)

BUILTINS: tuple[Serializer, ...] = (
    Serializer("parquet", "parquet", _is_dataframe, _dump_dataframe, _load_dataframe,
               _PANDAS_KEEPS, dataframe_loss),
    Serializer("parquet-series", "parquet", _is_series, _dump_series, _load_series,
               _PANDAS_KEEPS + "; the series name", series_loss),
    Serializer("arrow", "arrow", _is_arrow_table, _dump_arrow_ipc, _load_arrow_ipc,
               "every Arrow type, the schema and its metadata (Arrow IPC file)"),
    # Tables saved before Arrow IPC: still loadable, never chosen
    Serializer("parquet-arrow", "parquet", _never, _write_parquet, _read_parquet,
               "Arrow tables as Parquet keeps them"),
    Serializer("npy", "npy", _is_plain_ndarray, _dump_npy, _load_npy,
               "dtype (byte order, structured fields, datetime units), shape, C or Fortran"
               " order; loads writable", ndarray_loss),
    Serializer("cloudpickle", "pkl", lambda value: True, _dump_pickle, _load_pickle,
               "what pickle keeps: pandas and NumPy objects exactly (index types, freq,"
               " attrs, flags); functions and classes of the notebook by value"),
    Serializer(FILE_FORMAT, "bin", _never, _dump_bytes, bytes, "the file's bytes"),
)


class Registry:
    """Serializers in the order they are tried; plugins first, cloudpickle last."""

    def __init__(self, serializers: tuple[Serializer, ...] = BUILTINS) -> None:
        self._builtins = list(serializers)
        self._plugins: list[Serializer] | None = None

    def register(self, serializer: Serializer) -> None:
        """Add a serializer ahead of the built-ins (and of earlier plugins)."""
        self._load_plugins().insert(0, serializer)

    def _load_plugins(self) -> list[Serializer]:
        if self._plugins is None:
            self._plugins = []
            from importlib.metadata import entry_points

            for ep in entry_points(group=ENTRY_POINT_GROUP):
                try:
                    obj = ep.load()
                    self._plugins.append(obj if isinstance(obj, Serializer) else obj())
                except Exception as exc:  # a broken plugin must not break saving
                    log.warning("serializer plugin %s could not be loaded: %s", ep.name, exc)
        return self._plugins

    def candidates(self, value: Any) -> list[Serializer]:
        """The serializers to try for `value`, in order: those that accept it and would
        lose nothing of it (by their metadata check); cloudpickle last."""
        return self.choose(value)[0]

    def choose(self, value: Any) -> tuple[list[Serializer], str]:
        """`candidates(value)`, and why formats before the first were passed over
        ("" when none was: the value's own fast format), e.g. "PeriodIndex"."""
        chosen, passed = [], []
        for serializer in [*self._load_plugins(), *self._builtins]:
            if not serializer.accepts(value):
                continue
            loss = serializer.lossy(value) if serializer.lossy is not None else None
            if loss:
                passed.append(loss)
            else:
                chosen.append(serializer)
        return chosen, "; ".join(dict.fromkeys(passed))

    def named(self, format: str) -> Serializer:
        for serializer in [*self._builtins, *self._load_plugins()]:
            if serializer.format == format:
                return serializer
        raise KeyError(
            f"no serializer for artifact format {format!r}; install the package that"
            f" provides it (entry point group {ENTRY_POINT_GROUP})"
        )


REGISTRY = Registry()
