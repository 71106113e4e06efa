"""max_concurrent_runs and schedule fires on a real server with real runs (kernels, Dask).

20 REST runs with a limit of 2: GET runs never shows more than 2 running, the rest are
queued and all finish succeeded; a queued run cancelled never starts; a schedule that
comes due while its previous run is still going records a skipped fire naming that run.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_notebook
from test_server_routes import call, wait_finished

from mlpipe_jupyter.schedule import db, schedules

pytestmark = pytest.mark.integration

SLOW = [
    "%%params\npause = 0.2\ntag = 0",
    "import time",
    "%%step load\nnumbers = [1, 2, 3]",
    "%%step total --outputs result\ntime.sleep(pause)\nresult = sum(numbers) + tag",
]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}},
        "MlpipeService": {"max_concurrent_runs": 2, "fire_schedules": True,
                          "fire_interval": 0.3, "workers": 2},
    }  # fmt: skip


@pytest.fixture
def notebook(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    return write_notebook(jp_root_dir / "pipe.ipynb", SLOW)


async def statuses(jp_fetch: Any) -> dict[str, str]:
    status, runs = await call(jp_fetch, "runs", params={"limit": "100"})
    assert status == 200, runs
    return {r["run_id"]: r["status"] for r in runs}


async def test_twenty_runs_with_a_limit_of_two(jp_fetch, notebook):
    ids = []
    for tag in range(20):  # each its own parameters: nothing is a cache hit
        body = {"path": "pipe.ipynb", "params": {"tag": tag}, "no_cache": True}
        status, started = await call(jp_fetch, "runs", "POST", body)
        assert status == 202, started
        ids.append(started["run_id"])
    peak, seen_queued = 0, set()
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        now = await statuses(jp_fetch)
        running = [i for i in ids if now.get(i) == "running"]
        peak = max(peak, len(running))
        assert len(running) <= 2, now
        seen_queued |= {i for i in ids if now.get(i) == "queued"}
        if all(now.get(i) not in ("queued", "running") for i in ids):
            break
        await asyncio.sleep(0.1)
    assert [now[i] for i in ids] == ["succeeded"] * 20, now
    assert peak == 2 and len(seen_queued) >= 15, (peak, seen_queued)
    _, record = await call(jp_fetch, f"runs/{ids[-1]}")
    assert record["steps"]["total"]["status"] == "succeeded"


async def test_a_queued_run_cancelled_never_starts(jp_fetch, notebook):
    slow = {"path": "pipe.ipynb", "params": {"pause": 4.0}, "no_cache": True}
    first = [(await call(jp_fetch, "runs", "POST", slow))[1]["run_id"] for _ in range(2)]
    _, queued = await call(jp_fetch, "runs", "POST", {"path": "pipe.ipynb", "no_cache": True})
    _, record = await call(jp_fetch, f"runs/{queued['run_id']}")
    assert record["status"] == "queued", record
    status, answer = await call(jp_fetch, f"runs/{queued['run_id']}", "DELETE")
    assert (status, answer["status"]) == (202, "cancelled")
    for run_id in first:
        assert (await wait_finished(jp_fetch, run_id, timeout=300))["status"] == "succeeded"
    await asyncio.sleep(1.5)  # a slot was free long enough for it to start, had it been able
    _, record = await call(jp_fetch, f"runs/{queued['run_id']}")
    assert record["status"] == "cancelled" and "never started" in record["error"], record
    assert {s["status"] for s in record["steps"].values()} == {"skipped"}
    assert all(s["notebook"] is None for s in record["steps"].values())
    status, again = await call(jp_fetch, f"runs/{queued['run_id']}", "DELETE")
    assert status == 409 and "already cancelled" in again["message"]


async def test_a_fire_while_the_previous_run_is_going_is_skipped(jp_fetch, notebook, jp_root_dir):
    _, published = await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "slow"})
    store = Path(published["store"])
    schedules.add(store, "slow", "* * * * *", params={"pause": 6.0}, now=time.time() - 120)
    first = await _wait_schedule(jp_fetch, lambda s: s["last_run_id"])
    run_id = first["last_run_id"]
    _, record = await call(jp_fetch, f"runs/{run_id}")  # recorded under the id the fire took
    assert record["status"] in ("queued", "running") and record["params"] == {"pause": 6.0}
    with db.connect(store, write=True) as conn:  # the next fire time, now
        conn.execute("UPDATE schedules SET next_run = ? WHERE name = 'slow'", (time.time() - 1,))
    skipped = await _wait_schedule(jp_fetch, lambda s: s["skipped"])
    assert skipped["skipped"] == 1 and skipped["last_run_id"] == run_id
    assert run_id in skipped["last_skip_reason"] and "still running" in skipped["last_skip_reason"]
    assert list((await statuses(jp_fetch)).values()).count("running") == 1  # no second run
    assert (await wait_finished(jp_fetch, run_id, timeout=300))["status"] == "succeeded"


async def _wait_schedule(jp_fetch: Any, ready: Any, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        _, [listed] = await call(jp_fetch, "schedules")
        if ready(listed):
            return listed
        await asyncio.sleep(0.1)
    raise AssertionError(f"schedule not there after {timeout}s: {listed}")
