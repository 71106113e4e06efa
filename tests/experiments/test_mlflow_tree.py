"""The MLflow run tree of a pipeline run, against real tracking stores (issue 23).

A 3-step notebook (scikit-learn with `mlflow.sklearn.autolog()` in `train`) run with
`mlpipe run --tracking-uri`: against a relative `sqlite:///` URI (made absolute), twice
(the second run has `load` and `train` cached and `evaluate` failing), and against an
`mlflow server` on 127.0.0.1 that this module starts on a free port and stops.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from nbfiles import write_notebook

pytestmark = pytest.mark.integration
mlflow = pytest.importorskip("mlflow")
pytest.importorskip("sklearn")

CELLS = [
    ("C = 1.0\nfail = False", ["parameters"]),
    "%%step load\nfrom sklearn.datasets import load_iris\nX, y = load_iris(return_X_y=True)",
    "%%step train\nimport mlflow\nmlflow.sklearn.autolog(log_models=False, log_datasets=False)\n"
    "from sklearn.linear_model import LogisticRegression\n"
    "model = LogisticRegression(C=C, max_iter=300).fit(X, y)\nmlflow.log_metric('custom', 1.5)",
    "%%step evaluate --metrics acc\nassert not fail, 'asked to fail'\n"
    "acc = float(model.score(X, y))",
]


def mlpipe_run(folder: Path, uri: str, *params: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb", "--json",
         "--tracking-uri", uri, *params],
        cwd=folder, capture_output=True, text=True, timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
    )
    try:
        return json.loads(done.stdout)
    except ValueError:
        pytest.fail(f"not a run record on stdout: {done.stdout[-500:]!r}; {done.stderr[-2000:]}")


def tree(uri: str, run_id: str) -> tuple[object, dict[str, object]]:
    """The parent run of pipeline run `run_id` and its children by step."""
    client = mlflow.tracking.MlflowClient(uri)
    experiment = client.get_experiment_by_name("nb")
    found = client.search_runs([experiment.experiment_id],
                               f"tags.`mlpipe.run_id` = '{run_id}'")
    (parent,) = [r for r in found if "mlflow.parentRunId" not in r.data.tags]
    children = {r.data.tags["mlpipe.step"]: r for r in found
                if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id}
    return parent, children


@pytest.fixture(scope="module")
def sqlite_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    folder = tmp_path_factory.mktemp("mlflow_sqlite")
    write_notebook(folder / "nb.ipynb", CELLS)
    first = mlpipe_run(folder, "sqlite:///mlflow.db")  # relative: made absolute
    second = mlpipe_run(folder, "sqlite:///mlflow.db", "-p", "fail", "True")
    return {"uri": f"sqlite:///{folder / 'mlflow.db'}", "first": first, "second": second}


def test_parent_and_children_with_tags_params_and_metrics(sqlite_runs):
    first = sqlite_runs["first"]
    assert first["status"] == "succeeded"
    parent, children = tree(sqlite_runs["uri"], first["run_id"])
    assert parent.info.status == "FINISHED"
    assert parent.data.params == {"C": "1.0", "fail": "False"}
    assert set(children) == {"load", "train", "evaluate"}
    for name, child in children.items():
        assert child.info.status == "FINISHED"
        assert child.data.tags["mlpipe.cache_key"] == first["steps"][name]["cache_key"]
        assert child.data.tags["mlpipe.cached"] == "false"
        assert child.data.params["C"] == "1.0"  # the pipeline's parameters copied
    train = children["train"].data
    assert train.params["max_iter"] == "300"  # autolog landed in the step's child run
    assert train.metrics["custom"] == 1.5 and "training_score" in train.metrics
    assert children["evaluate"].data.metrics == {"acc": first["steps"]["evaluate"]["metrics"]["acc"]}
    # metrics from MLflow calls are the step's metrics, and roll up to the parent
    assert first["steps"]["train"]["metrics"]["training_score"] == train.metrics["training_score"]
    assert parent.data.metrics["train.custom"] == 1.5
    assert parent.data.metrics["evaluate.acc"] == children["evaluate"].data.metrics["acc"]


def test_cached_steps_get_children_with_copied_metrics_and_a_failed_step_is_failed(sqlite_runs):
    first, second = sqlite_runs["first"], sqlite_runs["second"]
    assert second["status"] == "failed"
    assert second["steps"]["train"]["status"] == "cached"
    assert second["steps"]["train"]["metrics"] == first["steps"]["train"]["metrics"]
    parent, children = tree(sqlite_runs["uri"], second["run_id"])
    assert parent.info.status == "FAILED"
    train = children["train"]
    assert train.data.tags["mlpipe.cached"] == "true" and train.info.status == "FINISHED"
    assert train.data.metrics == first["steps"]["train"]["metrics"]
    assert parent.data.metrics["train.custom"] == 1.5
    assert children["evaluate"].info.status == "FAILED"
    assert children["evaluate"].data.tags["mlpipe.cached"] == "false"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("mlflow_server")
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", f"sqlite:///{folder / 'server.db'}", "--workers", "1"],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,  # its workers in its process group, stopped with it
        env={**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no job runners
    )
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{uri}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except (OSError, http.client.HTTPException):  # not up yet
                pass
            assert server.poll() is None, "mlflow server exited"
            assert time.monotonic() < deadline, "mlflow server did not answer in 90 s"
            time.sleep(0.5)
        yield uri
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def test_a_tracking_server_gets_the_tree(mlflow_server, tmp_path):
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    record = mlpipe_run(tmp_path, mlflow_server)
    assert record["status"] == "succeeded"
    parent, children = tree(mlflow_server, record["run_id"])
    assert parent.info.status == "FINISHED"
    assert {n: c.info.status for n, c in children.items()} == {
        "load": "FINISHED", "train": "FINISHED", "evaluate": "FINISHED"}
    assert "training_score" in children["train"].data.metrics
    assert "train.training_score" in parent.data.metrics
