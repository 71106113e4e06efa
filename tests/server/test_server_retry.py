"""POST runs/ID/retry and POST runs with a selection over the real execution service
(kernels, a Dask cluster, SQLite records; issue 24)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_notebook
from test_server_routes import call, wait_finished

pytestmark = pytest.mark.integration

FLAKY = [
    "import os",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total\nif not os.path.exists('ok.flag'):\n    raise RuntimeError('not yet')\n"
    "result = sum(numbers)",
]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}}}


@pytest.fixture
def notebook(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    return write_notebook(jp_root_dir / "flaky.ipynb", FLAKY)


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


async def test_a_failed_run_retried_over_rest_reuses_what_succeeded(jp_fetch, notebook):
    _, started = await call(jp_fetch, "runs", "POST", {"path": "flaky.ipynb"})
    first = await wait_finished(jp_fetch, started["run_id"], timeout=240)
    assert statuses(first) == {"load": "succeeded", "total": "failed"}, first
    (notebook.parent / "ok.flag").write_text("")
    status, retried = await call(jp_fetch, f"runs/{first['run_id']}/retry", "POST", {})
    assert status == 202 and retried["retry_of"] == first["run_id"], retried
    second = await wait_finished(jp_fetch, retried["run_id"], timeout=240)
    assert second["retry_of"] == first["run_id"]
    assert statuses(second) == {"load": "cached", "total": "succeeded"}, second
    _, partial = await call(jp_fetch, "runs", "POST", {"path": "flaky.ipynb", "select": "load"})
    third = await wait_finished(jp_fetch, partial["run_id"], timeout=240)
    assert statuses(third) == {"load": "succeeded", "total": "skipped"}, third
    assert third["steps"]["total"]["reason"] == "not selected"
