"""A signed store: entries planted by someone without the key are never loaded.

Unit tests on the Store, then one from outside: a real `mlpipe run` after an
attacker pointed a cache entry at a pickle that would run code when loaded.
"""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import hashlib
from pathlib import Path

import pytest

from mlpipe_jupyter.cache import signing
from mlpipe_jupyter.cache.store import CacheEntry, Store


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(tmp_path / "store")


def committed(store: Store, value: object = 41) -> CacheEntry:
    entry = CacheEntry(step_key="a" * 64, step="load", outputs={"x": store.put("x", value)})
    store.commit(entry)
    return entry


def test_an_entry_we_committed_is_signed_and_found(store: Store) -> None:
    entry = committed(store)
    data = json.loads(store.entry_path(entry.step_key).read_text())
    assert len(data["signature"]) == 64
    assert store.lookup(entry.step_key) == entry


def test_an_unsigned_or_edited_entry_is_ignored_with_one_warning(store: Store, caplog) -> None:
    entry = committed(store)
    path = store.entry_path(entry.step_key)
    data = json.loads(path.read_text())
    data["duration_s"] = 99.0  # edited after signing
    path.write_text(json.dumps(data))
    assert store.lookup(entry.step_key) is None
    assert store.lookup(entry.step_key) is None
    warned = [r.getMessage() for r in caplog.records if "signature does not match" in r.getMessage()]
    assert len(warned) == 1 and entry.step_key in warned[0]
    del data["signature"]
    path.write_text(json.dumps(data))
    assert store.lookup(entry.step_key) is None
    assert any("it is not signed" in r.getMessage() for r in caplog.records)


def test_another_key_does_not_trust_our_entries(store: Store, monkeypatch) -> None:
    entry = committed(store)
    monkeypatch.setenv(signing.KEY_ENV, "the team's shared key")
    assert store.lookup(entry.step_key) is None
    committed(store)  # signed with the team key now
    assert store.lookup(entry.step_key) is not None


@pytest.mark.parametrize("text", ["[1, 2]", '"x"', "{}", '{"step_key": 1, "outputs": 5}', "{bad"])
def test_entries_of_the_wrong_shape_are_skipped(store: Store, text: str) -> None:
    entry = committed(store)
    (store.cache_dir / ("b" * 64 + ".json")).write_text(text)
    assert [e.step_key for e in store.entries()] == [entry.step_key]
    assert store.lookup("b" * 64) is None
    store.prune()  # does not crash either


def test_the_per_user_key_is_made_once_owner_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(signing.KEY_ENV, raising=False)
    monkeypatch.setenv(signing.KEY_FILE_ENV, "")
    monkeypatch.setattr(signing, "default_key_path", lambda: tmp_path / "k" / "signing.key")
    first = signing.signing_key()
    assert (tmp_path / "k" / "signing.key").stat().st_mode & 0o777 == 0o600
    monkeypatch.setattr(signing, "_cached", None)
    assert signing.signing_key() == first and len(first) == 64


class _Planted:
    """Unpickling this writes a marker file: what an attacker's payload would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204
        return (Path.write_text, (Path(self.marker), "pwned"))


NOTEBOOK = {
    "cells": [
        {"cell_type": "code", "metadata": {}, "source": "%%step load\nx = 41", "outputs": []},
        {"cell_type": "code", "metadata": {}, "source": "%%step show\nprint(x + 1)",
         "outputs": []},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


@pytest.mark.integration
def test_a_planted_pickle_behind_a_forged_entry_never_runs(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(json.dumps(NOTEBOOK))
    marker = tmp_path / "marker"

    def mlpipe_run() -> dict:
        done = subprocess.run(
            [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb", "--json"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return json.loads(done.stdout)

    first = mlpipe_run()
    store = Store.open(tmp_path / ".mlpipe")
    key = first["steps"]["load"]["cache_key"]
    path = store.entry_path(key)
    data = json.loads(path.read_text())
    payload = pickle.dumps(_Planted(str(marker)))
    digest = hashlib.sha256(payload).hexdigest()
    planted = store.artifacts_dir / digest[:2] / f"{digest}.pkl"
    planted.parent.mkdir(parents=True, exist_ok=True)
    planted.write_bytes(payload)
    data["outputs"]["x"].update(key=digest, size=len(payload), format="cloudpickle")
    path.write_text(json.dumps(data))  # the old signature no longer matches

    second = mlpipe_run()
    assert not marker.exists()
    assert second["steps"]["load"]["status"] == "succeeded"  # re-ran, the forged entry unused
    import mlpipe_jupyter as mlp

    assert mlp.get_run(second["run_id"], store=tmp_path / ".mlpipe")["load"]["x"] == 41
    assert not marker.exists()


def test_put_replaces_an_existing_artifact_of_the_same_size_with_a_flipped_byte(store: Store) -> None:
    ref = store.put("x", list(range(100)))
    path = store.artifact_path(ref)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert store.put("x", list(range(100))) == ref
    assert store.get(ref) == list(range(100))  # healed by the put, not trusted by size


@pytest.mark.parametrize("root", ["/proc/mlpipe-store", "/dev/null/store"])
def test_a_store_that_cannot_be_made_is_one_line_bad_input(root: str) -> None:
    from mlpipe_jupyter.errors import BadInput

    with pytest.raises(BadInput, match=r"cannot use the store .*; choose a folder you can write"):
        Store.open(root)


def test_a_dead_writers_temp_file_is_removed_by_the_next_writer(store: Store) -> None:
    import os
    import time as clock

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True).stdout.strip()
    stale = store.artifacts_dir / f".tmp-{dead}-deadbeef"
    stale.write_bytes(b"x" * 1000)
    live = store.artifacts_dir / f".tmp-{os.getpid()}-cafe"
    live.write_bytes(b"y")
    old = clock.time() - 120
    for path in (stale, live):
        os.utime(path, (old, old))
    store.put("x", 1)
    assert not stale.exists() and live.exists()  # a live writer's file stays
