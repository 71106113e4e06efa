"""`service.start_run_async`: the run goes on in a child process; the caller polls the record."""

from __future__ import annotations

import time

import pytest

from mlpipe_jupyter import service

pytestmark = pytest.mark.integration


def test_async_run_returns_at_once_and_finishes(write_notebook, tmp_path) -> None:  # noqa: ANN001
    path = write_notebook(["import math", "%%params\nn = 2", "%%step load\nraw = list(range(n))",
                           "%%step use\ntotal = sum(raw)"])
    store = tmp_path / "store"
    started = time.monotonic()
    run_id = service.start_run_async(path, {"n": 3}, store=store, workers=1)
    assert time.monotonic() - started < 5
    record = service.run_record(store, run_id)
    assert record["status"] == "running"
    deadline = time.monotonic() + 120
    while record["status"] == "running":
        assert time.monotonic() < deadline, record
        time.sleep(0.2)
        record = service.run_record(store, run_id)
    assert record["status"] == "succeeded", (store / "runs" / run_id / "run.log").read_text()
    assert record["params"] == {"n": 3}
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    assert [r["run_id"] for r in service.runs(store)] == [run_id]
    assert service.cancel(store, run_id) is False  # already finished


def test_async_run_refuses_bad_input_before_starting(write_notebook, tmp_path) -> None:  # noqa: ANN001
    path = write_notebook(["%%step use\ntotal = sum(raw)"])
    with pytest.raises(ValueError, match="name 'raw' is read"):
        service.start_run_async(path, {}, store=tmp_path / "store")
    assert service.runs(tmp_path / "store") == []
