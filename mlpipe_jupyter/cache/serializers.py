"""One registry of artifact serializers: Parquet, .npy, cloudpickle, plugins.

Built-ins are registered here, tried in order; third-party serializers come
from the entry point group `mlpipe_jupyter.serializers` (each entry point
names a `Serializer` instance or a zero-argument factory) and are tried
before the built-ins. cloudpickle is the catch-all, last.

pandas, pyarrow and numpy are never imported to *decide*: a value can only
be a DataFrame if pandas is already in `sys.modules`. They are imported when
a value of their type is saved or loaded.
"""

from __future__ import annotations

import io
import json
import logging
import sys
from dataclasses import dataclass
from typing import IO, Any, Callable

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "mlpipe_jupyter.serializers"
_SERIES_COLUMN = "__mlpipe_series__"
_SERIES_META = b"mlpipe.series"


class UnsavableValue(TypeError):
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


class Declined(Exception):
    """Raised by `Serializer.dump` when the value turns out not to fit; the next one is tried."""


@dataclass(frozen=True)
class Serializer:
    """How one kind of value is stored.

    `format` is recorded in the artifact ref and picks the loader; `ext` is the
    file extension. `accepts` must be cheap and must not import heavy modules.
    """

    format: str
    ext: str
    accepts: Callable[[Any], bool]
    dump: Callable[[Any, IO[bytes]], None]
    load: Callable[[bytes], Any]


def type_name(value: Any) -> str:
    """`pandas.DataFrame`, `numpy.ndarray`, `dict`, `generator`."""
    cls = type(value)
    module = cls.__module__.split(".")[0]
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"


def _loaded(module: str) -> Any:
    return sys.modules.get(module)


# -- pandas -----------------------------------------------------------------


def _is_dataframe(value: Any) -> bool:
    pd = _loaded("pandas")
    return pd is not None and type(value) is pd.DataFrame


def _is_series(value: Any) -> bool:
    pd = _loaded("pandas")
    return pd is not None and type(value) is pd.Series


def _write_parquet(table: Any, fh: IO[bytes]) -> None:
    import pyarrow.parquet as pq

    pq.write_table(table, fh)


def _read_parquet(data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data))


def _frame_to_arrow(frame: Any) -> Any:
    import pyarrow as pa

    if not all(isinstance(c, str) for c in frame.columns):
        raise Declined("non-string column names")
    if frame.columns.has_duplicates:
        raise Declined("duplicate column names")
    try:
        return pa.Table.from_pandas(frame, preserve_index=None)
    except (pa.ArrowException, TypeError, ValueError) as exc:
        raise Declined(str(exc)) from exc


def _dump_dataframe(value: Any, fh: IO[bytes]) -> None:
    _write_parquet(_frame_to_arrow(value), fh)


def _load_dataframe(data: bytes) -> Any:
    return _read_parquet(data).to_pandas()


def _dump_series(value: Any, fh: IO[bytes]) -> None:
    name = value.name
    if name is not None and not isinstance(name, str):
        raise Declined("non-string series name")
    column = _SERIES_COLUMN if name is None else name
    table = _frame_to_arrow(value.to_frame(name=column))
    meta = dict(table.schema.metadata or {})
    meta[_SERIES_META] = json.dumps({"column": column, "name": name}).encode()
    _write_parquet(table.replace_schema_metadata(meta), fh)


def _load_series(data: bytes) -> Any:
    table = _read_parquet(data)
    info = json.loads(table.schema.metadata[_SERIES_META])
    series = table.to_pandas()[info["column"]]
    series.name = info["name"]
    return series


# -- pyarrow ----------------------------------------------------------------


def _is_arrow_table(value: Any) -> bool:
    pa = _loaded("pyarrow")
    return pa is not None and type(value) is pa.Table


def _dump_arrow(value: Any, fh: IO[bytes]) -> None:
    _write_parquet(value, fh)


# -- numpy ------------------------------------------------------------------


def _is_plain_ndarray(value: Any) -> bool:
    np = _loaded("numpy")
    return np is not None and type(value) is np.ndarray and not value.dtype.hasobject


def _dump_npy(value: Any, fh: IO[bytes]) -> None:
    import numpy as np

    np.save(fh, value, allow_pickle=False)


def _load_npy(data: bytes) -> Any:
    import numpy as np

    return np.load(io.BytesIO(data), allow_pickle=False)


# -- cloudpickle (catch-all) -----------------------------------------------


def _dump_pickle(value: Any, fh: IO[bytes]) -> None:
    import cloudpickle

    cloudpickle.dump(value, fh, protocol=5)


def _load_pickle(data: bytes) -> Any:
    import cloudpickle

    return cloudpickle.loads(data)


def _never(value: Any) -> bool:
    return False


def _dump_bytes(value: Any, fh: IO[bytes]) -> None:
    fh.write(bytes(value))


#: The bytes of a file a step wrote (`Store.put_file`): never picked for a value.
FILE_FORMAT = "file"

BUILTINS: tuple[Serializer, ...] = (
    Serializer("parquet", "parquet", _is_dataframe, _dump_dataframe, _load_dataframe),
    Serializer("parquet-series", "parquet", _is_series, _dump_series, _load_series),
    Serializer("parquet-arrow", "parquet", _is_arrow_table, _dump_arrow, _read_parquet),
    Serializer("npy", "npy", _is_plain_ndarray, _dump_npy, _load_npy),
    Serializer("cloudpickle", "pkl", lambda value: True, _dump_pickle, _load_pickle),
    Serializer(FILE_FORMAT, "bin", _never, _dump_bytes, bytes),
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
        """The serializers that accept `value`, in the order to try them."""
        return [s for s in [*self._load_plugins(), *self._builtins] if s.accepts(value)]

    def named(self, format: str) -> Serializer:
        for serializer in [*self._builtins, *self._load_plugins()]:
            if serializer.format == format:
                return serializer
        raise KeyError(
            f"no serializer for artifact format {format!r}; install the package that"
            f" provides it (entry point group {ENTRY_POINT_GROUP})"
        )


REGISTRY = Registry()
