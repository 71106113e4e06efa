"""A scheduler process killed while it starts a fire's run (kill -9 at the moment it would
start the run's process): the fire's run id is already the schedule's `last_run_id` and
the run's row, and the next reader records that run failed, never left running."""

from __future__ import annotations

import json
import subprocess
import sys
import time

from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter import service
from mlpipe_jupyter.schedule import publish, schedules

# The run's child process would start here: report what is recorded, then die as kill -9 would.
KILLED_AT_START = """
import json, os, signal, subprocess, sys
from mlpipe_jupyter import service
from mlpipe_jupyter.schedule import schedules, scheduler

store = sys.argv[1]

popen = subprocess.Popen

def die_instead(command, *args, **kwargs):
    if "--request" not in command:  # not the run's process (croniter runs `file`)
        return popen(command, *args, **kwargs)
    runs = service.runs(store)
    seen = {"last_run_id": schedules.get(store, "nightly").last_run_id,
            "runs": [(r["run_id"], r["status"]) for r in runs]}
    print(json.dumps(seen), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)

subprocess.Popen = die_instead
scheduler.fire_due(store, start=scheduler.start_async)
"""


def test_a_fire_killed_while_it_starts_keeps_its_run_id(tmp_path):
    store = tmp_path / "store"
    publish.publish(write_notebook(tmp_path / "nb.ipynb", TWO_STEPS), "nightly", store)
    schedules.add(store, "nightly", "* * * * *", now=time.time() - 120)
    killed = subprocess.run([sys.executable, "-c", KILLED_AT_START, str(store)],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert killed.returncode == -9, killed.stderr
    seen = json.loads(killed.stdout)
    [(run_id, status)] = seen["runs"]
    assert seen["last_run_id"] == run_id and status == "running"  # before anything started

    after = schedules.get(store, "nightly")
    assert after.last_run_id == run_id and after.next_run > time.time()  # the claim held
    record = service.run_record(store, run_id)  # a reader: the orchestrator is gone
    assert record["status"] == "failed" and "orchestrator stopped" in record["error"], record
    assert {s["status"] for s in record["steps"].values()} == {"skipped"}
