from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from mlpipe_jupyter.cache.serializers import REGISTRY, Serializer, UnsavableValue
from mlpipe_jupyter.cache.store import Store


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "store")


def round_trip(store: Store, value, fmt: str):
    ref = store.put("v", value)
    assert ref.format == fmt
    assert store.artifact_path(ref).stat().st_size == ref.size
    return ref, store.get(ref)


def test_dataframe_as_parquet_keeps_index_and_dtypes(store) -> None:
    df = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None], "c": [0.5, 1.5, 2.5]},
                      index=pd.Index([10, 20, 30], name="id"))
    ref, back = round_trip(store, df, "parquet")
    assert ref.type == "pandas.DataFrame" and ref.key in store.artifact_path(ref).name
    pd.testing.assert_frame_equal(back, df)


def test_dataframe_with_non_string_columns_falls_back_to_pickle(store) -> None:
    df = pd.DataFrame({0: [1, 2], 1: [3, 4]})
    _, back = round_trip(store, df, "cloudpickle")
    pd.testing.assert_frame_equal(back, df)


def test_mixed_object_column_falls_back_to_pickle(store) -> None:
    df = pd.DataFrame({"a": [1, "two", 3.0]})
    _, back = round_trip(store, df, "cloudpickle")
    pd.testing.assert_frame_equal(back, df)


@pytest.mark.parametrize("name", ["score", None])
def test_series_comes_back_as_series_with_its_name(store, name) -> None:
    series = pd.Series([1.0, 2.0], index=["a", "b"], name=name)
    _, back = round_trip(store, series, "parquet-series")
    pd.testing.assert_series_equal(back, series)


def test_arrow_table_as_arrow_ipc(store) -> None:
    table = pa.table({"a": [1, 2], "b": ["x", "y"]})
    _, back = round_trip(store, table, "arrow")
    assert back.equals(table)


def test_ndarray_as_npy_and_object_arrays_as_pickle(store) -> None:
    arr = np.arange(12, dtype=np.float32).reshape(3, 4)
    ref, back = round_trip(store, arr, "npy")
    assert ref.type == "numpy.ndarray" and back.dtype == np.float32
    np.testing.assert_array_equal(back, arr)
    objects = np.array([{"a": 1}, None], dtype=object)
    _, back = round_trip(store, objects, "cloudpickle")
    assert list(back) == list(objects)


def test_plain_values_and_class_instances_via_cloudpickle(store) -> None:
    value = {"lr": 0.1, "layers": [1, 2], "point": Point(1, 2), "f": lambda x: x + 1}
    _, back = round_trip(store, value, "cloudpickle")
    assert back["point"] == Point(1, 2) and back["f"](1) == 2 and back["layers"] == [1, 2]


def test_identical_content_is_stored_once(store) -> None:
    first = store.put("a", np.zeros(5))
    second = store.put("b", np.zeros(5))
    assert first == second
    stored = [p.stat().st_size for p in store.artifacts_dir.glob("*/*") if p.is_file()]
    assert stored == [first.size]


@pytest.mark.parametrize(
    ("value", "type_name", "hint"),
    [
        ((i for i in range(3)), "generator", "list(gen)"),
        (threading.Lock(), "_thread.lock", "del gen"),
    ],
)
def test_unsavable_values_name_the_variable_and_type(store, value, type_name, hint) -> None:
    with pytest.raises(UnsavableValue) as info:
        store.put("gen", value)
    assert info.value.var == "gen" and info.value.type_name == type_name
    message = str(info.value)
    assert message.startswith(f"output 'gen' of type {type_name} cannot be saved: ")
    assert hint in message and "\n" not in message
    assert not [p for p in store.artifacts_dir.rglob("*") if p.is_file()]


def test_a_registered_serializer_is_tried_first(store) -> None:
    registry_before = list(REGISTRY._load_plugins())
    REGISTRY.register(Serializer(
        "points", "pt", lambda v: isinstance(v, Point),
        lambda v, fh: fh.write(f"{v.x},{v.y}".encode()),
        lambda data: Point(*map(int, data.decode().split(","))),
    ))
    try:
        ref, back = round_trip(store, Point(3, 4), "points")
        assert back == Point(3, 4) and store.artifact_path(ref).suffix == ".pt"
    finally:
        REGISTRY._plugins = registry_before


def test_deciding_a_serializer_does_not_import_pandas() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from mlpipe_jupyter.cache.serializers import REGISTRY;"
        "REGISTRY.candidates({'a': 1});"
        "print(sorted(m for m in ('pandas', 'pyarrow', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
