from __future__ import annotations

import multiprocessing
import time

import pytest
from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter.schedule import publish, scheduler, schedules
from mlpipe_jupyter.schedule.cron import CronError
from mlpipe_jupyter.schedule.errors import Conflict, NotFound


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "store"
    publish.publish(write_notebook(tmp_path / "nb.ipynb", TWO_STEPS), "nightly", root)
    return root


class Recorder:
    def __init__(self):
        self.calls = []

    def __call__(self, request):
        self.calls.append(request)
        return f"run-{len(self.calls)}"


def test_add_list_pause_resume_remove(store):
    added = schedules.add(store, "nightly", "0 2 * * *", params={"scale": 5})
    assert added.pipeline == "nightly" and added.params == {"scale": 5}
    assert added.to_json()["description"] == "every day at 02:00"
    assert [s.name for s in schedules.list_schedules(store)] == ["nightly"]
    with pytest.raises(Conflict, match="already exists"):
        schedules.add(store, "nightly", "@daily")
    paused = schedules.set_paused(store, "nightly", True)
    assert paused.paused and paused.to_json()["next_run"] is None
    assert schedules.due(store, time.time() + 10 * 86400) == []
    resumed = schedules.set_paused(store, "nightly", False)
    assert not resumed.paused and resumed.next_run > time.time()
    schedules.remove(store, "nightly")
    with pytest.raises(NotFound):
        schedules.remove(store, "nightly")


def test_bad_cron_is_refused_before_anything_is_stored(store):
    with pytest.raises(CronError, match="minute must be 0-59"):
        schedules.add(store, "x", "61 * * * *", pipeline="nightly")
    assert schedules.list_schedules(store) == []


def test_due_schedule_fires_once_with_its_params_and_moves_on(store):
    added = schedules.add(store, "s", "*/5 * * * *", pipeline="nightly", params={"scale": 9})
    recorder = Recorder()
    assert scheduler.fire_due(store, added.next_run - 1, start=recorder) == []
    fired = scheduler.fire_due(store, added.next_run + 1, start=recorder)
    assert [(f.schedule, f.version, f.run_id) for f in fired] == [("s", 1, "run-1")]
    [request] = recorder.calls
    assert request.params == {"scale": 9} and request.store == store
    assert request.notebook == store / "pipelines" / "nightly" / "v1" / "notebook.ipynb"
    assert scheduler.fire_due(store, added.next_run + 2, start=recorder) == []
    state = schedules.get(store, "s")
    assert state.last_run_id == "run-1" and state.next_run > added.next_run + 2


def test_after_downtime_a_schedule_fires_once_not_once_per_missed_time(store):
    added = schedules.add(store, "s", "* * * * *", pipeline="nightly")
    recorder = Recorder()
    later = added.next_run + 3600  # 60 fire times missed
    assert len(scheduler.fire_due(store, later, start=recorder)) == 1
    assert scheduler.fire_due(store, later, start=recorder) == []
    assert len(recorder.calls) == 1


def test_a_failing_schedule_records_its_error_and_others_still_fire(store):
    schedules.add(store, "broken", "* * * * *", pipeline="unpublished")
    schedules.add(store, "ok", "* * * * *", pipeline="nightly")
    fired = scheduler.fire_due(store, time.time() + 120, start=Recorder())
    outcome = {f.schedule: (f.run_id, f.error) for f in fired}
    assert outcome["ok"] == ("run-1", None)
    assert "pipeline 'unpublished' is not published" in outcome["broken"][1]
    assert "is not published" in schedules.get(store, "broken").last_error


def _fire_in_process(store: str, now: float, log: str, barrier) -> None:  # noqa: ANN001
    def start(request: object) -> str:
        with open(log, "a") as out:
            out.write(f"{multiprocessing.current_process().pid}\n")
        return "run"

    barrier.wait()
    scheduler.fire_due(store, now, start=start)


def test_two_scheduler_processes_fire_a_due_schedule_exactly_once(store, tmp_path):
    added = schedules.add(store, "s", "* * * * *", pipeline="nightly")
    log = tmp_path / "fired.log"
    context = multiprocessing.get_context("spawn")
    for round_ in range(3):
        now = added.next_run + 60 * round_ + 1
        barrier = context.Barrier(2)
        workers = [
            context.Process(target=_fire_in_process, args=(str(store), now, str(log), barrier))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
            assert worker.exitcode == 0
        assert len(log.read_text().splitlines()) == round_ + 1
