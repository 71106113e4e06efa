"""Faults: dying workers and kernels, timeouts, retries, corrupt artifacts, races, cancel."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.cache.store import Store

pytestmark = pytest.mark.integration

SETUP = "import os, time"
LOAD = "%%step load\nraw = list(range(5))"
USE = "%%step use\ntotal = sum(raw)\nprint(total)"


def statuses(record: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


@pytest.fixture
def run(dask_processes, tmp_path):  # noqa: ANN001, ANN201
    store = tmp_path / "store"

    def go(path: Path, **kwargs: object) -> dict:
        return service.run(path, {}, store=store, scheduler=dask_processes.address, **kwargs)

    go.store = store  # type: ignore[attr-defined]
    return go


def _wait_for_file(path: Path, timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.1)
    raise TimeoutError(f"{path} never appeared")


def test_worker_killed_mid_step_is_rerun_elsewhere(own_dask_processes, write_notebook,
                                                   tmp_path) -> None:  # noqa: ANN001
    def run(path):  # noqa: ANN001, ANN202 - on a cluster of its own: a worker is killed
        return service.run(path, {}, store=tmp_path / "store",
                           scheduler=own_dask_processes.address)

    marker = tmp_path / "worker.pid"
    slow = (
        "%%step slow --outputs done\n"
        f"marker = {str(marker)!r}\n"
        "if not os.path.exists(marker):\n"
        "    parent = lambda p: int(open(f'/proc/{p}/stat').read().rsplit(')', 1)[1].split()[1])\n"
        "    pid = os.getppid()  # the worker process, above a kernel pool's fork server:\n"
        "    while b'dask' not in open(f'/proc/{parent(pid)}/cmdline', 'rb').read():\n"
        "        pid = parent(pid)  # the child of `dask worker` (its nanny, which restarts it)\n"
        "    open(marker, 'w').write(str(pid))\n"
        "    time.sleep(60)\n"
        "done = True"
    )
    path = write_notebook([SETUP, slow])
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(run(path)))
    runner.start()
    worker_pid = int(_wait_for_file(marker))
    os.kill(worker_pid, signal.SIGKILL)  # the dask worker process running the step
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert result["status"] == "succeeded", result["steps"]["slow"].get("error")
    assert statuses(result) == {"slow": "succeeded"}


def test_kernel_exit_reports_kernel_died(run, write_notebook) -> None:  # noqa: ANN001
    crash = "%%step crash --outputs x\nif raw:\n    os._exit(1)\nx = raw"
    path = write_notebook([SETUP, LOAD, crash])
    record = run(path)
    assert record["status"] == "failed"
    assert statuses(record) == {"load": "succeeded", "crash": "failed"}
    assert record["steps"]["crash"]["error"] == "kernel died, possibly out of memory (step 'crash')"
    # Nothing of the dead step is cached: the next run tries it again, load comes from the cache.
    again = run(path)
    assert statuses(again) == {"load": "cached", "crash": "failed"}
    assert again["steps"]["crash"]["reason"] == "no cache entry"


def test_timeout_interrupts_the_step(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, "%%step sleepy --timeout 1.5\ntime.sleep(60)\nx = 1"])
    started = time.monotonic()
    record = run(path)
    assert time.monotonic() - started < 40
    assert record["steps"]["sleepy"]["status"] == "failed"
    assert record["steps"]["sleepy"]["error"] == "step 'sleepy' timed out after 1.5s"


def test_retries_rerun_a_failing_step(run, write_notebook, tmp_path) -> None:  # noqa: ANN001
    marker = tmp_path / "tried"
    flaky = (
        "%%step flaky --retries 2 --outputs x\n"
        f"if not os.path.exists({str(marker)!r}):\n"
        f"    open({str(marker)!r}, 'w').write('1')\n"
        "    raise RuntimeError('first try fails')\n"
        "x = 1"
    )
    path = write_notebook([SETUP, flaky])
    events: list[dict] = []
    record = run(path, on_event=events.append)
    assert record["steps"]["flaky"]["status"] == "succeeded"
    assert record["steps"]["flaky"]["attempt"] == 2
    assert [e["attempt"] for e in events if e["event"] == "retry"] == [2]


def test_truncated_artifact_is_recomputed_not_loaded(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, LOAD, USE])
    first = run(path)
    store = Store.open(run.store)
    entry = store.lookup(first["steps"]["load"]["cache_key"])
    artifact = store.artifact_path(entry.outputs["raw"])
    artifact.write_bytes(artifact.read_bytes()[:5])
    second = run(path)
    assert second["status"] == "succeeded"
    assert statuses(second) == {"load": "succeeded", "use": "cached"}  # same bytes: cutoff
    assert "unusable" in second["steps"]["load"]["reason"]
    assert store.get(store.lookup(second["steps"]["load"]["cache_key"]).outputs["raw"]) == [
        0, 1, 2, 3, 4,
    ]


def test_a_flipped_byte_found_at_load_reruns_the_producer_in_the_same_run(
        run, write_notebook) -> None:  # noqa: ANN001
    double = "%%step double\ndoubled = [x * 2 for x in raw]"
    use = "%%step use\ntotal = sum(doubled)"
    path = write_notebook([SETUP, LOAD, double, use])
    first = run(path)
    assert statuses(first) == {"load": "succeeded", "double": "succeeded", "use": "succeeded"}
    store = Store.open(run.store)
    artifact = store.artifact_path(store.lookup(first["steps"]["load"]["cache_key"]).outputs["raw"])
    data = bytearray(artifact.read_bytes())
    data[len(data) // 2] ^= 0x01  # one byte flipped, the size unchanged: the lookup trusts it
    artifact.write_bytes(bytes(data))
    path = write_notebook([SETUP, LOAD, double + "\nnote = 'edited'", use])  # double must run
    events: list[dict] = []
    second = run(path, on_event=events.append)
    assert second["status"] == "succeeded", second["steps"]
    assert statuses(second) == {"load": "succeeded", "double": "succeeded", "use": "cached"}
    assert second["steps"]["load"]["reason"] == (
        "re-run: artifact of raw from step 'load' failed its checksum")
    assert second["steps"]["double"]["reason"] == (
        "re-run: its input raw from step 'load' failed its checksum")
    key = store.lookup(first["steps"]["load"]["cache_key"]).outputs["raw"].key
    assert [e["message"] for e in events if e["event"] == "warning"] == [
        f"the artifact of raw from step 'load' ({key[:12]}) failed its checksum when step"
        " 'double' loaded it: its cache entry is dropped, 'load' re-runs, then 'double'"]
    values = {name: store.get(store.lookup(second["steps"][name]["cache_key"]).outputs[var])
              for name, var in [("load", "raw"), ("double", "doubled"), ("use", "total")]}
    assert values == {"load": [0, 1, 2, 3, 4], "double": [0, 2, 4, 6, 8], "use": 20}


def test_two_runs_at_once_both_finish_and_the_cache_is_valid(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, LOAD, USE, "%%step other\nn = len(raw)"])
    results: list[dict] = []
    threads = [threading.Thread(target=lambda: results.append(run(path))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert [r["status"] for r in results] == ["succeeded", "succeeded"]
    third = run(path)
    assert set(statuses(third).values()) == {"cached"}
    store = Store.open(run.store)
    assert store.get(store.lookup(third["steps"]["load"]["cache_key"]).outputs["raw"]) == [
        0, 1, 2, 3, 4,
    ]


@pytest.mark.parametrize("value", ["(i for i in range(3))", "__import__('threading').Lock()"])
def test_unsavable_output_fails_naming_the_variable(run, write_notebook, value) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, f"%%step make\nthing = {value}", "%%step use\nprint(thing)"])
    record = run(path)
    assert record["steps"]["make"]["status"] == "failed"
    assert "output 'thing'" in record["steps"]["make"]["error"]
    assert record["steps"]["use"]["status"] == "skipped"
    assert [e.step for e in Store.open(run.store).entries()] == []


def test_cancel_stops_a_running_run(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, "%%step sleepy\ntime.sleep(60)\nx = 1", "%%step after\ny = x"])
    events: list[dict] = []
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(run(path, on_event=events.append)))
    runner.start()
    deadline = time.monotonic() + 60
    while not any(e.get("status") == "running" for e in events):
        assert time.monotonic() < deadline, "the step never started"
        time.sleep(0.1)
    assert service.cancel(run.store, events[0]["run_id"]) is True
    runner.join(timeout=60)
    assert result["status"] == "cancelled"
    assert statuses(result) == {"sleepy": "skipped", "after": "skipped"}
    assert result["steps"]["after"]["reason"] == "run cancelled"
