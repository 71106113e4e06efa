"""A store on S3, workers that cannot read the notebook's folder, a team cache (issue 12).

One scheduler and two workers (tests/remote/conftest.py, as user `nobody`) run a
pipeline whose first step reads a CSV from the project and whose second writes
`model.pkl` for the third: the values equal a top-to-bottom run, the artifacts are
in the bucket, a second copy of the project in another folder is all cached, and an
orchestrator killed with SIGKILL while it commits a step leaves nothing trusted.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from nbfiles import write_notebook

from remote_env import BUCKET, as_nobody

pytestmark = pytest.mark.integration

KEY = "the-team-shares-this-key"
CSV = "name,value\na,1.5\nb,2.5\nc,5.0\n"
CELLS = [
    "import pickle",
    "%%step load\nwith open('data.csv') as fh:\n"
    "    rows = [line.split(',') for line in fh.read().split()]\n"
    "values = [float(r[1]) for r in rows[1:]]",
    "%%step train\nmodel = {'mean': sum(values) / len(values), 'n': len(values)}\n"
    "with open('model.pkl', 'wb') as fh:\n    pickle.dump(model, fh)",
    "%%step evaluate --outputs score\nwith open('model.pkl', 'rb') as fh:\n"
    "    loaded = pickle.load(fh)\nscore = loaded['mean'] * loaded['n']",
]
# what a top-to-bottom run of the notebook gives
VALUES = [1.5, 2.5, 5.0]
SCORE = sum(VALUES) / len(VALUES) * len(VALUES)

# an orchestrator that dies by SIGKILL while committing step `train` (after its artifacts,
# before its signed entry): the moment "a kill -9 during a commit" can hurt
KILL_IN_COMMIT = textwrap.dedent("""
    import os, signal, sys
    from mlpipe_jupyter.cache import store, signing
    real = store.sign
    def sign(data):
        if data.get("step") == "train":
            os.kill(os.getpid(), signal.SIGKILL)
        return real(data)
    store.sign = sign
    from mlpipe_jupyter.cli import main
    sys.exit(main(sys.argv[1:]))
""")


def make_project(folder: Path) -> Path:
    folder.mkdir(parents=True)
    os.chmod(folder, 0o700)  # root's, unreadable to the workers (user nobody)
    (folder / "data.csv").write_text(CSV)
    return write_notebook(folder / "pipeline.ipynb", CELLS)


def mlpipe_run(notebook: Path, store: str, cluster: dict[str, Any], *, key: str = KEY,
               script: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **cluster["env"], "MLPIPE_SIGNING_KEY": key}
    env.pop("MLPIPE_STORE", None)
    head = [sys.executable, "-c", script] if script else [sys.executable, "-m", "mlpipe_jupyter"]
    return subprocess.run(
        [*head, "run", notebook.name, "--store", store, "--scheduler", cluster["address"],
         "--json"],
        cwd=notebook.parent, env=env, capture_output=True, text=True, timeout=120,
    )


def record_of(done: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def statuses(record: dict[str, Any]) -> dict[str, str]:
    return {name: step["status"] for name, step in record["steps"].items()}


def bucket_keys(prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def output(store_url: str, notebook: Path, record: dict[str, Any], step: str, var: str) -> Any:
    """A step's output as a user loads it (the SDK), from the bucket."""
    import mlpipe_jupyter as mlp

    return mlp.get_run(record["run_id"], store=store_url, notebook=notebook)[step][var]


def trusted_output(store_url: str, record: dict[str, Any], step: str, var: str) -> Any:
    """A step's output through its cache entry, which must verify with this process's key."""
    from mlpipe_jupyter.cache.store import Store

    store = Store.open(store_url)
    entry = store.lookup(record["steps"][step]["cache_key"])
    assert entry is not None, f"no trusted entry for {step}"
    return store.get(entry.outputs[var])


def test_workers_really_cannot_read_the_project(cluster, tmp_path) -> None:
    notebook = make_project(tmp_path / "alice" / "project")
    from distributed import Client

    with Client(cluster["address"], timeout=20) as client:
        seen = client.run(os.access, str(notebook.parent), os.R_OK)
        uids = client.run(os.getuid)
    assert len(seen) == 2 and not any(seen.values()), seen
    assert set(uids.values()) == {pwd.getpwnam("nobody").pw_uid}
    done = subprocess.run(as_nobody([sys.executable, "-c", f"open({str(notebook)!r})"]),
                          capture_output=True, text=True)
    assert done.returncode != 0 and "PermissionError" in done.stderr


def test_pipeline_on_s3_with_workers_that_share_no_filesystem(cluster, tmp_path,
                                                             monkeypatch) -> None:
    monkeypatch.setenv("MLPIPE_SIGNING_KEY", KEY)  # this process reads the team's entries
    store = f"s3://{BUCKET}/team"
    first = make_project(tmp_path / "alice" / "project")

    # 1. killed while committing `train`: nothing of it is trusted afterwards
    killed = mlpipe_run(first, store, cluster, script=KILL_IN_COMMIT)
    assert killed.returncode == -9, killed.stderr[-2000:]
    entries = [k for k in bucket_keys("team/cache/") if k.count("/") == 2]
    from mlpipe_jupyter.cache.store import Store

    steps = {e.step for e in Store.open(store).entries()}
    assert "train" not in steps and "load" in steps, (steps, entries)

    # 2. the next run re-runs train (and what follows) and is right
    record = record_of(mlpipe_run(first, store, cluster))
    assert statuses(record) == {"load": "cached", "train": "succeeded", "evaluate": "succeeded"}
    assert output(store, first, record, "load", "values") == VALUES
    assert output(store, first, record, "evaluate", "score") == pytest.approx(SCORE)
    assert trusted_output(store, record, "evaluate", "score") == pytest.approx(SCORE)
    workers = {step["worker"] for step in record["steps"].values() if step["worker"]}
    assert workers <= set(_worker_addresses(cluster)), workers
    assert not (first.parent / "model.pkl").exists()  # it ran on a worker, not here

    # artifacts, entries and executed step notebooks are in the bucket; records are local
    keys = bucket_keys("team/")
    assert any(k.startswith("team/artifacts/") for k in keys)
    assert any(k.startswith("team/cache/") and k.endswith(".json") for k in keys)
    run_id = record["run_id"]
    assert f"team/runs/{run_id}/evaluate.ipynb" in keys
    assert (first.parent / ".mlpipe" / "mlpipe.db").is_file()
    assert not any(k.endswith("mlpipe.db") for k in keys)
    listed = subprocess.run(  # `mlpipe runs` in the project folder finds them
        [sys.executable, "-m", "mlpipe_jupyter", "runs", "--store", store, "--json"],
        cwd=first.parent, capture_output=True, text=True, timeout=60,
    )
    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr

    # 3. a second copy of the project elsewhere, same store URL and key: all cached
    second = tmp_path / "bob" / "elsewhere" / "copy"
    second.parent.mkdir(parents=True)
    shutil.copytree(first.parent, second, ignore=shutil.ignore_patterns(".mlpipe"))
    again = record_of(mlpipe_run(second / first.name, store, cluster))
    assert set(statuses(again).values()) == {"cached"}, again
    assert trusted_output(store, again, "evaluate", "score") == pytest.approx(SCORE)

    # keys and entries name no folder of either copy, nor a home folder
    for key in (k for k in bucket_keys("team/cache/") if k.endswith(".json")):
        text = _read_object(key)
        for needle in (str(tmp_path), "/alice", "/bob", str(Path.home())):
            assert needle not in text, (key, needle)

    # 4. another key: the team's entries are not trusted; every step re-runs, still right
    done = mlpipe_run(second / first.name, store, cluster, key="someone-else")
    other = record_of(done)
    assert set(statuses(other).values()) == {"succeeded"}, other
    warnings = [x for x in done.stderr.splitlines() if "signature does not match" in x]
    assert warnings and len(warnings) == len(set(warnings)), done.stderr  # once each
    monkeypatch.setenv("MLPIPE_SIGNING_KEY", "someone-else")
    assert trusted_output(store, other, "evaluate", "score") == pytest.approx(SCORE)


def _read_object(key: str) -> str:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    return client.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()


def _worker_addresses(cluster: dict[str, Any]) -> list[str]:
    from distributed import Client

    with Client(cluster["address"], timeout=20) as client:
        return list(client.scheduler_info()["workers"])


def test_a_url_whose_filesystem_is_missing_is_one_line(tmp_path) -> None:
    notebook = make_project(tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", notebook.name, "--store",
         "abfs://container/prefix"],
        cwd=notebook.parent, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "mlpipe: store abfs://container/prefix needs adlfs: pip install mlpipe-jupyter[azure]"
    )


def test_endpoint_options_from_mlpipe_store_options(s3, monkeypatch) -> None:
    from mlpipe_jupyter.cache.store import CacheEntry, Store

    endpoint = s3["AWS_ENDPOINT_URL"]
    monkeypatch.delenv("AWS_ENDPOINT_URL")  # only the JSON variable says where S3 is
    monkeypatch.setenv("MLPIPE_STORE_OPTIONS", json.dumps({"endpoint_url": endpoint}))
    store = Store.open(f"s3://{BUCKET}/options")
    ref = store.put("x", {"a": 1})
    store.commit(CacheEntry(step_key="9" * 64, step="s", outputs={"x": ref}))
    assert Store.open(f"s3://{BUCKET}/options").lookup("9" * 64) is not None
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
    assert f"options/cache/{'9' * 64}.json" in bucket_keys("options/")


def test_a_bucket_that_is_not_there_is_one_line(s3, tmp_path) -> None:
    notebook = make_project(tmp_path / "project")
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", notebook.name, "--store",
         "s3://no-such-bucket/p"],
        cwd=notebook.parent, env={**os.environ, **s3}, capture_output=True, text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "mlpipe: cannot use the store s3://no-such-bucket/p: there is no bucket"
        " 'no-such-bucket' (credentials and endpoint: the usual settings of s3, or"
        " $MLPIPE_STORE_OPTIONS)"
    ]


# A step that, while a marker file sits in its worker's home, kills its own kernel with
# SIGKILL as its outputs are being saved: after the first artifact reached the bucket, before
# the second, the result file and the entry. The marker is no input of the step (its key is
# the same in both runs).
KILLED_WHILE_SAVING = [
    "import os, signal",
    "%%step make\nimport mlpipe_jupyter.cache.store as _store\n"
    "if os.path.exists(os.path.expanduser('~/kill-while-saving')):\n"
    "    _put = _store.Store.put\n"
    "    def _dying_put(self, name, value):\n"
    "        ref = _put(self, name, value)\n"
    "        os.kill(os.getpid(), signal.SIGKILL)\n"
    "    _store.Store.put = _dying_put\n"
    "a = [1, 2, 3]\nb = {'total': 6}",
    "%%step use\nc = sum(a) + b['total']",
]


def test_a_step_killed_while_saving_its_outputs_leaves_nothing_trusted(cluster, tmp_path,
                                                                        monkeypatch) -> None:
    monkeypatch.setenv("MLPIPE_SIGNING_KEY", KEY)
    store = f"s3://{BUCKET}/killed"
    folder = tmp_path / "project"
    folder.mkdir()
    os.chmod(folder, 0o700)
    notebook = write_notebook(folder / "nb.ipynb", KILLED_WHILE_SAVING)
    markers = [home / "kill-while-saving" for home in cluster["folders"][1:]]  # the workers
    for marker in markers:
        marker.write_text("")
    try:
        killed = mlpipe_run(notebook, store, cluster)
    finally:
        for marker in markers:
            marker.unlink(missing_ok=True)
    assert killed.returncode == 1, killed.stderr[-2000:]
    record = json.loads(killed.stdout)
    assert record["steps"]["make"]["status"] == "failed"
    assert "kernel died" in record["steps"]["make"]["error"]
    assert any(k.startswith("killed/artifacts/") for k in bucket_keys("killed/"))  # one landed
    from mlpipe_jupyter.cache.store import Store

    assert Store.open(store).entries() == []  # nothing of it is trusted

    again = record_of(mlpipe_run(notebook, store, cluster))
    assert statuses(again) == {"make": "succeeded", "use": "succeeded"}
    assert again["steps"]["make"]["cache_key"] == record["steps"]["make"]["cache_key"]
    assert output(store, notebook, again, "use", "c") == 12


def test_cancelling_a_run_stops_its_step_on_a_worker_that_cannot_read_the_records(
    cluster, tmp_path, monkeypatch
) -> None:
    import time

    import mlpipe_jupyter as mlp
    from mlpipe_jupyter import service

    monkeypatch.setenv("MLPIPE_SIGNING_KEY", KEY)
    store = f"s3://{BUCKET}/cancel"
    folder = tmp_path / "project"
    folder.mkdir()
    os.chmod(folder, 0o700)
    notebook = write_notebook(folder / "nb.ipynb", ["import time", "%%step slow\ntime.sleep(90)"])
    env = {**os.environ, **cluster["env"]}
    child = subprocess.Popen(
        [sys.executable, "-m", "mlpipe_jupyter", "run", notebook.name, "--store", store,
         "--scheduler", cluster["address"], "--json"],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 40
        run = None
        while time.monotonic() < deadline:
            found = mlp.runs(store=store, notebook=notebook)
            if found and found[0].steps["slow"].status == "running":
                run = found[0]
                break
            time.sleep(0.2)
        assert run is not None, "the step never started"
        started = time.monotonic()
        assert service.cancel(folder / ".mlpipe", run.id)  # what DELETE runs/ID does
        out, err = child.communicate(timeout=40)
    finally:
        if child.poll() is None:
            child.kill()
    record = json.loads(out)
    assert record["status"] == "cancelled", err[-2000:]
    # the worker's kernel was stopped (not left sleeping): the step returned and uploaded its
    # executed notebook, seconds after the cancel
    executed = f"cancel/runs/{run.id}/slow.ipynb"
    while executed not in bucket_keys(f"cancel/runs/{run.id}/"):
        assert time.monotonic() - started < 30, bucket_keys(f"cancel/runs/{run.id}/")
        time.sleep(0.2)
