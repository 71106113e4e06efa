from __future__ import annotations

import json
import threading

import pytest
from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter.schedule import publish
from mlpipe_jupyter.schedule.errors import BadInput, NotFound


@pytest.fixture
def store(tmp_path):
    return tmp_path / "store"


def test_publish_writes_an_immutable_snapshot(tmp_path, store):
    notebook = write_notebook(tmp_path / "nb.ipynb", TWO_STEPS)
    published, created = publish.publish(notebook, "daily", store)
    assert created and published.version == 1
    assert published.path == store / "pipelines" / "daily" / "v1"
    assert published.notebook.read_bytes() == notebook.read_bytes()
    spec = json.loads(published.spec.read_text())
    assert spec["version"] == 1 and spec["dag"]["order"] == ["load", "total"]
    assert not published.notebook.stat().st_mode & 0o222  # read-only
    assert [p.name for p in published.path.parent.iterdir()] == ["v1"]  # no temp dir left


def test_identical_notebook_keeps_its_version_and_a_change_makes_a_new_one(tmp_path, store):
    notebook = write_notebook(tmp_path / "nb.ipynb", TWO_STEPS)
    v1, _ = publish.publish(notebook, "p", store)
    v1_bytes = v1.notebook.read_bytes()
    # new outputs only (a re-executed notebook): still the same pipeline
    write_notebook(notebook, TWO_STEPS, outputs=[{"output_type": "stream", "name": "stdout",
                                                  "text": "hi"}])  # fmt: skip
    again, created = publish.publish(notebook, "p", store)
    assert (again.version, created) == (1, False)
    write_notebook(notebook, TWO_STEPS[:-1] + ["%%step total --outputs result\nresult = 0"])
    v2, created = publish.publish(notebook, "p", store)
    assert (v2.version, created) == (2, True)
    assert v1.notebook.read_bytes() == v1_bytes  # v1 untouched
    assert publish.get(store, "p").version == 2
    assert publish.get(store, "p", 1).digest == v1.digest
    assert [v.version for v in publish.versions(store, "p")] == [1, 2]
    listed = publish.list_pipelines(store)
    assert [(p["name"], p["version"], p["versions"]) for p in listed] == [("p", 2, 2)]


def test_concurrent_publishers_get_distinct_versions(tmp_path, store):
    notebooks = [
        write_notebook(tmp_path / f"nb{i}.ipynb", TWO_STEPS[:-1] + [f"%%step total\nr = {i}"])
        for i in range(4)
    ]
    results = []
    threads = [
        threading.Thread(target=lambda nb=nb: results.append(publish.publish(nb, "p", store)))
        for nb in notebooks
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(p.version for p, _ in results) == [1, 2, 3, 4]
    assert sorted(d.name for d in (store / "pipelines" / "p").iterdir()) == ["v1", "v2", "v3", "v4"]


def test_a_notebook_with_analysis_errors_is_refused(tmp_path, store):
    notebook = write_notebook(tmp_path / "bad.ipynb", ["%%step a\nx = undefined_name"])
    with pytest.raises(BadInput, match="not a valid pipeline: step 'a'"):
        publish.publish(notebook, "bad", store)
    assert not (store / "pipelines" / "bad").exists()


@pytest.mark.parametrize("name", ["", "../up", "a b", "-x", "x" * 65])
def test_bad_names_are_refused(tmp_path, store, name):
    notebook = write_notebook(tmp_path / "nb.ipynb", TWO_STEPS)
    with pytest.raises(BadInput, match="pipeline name"):
        publish.publish(notebook, name, store)


def test_unknown_pipeline_or_version_names_what_exists(tmp_path, store):
    with pytest.raises(NotFound, match="nothing is published yet"):
        publish.get(store, "nope")
    publish.publish(write_notebook(tmp_path / "nb.ipynb", TWO_STEPS), "real", store)
    with pytest.raises(NotFound, match="pipeline 'real' version 7 is not published.*real"):
        publish.get(store, "real", 7)
