"""End to end: the pipeline sidebar in a real JupyterLab, driven by Debian's chromium.

A module-scoped `jupyter lab` serves a temporary copy of notebooks/; each test runs one
scenario of sidebar.e2e.mjs (playwright-core, no browser download) and checks its exit
code and PASS lines. Screenshots land in tests/ui/test-results/; a failing scenario names
the step that failed and leaves failure-<scenario>.png there.

The scenarios open notebooks without a kernel (nothing they do executes a cell), and
each test shuts down whatever kernels its scenario left, so the lab stays quiet for the
next one on a loaded 2-core machine.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.ui, pytest.mark.integration]

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "test-results"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
SCRIPT = HERE / "sidebar.e2e.mjs"
RUN_NOTEBOOK = "fanout.ipynb"  # CPU only: runs on the default LocalCluster
GPU_NOTEBOOK = "breast_cancer.ipynb"  # a --gpu 1 step: runs because the lab sets gpu_workers=1
SCENARIO_S = 250  # the node script fails by itself (step named, screenshot) after this


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _mlpipe_dag(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "dag", str(path), "--format", "json"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    return json.loads(out.stdout)


def _prerequisites() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (make system-deps)")
    if not (REPO / "node_modules" / "playwright-core").is_dir():
        missing.append("node_modules/playwright-core (jlpm install)")
    if not (REPO / "labextension" / "static" / "style.js").exists():
        missing.append("labextension/static (jlpm build)")
    if missing:
        pytest.fail("browser tests need: " + ", ".join(missing))


def _wait_for(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            pytest.fail(f"jupyter lab exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"jupyter lab did not answer {url} in {timeout}s:\n{log.read_text()[-3000:]}")


def _scenario(lab: dict[str, Any], name: str, notebook: str, **extra: Any) -> list[str]:
    """Run one scenario; return its PASS lines, or fail with its output and the failing step."""
    config = {"url": lab["url"], "token": lab["token"], "notebook": notebook,
              "outDir": str(RESULTS / name), "deadlineS": SCENARIO_S, **extra}  # fmt: skip
    command = ["node", str(SCRIPT), name]
    env = {**os.environ, "MLPIPE_UI": json.dumps(config)}
    try:
        done = subprocess.run(command, cwd=HERE, capture_output=True, text=True,
                              timeout=SCENARIO_S + 30, env=env)  # fmt: skip
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as late:
        output, code = _text(late.stdout) + _text(late.stderr), None
        output += f"\nFAIL {name}: node did not exit within {SCENARIO_S + 30}s"
    print(output)
    kernels = _shut_down_kernels(lab)
    if code == 0 and notebook in kernels:
        output += f"\nFAIL {name}: opening {notebook} started a kernel (the scenarios need none)"
        code = 1
    if code != 0:
        failed = [line for line in output.splitlines() if line.startswith("FAIL ")] or [f"FAIL {name}"]
        tail = lab["log"].read_text()[-2500:]
        pytest.fail(f"{failed[-1]}\n{output[-4000:]}\n--- jupyter lab log ---\n{tail}")
    return [line for line in output.splitlines() if line.startswith("PASS ")]


def _text(out: str | bytes | None) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else (out or "")


def _shut_down_kernels(lab: dict[str, Any]) -> list[str]:
    """Shut down the kernels a scenario left (a failed step's notebook opens with one).

    Returns the paths of the notebooks they were for.
    """
    sessions = _api(lab, "api/sessions")
    for session in sessions:
        _api(lab, f"api/sessions/{session['id']}", method="DELETE")
    return [session["path"] for session in sessions]


def _new_dependency(dag: dict[str, Any]) -> dict[str, Any]:
    """An edit that adds an edge: a later step reading a name an earlier one binds."""
    steps = dag["steps"]
    edges = {(e["from"], e["to"]) for e in dag["edges"]}
    for j, reader in enumerate(steps):
        for i in range(j):
            producer = steps[i]
            for name in producer["binds"]:
                rebound = any(name in s["binds"] for s in steps[i + 1 : j + 1])
                if (producer["name"], reader["name"]) not in edges and not rebound:
                    return {"from": producer["name"], "to": reader["name"], "var": name,
                            "cell": reader["cell"]}  # fmt: skip
    raise AssertionError("no edit adds a dependency to this DAG")


def test_sidebar_draws_the_dag_and_follows_edits(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "breast_cancer.ipynb")
    assert len(dag["steps"]) >= 3 and dag["edges"]
    passed = _scenario(lab, "static", "breast_cancer.ipynb", dag=dag, edit=_new_dependency(dag))
    assert len(passed) == 4, passed


def test_analysis_error_is_one_line_that_selects_its_cell(lab: dict[str, Any]) -> None:
    notebook = lab["root"] / "fixtures" / "cycle.ipynb"
    error = _mlpipe_dag(notebook)["errors"][0]
    cell = json.loads(notebook.read_text())["cells"][error["cell"]]
    source = "".join(cell["source"])
    error.update(cellStart=source.splitlines()[0])
    passed = _scenario(lab, "errors", "fixtures/cycle.ipynb", error=error)
    assert len(passed) == 2, passed


def test_run_from_the_panel_then_everything_cached(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "run" / RUN_NOTEBOOK)
    passed = _scenario(lab, "run", f"run/{RUN_NOTEBOOK}", dag=dag)
    assert len(passed) == 4, passed
    status = _get(lab, "status")  # the server's warm cluster, through jupyter-server-proxy
    assert status["dashboard_link"] and status["dashboard_proxy"], status
    link = f"{lab['url']}{status['dashboard_proxy']}"
    assert f"PASS dashboard link {link} answers 200" in passed, passed


def test_broken_step_fails_and_opens_its_notebook(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "failure" / RUN_NOTEBOOK)
    first_reader = next(e["to"] for e in dag["edges"] if e["from"] == dag["order"][0])
    downstream = sorted({e["to"] for e in dag["edges"] if e["from"] == first_reader})
    broken = {"step": first_reader, "downstream": downstream}
    passed = _scenario(lab, "failure", f"failure/{RUN_NOTEBOOK}", dag=dag, broken=broken)
    assert len(passed) == 3, passed  # failed + skipped, opens, at the traceback


def test_gpu_step_runs_from_the_panel_with_gpu_workers(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "gpu" / GPU_NOTEBOOK)
    [gpu_step] = [s["name"] for s in dag["steps"] if s["resources"]["gpu"]]
    passed = _scenario(lab, "gpu", f"gpu/{GPU_NOTEBOOK}", dag=dag, gpuStep=gpu_step)
    assert len(passed) == 1, passed


def test_publish_then_schedule_with_a_cron_preview(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "publish" / RUN_NOTEBOOK)
    schedule = {
        "pipeline": "fanout-nightly",
        "cron": {"expr": "0 6 * * 1-5", "description": "every weekday at 06:00"},
        "badCron": "61 6 * * *",
        "params": "n = 2000\nwork_s = 0.1",
    }
    passed = _scenario(lab, "schedule", f"publish/{RUN_NOTEBOOK}", dag=dag, schedule=schedule,
                       sidebarWidth=320)  # fmt: skip
    assert len(passed) == 3, passed
    listed = _get(lab, "schedules")
    assert [(s["name"], s["cron"], s["paused"], s["params"]) for s in listed] == [
        ("fanout-nightly", "0 6 * * 1-5", True, {"n": 2000, "work_s": 0.1})
    ]
    assert [(p["name"], p["version"]) for p in _get(lab, "pipelines")] == [("fanout-nightly", 1)]


def _get(lab: dict[str, Any], route: str) -> Any:
    return _api(lab, f"mlpipe/api/{route}")


def _api(lab: dict[str, Any], route: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{lab['url']}{route}?token={lab['token']}", method=method)
    with urllib.request.urlopen(request, timeout=30) as answer:
        body = answer.read()
    return json.loads(body) if body else None
