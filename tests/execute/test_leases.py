"""A run whose orchestrator dies is seen as dead; SIGTERM/SIGHUP cancel a run cleanly.

From outside: a real `mlpipe run` killed with SIGKILL or sent SIGTERM mid-step, then read
with `mlpipe runs --json` as a user would. Unit: the lease rules on the records.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlpipe_jupyter.execute import records as records_module
from mlpipe_jupyter.execute.records import Records

SLOW = [
    {"cell_type": "code", "metadata": {}, "outputs": [], "source": "import time"},
    {"cell_type": "code", "metadata": {}, "outputs": [],
     "source": "%%step slow\ntime.sleep(120)\nx = 1"},
]


def _start(tmp_path: Path) -> subprocess.Popen[str]:
    (tmp_path / "nb.ipynb").write_text(json.dumps(
        {"cells": SLOW, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return subprocess.Popen(
        [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb"], cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def _runs(tmp_path: Path) -> list[dict]:
    done = subprocess.run([sys.executable, "-m", "mlpipe_jupyter", "runs", "--json"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _wait_running(tmp_path: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if (tmp_path / ".mlpipe" / "mlpipe.db").exists():
            runs = _runs(tmp_path)
            if runs and runs[0]["steps"]["slow"]["status"] == "running":
                return
        time.sleep(0.5)
    raise AssertionError("the step never started")


@pytest.mark.integration
def test_a_run_killed_with_sigkill_is_recorded_failed_by_the_next_reader(tmp_path: Path) -> None:
    run = _start(tmp_path)
    try:
        _wait_running(tmp_path)
    finally:
        os.killpg(run.pid, signal.SIGKILL)  # the CLI, its cluster and kernels, at once
        run.wait(timeout=30)
    [record] = _runs(tmp_path)
    assert record["status"] == "failed"
    assert record["error"].startswith("the orchestrator stopped (process ")
    assert record["steps"]["slow"] == {**record["steps"]["slow"], "status": "skipped",
                                       "reason": "run failed"}


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_cancel_the_run_cleanly(tmp_path: Path, signum: int) -> None:
    run = _start(tmp_path)
    try:
        _wait_running(tmp_path)
        run.send_signal(signum)
        _out, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
    assert run.returncode == 130 and "mlpipe: interrupted" in err
    [record] = _runs(tmp_path)
    assert record["status"] == "cancelled", record
    assert record["steps"]["slow"]["status"] == "skipped"
    deadline = time.monotonic() + 20  # its kernels and workers are gone with it
    while time.monotonic() < deadline:
        left = subprocess.run(["pgrep", "-s", str(run.pid)], capture_output=True, text=True)
        if not left.stdout.strip():
            break
        time.sleep(0.5)
    assert not left.stdout.strip(), f"processes left in the run's session: {left.stdout}"


def test_lease_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    records = Records(tmp_path)
    renewed = records.create_run("nb.ipynb", {}, ["a"])
    expired = records.create_run("nb.ipynb", {}, ["a"])
    elsewhere = records.create_run("nb.ipynb", {}, ["a"])
    records.renew_lease(renewed)
    with records._connect(write=True) as conn:
        conn.execute("UPDATE leases SET until = ? WHERE run_id = ?", (time.time() - 1, expired))
        conn.execute("UPDATE leases SET host = 'other', pid = 1 WHERE run_id = ?", (elsewhere,))
    assert records.reap() == [expired]
    assert records.get_run(renewed)["status"] == "running"
    assert records.get_run(elsewhere)["status"] == "running"  # alive until its lease ends
    later = time.time() + records_module.START_GRACE_S + 1  # nobody renewed since
    monkeypatch.setattr(records_module.time, "time", lambda: later)
    assert sorted(records.reap()) == sorted([renewed, elsewhere])
    assert records.get_run(elsewhere)["error"].startswith(
        "the orchestrator stopped (process 1 on other")
