"""`mlpipe scheduler --once` over the real execution service, two processes at once."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter.schedule import publish, schedules

pytestmark = pytest.mark.integration
service = pytest.importorskip("mlpipe_jupyter.service", reason="the execution service has not landed")


def test_two_schedulers_fire_a_due_schedule_exactly_once(tmp_path):
    store = tmp_path / "store"
    publish.publish(write_notebook(tmp_path / "nb.ipynb", TWO_STEPS), "nightly", store)
    schedules.add(store, "nightly", "* * * * *", params={"scale": 7}, now=time.time() - 120)
    command = [sys.executable, "-m", "mlpipe_jupyter", "scheduler", "--once", "--store", str(store)]
    processes = [
        subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    fired = [line for out, _ in outputs for line in out.splitlines() if "run " in line]
    assert len(fired) == 1, outputs
    runs = service.runs(str(store))
    assert len(runs) == 1 and runs[0]["status"] == "succeeded", runs
    assert runs[0]["params"] == {"scale": 7}
    assert schedules.get(store, "nightly").last_run_id == runs[0]["run_id"]
