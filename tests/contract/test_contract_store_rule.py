"""The one store rule, checked from outside (issue 7, "What users hit").

(a) `mlpipe run sub/nb.ipynb --store relstore` from another folder; (b) a Jupyter
server at a root, the notebook in a subfolder: its routes see what the CLI made
(runs, pipelines, schedules) though the server never saw it being made, and the
CLI sees the runs the server starts, also after a restart; (c) `mlpipe scheduler`
started anywhere fires a pipeline published from a subfolder, and the run succeeds.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from nbfiles import write_notebook
from tornado.httpclient import HTTPClientError

pytestmark = pytest.mark.integration

CELLS = [
    "import math",
    "%%params\nn = 3",
    "%%step load\nnumbers = list(range(n))",
    "%%step total --outputs result\nresult = sum(numbers)",
]


def mlpipe(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """`python -m mlpipe_jupyter ARGS` in `cwd`, without $MLPIPE_STORE unless `env` sets it."""
    environ = {k: v for k, v in os.environ.items() if k != "MLPIPE_STORE"} | (env or {})
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *map(str, args)], cwd=cwd,
                          env=environ, capture_output=True, text=True, timeout=300)  # fmt: skip


def test_a_relative_store_from_another_folder(tmp_path: Path) -> None:
    write_notebook(tmp_path / "proj" / "sub" / "nb.ipynb", CELLS)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = mlpipe("run", "../proj/sub/nb.ipynb", "--store", "relstore", "--json",
                  "--workers", "1", cwd=elsewhere)  # fmt: skip
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    assert (elsewhere / "relstore" / "runs" / record["run_id"] / "total.ipynb").is_file()
    assert not (tmp_path / "proj" / "sub" / "relstore").exists()
    listed = mlpipe("runs", "--store", "relstore", "--json", cwd=elsewhere)
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [record["run_id"]]
    env_run = mlpipe("run", "../proj/sub/nb.ipynb", "--json", cwd=elsewhere,
                     env={"MLPIPE_STORE": "relstore"})  # a relative $MLPIPE_STORE too
    assert env_run.returncode == 0, env_run.stderr
    assert {s["status"] for s in json.loads(env_run.stdout)["steps"].values()} == {"cached"}


def test_a_scheduler_started_anywhere_runs_a_pipeline_published_from_a_subfolder(
    tmp_path: Path,
) -> None:
    from mlpipe_jupyter.schedule import schedules

    write_notebook(tmp_path / "proj" / "sub" / "nb.ipynb", CELLS)
    published = mlpipe("publish", "sub/nb.ipynb", "--name", "nightly", cwd=tmp_path / "proj")
    assert published.returncode == 0, published.stderr
    store = tmp_path / "proj" / "sub" / ".mlpipe"  # beside the notebook
    assert "nightly" in mlpipe("pipelines", cwd=store.parent).stdout
    # due two minutes ago (a CLI-made schedule would wait for its next minute)
    schedules.add(store, "nightly", "* * * * *", params={"n": 4}, now=time.time() - 120,
                  published_only=True)  # fmt: skip
    anywhere = tmp_path / "anywhere"
    anywhere.mkdir()
    done = mlpipe("scheduler", "--once", "--store", "../proj/sub/.mlpipe", cwd=anywhere)
    assert done.returncode == 0, done.stdout + done.stderr
    runs = json.loads(mlpipe("runs", "--json", cwd=store.parent).stdout)
    assert [(r["status"], r["params"]) for r in runs] == [("succeeded", {"n": 4})], runs
    assert schedules.get(store, "nightly").last_run_id == runs[0]["run_id"]


def test_scheduler_once_exits_1_when_a_run_it_fired_failed(tmp_path: Path) -> None:
    from mlpipe_jupyter.schedule import schedules

    write_notebook(tmp_path / "nb.ipynb", ["%%step load\nnumbers = [1]",
                                           "%%step bad\nvalue = numbers[10]"])  # fmt: skip
    assert mlpipe("publish", "nb.ipynb", "--name", "broken", cwd=tmp_path).returncode == 0
    schedules.add(tmp_path / ".mlpipe", "broken", "* * * * *", now=time.time() - 120)
    done = mlpipe("scheduler", "--once", cwd=tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = done.stderr.splitlines()
    assert "of schedule 'broken' failed; see `mlpipe runs show" in line


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    """The real extension and service, no store configured: the one rule decides."""
    return {"ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}}}


@pytest.fixture
def cli_made(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Before the server starts: a run, a published pipeline and a schedule made by the CLI."""
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    write_notebook(jp_root_dir / "sub" / "nb.ipynb", CELLS)
    run = mlpipe("run", "sub/nb.ipynb", "--json", "--workers", "1", cwd=jp_root_dir)
    assert run.returncode == 0, run.stderr
    assert mlpipe("publish", "sub/nb.ipynb", "--name", "nightly", cwd=jp_root_dir).returncode == 0
    added = mlpipe("schedule", "add", "morning", "--pipeline", "nightly", "--cron", "0 6 * * *",
                   "--store", "sub/.mlpipe", cwd=jp_root_dir)  # fmt: skip
    assert added.returncode == 0, added.stderr
    return {"run_id": json.loads(run.stdout)["run_id"]}


async def call(jp_fetch: Any, route: str, method: str = "GET", body: Any = None) -> Any:
    try:
        response = await jp_fetch("mlpipe", "api", *route.split("/"), method=method,
                                  body=None if body is None else json.dumps(body))  # fmt: skip
    except HTTPClientError as exc:
        assert exc.response is not None
        return exc.code, json.loads(exc.response.body)
    return response.code, json.loads(response.body or b"null")


async def test_the_server_sees_what_the_cli_made_and_the_cli_what_it_runs(
    cli_made: dict[str, str], jp_fetch: Any, jp_root_dir: Path, jp_serverapp: Any,
) -> None:
    run_id = cli_made["run_id"]
    status, listed = await call(jp_fetch, "runs")
    assert status == 200 and run_id in [r["run_id"] for r in listed]
    status, record = await call(jp_fetch, f"runs/{run_id}")
    assert status == 200 and record["path"] == "sub/nb.ipynb"
    status, opened = await call(jp_fetch, f"runs/{run_id}/steps/total/notebook")
    assert status == 200 and opened["path"] == f"sub/.mlpipe/runs/{run_id}/total.ipynb"
    _, pipelines = await call(jp_fetch, "pipelines")
    assert [(p["name"], p["version"]) for p in pipelines] == [("nightly", 1)]
    _, listed_schedules = await call(jp_fetch, "schedules")
    assert [(s["name"], s["pipeline"]) for s in listed_schedules] == [("morning", "nightly")]

    # the other way: a run the server starts is where `mlpipe runs` looks, beside the notebook
    status, started = await call(jp_fetch, "runs", "POST", {"path": "sub/nb.ipynb",
                                                            "params": {"n": 6}})  # fmt: skip
    assert status == 202, started
    for _ in range(1200):
        _, record = await call(jp_fetch, f"runs/{started['run_id']}")
        if record["status"] != "running":
            break
        await asyncio.sleep(0.2)
    assert record["status"] == "succeeded", record
    cli_runs = json.loads(mlpipe("runs", "--json", cwd=jp_root_dir / "sub").stdout)
    assert [r["run_id"] for r in cli_runs] == [started["run_id"], run_id]
    # POST pipelines publishes beside the notebook too: `mlpipe pipelines` there sees it
    status, again = await call(jp_fetch, "pipelines", "POST", {"path": "sub/nb.ipynb",
                                                               "name": "weekly"})  # fmt: skip
    assert status == 201, again
    assert "weekly" in mlpipe("pipelines", cwd=jp_root_dir / "sub").stdout

    # a restart: a service with nothing in memory still finds every run
    from mlpipe_jupyter.server import MlpipeService

    restarted = MlpipeService(root_dir=str(jp_root_dir), log=jp_serverapp.log)
    assert {r["run_id"] for r in restarted.list_runs()} == {run_id, started["run_id"]}
    assert restarted.get_run(started["run_id"])["status"] == "succeeded"
