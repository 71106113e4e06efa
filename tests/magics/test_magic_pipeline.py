"""%pipeline dag and %pipeline run in a real IPython shell (run: a fake service)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError
from IPython.utils.capture import capture_output

import mlpipe_jupyter
from mlpipe_jupyter.cli.run import parse_value as param_value
from mlpipe_jupyter.magics.run_view import RunResult

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
FANOUT = NOTEBOOKS / "fanout.ipynb"


def dag_json(run: Any, line: str) -> dict[str, Any]:
    with capture_output() as cap:
        result = run(f"%pipeline dag {line} --format json")
    assert result.success, result.error_in_exec
    return json.loads(cap.stdout)


def test_dag_of_an_explicit_notebook_as_svg(ip: Any, run: Any, monkeypatch: Any) -> None:
    formats = [*ip.display_formatter.active_types, "image/svg+xml"]  # as in a notebook front end
    monkeypatch.setattr(ip.display_formatter, "active_types", formats)
    with capture_output() as cap:
        assert run(f"%pipeline dag {FANOUT}").success
    (output,) = cap.outputs
    svg = output.data["image/svg+xml"]
    assert svg.startswith("<svg") and 'data-step="combine"' in svg
    assert "fanout.ipynb · 6 steps" in svg


def test_dag_formats(run: Any) -> None:
    data = dag_json(run, str(FANOUT))
    assert data["order"][0] == "prepare" and len(data["edges"]) == 8
    with capture_output() as cap:
        run(f"%pipeline dag {FANOUT} --format text")
    assert cap.stdout.startswith("6 steps, 8 edges")
    with capture_output() as cap:
        run(f"%pipeline dag {FANOUT} --format mermaid")
    markdown = cap.outputs[0].data["text/markdown"]
    assert markdown.startswith("```mermaid\nflowchart LR")


def test_dag_text_lists_errors(run: Any) -> None:
    with capture_output() as cap:
        run(f"%pipeline dag {NOTEBOOKS / 'fixtures' / 'cycle.ipynb'} --format text")
    assert "error: step 'a' (cell 2): steps form a cycle" in cap.stdout


def test_dag_finds_the_kernels_notebook(ip: Any, run: Any, monkeypatch: Any) -> None:
    ip.user_ns["__session__"] = str(FANOUT)
    assert dag_json(run, "")["order"][0] == "prepare"
    del ip.user_ns["__session__"]
    monkeypatch.setenv("JPY_SESSION_NAME", str(NOTEBOOKS / "fixtures" / "simple.ipynb"))
    assert dag_json(run, "")["order"] == ["make", "scale"]


def test_dag_falls_back_to_this_sessions_cells(run: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    run("import math")
    run("%%params\nscale = 2")
    run("%%step a --gpu 1\nx = math.pi * scale")
    run("x")  # a scratch cell: not part of the fallback
    run("%%step b\ny = x + 1")
    run("%%step a --gpu 1\nx = math.e * scale")  # re-run: its latest source, first position
    data = dag_json(run, "")
    assert data["errors"] == [] and data["params"] == {"scale": 2}
    assert data["order"] == ["a", "b"]
    assert data["edges"] == [{"from": "a", "to": "b", "vars": ["x"]}]
    assert data["steps"][0]["resources"]["gpu"] == 1


def test_dag_usage_errors(run: Any) -> None:
    error = run("%pipeline dag nowhere.ipynb").error_in_exec
    assert isinstance(error, UsageError) and "no notebook at 'nowhere.ipynb'" in str(error)
    error = run("%pipeline dag --format png").error_in_exec
    assert isinstance(error, UsageError) and "invalid choice: 'png'" in str(error)


@pytest.mark.parametrize(
    ("text", "value"),
    [("3", 3), ("0.5", 0.5), ("True", True), ("False", False), ("None", None), ("abc", "abc"),
     ("1e-3", 0.001)],
)
def test_param_values_follow_papermill(text: str, value: Any) -> None:
    assert param_value(text) == value and type(param_value(text)) is type(value)


@pytest.fixture
def fake_service(monkeypatch: Any) -> dict[str, Any]:
    """A stand-in for mlpipe_jupyter.service.execute (the SDK's run) that replays events."""
    calls: dict[str, Any] = {}

    def execute(request: Any, on_event: Any = None, pipeline: Any = None) -> dict[str, Any]:
        calls.update(path=str(request.notebook), params=request.params, store=request.store,
                     scheduler=request.scheduler, workers=request.workers,
                     gpu_workers=request.gpu_workers, no_cache=request.no_cache)
        on_event({"event": "step", "step": "prepare", "status": "cached", "reason": "cached: code unchanged"})
        for name in ("branch_mean", "branch_std", "branch_quantiles", "branch_histogram", "combine"):
            on_event({"event": "step", "step": name, "status": "running"})
            on_event({"event": "step", "step": name, "status": "succeeded", "reason": "ran: code changed"})
        steps = {"prepare": {"status": "cached", "reason": "cached: code unchanged", "duration_s": 0.0}}
        steps.update({n: {"status": "succeeded", "reason": "ran: code changed", "duration_s": 0.1}
                      for n in ("branch_mean", "branch_std", "branch_quantiles", "branch_histogram", "combine")})
        return {"run_id": "r42", "status": "succeeded", "steps": steps}

    service = types.ModuleType("mlpipe_jupyter.service")
    service.execute = execute  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "mlpipe_jupyter.service", service)
    monkeypatch.setattr(mlpipe_jupyter, "service", service, raising=False)
    return calls


def test_run_calls_the_service_and_shows_progress(ip: Any, run: Any, fake_service: Any) -> None:
    before = FANOUT.read_bytes()
    with capture_output() as cap:
        result = run(f"%pipeline run {FANOUT} -p n 50 -p work_s 0 --gpu-workers 1 --no-cache")
    assert result.success, result.error_in_exec
    assert fake_service["path"] == str(FANOUT)
    assert fake_service["params"] == {"n": 50, "work_s": 0}
    assert fake_service["gpu_workers"] == 1 and fake_service["no_cache"] is True
    assert fake_service["scheduler"] is None
    lines = cap.stdout.splitlines()
    assert lines[0] == "mlpipe: running 6 steps"
    assert any(line.split()[1:4] == ["prepare", "cached", "cached:"] for line in lines)
    assert "mlpipe: run r42: succeeded (1 cached, 5 succeeded)" in lines
    assert isinstance(result.result, RunResult)
    assert result.result.summary() == "mlpipe run r42: succeeded (1 cached, 5 succeeded)"
    assert FANOUT.read_bytes() == before  # the source notebook is never written


def test_run_needs_a_notebook(run: Any, fake_service: Any, monkeypatch: Any) -> None:
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    error = run("%pipeline run").error_in_exec
    assert isinstance(error, UsageError) and "pass its path" in str(error)
    assert not fake_service


def test_run_refuses_a_notebook_with_errors(run: Any, fake_service: Any) -> None:
    error = run(f"%pipeline run {NOTEBOOKS / 'fixtures' / 'cycle.ipynb'}").error_in_exec
    assert isinstance(error, UsageError) and "steps form a cycle" in str(error)
    assert not fake_service


def test_run_usage_error(run: Any, fake_service: Any) -> None:
    error = run(f"%pipeline run {FANOUT} -p lr").error_in_exec
    assert isinstance(error, UsageError) and "expected 2 arguments" in str(error)
    assert "\n" not in str(error)  # argparse wraps a long usage: one line all the same
    assert str(error).endswith("[notebook]")
