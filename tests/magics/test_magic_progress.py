"""The %pipeline run progress view, driven by synthetic events (no kernel)."""

from __future__ import annotations

from mlpipe_jupyter.magics.progress import (
    ProgressModel,
    ProgressView,
    TextView,
    WidgetView,
    format_elapsed,
    progress_view,
)


def step(name: str, status: str, **extra: object) -> dict[str, object]:
    return {"event": "step", "step": name, "status": status, **extra}


def test_model_folds_step_events_into_rows() -> None:
    model = ProgressModel(["load", "train"])
    assert model.apply(step("load", "running"), now=10.0) == "load"
    assert model.rows["load"].elapsed(12.5) == 2.5
    model.apply(step("load", "succeeded", reason="ran: code changed", worker="w1"), now=13.0)
    row = model.rows["load"]
    assert (row.status, row.duration_s, row.reason) == ("succeeded", 3.0, "ran: code changed")
    assert row.detail() == "ran: code changed [w1]"
    assert model.rows["train"].status == "pending"


def test_event_duration_wins_over_the_local_clock() -> None:
    model = ProgressModel(["load"])
    model.apply(step("load", "running"), now=0.0)
    model.apply(step("load", "succeeded", duration_s=1.25), now=9.0)
    assert model.rows["load"].elapsed(100.0) == 1.25


def test_cached_step_never_ran() -> None:
    model = ProgressModel(["load"])
    model.apply(step("load", "cached", reason="cached: code unchanged"), now=1.0)
    row = model.rows["load"]
    assert row.elapsed(5.0) is None and row.detail() == "cached: code unchanged"


def test_failed_step_shows_the_last_line_of_its_error() -> None:
    model = ProgressModel(["train"])
    model.apply(step("train", "failed", error="Traceback...\n  line 3\nValueError: bad lr"), 0.0)
    assert model.rows["train"].detail() == "ValueError: bad lr"


def test_repeated_event_changes_nothing_and_unknown_events_are_ignored() -> None:
    model = ProgressModel(["a"])
    assert model.apply(step("a", "queued"), 0.0) == "a"
    assert model.apply(step("a", "queued"), 1.0) is None
    assert model.apply({"event": "log", "text": "hi"}, 1.0) is None
    assert model.apply({"event": "step"}, 1.0) is None
    assert model.apply(step("late", "running"), 1.0) == "late"  # a step not announced
    assert list(model.rows) == ["a", "late"]


def test_run_event_sets_the_summary() -> None:
    model = ProgressModel(["a", "b", "c"])
    model.apply(step("a", "cached"), 0.0)
    model.apply(step("b", "succeeded"), 0.0)
    model.apply({"event": "run", "status": "succeeded", "run_id": "r1"}, 0.0)
    assert model.summary() == "run r1: succeeded (1 cached, 1 succeeded, 1 pending)"


def test_text_view_prints_one_line_per_change_and_one_summary() -> None:
    lines: list[str] = []
    model = ProgressModel(["load", "train"])
    view = ProgressView(model, TextView(model, lines.append))
    view(step("load", "running"))
    view(step("load", "running"))
    view(step("load", "succeeded", duration_s=0.5, reason="ran: no cache entry"))
    view({"event": "run", "status": "succeeded", "run_id": "r9"})
    view({"event": "run", "status": "succeeded", "run_id": "r9"})
    assert len(lines) == 3
    assert lines[1].split() == ["mlpipe:", "load", "succeeded", "0.5s", "ran:", "no", "cache", "entry"]
    assert lines[2] == "mlpipe: run r9: succeeded (1 succeeded, 1 pending)"


def test_widget_view_rows_follow_the_events() -> None:
    model = ProgressModel(["load", "train"])
    widget = WidgetView(model)
    view = ProgressView(model, widget)
    assert len(widget.box.children) == 3  # header + one row per step
    view(step("load", "running"))
    cells = widget.cells["load"]
    assert "running" in cells["badge"].value and cells["bar"].value == 1
    assert cells["bar"].bar_style == "info"
    view(step("load", "cached", reason="cached: code unchanged"))
    assert "cached" in cells["badge"].value and cells["bar"].value == 2
    assert cells["reason"].value == "cached: code unchanged"
    view(step("train", "failed", error="RuntimeError: no GPU", duration_s=3.0))
    train = widget.cells["train"]
    assert train["bar"].bar_style == "danger" and train["elapsed"].value == "3.0s"
    assert train["reason"].value == "RuntimeError: no GPU"
    view({"event": "run", "status": "failed", "run_id": "r2"})
    assert "run r2: failed" in widget.header.value


def test_widget_view_adds_a_row_for_an_unannounced_step() -> None:
    model = ProgressModel(["a"])
    widget = WidgetView(model)
    ProgressView(model, widget)(step("b", "running"))
    assert len(widget.box.children) == 3 and "b" in widget.cells


def test_progress_view_falls_back_to_text_outside_a_kernel(capsys: object) -> None:
    view = progress_view(["a"])
    assert isinstance(view.view, TextView)
    assert isinstance(progress_view(["a"], widgets=True).view, WidgetView)


def test_format_elapsed() -> None:
    assert [format_elapsed(s) for s in (None, 0.04, 59.9, 61, 3725)] == [
        "", "0.0s", "59.9s", "1m01s", "62m05s",
    ]
