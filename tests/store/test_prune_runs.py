"""Retention against real runs (kernels, the embedded Dask cluster): two notebooks in one
store keep their results through a prune, and a prune racing a run never removes what the
run then needs (a thread of this process, and a second process)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from nbfiles import write_notebook

import mlpipe_jupyter as mlp
from mlpipe_jupyter import housekeeping
from mlpipe_jupyter.cache.retention import Policy

pytestmark = pytest.mark.integration

TWO_STEPS = [
    "%%step load\nvalues = [1, 2, 3]",
    "%%step report\ntotal = sum(values)\nprint('total', total)",
]


def mlpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def statuses(run: mlp.Run) -> dict[str, str]:
    return {name: str(step.status) for name, step in run.steps.items()}


def test_a_prune_keeps_both_notebooks_latest_results(tmp_path) -> None:
    store = tmp_path / "st"
    for name, values in (("a", "[1, 2, 3]"), ("b", "[4, 5, 6]")):
        cells = [c.replace("[1, 2, 3]", values) for c in TWO_STEPS]
        write_notebook(tmp_path / f"{name}.ipynb", cells)
        first = mlp.load(tmp_path / f"{name}.ipynb").run(store=store, workers=1)
        assert first.status == "succeeded", first.record
    pruned = mlpipe("cache", "prune", "--store", "st", cwd=tmp_path)
    assert pruned.returncode == 0, pruned.stderr
    assert "removed 0 cache entries" in pruned.stdout
    again = mlp.load(tmp_path / "a.ipynb").run(store=store, workers=1)
    assert statuses(again) == {"load": "cached", "report": "cached"}
    assert again["report"]["total"] == 6
    info = mlp.store_info(store)
    assert sorted(p.rsplit("/", 1)[-1] for p in info["projects"]) == ["a.ipynb", "b.ipynb"]


RACE = [
    "import time",
    "%%step load\nvalues = list(range(100))",
    "%%step use\ntime.sleep({sleep})\ntotal = sum(values) * {factor}\nprint('total', total)",
]


def _race_notebook(folder: Path, factor: int) -> Path:
    cells = [c.replace("{sleep}", "1.0").replace("{factor}", str(factor)) for c in RACE]
    return write_notebook(folder / "race.ipynb", cells)


def _prune_until(done: threading.Event, store: Path, counts: list[int]) -> None:
    """Prune as hard as a policy can (everything unused for 0 s) until `done`."""
    while not done.is_set():
        report = housekeeping.prune(store, Policy(older_than_s=0.0), grace_s=0.0)
        counts.append(report.entries_removed)
        time.sleep(0.05)


def test_a_prune_racing_a_run_never_removes_what_it_needs(tmp_path) -> None:
    store = tmp_path / "st"
    first = mlp.load(_race_notebook(tmp_path, 1)).run(store=store, workers=1)
    assert first["use"]["total"] == 4950
    # `use` changes: `load` is reused from the entry of the first run, which a prune may
    # take once this run is the notebook's latest (its steps have no keys yet)
    done, counts = threading.Event(), []
    pruner = threading.Thread(target=_prune_until, args=(done, store, counts), daemon=True)
    pruner.start()
    try:
        second = mlp.load(_race_notebook(tmp_path, 2)).run(store=store, workers=1)
    finally:
        done.set()
        pruner.join(timeout=60)
    assert statuses(second) == {"load": "cached", "use": "succeeded"}, second.record
    assert second["use"]["total"] == 9900
    assert len(counts) > 3  # the prunes really ran during the run


def test_a_prune_in_another_process_racing_a_run(tmp_path) -> None:
    store = tmp_path / "st"
    mlp.load(_race_notebook(tmp_path, 1)).run(store=store, workers=1)
    _race_notebook(tmp_path, 3)
    loop = ("import sys, time\nfrom mlpipe_jupyter import housekeeping\n"
            "from mlpipe_jupyter.cache.retention import Policy\n"
            "end = time.time() + 60\n"
            "while time.time() < end:\n"
            "    housekeeping.prune(sys.argv[1], Policy(older_than_s=0.0), grace_s=0.0)\n"
            "    time.sleep(0.05)\n")
    pruner = subprocess.Popen([sys.executable, "-c", loop, str(store)])
    try:
        run = mlpipe("run", "race.ipynb", "--store", "st", "--json", "--workers", "1",
                     cwd=tmp_path)
    finally:
        pruner.kill()
        pruner.wait()
    assert run.returncode == 0, run.stderr
    record = mlp.get_run(__import__("json").loads(run.stdout)["run_id"], store=store)
    assert statuses(record) == {"load": "cached", "use": "succeeded"}
    assert record["use"]["total"] == 14850
