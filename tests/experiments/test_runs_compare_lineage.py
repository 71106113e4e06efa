"""Metrics, lineage, runs compare / diff and mlp.compare, from outside (issue 23).

One module-scoped set of real runs (papermill kernels on the embedded Dask cluster) of
a 3-step notebook: A (lr=0.1), B (lr=0.2: a parameter change), C (lr=0.2 and data.csv
edited: a data change). The asserts read them through the `mlpipe` command and the SDK.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nbfiles import write_notebook

pytestmark = pytest.mark.integration

MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]

CELLS = [
    ("lr = 0.1", ["parameters"]),
    "%%step load\nrows = [float(x) for x in open('data.csv').read().split()]",
    "%%step train\nimport mlpipe_jupyter as mlp\nw = sum(rows) * lr\n"
    "mlp.log_metric('loss', 1.0 / (1.0 + w))\nmlp.log_metrics({'w': w}, step=1)",
    "%%step evaluate --metrics auc f1\nauc = min(0.99, w / 10)\nf1 = 0.5",
]


def mlpipe(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MLPIPE, *args], cwd=folder, capture_output=True, text=True,
                          timeout=240)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("tracking")
    write_notebook(folder / "nb.ipynb", CELLS)
    (folder / "data.csv").write_text("1 2 3\n")
    ids = {}
    for name, extra in (("A", []), ("B", ["-p", "lr", "0.2"])):
        done = mlpipe(folder, "run", "nb.ipynb", "--json", *extra)
        assert done.returncode == 0, done.stderr
        ids[name] = json.loads(done.stdout)["run_id"]
    (folder / "data.csv").write_text("1 2 4\n")
    done = mlpipe(folder, "run", "nb.ipynb", "--json", "-p", "lr", "0.2")
    assert done.returncode == 0, done.stderr
    ids["C"] = json.loads(done.stdout)["run_id"]
    return {"folder": folder, **ids}


def test_metrics_from_log_metric_and_the_metrics_option_are_in_the_record(runs):
    record = json.loads(mlpipe(runs["folder"], "runs", "show", runs["A"], "--json").stdout)
    steps = record["steps"]
    assert steps["train"]["metrics"] == {"loss": pytest.approx(1 / 1.6), "w": pytest.approx(0.6)}
    assert steps["evaluate"]["metrics"] == {"auc": pytest.approx(0.06), "f1": 0.5}
    assert steps["load"]["metrics"] == {}
    # B reused load from A's cache entry; C re-ran it (data.csv changed)
    import mlpipe_jupyter as mlp

    b = mlp.get_run(runs["B"], store=runs["folder"] / ".mlpipe")
    assert b.steps["load"].metrics_reused and not b.steps["train"].metrics_reused
    assert b.params == {"lr": 0.2}
    assert b.metrics["evaluate"]["auc"] == pytest.approx(0.12)


def test_runs_compare_prints_params_metrics_and_durations(runs):
    done = mlpipe(runs["folder"], "runs", "compare", runs["A"], runs["B"], runs["C"])
    assert done.returncode == 0, done.stderr
    lines = {line.split()[1] if line.startswith("*") else line.split()[0]: line
             for line in done.stdout.splitlines()[1:] if line.strip()}
    assert lines["params.lr"].split()[-3:] == ["0.1", "0.2", "0.2"]  # A took the default
    assert lines["metrics.evaluate.auc"].split()[-3:] == ["0.06", "0.12", "0.14"]
    assert "cached" in lines["duration.load"]  # B reused load
    assert lines["status"].split()[1:] == ["succeeded"] * 3


def test_runs_diff_names_the_parameter_and_the_data_change(runs):
    param = mlpipe(runs["folder"], "runs", "diff", runs["A"], runs["B"]).stdout.splitlines()
    assert "train: parameter lr 0.1 -> 0.2" in param
    assert "evaluate: input w from train changed" in param
    assert "same lineage: load" in param
    data = mlpipe(runs["folder"], "runs", "diff", runs["B"], runs["C"]).stdout
    (load,) = [line for line in data.splitlines() if line.startswith("load:")]
    import hashlib

    old, new = (hashlib.sha256(b).hexdigest()[:10] for b in (b"1 2 3\n", b"1 2 4\n"))
    assert load == f"load: file data.csv {old}.. -> {new}.."
    assert "train: input rows from load changed" in data


def test_lineage_lists_code_params_files_and_upstream_keys(runs):
    done = mlpipe(runs["folder"], "runs", "show", runs["C"], "--lineage", "--json")
    lineage = json.loads(done.stdout)
    steps = lineage["steps"]
    assert list(steps) == ["load", "train", "evaluate"]
    assert steps["load"]["files"] == [{"path": "data.csv", "size": 6, "sha256": (
        __import__("hashlib").sha256(b"1 2 4\n").hexdigest())}]
    assert steps["train"]["params"] == {"lr": 0.2}
    import mlpipe_jupyter as mlp

    rows = mlp.get_run(runs["C"], store=runs["folder"] / ".mlpipe")["load"].refs()["rows"]
    assert steps["train"]["upstream"] == {"rows": {"step": "load", "artifact": rows["key"]}}
    assert len(steps["train"]["code"]) == 64 and steps["train"]["kernel"] == "default"
    assert steps["evaluate"]["metrics"] == {"auc": pytest.approx(0.14), "f1": 0.5}
    assert lineage["git"] is None  # the tmp folder is no git work tree
    text = mlpipe(runs["folder"], "runs", "show", runs["C"], "--lineage").stdout
    assert "file    data.csv (6 B) sha256" in text and "param   lr = 0.2" in text


def test_sdk_compare_is_a_dataframe_with_mlflow_column_names(runs):
    import mlpipe_jupyter as mlp

    store = runs["folder"] / ".mlpipe"
    found = {r.id: r for r in mlp.runs(store)}
    frame = mlp.compare([found[runs["A"]], found[runs["B"]], runs["C"]], store=store)
    assert list(frame["run_id"]) == [runs["A"], runs["B"], runs["C"]]
    assert {"status", "start_time", "end_time", "params.lr", "metrics.evaluate.auc",
            "metrics.train.loss"} <= set(frame.columns)
    assert list(frame["params.lr"]) == [0.1, 0.2, 0.2]
    assert frame["metrics.evaluate.auc"].tolist() == pytest.approx([0.06, 0.12, 0.14])
    assert str(frame["start_time"].dtype).startswith("datetime64")
    best = frame.sort_values("metrics.evaluate.auc").iloc[-1]
    assert best["run_id"] == runs["C"]


def test_rest_compare_and_lineage_answers(runs):
    """What GET runs/compare?ids=A,B and GET runs/ID?lineage=1 answer (the service methods
    the handlers call; the routes are in server/handlers.py)."""
    from mlpipe_jupyter.errors import BadInput
    from mlpipe_jupyter.server.manager import MlpipeService

    service = MlpipeService(root_dir=str(runs["folder"]))
    answer = service.compare_runs((runs["A"], runs["B"]))
    assert [r["run_id"] for r in answer["runs"]] == [runs["A"], runs["B"]]
    assert "metrics.evaluate.auc" in answer["columns"]
    assert answer["runs"][1]["duration.load"] == "cached"
    with pytest.raises(BadInput, match="two runs or more"):
        service.compare_runs((runs["A"],))
    record = service.run_lineage(runs["C"])
    assert record["run_id"] == runs["C"] and record["steps"]["train"]["metrics"]
    assert record["lineage"]["steps"]["load"]["files"][0]["path"] == "data.csv"
