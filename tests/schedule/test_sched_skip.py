"""A schedule never starts while its previous run is still going: that fire is recorded
skipped, naming the run (GET schedules' fields, `mlpipe schedule list`); once the run has
ended, the next fire starts a new one. Real run records; the runs are recorded, not run."""

from __future__ import annotations

import time

from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter import service
from mlpipe_jupyter.cli import main
from mlpipe_jupyter.execute.records import Records
from mlpipe_jupyter.schedule import db, publish, scheduler, schedules


def recorded_only(request):  # a starter whose run stays queued: "still going"
    return str(service.record(request).run_id)


def due_now(store) -> None:
    with db.connect(store, write=True) as conn:
        conn.execute("UPDATE schedules SET next_run = ? WHERE name = 'nightly'", (time.time() - 1,))


def test_a_fire_while_the_last_run_is_going_is_skipped(tmp_path, capsys):
    store = tmp_path / "store"
    publish.publish(write_notebook(tmp_path / "nb.ipynb", TWO_STEPS), "nightly", store)
    schedules.add(store, "nightly", "* * * * *", now=time.time() - 120)
    [first] = scheduler.fire_due(store, start=recorded_only)
    assert first.run_id and first.skipped is None

    due_now(store)
    [second] = scheduler.fire_due(store, start=recorded_only)
    assert second.run_id is None and second.error is None
    assert str(second).endswith(f"skipped: run {first.run_id} of the previous fire is still queued")
    shown = schedules.get(store, "nightly").to_json()
    assert shown["skipped"] == 1 and shown["last_run_id"] == first.run_id
    assert shown["last_skip_reason"] == f"run {first.run_id} of the previous fire is still queued"
    assert shown["last_skipped"] and shown["next_run"]
    assert len(service.runs(store)) == 1  # nothing else was recorded

    assert main(["schedule", "list", "--store", str(store)]) == 0
    line = capsys.readouterr().out
    assert f"skipped 1x" in line and f"run {first.run_id} of the previous fire is still queued" in line

    Records(store).fail_if_running(first.run_id, "done")  # it ended
    due_now(store)
    [third] = scheduler.fire_due(store, start=recorded_only)
    assert third.run_id not in (None, first.run_id) and third.skipped is None
    assert schedules.get(store, "nightly").last_run_id == third.run_id


def test_an_older_schedules_table_gets_the_skip_columns(tmp_path):
    store = tmp_path / "store"
    store.mkdir()
    import sqlite3

    with sqlite3.connect(store / "mlpipe.db") as conn:  # the table as it was before
        conn.execute(
            "CREATE TABLE schedules (name TEXT PRIMARY KEY, pipeline TEXT NOT NULL, version"
            " INTEGER, cron TEXT NOT NULL, params TEXT NOT NULL DEFAULT '{}', paused INTEGER"
            " NOT NULL DEFAULT 0, next_run REAL, last_fired REAL, last_run_id TEXT,"
            " last_error TEXT, created REAL NOT NULL)"
        )
        conn.execute("INSERT INTO schedules (name, pipeline, cron, created) VALUES"
                     " ('old', 'old', '* * * * *', 0)")  # fmt: skip
    [old] = schedules.list_schedules(store)
    assert (old.name, old.skipped, old.last_skip_reason) == ("old", 0, None)
