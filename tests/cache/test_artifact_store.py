from __future__ import annotations

import json
import multiprocessing
import os
import time
from pathlib import Path

import numpy as np
import pytest

from mlpipe_jupyter.cache.keys import sha256_text
from mlpipe_jupyter.cache.store import CacheEntry, CorruptArtifact, Store
from mlpipe_jupyter.errors import MlpipeError


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "store")


def cached(store: Store, step: str = "train", value=None, *, key: str | None = None,
           created: float | None = None) -> CacheEntry:
    ref = store.put("model", np.arange(10) if value is None else value)
    entry = CacheEntry(
        step_key=key or sha256_text(f"{step}{ref.key}{created}"), step=step,
        outputs={"model": ref}, displays=[{"output_type": "stream", "name": "stdout",
                                            "text": "fitted\n"}],
        created=time.time() if created is None else created, duration_s=1.5,
    )
    store.commit(entry)
    return entry


def test_commit_then_lookup_gives_the_entry_back(store) -> None:
    entry = cached(store)
    found = store.lookup(entry.step_key)
    assert found == entry
    np.testing.assert_array_equal(store.get(found.outputs["model"]), np.arange(10))
    assert json.loads(store.entry_path(entry.step_key).read_text())["step"] == "train"


def test_lookup_of_an_unknown_key_is_none(store) -> None:
    assert store.lookup("0" * 64) is None


def test_truncated_artifact_is_refused_by_lookup_and_get(store, caplog) -> None:
    entry = cached(store)
    ref = entry.outputs["model"]
    path = store.artifact_path(ref)
    path.write_bytes(path.read_bytes()[: ref.size // 2])
    assert store.lookup(entry.step_key) is None
    assert "truncated" in caplog.text and "'model'" in caplog.text
    with pytest.raises(CorruptArtifact, match=str(path)):
        store.get(ref)


def test_same_size_corruption_is_caught_by_the_checksum(store) -> None:
    entry = cached(store)
    ref = entry.outputs["model"]
    path = store.artifact_path(ref)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptArtifact, match="sha256 does not match its name\\) and was removed") as caught:
        store.get(ref)
    # one line a front end shows as it shows any mlpipe error (the CLI, the SDK, the magics)
    assert isinstance(caught.value, MlpipeError) and "\n" not in str(caught.value)
    assert not path.exists() and store.lookup(entry.step_key) is None
    assert store.put("model", np.arange(10)) == ref  # the next run writes it again
    assert store.lookup(entry.step_key) == entry


def test_missing_artifact_makes_the_entry_unusable(store) -> None:
    entry = cached(store)
    store.artifact_path(entry.outputs["model"]).unlink()
    assert store.lookup(entry.step_key) is None
    with pytest.raises(CorruptArtifact, match="missing"):
        store.get(entry.outputs["model"])


def test_leftover_temp_files_are_ignored(store) -> None:
    entry = cached(store)
    (store.cache_dir / f".tmp-999-x.json").write_text('{"step_key": "half')
    (store.artifacts_dir / ".tmp-999-y").write_bytes(b"half an artifact")
    assert [e.step_key for e in store.entries()] == [entry.step_key]
    assert store.lookup(entry.step_key) == entry


def test_unreadable_entry_file_is_ignored(store) -> None:
    store.entry_path("f" * 64).write_text("{not json")
    assert store.lookup("f" * 64) is None and store.entries() == []


def test_latest_for_step_and_prune(store) -> None:
    old = cached(store, value=np.ones(3), created=100.0)
    new = cached(store, value=np.zeros(3), created=200.0)
    other = cached(store, step="load", value=np.ones(3), created=150.0)
    assert store.latest_for_step("train") == new
    assert store.latest_for_step("nope") is None
    report = store.prune(grace_s=0)
    assert report.entries_removed == 1
    assert {e.step_key for e in store.entries()} == {new.step_key, other.step_key}
    assert store.lookup(old.step_key) is None
    assert store.lookup(new.step_key) and store.lookup(other.step_key)  # shared artifact kept


def test_prune_keeps_young_unreferenced_artifacts(store) -> None:
    ref = store.put("x", np.arange(3))
    assert store.prune(grace_s=3600).artifacts_removed == 0
    assert store.artifact_path(ref).exists()
    assert store.prune(grace_s=0).artifacts_removed == 1


def test_default_root_beside_the_notebook_or_from_env(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    assert Store.default_root(tmp_path / "nb.ipynb") == tmp_path.resolve() / ".mlpipe"
    monkeypatch.setenv("MLPIPE_STORE", str(tmp_path / "elsewhere"))
    assert Store.default_root(tmp_path / "nb.ipynb") == tmp_path / "elsewhere"


def _writer(root: str, seed: int, rounds: int) -> None:
    store = Store.open(root)
    for i in range(rounds):
        ref = store.put("model", np.full(20_000, seed * 1000 + i))
        store.commit(CacheEntry("e" * 64, "train", {"model": ref}, created=time.time()))


@pytest.mark.timeout(120)
def test_concurrent_commits_from_two_processes_leave_a_valid_entry(store) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(store.root), s, 15)) for s in (1, 2)]
    for proc in procs:
        proc.start()
    deadline = time.time() + 60
    while any(p.is_alive() for p in procs) and time.time() < deadline:
        entry = store.lookup("e" * 64)  # a reader never sees a half-written entry
        if entry is not None:
            store.get(entry.outputs["model"])
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    entry = store.lookup("e" * 64)
    value = store.get(entry.outputs["model"])
    assert value[0] in (1014, 2014) and (value == value[0]).all()
    assert not list(store.cache_dir.glob(".tmp-*")) and not list(store.artifacts_dir.glob(".tmp-*"))


def test_commit_refuses_an_entry_whose_artifact_is_missing(store) -> None:
    entry = cached(store)
    store.artifact_path(entry.outputs["model"]).unlink()
    with pytest.raises(CorruptArtifact, match="output 'model'"):
        store.commit(entry)
    assert isinstance(store.root, Path) and os.path.isdir(store.runs_dir)


def test_latest_for_step_follows_the_last_commit_and_survives_a_lost_pointer(store) -> None:
    first = cached(store, value=np.ones(2), created=300.0)
    second = cached(store, value=np.zeros(2), created=400.0)
    assert store.latest_for_step("train") == second
    (store.cache_dir / "latest" / "train.json").unlink()
    store.entry_path(second.step_key).unlink()
    assert store.latest_for_step("train") == first
