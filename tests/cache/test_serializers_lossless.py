"""Lossless or not at all (issue 21): save-then-load through the store gives back an
equal object (every `check_*` of pandas.testing on), the same repr, and writable arrays,
whichever format the metadata check picked."""

from __future__ import annotations

import tempfile
import timeit

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from hypothesis.extra import pandas as hpd

from mlpipe_jupyter.cache.serializers import REGISTRY, dataframe_loss
from mlpipe_jupyter.cache.store import Store

STORE = Store.open(tempfile.mkdtemp(prefix="mlpipe-lossless-"))
SETTINGS = settings(max_examples=120, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def round_trip(value):
    ref = STORE.put("v", value)
    return ref, STORE.get(ref)


def assert_same_frame(back, value) -> None:
    pd.testing.assert_frame_equal(
        back, value, check_dtype=True, check_index_type=True, check_column_type=True,
        check_frame_type=True, check_names=True, check_exact=True, check_like=False,
        check_freq=True, check_flags=True, check_categorical=True,
    )
    assert back.attrs == value.attrs and repr(back) == repr(value)
    for axis in (back.index, back.columns):
        assert type(axis) is type(value.index if axis is back.index else value.columns)


def assert_same_series(back, value) -> None:
    pd.testing.assert_series_equal(
        back, value, check_dtype=True, check_index_type=True, check_series_type=True,
        check_names=True, check_exact=True, check_freq=True, check_flags=True,
        check_categorical=True,
    )
    assert back.attrs == value.attrs and repr(back) == repr(value)


# -- hand-made indexes of every kind --------------------------------------------------


def indexes(n: int) -> st.SearchStrategy[pd.Index]:
    start = st.sampled_from(["1959-01-01", "2000-02-29", "2024-12-31"])
    name = st.sampled_from([None, "when", "k", 7, ("a", 1)])
    return st.one_of(
        st.builds(lambda s, k: pd.RangeIndex(s, s + n * k, k), st.integers(-5, 5),
                  st.integers(1, 3)),
        st.builds(lambda nm: pd.RangeIndex(n, name=nm), name),
        st.builds(lambda d, f, nm: pd.period_range(d, periods=n, freq=f, name=nm), start,
                  st.sampled_from(["Q", "M", "Y", "D"]), name),
        st.builds(lambda d, f, tz: pd.date_range(d, periods=n, freq=f, tz=tz), start,
                  st.sampled_from(["ME", "QE", "D", "h", "MS"]), st.sampled_from([None, "UTC"])),
        st.builds(lambda d, tz, u: pd.DatetimeIndex(pd.date_range(d, periods=n, freq="D")[::-1],
                                                    tz=tz).as_unit(u),
                  start, st.sampled_from([None, "Europe/Paris"]),
                  st.sampled_from(["s", "ms", "ns"])),
        st.builds(lambda: pd.interval_range(0, n)),
        st.builds(lambda: pd.timedelta_range("1D", periods=n)),
        st.builds(lambda: pd.TimedeltaIndex(pd.to_timedelta(range(n), unit="s"))),
        st.builds(lambda names: pd.MultiIndex.from_arrays(
            [[i % 2 for i in range(n)], [f"r{i}" for i in range(n)]], names=names),
            st.sampled_from([[None, None], ["a", "b"], [1, "x"]])),
        st.builds(lambda: pd.CategoricalIndex([f"c{i % 3}" for i in range(n)])),
        st.builds(lambda dt: pd.Index(np.arange(n), dtype=dt),
                  st.sampled_from(["int64", "int32", "uint64", "float64", "float32", "Int64"])),
        st.builds(lambda dt: pd.Index([f"s{i}" for i in range(n)], dtype=dt),
                  st.sampled_from(["str", object, "string", "string[python]"])),
        st.builds(lambda: pd.Index([i % 2 == 0 for i in range(n)])),
        st.builds(lambda: pd.Index([i if i % 2 else f"x{i}" for i in range(n)], dtype=object)),
    )


# -- columns of every dtype family ---------------------------------------------------


def column(n: int, kind: str, data: st.DataObject):
    ints = data.draw(st.lists(st.integers(-(2**31), 2**31), min_size=n, max_size=n))
    floats = data.draw(st.lists(st.floats(allow_nan=True, width=32), min_size=n, max_size=n))
    holes = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    words = [f"w{i % 4}" for i in ints]
    with_none = [None if h else v for v, h in zip(words, holes)]
    stamps = pd.to_datetime(np.array(ints, dtype="int64") % 10**9, unit="s")
    builders = {
        "int64": lambda: np.array(ints, dtype="int64"),
        "int8": lambda: np.array(ints, dtype="int64").astype("int8"),
        "uint16": lambda: np.abs(np.array(ints, dtype="int64")).astype("uint16"),
        "float32": lambda: np.array(floats, dtype="float32"),
        "float64": lambda: np.array(floats, dtype="float64"),
        "float16": lambda: np.array(floats, dtype="float32").clip(-6e4, 6e4).astype("float16"),
        "complex": lambda: np.array(floats, dtype="complex128"),
        "bool": lambda: np.array(holes),
        "big-endian": lambda: np.array(ints, dtype=">i8"),
        "object-mixed": lambda: pd.array([w if h else i for w, i, h in zip(words, ints, holes)],
                                         dtype=object),
        "object-str": lambda: pd.array(words, dtype=object),
        "str": lambda: pd.array(with_none, dtype="str"),
        "string": lambda: pd.array(with_none, dtype="string"),
        "string-python": lambda: pd.array(with_none, dtype="string[python]"),
        "Int64": lambda: pd.array([None if h else i for i, h in zip(ints, holes)], dtype="Int64"),
        "UInt8": lambda: pd.array([None if h else abs(i) % 256 for i, h in zip(ints, holes)],
                                  dtype="UInt8"),
        "Float64": lambda: pd.array([None if h else f for f, h in zip(floats, holes)],
                                    dtype="Float64"),
        "boolean": lambda: pd.array([None if h else i > 0 for i, h in zip(ints, holes)],
                                    dtype="boolean"),
        "category": lambda: pd.Categorical(with_none),
        "category-ordered": lambda: pd.Categorical(with_none, categories=["w3", "w1", "w0", "w2"],
                                                   ordered=True),
        "category-int": lambda: pd.Categorical([i % 3 for i in ints]),
        "datetime-ms": lambda: stamps.as_unit("ms"),
        "datetime-s": lambda: stamps.as_unit("s"),
        "datetime-ns": lambda: stamps.as_unit("ns"),
        "datetime-tz": lambda: stamps.tz_localize("UTC").tz_convert("Asia/Tokyo"),
        "timedelta": lambda: pd.to_timedelta(ints, unit="ms"),
        "period": lambda: pd.PeriodIndex(stamps, freq="M").array,
        "interval": lambda: pd.arrays.IntervalArray.from_arrays(np.arange(n), np.arange(n) + 1),
        "arrow-int": lambda: pd.array([None if h else i for i, h in zip(ints, holes)],
                                      dtype="int64[pyarrow]"),
        "arrow-string": lambda: pd.array(with_none, dtype=pd.ArrowDtype(pa.string())),
        "arrow-large-string": lambda: pd.array(with_none, dtype=pd.ArrowDtype(pa.large_string())),
        "arrow-timestamp": lambda: pd.array(stamps, dtype=pd.ArrowDtype(pa.timestamp("ms"))),
        "arrow-list": lambda: pd.array([[i] for i in ints],
                                       dtype=pd.ArrowDtype(pa.list_(pa.int64()))),
        "sparse": lambda: pd.arrays.SparseArray(np.array(ints, dtype="int64") % 2),
    }
    return builders[kind]()


KINDS = ["int64", "int8", "uint16", "float32", "float64", "float16", "complex", "bool",
         "big-endian", "object-mixed", "object-str", "str", "string", "string-python", "Int64",
         "UInt8", "Float64", "boolean", "category", "category-ordered", "category-int",
         "datetime-ms", "datetime-s", "datetime-ns", "datetime-tz", "timedelta", "period",
         "interval", "arrow-int", "arrow-string", "arrow-large-string", "arrow-timestamp",
         "arrow-list", "sparse"]


@st.composite
def frames(draw):
    n = draw(st.integers(0, 6))
    data = draw(st.data())
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=0, max_size=4))
    labels = draw(st.sampled_from(["str", "object", "int", "mixed", "range", "multi", "dup"]))
    names = {
        "str": [f"c{i}" for i in range(len(kinds))],
        "object": pd.Index([f"c{i}" for i in range(len(kinds))], dtype=object),
        "int": list(range(10, 10 + len(kinds))),
        "mixed": [f"c{i}" if i % 2 else i for i in range(len(kinds))],
        "range": pd.RangeIndex(len(kinds)),
        "multi": pd.MultiIndex.from_arrays([["a"] * len(kinds),
                                            [f"c{i}" for i in range(len(kinds))]]),
        "dup": ["c"] * len(kinds),
    }[labels]
    frame = pd.DataFrame({i: column(n, kind, data) for i, kind in enumerate(kinds)},
                         index=draw(indexes(n)))
    frame.columns = names
    frame.columns.name = draw(st.sampled_from([None, "cols", 3]))
    if draw(st.booleans()):
        frame.attrs["source"] = draw(st.sampled_from(["x", 1, [1, 2]]))
    if frame.index.is_unique and frame.columns.is_unique and draw(st.integers(0, 5)) == 0:
        frame = frame.set_flags(allows_duplicate_labels=False)
    return frame


@SETTINGS
@given(frames())
def test_dataframes_come_back_exactly(frame) -> None:
    ref, back = round_trip(frame)
    assert_same_frame(back, frame)
    assert ref.format in ("parquet", "cloudpickle")
    assert (ref.format == "parquet") == (dataframe_loss(frame) is None)
    assert (ref.why == "") == (ref.format == "parquet")


@SETTINGS
@given(hpd.data_frames(
    columns=[
        hpd.column("a", dtype=int), hpd.column("b", dtype=float),
        hpd.column("c", elements=st.text(max_size=5)), hpd.column("d", dtype=bool),
        hpd.column("e", dtype="datetime64[ns]")],
    index=hpd.indexes(dtype=int, max_size=8) | hpd.range_indexes(max_size=8)))
def test_hypothesis_pandas_frames_come_back_exactly(frame) -> None:
    ref, back = round_trip(frame)
    assert_same_frame(back, frame)


@st.composite
def series(draw):
    n = draw(st.integers(0, 6))
    data = draw(st.data())
    kind = draw(st.sampled_from(KINDS))
    value = pd.Series(column(n, kind, data), index=draw(indexes(n)),
                      name=draw(st.sampled_from([None, "ts", 0, ("a", "b"), "__mlpipe_series__"])))
    if draw(st.booleans()):
        value.attrs["unit"] = "kg"
    return value


@SETTINGS
@given(series())
def test_series_come_back_exactly(value) -> None:
    ref, back = round_trip(value)
    assert_same_series(back, value)
    assert ref.format in ("parquet-series", "cloudpickle")


@SETTINGS
@given(hpd.series(dtype=float, index=hpd.indexes(dtype="datetime64[ns]", max_size=6)))
def test_hypothesis_pandas_series_come_back_exactly(value) -> None:
    _, back = round_trip(value)
    assert_same_series(back, value)


@st.composite
def arrays(draw):
    dtype = draw(hnp.scalar_dtypes() | hnp.byte_string_dtypes() | hnp.unicode_string_dtypes()
                 | st.just(np.dtype(">f4")) | st.just(np.dtype([("x", "<i4"), ("y", ">f8")]))
                 | st.just(np.dtype(object)) | st.just(np.dtype("datetime64[s]")))
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, max_side=4))
    if dtype == object:
        value = np.empty(shape, dtype=object)
        value.flat[:] = [draw(st.sampled_from([1, "a", None, (2,)])) for _ in range(value.size)]
    else:
        value = draw(hnp.arrays(dtype, shape))
    if draw(st.booleans()) and value.ndim > 1:
        value = np.asfortranarray(value)
    return value


@SETTINGS
@given(arrays())
def test_arrays_come_back_exactly_and_writable(value) -> None:
    ref, back = round_trip(value)
    assert type(back) is np.ndarray and back.flags.writeable
    assert back.dtype == value.dtype and back.shape == value.shape
    assert back.flags.f_contiguous == value.flags.f_contiguous
    assert back.flags.c_contiguous == value.flags.c_contiguous
    if value.dtype.hasobject:
        np.testing.assert_array_equal(back, value, strict=True)
    else:  # bit for bit (NaN payloads, -0.0, structured fields)
        assert back.tobytes(order="A") == value.tobytes(order="A")
    assert repr(back) == repr(value)
    assert ref.format == ("cloudpickle" if value.dtype.hasobject else "npy")


def test_arrays_inside_values_load_writable() -> None:
    value = {"a": np.arange(6.0).reshape(2, 3), "t": (np.zeros(3),)}
    _, back = round_trip(value)
    back["a"][0, 0] = 5.0
    back["t"][0][1] = 1.0
    _, array = round_trip(np.arange(1_000_000, dtype="float64"))
    array[0] = -1.0


def test_quarterly_series_is_pickled_and_says_why() -> None:
    ts = pd.Series([1.0, 2.0], index=pd.period_range("1959Q1", periods=2, freq="Q"), name="ts")
    ref, back = round_trip(ts)
    assert (ref.format, ref.why) == ("cloudpickle", "PeriodIndex")
    assert ref.to_json()["why"] == "PeriodIndex" and "1959Q1" in repr(back)
    monthly = pd.Series([1.0, 2.0], index=pd.date_range("2000", periods=2, freq="ME"))
    ref, back = round_trip(monthly)
    assert ref.why == "DatetimeIndex with freq ME" and back.index.freqstr == "ME"
    ref, _ = round_trip(pd.DataFrame({"x": [1.0]}))
    assert ref.format == "parquet" and "why" not in ref.to_json()


def test_arrow_tables_keep_every_type() -> None:
    table = pa.table({"l": pa.array([[1], None]), "d": pa.array(["a", "b"]).dictionary_encode(),
                      "f": pa.array([1.0, None]), "t": pa.array([1, 2], pa.timestamp("s"))})
    table = table.replace_schema_metadata({"k": "v"})
    ref, back = round_trip(table)
    assert ref.format == "arrow" and back.equals(table, check_metadata=True)


def test_metadata_check_under_a_millisecond_for_1000_columns() -> None:
    kinds = ["int64", "float32", "bool", "str", "Int64", "datetime64[ms]"]
    frame = pd.DataFrame({f"c{i}": pd.Series([0, 1], dtype=kinds[i % len(kinds)])
                          for i in range(1000)})
    assert dataframe_loss(frame) is None
    per_call = min(timeit.repeat(lambda: REGISTRY.choose(frame), number=20, repeat=5)) / 20
    assert per_call < 1e-3, f"{per_call * 1e3:.2f} ms"


@pytest.mark.parametrize("value", [
    pd.DataFrame({"x": [1]}, index=pd.period_range("2000Q1", periods=1, freq="Q")),
    pd.DataFrame({"x": [1]}).set_axis(pd.MultiIndex.from_tuples([("a", 1)]), axis=1),
])
def test_lossy_fast_formats_are_decided_before_writing(value, monkeypatch) -> None:
    from mlpipe_jupyter.cache import serializers

    def boom(*args):
        raise AssertionError("Parquet was tried for a value it cannot keep")

    monkeypatch.setattr(serializers, "_frame_to_arrow", boom)
    ref, back = round_trip(value)
    assert ref.format == "cloudpickle" and ref.why
    assert_same_frame(back, value)
