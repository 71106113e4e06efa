"""Retention on an object-storage store (moto's S3 server): a prune looping while a run
reuses an entry from the bucket never removes what the run then needs, and `store info`
and `store check` read the bucket (issue 26)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from nbfiles import write_notebook

import mlpipe_jupyter as mlp
from mlpipe_jupyter import housekeeping
from mlpipe_jupyter.cache.retention import Policy

from remote_env import BUCKET

pytestmark = pytest.mark.integration

CELLS = [
    "import time",
    "%%step load\nvalues = list(range(100))",
    "%%step use\ntime.sleep(1.0)\ntotal = sum(values) * FACTOR\nprint('total', total)",
]


def _notebook(folder: Path, factor: int) -> Path:
    return write_notebook(folder / "race.ipynb",
                          [c.replace("FACTOR", str(factor)) for c in CELLS])


def test_a_prune_racing_a_run_on_s3(s3, tmp_path) -> None:
    url = f"s3://{BUCKET}/gc-race"
    first = mlp.load(_notebook(tmp_path, 1)).run(store=url, workers=1)
    assert first.status == "succeeded", first.record
    done, counts = threading.Event(), []

    def prune() -> None:
        while not done.is_set():
            report = housekeeping.prune(url, Policy(older_than_s=0.0), grace_s=0.0)
            counts.append(report.entries_removed)
            time.sleep(0.05)

    pruner = threading.Thread(target=prune, daemon=True)
    pruner.start()
    try:
        second = mlp.load(_notebook(tmp_path, 2)).run(store=url, workers=1)
    finally:
        done.set()
        pruner.join(timeout=60)
    steps = {name: str(step.status) for name, step in second.steps.items()}
    assert steps == {"load": "cached", "use": "succeeded"}, second.record
    assert second["use"]["total"] == 9900 and len(counts) > 1
    info = mlp.store_info(url)
    assert info["format"] == 2 and info["entries"] >= 1
    assert housekeeping.check(url).ok
