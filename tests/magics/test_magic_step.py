"""%%step and %%params in a real IPython shell."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from mlpipe_jupyter.magics.session import session_for


def test_step_runs_as_a_cell_and_is_recorded(ip: Any, run: Any) -> None:
    result = run("%%step load --gpu 1 --memory 2GB --retries 2\nx = 20\nx + 1")
    assert result.success and result.result == 21
    assert ip.user_ns["x"] == 20
    recorded = session_for(ip).steps["load"]
    assert (recorded.options.gpu, recorded.options.memory, recorded.options.retries) == (1, 2 * 10**9, 2)
    assert recorded.source == "x = 20\nx + 1\n"
    assert recorded.status == "succeeded" and recorded.duration_s is not None
    assert recorded.execution_count == result.execution_count


def test_trailing_semicolon_hides_the_value(run: Any) -> None:
    assert run("%%step quiet\n41 + 1;").result is None


def test_magics_inside_a_step_body_work(ip: Any, run: Any) -> None:
    result = run("%%step listing\nalpha = 1\nnames = %who_ls")
    assert result.success, result.error_in_exec
    assert "alpha" in ip.user_ns["names"]


def test_exception_propagates_and_marks_the_step_failed(ip: Any, run: Any) -> None:
    result = run("%%step boom\nbefore = 1\n1 / 0\nafter = 2")
    assert isinstance(result.error_in_exec, ZeroDivisionError)
    assert ip.user_ns["before"] == 1 and "after" not in ip.user_ns
    assert session_for(ip).steps["boom"].status == "failed"


def test_traceback_points_at_the_cell_line(ip: Any, run: Any, capsys: Any) -> None:
    run("%%step boom\nfine = 1\nraise KeyError('missing')")
    out = capsys.readouterr().out
    assert "----> 3 raise KeyError('missing')" in out


def test_rerun_replaces_the_record_and_keeps_its_position(ip: Any, run: Any) -> None:
    run("%%step a\nx = 1")
    run("%%step b\ny = x + 1")
    run("%%step a --cpu 2\nx = 5")
    session = session_for(ip)
    assert list(session.steps) == ["a", "b"]
    assert session.steps["a"].options.cpu == 2 and session.steps["a"].source == "x = 5\n"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "a step needs a name"),
        ("--gpu 1", "a step needs a name"),
        ("9lives", "'9lives' is not a Python identifier"),
        ("load extra", "unexpected 'extra' after the step name"),
        ("load --gpus 1", "unknown option --gpus"),
        ("load --gpu x", "--gpu 'x' is not a whole number"),
        ("load --gpu", "--gpu needs a value"),
        ("load --cpu many", "--cpu 'many' is not a number"),
        ("load --memory lots", "--memory 'lots' is not a size"),
        ("load --retries -1", "--retries must be at least 0"),
        ("load --timeout 0", "--timeout must be at least 0.001"),
        ("load --cpu nan", "--cpu 'nan' is not a finite number"),
        ("load --timeout inf", "--timeout 'inf' is not a finite number"),
        ("load --retries 99999999999999999999", "--retries must be at most 100, got 999999999999..."),
        ("load --gpu 1000", "--gpu must be at most 64, got 1000"),
        ("load --after", "--after needs at least one name"),
        ("load --after load", "a step cannot run after itself"),
        ("load --outputs 1x", "--outputs '1x' is not a Python identifier"),
    ],
)
def test_bad_step_line_is_one_usage_error_line(ip: Any, run: Any, line: str, message: str) -> None:
    result = run(f"%%step {line}\nside_effect = 1")
    error = result.error_in_exec
    assert isinstance(error, UsageError)
    assert message in str(error) and "\n" not in str(error)
    assert str(error).startswith("%%step: ")
    assert "side_effect" not in ip.user_ns  # the cell did not run
    assert not session_for(ip).steps


def test_params_runs_and_records_literal_defaults(ip: Any, run: Any) -> None:
    result = run('%%params\n"""Tuning knobs."""\nlr = 0.1\nlayers: list = [64, 32]\nname = "x"\nseed = -1')
    assert result.success
    assert ip.user_ns["lr"] == 0.1 and ip.user_ns["layers"] == [64, 32]
    params = session_for(ip).params
    assert params is not None
    assert params.defaults == {"lr": 0.1, "layers": [64, 32], "name": "x", "seed": -1}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("lr = 0.1\nn = compute()", "parameter 'n' in %%params is not a literal (compute())"),
        ("size = 2 ** 10", "parameter 'size' in %%params is not a literal"),
        ("import os", "%%params line 1: only `name = literal` lines are allowed"),
        ("a, b = 1, 2", "%%params line 1: only `name = literal` lines are allowed"),
        ("lr = = 1", "%%params line 1: syntax error"),
    ],
)
def test_bad_params_name_the_parameter(ip: Any, run: Any, body: str, message: str) -> None:
    error = run(f"%%params\n{body}").error_in_exec
    assert isinstance(error, UsageError)
    assert message in str(error) and "\n" not in str(error)
    assert session_for(ip).params is None


def test_params_takes_no_arguments(run: Any) -> None:
    error = run("%%params --fast\nlr = 1").error_in_exec
    assert isinstance(error, UsageError) and "takes no arguments" in str(error)


def test_unknown_pipeline_command(run: Any) -> None:
    error = run("%pipeline dance").error_in_exec
    assert isinstance(error, UsageError) and "unknown %pipeline command 'dance'" in str(error)


def test_unload_removes_the_magics_and_the_session(ip: Any, run: Any) -> None:
    run("%%step a\nx = 1")
    run("%unload_ext mlpipe_jupyter")
    assert "step" not in ip.magics_manager.magics["cell"]
    assert "pipeline" not in ip.magics_manager.magics["line"]
    assert not session_for(ip).steps
    run("%load_ext mlpipe_jupyter")
    assert run("%%step a\nx = 2").success
