"""Publish, trigger and schedule routes on a real Jupyter server (execution backend faked)."""

from __future__ import annotations

import json
import time

import pytest
from test_server_routes import call

from mlpipe_jupyter.schedule import schedules


async def test_publish_then_list_then_trigger(jp_fetch, notebook, service, store_dir):
    status, published = await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    assert status == 201 and published["version"] == 1 and published["created"]
    status, again = await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    assert status == 200 and again["version"] == 1 and not again["created"]
    status, listed = await call(jp_fetch, "pipelines")
    assert status == 200 and [(p["name"], p["version"]) for p in listed] == [("daily", 1)]

    status, started = await call(jp_fetch, "pipelines/daily/runs", "POST", {"params": {"scale": 4}})
    assert status == 202 and started["version"] == 1
    run = service.started[-1]
    assert run["notebook"] == store_dir.resolve() / "pipelines" / "daily" / "v1" / "notebook.ipynb"
    assert run["params"] == {"scale": 4}
    status, record = await call(jp_fetch, f"runs/{started['run_id']}")
    assert status == 200 and record["run_id"] == started["run_id"]


async def test_trigger_unknown_pipeline_or_version_is_404(jp_fetch, notebook):
    status, data = await call(jp_fetch, "pipelines/nope/runs", "POST", {})
    assert status == 404 and "not published" in data["message"]
    await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "p"})
    status, data = await call(jp_fetch, "pipelines/p/runs", "POST", {"version": 3})
    assert status == 404 and "version 3" in data["message"]
    status, data = await call(jp_fetch, "pipelines/p/runs", "POST", {"version": "x"})
    assert status == 400


async def test_publish_broken_notebook_is_400(jp_fetch, jp_root_dir):
    from server_helpers import write_notebook

    write_notebook(jp_root_dir / "bad.ipynb", ["%%step a\ny = x"])
    status, data = await call(jp_fetch, "pipelines", "POST", {"path": "bad.ipynb"})
    assert status == 400 and "not a valid pipeline" in data["message"]


async def test_schedule_crud(jp_fetch, notebook):
    await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    body = {"name": "morning", "pipeline": "daily", "cron": "0 6 * * *", "params": {"scale": 3}}
    status, added = await call(jp_fetch, "schedules", "POST", body)
    assert status == 201
    assert added["description"] == "every day at 06:00" and added["next_run"]
    status, again = await call(jp_fetch, "schedules", "POST", body)
    assert status == 409 and "already exists" in again["message"]
    status, paused = await call(jp_fetch, "schedules/morning", "PATCH", {"paused": True})
    assert status == 200 and paused["paused"]
    status, listed = await call(jp_fetch, "schedules")
    assert [s["name"] for s in listed] == ["morning"] and listed[0]["paused"]
    status, _ = await call(jp_fetch, "schedules/morning", "DELETE")
    assert status == 204
    status, data = await call(jp_fetch, "schedules/morning", "DELETE")
    assert status == 404


@pytest.mark.parametrize(
    "body, fragment",
    [
        ({"name": "x", "cron": "61 * * * *"}, "cron '61 * * * *': minute must be 0-59, got 61"),
        ({"name": "x"}, "needs 'name' and 'cron'"),
        ({"name": "../x", "cron": "@daily"}, "schedule name"),
        ({"name": "x", "cron": "@daily", "params": "scale=3"}, "'params' must be an object"),
    ],
)
async def test_bad_schedules_are_400(jp_fetch, body, fragment):
    status, data = await call(jp_fetch, "schedules", "POST", body)
    assert status == 400 and fragment in data["message"]


async def test_cron_preview(jp_fetch):
    response = await jp_fetch("mlpipe", "api", "cron", params={"cron": "30 9 * * 1-5"})
    data = json.loads(response.body)
    assert data["description"] == "every weekday at 09:30" and len(data["next"]) == 3
    status, data = await call(jp_fetch, "cron")
    assert status == 400 and "'cron' is required" in data["message"]


async def test_fire_due_schedules_starts_each_due_run_once(jp_fetch, notebook, service):
    await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    schedules.add(service.store_root, "daily", "* * * * *", now=time.time() - 120)
    [fired] = service.fire_due_schedules()
    run_id = fired.rsplit("run ", 1)[1]
    assert service.fire_due_schedules() == []
    _, [listed] = await call(jp_fetch, "schedules")
    assert listed["last_run_id"] == run_id
    status, _ = await call(jp_fetch, f"runs/{run_id}")
    assert status == 200


async def test_schedule_of_an_unpublished_pipeline_or_unknown_param_is_refused(jp_fetch, notebook):
    body = {"name": "morning", "pipeline": "daily", "cron": "0 6 * * *"}
    status, data = await call(jp_fetch, "schedules", "POST", body)
    assert status == 404 and "'daily' is not published" in data["message"]
    await call(jp_fetch, "pipelines", "POST", {"path": "pipe.ipynb", "name": "daily"})
    status, data = await call(jp_fetch, "schedules", "POST", {**body, "params": {"nope": 1}})
    assert status == 400 and "unknown parameter 'nope'" in data["message"]
