"""`mlpipe run / runs / cache` as a user types them, on the embedded LocalCluster."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlpipe_jupyter.cli.run import parse_value

SETUP = "import math"
PARAMS = "%%params\nn = 3"
LOAD = "%%step load\nraw = list(range(n))\nprint('loaded', raw)"
USE = "%%step use --outputs total\ntotal = sum(raw)"

HEAVY = ("distributed", "papermill", "nbformat", "nbclient")


def mlpipe(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The real `mlpipe` entry point (`python -m mlpipe_jupyter`), with Python's import log."""
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlpipe_jupyter", *args],
        cwd=cwd, capture_output=True, text=True, timeout=240,
    )


def heavy_imports(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The heavy top-level packages the command imported, read from `-X importtime`."""
    imported = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    assert "mlpipe_jupyter" in imported, proc.stderr[-500:]  # the log is really there
    return sorted(imported & set(HEAVY))


def said(proc: subprocess.CompletedProcess[str]) -> str:
    """What the command wrote on stderr for the user, without Python's import log."""
    return "".join(
        line for line in proc.stderr.splitlines(keepends=True)
        if not line.startswith("import time:")
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("1", 1), ("-2", -2), ("0.5", 0.5), ("1e3", 1000.0), ("True", True), ("False", False),
     ("None", None), ("abc", "abc"), ("true", "true"), ("", "")],
)
def test_parameter_values_are_read_like_papermill(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


@pytest.mark.integration
def test_cold_run_then_no_change_rerun_imports_nothing_heavy(write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, PARAMS, LOAD, USE])
    cold = mlpipe("run", path.name, "--json", cwd=path.parent)
    assert cold.returncode == 0, cold.stderr
    record = json.loads(cold.stdout)
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    assert (path.parent / ".mlpipe" / "runs" / record["run_id"] / "load.ipynb").exists()

    warm = mlpipe("run", path.name, cwd=path.parent)
    assert warm.returncode == 0, warm.stderr
    assert heavy_imports(warm) == []
    lines = warm.stdout.splitlines()
    assert lines[0] == "plan: 0 to run, 2 cached, 0 skipped"  # the plan comes first
    table = lines.index(next(line for line in lines if line.startswith("STEP")))
    assert lines[table].split() == ["STEP", "STATUS", "DURATION", "WORKER", "REASON"]
    assert lines[table + 1].split()[:2] == ["load", "cached"]
    assert lines[-1].endswith(": succeeded")

    listed = mlpipe("runs", "--json", cwd=path.parent)
    runs = json.loads(listed.stdout)
    assert [r["status"] for r in runs] == ["succeeded", "succeeded"]
    shown = mlpipe("runs", "show", record["run_id"], "--json", cwd=path.parent)
    assert json.loads(shown.stdout)["run_id"] == record["run_id"]

    entries = json.loads(mlpipe("cache", "ls", "--json", cwd=path.parent).stdout)
    assert sorted(e["step"] for e in entries) == ["load", "use"]

    changed = mlpipe("run", path.name, "-p", "n", "4", "--json", cwd=path.parent)
    assert changed.returncode == 0, changed.stderr
    assert json.loads(changed.stdout)["params"] == {"n": 4}
    pruned = mlpipe("cache", "prune", "--json", cwd=path.parent)
    assert json.loads(pruned.stdout)["entries_removed"] == 2


@pytest.mark.integration
def test_failed_step_exits_1(write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, "%%step load\nraw = [1]", "%%step bad\nx = raw[10]"])
    proc = mlpipe("run", path.name, "--workers", "1", "--json", cwd=path.parent)
    assert proc.returncode == 1
    record = json.loads(proc.stdout)
    assert record["status"] == "failed"
    assert record["steps"]["bad"]["error"] == (
        "IndexError: list index out of range (cell 3 of step 'bad')"
    )


@pytest.mark.integration
def test_gpu_step_without_gpu_worker_exits_2_before_running(write_notebook) -> None:  # noqa: ANN001
    path = write_notebook([SETUP, "%%step train --gpu 1\nx = 1"])
    proc = mlpipe("run", path.name, "--workers", "1", cwd=path.parent)
    assert proc.returncode == 2
    assert (
        "mlpipe: step 'train' needs GPU=1 but no worker has GPU;"
        ' start a worker with --resources "GPU=1" (or run with --gpu-workers 1) or lower --gpu'
    ) in said(proc)


@pytest.mark.parametrize(
    ("cells", "args", "message"),
    [
        ([SETUP, USE], (), "step 'use' (cell 2): name 'raw' is read but nothing before it binds"),
        ([SETUP, PARAMS, LOAD], ("-p", "m", "1"), "mlpipe: unknown parameter 'm'"),
        ([SETUP, PARAMS, LOAD], ("-y", "[1, 2]"), "mlpipe: -y: parameters must be a YAML mapping"),
        ([SETUP], (), "no %%step cells"),
    ],
)
def test_bad_input_exits_2_with_one_line(write_notebook, cells, args, message) -> None:  # noqa: ANN001
    path = write_notebook(cells)
    proc = mlpipe("run", path.name, *args, cwd=path.parent)
    assert proc.returncode == 2
    [line] = said(proc).splitlines()
    assert line.startswith("mlpipe: ") and message in line
    assert heavy_imports(proc) == []


def test_missing_notebook_exits_2(tmp_path: Path) -> None:
    proc = mlpipe("run", "nope.ipynb", cwd=tmp_path)
    assert proc.returncode == 2
    [line] = said(proc).splitlines()
    assert line.startswith("mlpipe: ") and "nope.ipynb" in line


def test_unknown_run_id_exits_2(tmp_path: Path) -> None:
    proc = mlpipe("runs", "show", "20990101-000000-abcdef", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no run '20990101-000000-abcdef'" in said(proc)


def test_parameters_from_yaml_file_and_string(write_notebook, tmp_path) -> None:  # noqa: ANN001
    from argparse import Namespace

    from mlpipe_jupyter.cli.run import collect_params

    params_file = tmp_path / "p.yaml"
    params_file.write_text("a: 1\nb: x\n")
    args = Namespace(parameters_file=str(params_file), parameters_yaml="b: 2\nc: [1, 2]",
                     parameters=[["c", "3.5"]])
    assert collect_params(args) == {"a": 1, "b": 2, "c": 3.5}


def test_run_request_file_and_notebook_exclude_each_other(tmp_path: Path) -> None:
    from mlpipe_jupyter.request import RunRequest

    request_file = tmp_path / "request.json"
    request_file.write_text(RunRequest.build(tmp_path / "nb.ipynb", store=tmp_path).to_json())
    both = mlpipe("run", "nb.ipynb", "--request", str(request_file), cwd=tmp_path)
    assert both.returncode == 2
    assert said(both).strip() == (
        "mlpipe: --request FILE carries the notebook; pass one or the other"
    )
    garbled = tmp_path / "garbled.json"
    garbled.write_text("{}")
    bad = mlpipe("run", "--request", str(garbled), cwd=tmp_path)
    assert bad.returncode == 2 and "not a run request" in said(bad)
    neither = mlpipe("run", cwd=tmp_path)
    assert neither.returncode == 2 and "run needs a notebook" in said(neither)
