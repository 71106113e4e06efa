"""Retry from outside (issue 24): a failed run, then a cancelled one, retried with real
kernels on a real cluster. The new run uses the run's notebook snapshot and parameters,
reuses what succeeded, runs the rest, and names the run it retries; its `--dry` plan is
what it then does."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbfiles import write_notebook

pytestmark = pytest.mark.integration

CELLS = [
    "import os\nimport time",
    "%%params\nn = 4",
    "%%step load\nxs = list(range(n))",
    "%%step flaky\nif not os.path.exists('ok.flag'):\n    raise RuntimeError('not yet')\n"
    "total = sum(xs)",
    "%%step report\nprint('total', total)",
]
SLOW = [
    "import os\nimport time",
    "%%step load\nxs = list(range(4))",
    "%%step slow\nwhile not os.path.exists('go.flag'):\n    time.sleep(0.1)\ntotal = sum(xs)",
    "%%step report\nprint('total', total)",
]
EXPECTED = {"run": ("succeeded",), "cached": ("cached",), "skipped": ("skipped",)}


def statuses(record: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


def mlpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_retry_after_a_failure_reuses_what_succeeded_from_the_run_snapshot(tmp_path) -> None:
    import mlpipe_jupyter as mlp

    path = write_notebook(tmp_path / "nb.ipynb", CELLS)
    first = mlp.load(path).run(params={"n": 5}, workers=1)
    assert statuses(first.record) == {"load": "succeeded", "flaky": "failed", "report": "skipped"}
    # The notebook changes on disk after the run: the retry runs the notebook that run ran.
    write_notebook(path, [*CELLS, "%%step extra\nprint('added later')"])
    (tmp_path / "ok.flag").write_text("")
    second = first.retry()
    assert second.retry_of == first.id and second.record["retry_of"] == first.id
    assert second.params == {"n": 5}
    assert statuses(second.record) == {"load": "cached", "flaky": "succeeded",
                                       "report": "succeeded"}  # fmt: skip
    assert second["flaky"]["total"] == 10  # n=5 as the retried run had it
    done = mlpipe("retry", second.id, "--dry", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {r["step"]: r["action"] for r in json.loads(done.stdout)["steps"]} == {
        "load": "cached", "flaky": "cached", "report": "cached"}


def test_retry_after_a_cancel_runs_the_cancelled_and_not_started_steps(tmp_path) -> None:
    import mlpipe_jupyter as mlp

    path = write_notebook(tmp_path / "slow.ipynb", SLOW)
    run = mlp.load(path).submit(workers=1)
    deadline = time.monotonic() + 60
    while run.steps["slow"].status.value not in ("running",) and time.monotonic() < deadline:
        assert not run.status.finished, run.record
        time.sleep(0.2)
    run.cancel()
    run.wait(timeout=60)
    assert run.status.value == "cancelled", (run.record["error"], statuses(run.record), [s.error for s in run.steps.values()])
    assert statuses(run.record)["load"] == "succeeded"
    assert statuses(run.record)["slow"] != "succeeded"
    (tmp_path / "go.flag").write_text("")
    planned = mlpipe("retry", run.id, "--dry", "--json", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    plan = {r["step"]: r["action"] for r in json.loads(planned.stdout)["steps"]}
    assert plan == {"load": "cached", "slow": "run", "report": "run"}
    done = mlpipe("retry", run.id, "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr + done.stdout
    record = json.loads(done.stdout)
    assert record["retry_of"] == run.id and record["status"] == "succeeded"
    assert all(record["steps"][s]["status"] in EXPECTED[a] for s, a in plan.items()), record
