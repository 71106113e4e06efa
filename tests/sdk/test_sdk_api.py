"""The Python SDK as a user scripts it: only `import mlpipe_jupyter as mlp` and its names."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from nbfiles import write_notebook

import mlpipe_jupyter as mlp

HEAVY = ("dask", "distributed", "papermill", "nbformat", "nbclient")
CELLS = [
    "import math",
    "%%params\nn = 3\nscale = 2",
    "%%step load\nnumbers = list(range(n))",
    "%%step total --outputs result\nresult = sum(numbers) * scale",
]


def imported(code: str) -> set[str]:
    """The top-level packages `python -X importtime -c CODE` imported."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in done.stderr.splitlines() if line.startswith("import time:") and "|" in line
    }


def test_import_is_light_and_every_public_name_is_documented() -> None:
    names = imported("import mlpipe_jupyter")
    assert "mlpipe_jupyter" in names  # the log is really there
    assert names.isdisjoint(HEAVY), sorted(names & set(HEAVY))
    fanout = Path(__file__).resolve().parents[2] / "notebooks" / "fanout.ipynb"
    names = imported(f"import mlpipe_jupyter as mlp; mlp.load({str(fanout)!r}).to_json()")
    assert names.isdisjoint(HEAVY), sorted(names & set(HEAVY))
    for name in mlp.__all__:
        assert getattr(mlp, name).__doc__, f"mlp.{name} has no docstring"
    for cls in (mlp.Pipeline, mlp.Run, mlp.StepOutputs):
        for attr, value in vars(cls).items():
            if not attr.startswith("_") and callable(getattr(value, "fget", value)):
                assert getattr(value, "__doc__", None), f"{cls.__name__}.{attr} has no docstring"


@pytest.mark.integration
def test_run_read_outputs_list_publish_and_trigger(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    write_notebook(tmp_path / "proj" / "nb.ipynb", CELLS)
    p = mlp.load("proj/nb.ipynb")
    assert [s.name for s in p.steps] == ["load", "total"]
    assert [(e.source, e.target, e.vars) for e in p.edges] == [("load", "total", ("numbers",))]
    assert p.params == {"n": 3, "scale": 2} and p.errors == () and p.warnings == ()
    assert p.to_json()["order"] == ["load", "total"]
    assert "load" in p.to_mermaid() and "digraph" in p.to_dot()

    run = p.run(params={"n": 5}, workers=1)
    assert run.status == mlp.RunStatus.SUCCEEDED == "succeeded"
    assert run.store == tmp_path / "proj" / ".mlpipe"  # beside the notebook
    assert run.record["params"] == {"n": 5}
    assert run.steps["total"].status == "succeeded" and run.steps["total"].notebook.is_file()
    assert run["total"]["result"] == 20 and run["load"]["numbers"] == [0, 1, 2, 3, 4]
    assert dict(run["total"]) == {"result": 20}
    again = p.run(params={"n": 5}, workers=1)
    assert {s.status for s in again.steps.values()} == {mlp.StepStatus.CACHED}
    assert again["total"]["result"] == 20  # a cached step's outputs come from its entry
    store = tmp_path / "proj" / ".mlpipe"
    assert [r.id for r in mlp.runs(store=store)] == [again.id, run.id]
    assert [r.id for r in mlp.runs(notebook="proj/nb.ipynb")] == [again.id, run.id]
    assert mlp.get_run(run.id, store="proj/.mlpipe") == run

    assert mlp.publish("proj/nb.ipynb", name="nightly") == ("nightly", 1)
    assert mlp.publish("proj/nb.ipynb", name="nightly") == ("nightly", 1)  # unchanged
    triggered = mlp.trigger("nightly", params={"scale": 10}, store=store)
    assert triggered.wait(timeout=180).status == "succeeded", triggered.record
    assert triggered["total"]["result"] == 30
    assert triggered.id in [r.id for r in mlp.runs(store=store)]


@pytest.mark.integration
def test_each_error_class_on_bad_input(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with pytest.raises(mlp.NotFound, match="nope.ipynb' not found"):
        mlp.load(tmp_path / "nope.ipynb")
    broken = mlp.load(write_notebook(tmp_path / "broken.ipynb", ["%%step a\ny = x"]))
    assert broken.errors and "'x'" in broken.errors[0]
    with pytest.raises(mlp.BadInput, match="name 'x' is read but nothing before it binds"):
        broken.run(store=store)
    p = mlp.load(write_notebook(tmp_path / "nb.ipynb", CELLS))
    with pytest.raises(mlp.BadInput, match="unknown parameter 'm'"):
        p.run(params={"m": 1}, store=store)
    with pytest.raises(mlp.BadInput, match="not both"):
        p.submit(scheduler="tcp://127.0.0.1:1", workers=1, store=store)
    with pytest.raises(mlp.NotFound, match="no run '20990101-000000-abcdef'"):
        mlp.get_run("20990101-000000-abcdef", store=store)
    with pytest.raises(mlp.NotFound, match="pipeline 'nope' is not published"):
        mlp.trigger("nope", store=store)

    failing = mlp.load(write_notebook(tmp_path / "fails.ipynb", [
        "%%step load\nnumbers = [1]", "%%step bad\nvalue = numbers[10]", "%%step after\nz = value",
    ]))  # fmt: skip
    run = failing.submit(store=store, workers=1)
    with pytest.raises(mlp.StepFailed, match="step 'bad' failed: IndexError"):
        run.wait(timeout=180, raise_on_failure=True)
    assert run.status == "failed" and run.steps["after"].status == "skipped"
    with pytest.raises(mlp.StepFailed, match="step 'bad' of run .* failed: IndexError"):
        run["bad"]["value"]  # noqa: B018
    assert run["load"]["numbers"] == [1]
    with pytest.raises(mlp.NotFound, match="has no step 'nope'; its steps: load, bad, after"):
        run["nope"]  # noqa: B018
    with pytest.raises(mlp.NotFound, match="has no output 'nope'; its outputs: numbers"):
        run["load"]["nope"]  # noqa: B018
    with pytest.raises(mlp.Conflict, match="already failed; nothing to cancel"):
        run.cancel()
    assert all(issubclass(kind, mlp.MlpipeError)
               for kind in (mlp.BadInput, mlp.NotFound, mlp.Conflict, mlp.StepFailed))  # fmt: skip


@pytest.mark.integration
def test_a_submitted_run_can_be_cancelled(tmp_path: Path) -> None:
    p = mlp.load(write_notebook(tmp_path / "slow.ipynb", [
        "import time", "%%step wait\ntime.sleep(120)\ndone = 1", "%%step after\nx = done",
    ]))  # fmt: skip
    run = p.submit(store=tmp_path / "store", workers=1)
    deadline = time.monotonic() + 120
    while run.steps["wait"].status != mlp.StepStatus.RUNNING:
        assert time.monotonic() < deadline and run.status == "running", run.record
        time.sleep(0.2)
    run.cancel()
    assert run.wait(timeout=60).status == mlp.RunStatus.CANCELLED
    assert run.steps["after"].status == "skipped"
    with pytest.raises(mlp.Conflict, match="already cancelled"):
        run.cancel()


def test_a_queued_run_is_waited_for_and_cancelled_through_the_sdk(tmp_path: Path,
                                                                  monkeypatch) -> None:  # noqa: ANN001
    """A run a server has queued (at its max_concurrent_runs) is not finished for the SDK."""
    from mlpipe_jupyter import service
    from mlpipe_jupyter.request import RunRequest

    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    notebook = write_notebook(tmp_path / "nb.ipynb", CELLS)
    queued = service.record(RunRequest.build(notebook))  # as the server's queue records it
    run = mlp.get_run(queued.run_id, notebook=notebook)
    assert run.status is mlp.RunStatus.QUEUED
    with pytest.raises(TimeoutError, match="still queued"):
        run.wait(timeout=0.3)
    run.cancel()
    assert run.wait(timeout=5).status is mlp.RunStatus.CANCELLED
    with pytest.raises(mlp.Conflict, match="already cancelled"):
        run.cancel()
