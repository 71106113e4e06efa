from __future__ import annotations

import multiprocessing
import re
import sqlite3

import pytest

from mlpipe_jupyter.execute.records import SCHEMA_VERSION, Records, RunNotFound, new_run_id


@pytest.fixture
def records(tmp_path) -> Records:
    return Records(tmp_path / "store")


def test_create_run_gives_a_running_record_with_pending_steps(records) -> None:
    run_id = records.create_run("/nb/churn.ipynb", {"lr": 0.1}, ["load", "train", "report"])
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", run_id)
    run = records.get_run(run_id)
    assert run["status"] == "running" and run["params"] == {"lr": 0.1}
    assert run["notebook"] == "/nb/churn.ipynb" and run["finished"] is None
    assert list(run["steps"]) == ["load", "train", "report"]
    assert run["steps"]["load"]["status"] == "pending"
    assert set(run["steps"]["load"]) >= {
        "status", "reason", "worker", "duration_s", "cache_key", "notebook", "error"}


def test_steps_stay_in_pipeline_order_not_alphabetical(records) -> None:
    run_id = records.create_run("nb.ipynb", {}, ["zeta", "alpha", "mid"])
    assert list(records.get_run(run_id)["steps"]) == ["zeta", "alpha", "mid"]


def test_update_step_and_finish_run(records) -> None:
    run_id = records.create_run("nb.ipynb", {}, ["load", "train"])
    records.update_step(run_id, "load", status="cached", reason="cache hit", cache_key="ab" * 32)
    records.update_step(run_id, "train", status="running", worker="tcp://w1", attempt=1)
    records.finish_run(run_id, "failed", error="step 'train' failed")
    run = records.get_run(run_id)
    assert run["status"] == "failed" and run["error"] == "step 'train' failed"
    assert run["finished"] >= run["started"]
    assert run["steps"]["load"]["status"] == "cached"
    assert run["steps"]["load"]["cache_key"] == "ab" * 32
    assert run["steps"]["train"]["status"] == "skipped"
    assert run["steps"]["train"]["reason"] == "run failed"


def test_bad_updates_name_the_problem(records) -> None:
    run_id = records.create_run("nb.ipynb", {}, ["load"])
    with pytest.raises(ValueError, match="unknown step field\\(s\\) colour"):
        records.update_step(run_id, "load", colour="red")
    with pytest.raises(ValueError, match="step status 'done' is not one of"):
        records.update_step(run_id, "load", status="done")
    with pytest.raises(ValueError, match="has no step 'nope'"):
        records.update_step(run_id, "nope", status="running")
    with pytest.raises(RunNotFound, match="no run 'x'"):
        records.update_step("x", "load", status="running")
    with pytest.raises(RunNotFound):
        records.get_run("x")
    with pytest.raises(ValueError, match="a run finishes as one of"):
        records.finish_run(run_id, "running")


def test_cancel_only_a_running_run(records) -> None:
    run_id = records.create_run("nb.ipynb", {}, ["load"])
    assert records.cancel_requested(run_id) is False
    assert records.request_cancel(run_id) is True
    assert records.cancel_requested(run_id) is True
    records.finish_run(run_id, "cancelled")
    other = records.create_run("nb.ipynb", {}, ["load"])
    records.finish_run(other, "succeeded")
    assert records.request_cancel(other) is False and records.cancel_requested(other) is False


def test_list_runs_newest_first_with_limit(records) -> None:
    ids = [records.create_run(f"nb{i}.ipynb", {}, ["s"], started=1000.0 + i) for i in range(3)]
    listed = records.list_runs(limit=2)
    assert [r["run_id"] for r in listed] == [ids[2], ids[1]]
    assert listed[0]["steps"] == {"s": listed[0]["steps"]["s"]}
    assert records.list_runs() and Records(records.path.parent).list_runs(limit=0) == []


def test_run_ids_sort_by_time() -> None:
    assert new_run_id(1_000_000_000) < new_run_id(1_000_000_001) < new_run_id(2_000_000_000)
    assert new_run_id(0).startswith("19700101-000000-")


def test_schema_is_idempotent_and_versioned_in_wal_mode(records) -> None:
    Records(records.path.parent)
    with sqlite3.connect(records.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        version = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert version == (str(SCHEMA_VERSION),)


def test_a_version_1_store_gains_the_discovered_column(records) -> None:
    from mlpipe_jupyter.execute import records as module

    run_id = records.create_run("nb.ipynb", {}, ["a"])
    with sqlite3.connect(records.path) as conn:
        conn.execute("ALTER TABLE steps DROP COLUMN discovered")
        conn.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")
    module._READY.clear()
    again = Records(records.path.parent)
    again.update_step(run_id, "a", status="succeeded", discovered=["file:m.joblib from train"])
    assert again.get_run(run_id)["steps"]["a"]["discovered"] == ["file:m.joblib from train"]


def test_fail_if_running_marks_a_running_run_failed_once(records) -> None:
    run_id = records.create_run("nb.ipynb", {}, ["a", "b"])
    records.update_step(run_id, "a", status="succeeded")
    assert records.fail_if_running(run_id, "the run process exited with code 9\nmore") is True
    record = records.get_run(run_id)
    assert (record["status"], record["error"]) == ("failed", "the run process exited with code 9")
    assert {n: s["status"] for n, s in record["steps"].items()} == {
        "a": "succeeded", "b": "skipped",
    }
    assert records.fail_if_running(run_id, "later") is False
    assert records.get_run(run_id)["error"] == "the run process exited with code 9"


def _worker(root: str, name: str, count: int) -> None:
    records = Records(root)
    for i in range(count):
        run_id = records.create_run(f"{name}.ipynb", {"i": i}, ["a", "b"])
        records.update_step(run_id, "a", status="succeeded", worker=name)
        records.update_step(run_id, "b", status="cached")
        records.finish_run(run_id, "succeeded")


@pytest.mark.timeout(120)
def test_two_processes_share_the_records(tmp_path) -> None:
    root = str(tmp_path / "store")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_worker, args=(root, name, 20)) for name in ("cli", "server")]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(90)
        assert proc.exitcode == 0
    runs = Records(root).list_runs(limit=100)
    assert len(runs) == 40 and {r["status"] for r in runs} == {"succeeded"}
    assert sorted({r["steps"]["a"]["worker"] for r in runs}) == ["cli", "server"]


def test_a_newer_schema_is_refused_with_the_fix(records) -> None:
    from mlpipe_jupyter.execute import records as module

    conn = sqlite3.connect(records.path)
    conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    conn.commit()
    conn.close()
    module._READY.clear()
    with pytest.raises(RuntimeError, match="newer mlpipe-jupyter .*upgrade"):
        Records(records.path.parent)
