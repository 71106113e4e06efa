"""Every route of the REST API on a real Jupyter server (execution backend faked)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from server_helpers import TWO_STEPS, write_notebook


async def call(jp_fetch: Any, route: str, method: str = "GET", body: Any = None, **kw: Any):
    """(status, json) of one request; errors too."""
    if body is not None and not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    try:
        response = await jp_fetch("mlpipe", "api", *route.split("/"), method=method, body=body, **kw)
    except HTTPClientError as exc:
        assert exc.response is not None
        assert exc.response.headers["Content-Type"].startswith("application/json")
        return exc.code, json.loads(exc.response.body)
    text = response.body.decode() if response.body else "null"
    return response.code, json.loads(text)


async def test_extension_is_loaded_and_status_answers(jp_fetch, store_dir):
    status, data = await call(jp_fetch, "status")
    assert status == 200
    assert data["store"] == str(store_dir.resolve())
    assert data["version"]


async def test_dag_of_unsaved_cells(jp_fetch):
    cells = [{"source": s, "tags": []} for s in TWO_STEPS]
    status, dag = await call(jp_fetch, "dag", "POST", {"cells": cells})
    assert status == 200
    assert [s["name"] for s in dag["steps"]] == ["load", "total"]
    assert dag["edges"] == [{"from": "load", "to": "total", "vars": ["numbers"]}]
    assert dag["params"] == {"scale": 2}
    assert dag["errors"] == []


async def test_dag_with_a_path_carries_cache_states(jp_fetch, notebook):
    cells = [{"source": s, "tags": []} for s in TWO_STEPS]
    status, dag = await call(jp_fetch, "dag", "POST", {"cells": cells, "path": "pipe.ipynb"})
    assert status == 200
    assert [s["cache"] for s in dag["steps"]] == [True, True]
    assert [s["cache_state"] for s in dag["steps"]] == [
        {"state": "never", "reason": "never run: no cache entry"}
    ] * 2
    _, plain = await call(jp_fetch, "dag", "POST", {"cells": cells})
    assert [s["cache"] for s in plain["steps"]] == [True, True]
    assert all("cache_state" not in s for s in plain["steps"])


async def test_dag_with_analysis_errors_is_200_with_errors(jp_fetch):
    cells = [{"source": "%%step a\nx = y", "tags": []}]
    status, dag = await call(jp_fetch, "dag", "POST", {"cells": cells})
    assert status == 200
    assert dag["errors"] and "'y'" in dag["errors"][0]["message"]


async def test_dag_of_saved_notebook_by_path(jp_fetch, notebook):
    status, dag = await call(jp_fetch, "dag", "POST", {"path": notebook.name})
    assert status == 200 and dag["order"] == ["load", "total"]


@pytest.mark.parametrize(
    "body, fragment",
    [
        ("{not json", "request body is not valid JSON"),
        ([1, 2], "must be a JSON object"),
        ({}, "'cells'"),
        ({"cells": "x = 1"}, "list"),
        ({"cells": [{"source": 3}]}, "source must be a string"),
    ],
)
async def test_dag_bad_requests_are_400_with_message(jp_fetch, body, fragment):
    status, data = await call(jp_fetch, "dag", "POST", body)
    assert status == 400
    assert fragment in data["message"]


@pytest.mark.parametrize(
    "path, code",
    [("../outside.ipynb", 400), ("/etc/passwd", 400), ("missing.ipynb", 404), ("a.txt", 400)],
)
async def test_paths_outside_root_or_missing_are_refused(jp_fetch, path, code):
    status, data = await call(jp_fetch, "runs", "POST", {"path": path})
    assert status == code, data
    assert data["message"]


async def test_symlink_out_of_root_is_refused(jp_fetch, jp_root_dir, tmp_path):
    outside = write_notebook(tmp_path / "elsewhere" / "secret.ipynb", TWO_STEPS)
    (jp_root_dir / "link.ipynb").symlink_to(outside)
    status, data = await call(jp_fetch, "dag", "POST", {"path": "link.ipynb"})
    assert status == 400 and "outside the server root" in data["message"]


async def test_request_without_token_is_refused(jp_fetch):
    for route, method, body in [("status", "GET", None), ("dag", "POST", "{}"), ("runs", "GET", None)]:
        status, _ = await call(jp_fetch, route, method, body, headers={"Authorization": ""})
        assert status == 403, route


async def test_unknown_route_is_json_404(jp_fetch):
    status, data = await call(jp_fetch, "nope")
    assert status == 404 and "no such mlpipe API route" in data["message"]


async def test_run_lifecycle(jp_fetch, notebook, service):
    status, started = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb", "params": {"scale": 3}})
    assert status == 202
    run_id = started["run_id"]
    assert service.started[-1]["params"] == {"scale": 3}
    record = await wait_finished(jp_fetch, run_id)
    assert record["status"] == "succeeded"
    assert record["path"] == "pipe.ipynb"
    status, listed = await call(jp_fetch, "runs")
    assert status == 200 and [r["run_id"] for r in listed] == [run_id]
    status, data = await call(jp_fetch, f"runs/{run_id}", "DELETE")
    assert status == 409 and "already succeeded" in data["message"]


async def test_runs_list_newest_first(jp_fetch, notebook):
    ids = []
    for _ in range(2):
        ids.append((await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"}))[1]["run_id"])
        await asyncio.sleep(0.01)
    _, listed = await call(jp_fetch, "runs")
    assert [r["run_id"] for r in listed] == ids[::-1]


async def test_cancel_a_running_run(jp_fetch, notebook, service):
    service.RUN_S = 30
    _, started = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"})
    status, data = await call(jp_fetch, f"runs/{started['run_id']}", "DELETE")
    assert status == 202 and data["status"] == "cancelling"
    record = await wait_finished(jp_fetch, started["run_id"], timeout=5)
    assert record["status"] == "cancelled"


async def test_unknown_run_is_404(jp_fetch):
    for method in ("GET", "DELETE"):
        status, data = await call(jp_fetch, "runs/20990101-000000-abcdef", method)
        assert status == 404 and "not found" in data["message"]


async def test_bad_run_options_are_400(jp_fetch, notebook):
    for body in ({"path": "pipe.ipynb", "params": [1]}, {"path": "pipe.ipynb", "no_cache": "yes"}):
        status, _ = await call(jp_fetch, "runs", "POST", body)
        assert status == 400


async def test_step_notebook_path_relative_to_root(jp_fetch, notebook, store_dir, jp_root_dir):
    _, started = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb"})
    route = f"runs/{started['run_id']}/steps/load/notebook"
    status, data = await call(jp_fetch, route)
    # the configured store is outside the root: the UI cannot open it, and is told why
    assert status == 404 and "outside the server root" in data["message"]
    status, data = await call(jp_fetch, f"runs/{started['run_id']}/steps/total/notebook")
    assert status == 404 and "no executed notebook" in data["message"]
    status, data = await call(jp_fetch, f"runs/{started['run_id']}/steps/nope/notebook")
    assert status == 404 and "no step 'nope'" in data["message"]


async def test_run_store_beside_notebook_and_step_notebook_inside_root(
    jp_fetch, jp_root_dir, service, monkeypatch
):
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    service.store_dir = ""  # as `mlpipe run` does: .mlpipe beside the notebook
    write_notebook(jp_root_dir / "sub" / "nb.ipynb", TWO_STEPS)
    _, started = await call(jp_fetch, "runs", "POST", {"path": "sub/nb.ipynb"})
    assert service.started[-1]["store"] == (jp_root_dir / "sub" / ".mlpipe").resolve()
    status, data = await call(jp_fetch, f"runs/{started['run_id']}/steps/load/notebook")
    assert status == 200
    assert data["path"] == f"sub/.mlpipe/runs/{started['run_id']}/load.ipynb"
    _, listed = await call(jp_fetch, "runs")
    assert started["run_id"] in [r["run_id"] for r in listed]


async def wait_finished(jp_fetch: Any, run_id: str, timeout: float = 60) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status, record = await call(jp_fetch, f"runs/{run_id}")
        assert status == 200, record
        if record["status"] not in ("running", "queued"):
            return record
        await asyncio.sleep(0.1)
    raise AssertionError(f"run {run_id} still running after {timeout}s: {record}")
