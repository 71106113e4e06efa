"""`--cluster CLASS --cluster-option NAME=VALUE --adapt MIN MAX`: any Dask cluster manager.

`distributed.LocalCluster` stands in for dask-jobqueue, dask-kubernetes and
Coiled: mlpipe imports it by path, starts it with the options, scales it
adaptively, runs the pipeline on it and closes it.
"""

from __future__ import annotations

import socket

import json
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.errors import BadInput
from mlpipe_jupyter.execute.managers import load_class, parse_option, parse_options
from mlpipe_jupyter.request import RunRequest
from nbfiles import write_notebook


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("queue=gpu", ("queue", "gpu")),
        ("cores=8", ("cores", 8)),
        ("memory=8GB", ("memory", "8GB")),
        ("processes=false", ("processes", False)),
        ("walltime=null", ("walltime", None)),
        ("scale=0.5", ("scale", 0.5)),
        ('name="x y"', ("name", "x y")),
        ("extra=[1,2]", ("extra", "[1,2]")),  # scalars only: anything else stays a string
        ("dashboard_address=:0", ("dashboard_address", ":0")),
    ],
)
def test_option_values_are_json_scalars_where_they_parse(text: str, expected: tuple) -> None:
    assert parse_option(text) == expected


def test_a_later_option_wins() -> None:
    assert parse_options(["cores=2", "cores=8"]) == {"cores": 8}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cluster": "nodots"}, "--cluster 'nodots' is not an import path"),
        ({"cluster": "a.b-c"}, "--cluster 'a.b-c' is not an import path"),
        ({"cluster": "distributed.LocalCluster", "adapt": (3, 1)}, "--adapt 3 1: need 0 <= MIN"),
        ({"cluster": "distributed.LocalCluster", "adapt": ("x", 2)},
         "--adapt MIN must be a whole number, got 'x'"),
        ({"cluster": "distributed.LocalCluster", "adapt": (0, 0)}, "--adapt 0 0: need"),
        ({"adapt": (1, 2)}, "--adapt needs --cluster CLASS"),
        ({"cluster_options": {"cores": 2}}, "--cluster-option needs --cluster CLASS"),
        ({"cluster": "distributed.LocalCluster", "scheduler": "tcp://127.0.0.1:8786"},
         "--cluster starts its own cluster"),
        ({"cluster": "distributed.LocalCluster", "cluster_options": {"bad-name": 1}},
         "--cluster-option 'bad-name': the name must be a Python identifier"),
    ],
)
def test_bad_cluster_requests_are_one_line_naming_the_flag(tmp_path, kwargs, message) -> None:
    with pytest.raises(BadInput) as info:
        RunRequest.build(tmp_path / "nb.ipynb", **kwargs)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_option_text_names_the_flag() -> None:
    with pytest.raises(BadInput, match=r"^--cluster-option 'queue': write it as NAME=VALUE"):
        parse_option("queue")


def test_the_request_carries_the_manager_through_json(tmp_path) -> None:
    request = RunRequest.build(
        tmp_path / "nb.ipynb", cluster="dask_jobqueue.SLURMCluster",
        cluster_options={"queue": "gpu", "cores": 8}, adapt=["1", "3"],
    )
    assert request.adapt == (1, 3)
    again = RunRequest.from_json(request.to_json())
    assert again == request


def test_an_import_path_that_does_not_import_names_the_flag() -> None:
    with pytest.raises(BadInput) as info:
        load_class("no_such_mlpipe_module.SomeCluster")
    assert str(info.value).startswith(
        "--cluster no_such_mlpipe_module.SomeCluster: cannot import no_such_mlpipe_module"
    )
    with pytest.raises(BadInput, match=r"^--cluster distributed.NoSuchCluster: distributed has"):
        load_class("distributed.NoSuchCluster")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", *args], capture_output=True, text=True,
        cwd=cwd, timeout=120,
    )


def test_cli_bad_cluster_is_one_line_and_exit_2(tmp_path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", ["%%step a\nx = 1"])
    done = _cli(str(notebook), "--cluster", "no_such_mlpipe_module.C", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mlpipe: --cluster no_such_mlpipe_module.C: cannot import")
    done = _cli(str(notebook), "--cluster", "distributed.LocalCluster", "--adapt", "2", "1",
                cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "mlpipe: --adapt 2 1: need 0 <= MIN <= MAX and 1 <= MAX <= 10000, as in --adapt 1 10"
    ]


def test_an_option_the_class_does_not_take_names_the_flag(tmp_path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", ["%%step a\nx = 1"])
    # Dask's default dashboard port taken (another cluster running): its warning on the
    # way to the failure must not become a second line.
    busy = socket.socket()
    try:
        busy.bind(("0.0.0.0", 8787))
        busy.listen()
    except OSError:
        pass  # taken already: the case this guards
    with busy:
        done = _cli(str(notebook), "--cluster", "distributed.LocalCluster",
                    "--cluster-option", "no_such_keyword=1", cwd=tmp_path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("mlpipe: --cluster-option: distributed.LocalCluster does not take")


@pytest.mark.integration
def test_a_local_cluster_by_import_path_runs_the_pipeline_and_is_closed(tmp_path) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [
        "%%params\nn = 4",
        "%%step load\nxs = list(range(n))",
        "%%step left\na = sum(xs)",
        "%%step right\nb = max(xs)",
        "%%step both\ntotal = a * 10 + b",
    ])
    request = RunRequest.build(
        notebook, {"n": 5}, cluster="distributed.LocalCluster",
        cluster_options=parse_options(["n_workers=2", "threads_per_worker=1",
                                       "dashboard_address=:0"]),
        adapt=(1, 3),
    )
    events: list[dict] = []
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    record = service.execute(request, events.append)
    assert record["status"] == "succeeded", json.dumps(record, indent=1, default=str)
    assert {s["status"] for s in record["steps"].values()} == {"succeeded"}
    import mlpipe_jupyter as mlp

    run = mlp.get_run(record["run_id"], store=request.store)
    assert run["both"]["total"] == 10 * 10 + 4
    cluster = next(e for e in events if e.get("event") == "cluster")
    assert cluster["workers"]  # it had workers
    assert cluster["dashboard"].startswith("http://")  # the manager's own dashboard
    # closed afterwards: its worker processes are gone (multiprocessing's resource tracker
    # lives as long as this process, whatever spawned it)
    left = [p for p in psutil.Process().children(recursive=True)
            if p.pid not in before and p.is_running() and p.status() != psutil.STATUS_ZOMBIE
            and "resource_tracker" not in " ".join(p.cmdline())]
    assert not left, [p.cmdline() for p in left]
