"""`service.start`: the run goes on in a child process that reads the one request file."""

from __future__ import annotations

import time

import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.errors import BadInput, NotFound
from mlpipe_jupyter.request import RunRequest

pytestmark = pytest.mark.integration


def test_started_run_returns_at_once_and_finishes(write_notebook, tmp_path) -> None:  # noqa: ANN001
    path = write_notebook(["import math", "%%params\nn = 2", "%%step load\nraw = list(range(n))",
                           "%%step use\ntotal = sum(raw)"])
    store = tmp_path / "store"
    request = RunRequest.build(path, {"n": 3}, store=store, workers=1)
    started = time.monotonic()
    run_id = service.start(request)
    assert time.monotonic() - started < 5
    written = RunRequest.from_json((store / "runs" / run_id / "request.json").read_text())
    assert written == request.with_run_id(run_id)  # the request itself, not a rebuilt argv
    record = service.run_record(store, run_id)
    assert record["status"] == "running"
    deadline = time.monotonic() + 120
    while record["status"] == "running":
        assert time.monotonic() < deadline, record
        time.sleep(0.2)
        record = service.run_record(store, run_id)
    log = (store / "runs" / run_id / "run.log").read_text()
    assert record["status"] == "succeeded", log
    assert record["params"] == {"n": 3}
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    assert [r["run_id"] for r in service.runs(store)] == [run_id]
    assert service.cancel(store, run_id) is False  # already finished


def test_start_refuses_bad_input_before_starting(write_notebook, tmp_path) -> None:  # noqa: ANN001
    path = write_notebook(["%%step use\ntotal = sum(raw)"])
    with pytest.raises(BadInput, match="name 'raw' is read"):
        service.start(RunRequest.build(path, store=tmp_path / "store"))
    assert service.runs(tmp_path / "store") == []
    with pytest.raises(NotFound, match="no run 'x-1'"):
        service.run_record(tmp_path / "store", "x-1")


def test_a_request_round_trips_and_its_paths_are_absolute(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    request = RunRequest.build("sub/nb.ipynb", {"lr": 0.1, "tags": ["a"]}, store="rel",
                               gpu_workers=1, no_cache=True)  # fmt: skip
    assert request.notebook == tmp_path / "sub" / "nb.ipynb"
    assert request.store == tmp_path / "rel"
    assert RunRequest.from_json(request.to_json()) == request
    assert RunRequest.build("sub/nb.ipynb").store == tmp_path / "sub" / ".mlpipe"
    monkeypatch.setenv("MLPIPE_STORE", "env-store")
    assert RunRequest.build("sub/nb.ipynb").store == tmp_path / "env-store"
    with pytest.raises(BadInput, match="not both"):
        RunRequest.build("nb.ipynb", scheduler="tcp://x:1", workers=2)
    with pytest.raises(BadInput, match="parameter when: a datetime cannot be passed"):
        import datetime

        RunRequest.build("nb.ipynb", {"when": datetime.datetime.now()})
