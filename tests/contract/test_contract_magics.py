"""`%%step`, `%%params` and `%pipeline` in a real IPython shell, as DESIGN.md words them."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError


def run(ip: Any, source: str) -> Any:
    return ip.run_cell(source, store_history=True)


GOOD_LINES = [
    "load",
    "train --gpu 1 --cpu 2 --memory 8GB --retries 2 --timeout 3600",
    "report --after train --no-cache --outputs summary",
    "report --after load train --outputs a b",
    "report --after=train --gpu=1 --memory=512MiB",
    "load  # a trailing comment",
    "class",  # a keyword is still an identifier
    "données",
]


def test_valid_step_lines_run_the_cell(ip: Any) -> None:
    for line in GOOD_LINES:  # one shell for all: a fresh one costs ~0.5 s
        ip.user_ns.pop("summary", None)
        result = run(ip, f"%%step {line}\nsummary = a = b = 41 + 1")
        assert result.success, (line, result.error_in_exec)
        assert ip.user_ns["summary"] == 42, line


BAD_LINES = [
    ("", "needs a name"),
    ("--gpu 1", "needs a name"),
    ("my-step", "step name 'my-step'"),
    ("1st", "step name '1st'"),
    ("a b", "unexpected 'b'"),
    ("a --gpu", "--gpu needs a value"),
    ("a --gpu x", "--gpu 'x'"),
    ("a --gpu 1.5", "--gpu '1.5'"),
    ("a --gpu -1", "--gpu must be at least 0"),
    ("a --cpu lots", "--cpu 'lots'"),
    ("a --cpu -2", "--cpu must be at least 0"),
    ("a --memory", "--memory needs a value"),
    ("a --memory 8XB", "--memory '8XB'"),
    ("a --memory big", "--memory 'big'"),
    ("a --retries x", "--retries 'x'"),
    ("a --retries -1", "--retries must be at least 0"),
    ("a --timeout", "--timeout needs a value"),
    ("a --timeout 0", "--timeout must be at least"),
    ("a --timeout soon", "--timeout 'soon'"),
    ("a --after", "--after needs at least one name"),
    ("a --after b-c", "--after 'b-c'"),
    ("a --after a", "--after a: a step cannot run after itself"),
    ("a --outputs", "--outputs needs at least one name"),
    ("a --outputs 1x", "--outputs '1x'"),
    ("a --no-cache yes", "unexpected 'yes'"),
    ("a --gpus 1", "unknown option --gpus"),
    ("a -g 1", "unknown option -g"),
    ("a 'open", "cannot split"),
]


def test_bad_step_line_is_a_one_line_usage_error(ip: Any) -> None:
    for line, fragment in BAD_LINES:
        result = run(ip, f"%%step {line}\nran = True")
        error = result.error_in_exec
        assert isinstance(error, UsageError), (line, error)
        assert fragment in str(error), (line, str(error))
        assert "\n" not in str(error), line
        assert "ran" not in ip.user_ns, line  # the body does not run


def test_step_body_runs_like_a_cell(ip: Any) -> None:
    setup = run(ip, "import pandas as pd\nCONFIG = {'k': 0}")
    assert setup.success
    result = run(ip, "%%step load\ndf = pd.DataFrame({'a': [1, 2]})\n"
                     "df['b'] = df['a'] * 2\nlen(df)")
    assert result.success and result.result == 2
    assert list(ip.user_ns["df"].columns) == ["a", "b"]


def test_line_magics_shell_and_cell_time_inside_a_step(ip: Any) -> None:
    result = run(ip, "%%step a\n%matplotlib inline\nfiles = !echo hi\n%time z = 3\nz + 1")
    assert result.success, result.error_in_exec
    assert result.result == 4 and list(ip.user_ns["files"]) == ["hi"]


def test_semicolon_hides_the_value_and_errors_propagate(ip: Any) -> None:
    assert run(ip, "%%step a\n1 + 1;").result is None
    failed = run(ip, "%%step b\nraise ValueError('boom')")
    assert isinstance(failed.error_in_exec, ValueError)


def test_params_sets_literal_defaults(ip: Any) -> None:
    result = run(ip, "%%params\nlr = 0.1\nepochs: int = 3\nname = 'x'\nlayers = [1, 2]")
    assert result.success
    assert (ip.user_ns["lr"], ip.user_ns["epochs"], ip.user_ns["layers"]) == (0.1, 3, [1, 2])


@pytest.mark.parametrize("body, fragment", [
    ("lr = compute()", "'lr'"),
    ("import os", "line 1"),
    ("x = (", "syntax"),
])
def test_params_rejects_non_literals(ip: Any, body: str, fragment: str) -> None:
    error = run(ip, f"%%params\n{body}").error_in_exec
    assert isinstance(error, UsageError) and fragment in str(error)
    assert "\n" not in str(error)


def test_params_takes_no_arguments(ip: Any) -> None:
    error = run(ip, "%%params --x\nlr = 1").error_in_exec
    assert isinstance(error, UsageError) and "no arguments" in str(error)


def test_pipeline_dag_shows_this_sessions_steps(ip: Any, capsys: Any) -> None:
    assert run(ip, "%%step load\nx = 1").success
    assert run(ip, "%%step train\ny = x + 1").success
    result = run(ip, "%pipeline dag --format text")
    assert result.success, result.error_in_exec
    shown = capsys.readouterr().out + repr(result.result)
    assert "load -> train: x" in shown


def test_pipeline_unknown_command_is_usage_error(ip: Any) -> None:
    error = run(ip, "%pipeline fly").error_in_exec
    assert isinstance(error, UsageError) and "fly" in str(error)


def test_pipeline_run_bad_input_is_one_usage_error_line(ip: Any, tmp_path: Any) -> None:
    from nbfiles import write_notebook

    path = write_notebook(tmp_path / "nb.ipynb", ["%%params\nn = 1", "%%step a\nx = n"])
    cases = [
        (f"%pipeline run {path} -p nope 1", "%pipeline run: unknown parameter 'nope'"),
        (f"%pipeline run {path} --scheduler tcp://127.0.0.1:1 --workers 2", "not both"),
    ]
    for line, fragment in cases:  # refused before anything runs: no cluster, no kernel
        error = run(ip, line).error_in_exec
        assert isinstance(error, UsageError) and fragment in str(error), (line, error)
        assert len(str(error).splitlines()) == 1
    assert not (tmp_path / ".mlpipe" / "runs").exists() or not any(
        (tmp_path / ".mlpipe" / "runs").iterdir()
    )
