"""Runs of a small pipeline on a real Dask cluster with real kernels.

The cluster is the session's `dask scheduler` + 2 workers (see conftest.py);
`test_cli.py` covers the embedded LocalCluster. Each test checks what ran and
what came from the cache through the run record.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlpipe_jupyter import service
from mlpipe_jupyter.cache.store import ArtifactRef, Store

pytestmark = pytest.mark.integration

SETUP = "import math"
PARAMS = "%%params\nlr = 0.5\nsize = 4"
LOAD = "%%step load\nraw = list(range(size))\nprint('loaded', len(raw))"
FEATURES = "%%step features\nfeats = [x * 2 for x in raw]"
TRAIN = "%%step train\nmodel = sum(feats)\nmodel"
SCORE = "%%step score --outputs score\nscore = model * lr"
OTHER = "%%step other\nlength = len(raw)"
REPORT = "%%step report --outputs summary\nsummary = {'model': model, 'length': length}"


def cells(**edits: str) -> list[str]:
    parts = {"setup": SETUP, "params": PARAMS, "load": LOAD, "features": FEATURES,
             "train": TRAIN, "score": SCORE, "other": OTHER, "report": REPORT}
    parts.update(edits)
    return list(parts.values())


def statuses(record: dict) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


def output(store_root: Path, record: dict, step: str, var: str) -> object:
    """A step output's value, read back through the step's cache entry."""
    store = Store.open(store_root)
    entry = store.lookup(record["steps"][step]["cache_key"])
    assert entry is not None, f"no cache entry for step {step}"
    return store.get(entry.outputs[var])


@pytest.fixture
def run(dask_processes, tmp_path):  # noqa: ANN001, ANN201
    store = tmp_path / "store"

    def go(path: Path, params: dict | None = None, events: list | None = None) -> dict:
        return service.run(
            path, params or {}, store=store, scheduler=dask_processes.address,
            on_event=events.append if events is not None else None,
        )

    go.store = store  # type: ignore[attr-defined]
    return go


def test_cold_run_then_cached_rerun_starts_nothing(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    first = run(path)
    assert first["status"] == "succeeded"
    assert set(statuses(first).values()) == {"succeeded"}
    assert output(run.store, first, "train", "model") == 12
    assert output(run.store, first, "report", "summary") == {"model": 12, "length": 4}
    executed = json.loads(Path(first["steps"]["load"]["notebook"]).read_text())
    printed = ["".join(o.get("text", "")) for c in executed["cells"] for o in c.get("outputs", [])]
    assert "loaded 4\n" in printed
    assert first["steps"]["load"]["reason"] == "no cache entry"

    events: list[dict] = []
    second = run(path, events=events)
    assert second["status"] == "succeeded"
    assert set(statuses(second).values()) == {"cached"}
    assert not [e for e in events if e["event"] in ("cluster", "warning")]
    assert {e["status"] for e in events if e["event"] == "step"} == {"cached"}
    reasons = {s["reason"] for s in second["steps"].values()}
    assert reasons == {
        "cached: code, setup, parameters, inputs, modules, packages and files unchanged"
    }


def test_leaf_edit_reruns_only_the_leaf(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    run(path)
    path = write_notebook(cells(score="%%step score --outputs score\nscore = model * lr * 2"))
    record = run(path)
    ran = {n for n, s in statuses(record).items() if s == "succeeded"}
    assert ran == {"score"}
    assert record["steps"]["score"]["reason"] == "code changed"


def test_comment_edit_is_not_a_change(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    run(path)
    path = write_notebook(cells(train="%%step train\n# a comment\n\nmodel = sum(feats)  # sum\nmodel"))
    assert set(statuses(run(path)).values()) == {"cached"}


def test_middle_edit_reruns_exactly_its_downstream(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    run(path)
    path = write_notebook(cells(features="%%step features\nfeats = [x * 3 for x in raw]"))
    record = run(path)
    ran = {n for n, s in statuses(record).items() if s == "succeeded"}
    assert ran == {"features", "train", "score", "report"}
    assert statuses(record)["load"] == statuses(record)["other"] == "cached"
    assert record["steps"]["train"]["reason"] == "upstream features changed"
    assert output(run.store, record, "report", "summary") == {"model": 18, "length": 4}


def test_identical_upstream_output_cuts_off_downstream(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    run(path)
    path = write_notebook(cells(features="%%step features\nfeats = [x + x for x in raw]"))
    record = run(path)
    assert statuses(record)["features"] == "succeeded"
    assert statuses(record)["train"] == "cached"
    assert record["steps"]["train"]["reason"] == "cached: upstream re-ran with identical outputs"


def test_parameter_change_reruns_the_steps_that_read_it(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    run(path)
    record = run(path, {"lr": 2.0})
    ran = {n for n, s in statuses(record).items() if s == "succeeded"}
    assert ran == {"score"}
    assert record["steps"]["score"]["reason"] == "parameter lr changed"
    assert output(run.store, record, "score", "score") == 24.0


def test_failed_step_skips_downstream_and_a_fix_resumes(run, write_notebook) -> None:  # noqa: ANN001
    broken = "%%step train\nmodel = sum(feats)\nraise ValueError('bad model')"
    path = write_notebook(cells(train=broken))
    record = run(path)
    assert record["status"] == "failed"
    steps = statuses(record)
    assert steps["train"] == "failed"
    assert steps["score"] == steps["report"] == "skipped"
    assert record["steps"]["score"]["reason"] == "upstream 'train' failed"
    assert steps["other"] == steps["load"] == steps["features"] == "succeeded"
    assert "ValueError: bad model" in record["steps"]["train"]["error"]
    executed = Path(record["steps"]["train"]["notebook"]).read_text()
    assert "Traceback" in executed or "ValueError" in executed
    assert "bad model" in executed

    path = write_notebook(cells())
    fixed = run(path)
    assert fixed["status"] == "succeeded"
    ran = {n for n, s in statuses(fixed).items() if s == "succeeded"}
    assert ran == {"train", "score", "report"}


def test_gpu_step_runs_on_the_gpu_worker(run, write_notebook, dask_processes) -> None:  # noqa: ANN001
    path = write_notebook(cells(train="%%step train --gpu 1\nmodel = sum(feats)"))
    record = run(path)
    assert record["status"] == "succeeded"
    assert record["steps"]["train"]["worker"] == dask_processes.worker_address("gpu")


def test_unsatisfiable_gpu_fails_before_anything_runs(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells(train="%%step train --gpu 2\nmodel = sum(feats)"))
    with pytest.raises(service.ResourceError) as err:
        run(path)
    assert str(err.value) == (
        "step 'train' needs GPU=2 but no worker has more than GPU=1;"
        ' start a worker with --resources "GPU=2" or lower --gpu'
    )
    (record,) = service.runs(run.store)
    assert record["status"] == "failed"
    assert "succeeded" not in statuses(record).values()


def test_unknown_parameter_is_bad_input(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    with pytest.raises(service.RunInputError, match="unknown parameter 'nope'"):
        run(path, {"nope": 1})


def test_outputs_are_refs_not_values(run, write_notebook) -> None:  # noqa: ANN001
    path = write_notebook(cells())
    record = run(path)
    entry = Store.open(run.store).lookup(record["steps"]["load"]["cache_key"])
    assert isinstance(entry.outputs["raw"], ArtifactRef)
    assert entry.displays and "".join(entry.displays[0]["text"]) == "loaded 4\n"
