"""Hand-off of a value between steps (issue 21): `Store.put` in the producer, then
`Store.get` in the consumer, as the step runtime does it (fsync, sha256 on both sides).

- fast path: a float64 DataFrame of about `--mb` MB (RangeIndex, string columns): Parquet;
- fallback: the same frame on a quarterly `PeriodIndex`, which Parquet cannot give back
  exactly, so the metadata check sends it to cloudpickle;
- each against pickle (cloudpickle, protocol 5) of the same object through the same store;
- the metadata check alone on a 1,000-column frame of mixed dtypes (target < 1 ms).

    .venv/bin/python bench/bench_handoff.py --mb 64      # quick
    .venv/bin/python bench/bench_handoff.py --mb 1024    # 1 GB (needs ~4 GB of RAM)
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import timeit
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import pandas as pd

from mlpipe_jupyter.cache import serializers
from mlpipe_jupyter.cache.store import Store


@contextmanager
def forced_pickle() -> Iterator[None]:
    pickle = serializers.REGISTRY.named("cloudpickle")
    original = serializers.REGISTRY.choose
    serializers.REGISTRY.choose = lambda value: ([pickle], "forced")  # type: ignore[method-assign]
    try:
        yield
    finally:
        serializers.REGISTRY.choose = original  # type: ignore[method-assign]


def handoff(store: Store, value: Any) -> tuple[str, float, float, int]:
    """(format, put seconds, get seconds, bytes stored)."""
    gc.collect()
    start = time.perf_counter()
    ref = store.put("v", value)
    put = time.perf_counter() - start
    start = time.perf_counter()
    back = store.get(ref)
    get = time.perf_counter() - start
    del back
    store.artifact_path(ref).unlink()
    return ref.format + (f" ({ref.why})" if ref.why else ""), put, get, ref.size


def frame(mb: int, columns: int = 16) -> pd.DataFrame:
    rows = mb * 2**20 // (8 * columns)
    rng = np.random.default_rng(0)
    return pd.DataFrame(rng.standard_normal((rows, columns)),
                        columns=[f"c{i}" for i in range(columns)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=64, help="size of the frame (default 64)")
    args = parser.parse_args()
    store = Store.open(tempfile.mkdtemp(prefix="mlpipe-bench-handoff-"))
    fast = frame(args.mb)
    slow = fast.set_axis(pd.period_range("1800Q1", periods=len(fast), freq="Q"))
    print(f"frame: {fast.shape[0]:,} rows x {fast.shape[1]} float64 columns,"
          f" {fast.memory_usage().sum() / 2**20:.0f} MB")
    print(f"{'case':38} {'format':28} {'put s':>7} {'get s':>7} {'total':>7} {'MB':>7}")
    for label, value in (("fast path (RangeIndex)", fast), ("fallback (PeriodIndex)", slow)):
        fmt, put, get, size = handoff(store, value)
        print(f"{label:38} {fmt:28} {put:7.2f} {get:7.2f} {put + get:7.2f} {size / 2**20:7.0f}")
        with forced_pickle():
            _, put, get, size = handoff(store, value)
        print(f"{'  pickle of the same':38} {'cloudpickle':28} {put:7.2f} {get:7.2f}"
              f" {put + get:7.2f} {size / 2**20:7.0f}")
    del fast, slow
    kinds = ["int64", "float32", "bool", "str", "Int64", "datetime64[ms]", "category"]
    wide = pd.DataFrame({f"c{i}": pd.Series(["a", "b"] if kinds[i % 7] in ("str", "category")
                                            else [0, 1], dtype=kinds[i % 7])
                         for i in range(1000)})
    per_call = min(timeit.repeat(lambda: serializers.REGISTRY.choose(wide), number=50,
                                 repeat=5)) / 50
    verdict = serializers.dataframe_loss(wide)
    print(f"metadata check, 1,000 columns of {len(kinds)} dtypes: {per_call * 1e3:.3f} ms"
          f" (fast format: {'yes' if verdict is None else verdict})")


if __name__ == "__main__":
    main()
