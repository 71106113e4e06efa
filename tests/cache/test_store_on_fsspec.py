"""The Store on object storage (fsspec), here fsspec's in-memory filesystem: the same
promises as a folder (checksums, signed entries, entry written last), and one line for a
URL whose filesystem package is missing. tests/remote runs it against a real S3 endpoint."""

from __future__ import annotations

import json
import uuid

import pytest

from mlpipe_jupyter.cache import fs as storefs
from mlpipe_jupyter.cache.store import CacheEntry, CorruptArtifact, Store
from mlpipe_jupyter.errors import BadInput
from mlpipe_jupyter.stores import is_url, location, records_root, resolve_store


@pytest.fixture
def url() -> str:
    return f"memory://bucket-{uuid.uuid4().hex[:8]}/team/cache-store"


def test_a_url_store_keeps_values_and_entries_in_the_bucket(url: str, tmp_path) -> None:
    store = Store.open(url, notebook=tmp_path / "project" / "nb.ipynb")
    assert store.remote and store.url == url
    assert store.records_root == tmp_path / "project" / ".mlpipe"  # records stay local
    ref = store.put("x", [1, 2, 3])
    store.commit(CacheEntry(step_key="c" * 64, step="load", outputs={"x": ref}))
    again = Store.open(url)
    entry = again.lookup("c" * 64)
    assert entry is not None and again.get(entry.outputs["x"]) == [1, 2, 3]
    assert [e.step for e in again.entries()] == ["load"]
    assert again.latest_for_step("load").step_key == "c" * 64
    names = store.fs.fs.find(str(store.root))
    assert any("/artifacts/" in n for n in names) and any(n.endswith("c" * 64 + ".json")
                                                          for n in names)
    assert not (tmp_path / "project").exists()  # nothing of the store was made locally


def test_a_flipped_byte_in_the_bucket_is_caught_and_removed(url: str) -> None:
    store = Store.open(url)
    ref = store.put("x", "some value")
    path = store.artifact_path(ref)
    data = bytearray(store.read_bytes(path))
    data[-1] ^= 1
    store.write_bytes(path, bytes(data))
    with pytest.raises(CorruptArtifact, match="corrupt"):
        store.get(ref)
    assert store.has(ref) == "missing"
    assert store.put("x", "some value") == ref and store.get(ref) == "some value"


def test_an_entry_without_its_artifacts_or_signed_by_another_key_is_not_trusted(
    url: str, monkeypatch
) -> None:
    store = Store.open(url)
    ref = store.put("x", 5)
    store.commit(CacheEntry(step_key="d" * 64, step="fit", outputs={"x": ref}))
    monkeypatch.setenv("MLPIPE_SIGNING_KEY", "another team")
    assert store.lookup("d" * 64) is None
    monkeypatch.delenv("MLPIPE_SIGNING_KEY")
    assert store.lookup("d" * 64) is not None
    store.fs.remove(store.artifact_path(ref))  # a writer killed before its artifact landed
    assert store.lookup("d" * 64) is None


def test_a_truncated_entry_is_ignored(url: str) -> None:
    store = Store.open(url)
    ref = store.put("x", 5)
    store.commit(CacheEntry(step_key="e" * 64, step="fit", outputs={"x": ref}))
    path = store.entry_path("e" * 64)
    store.write_bytes(path, store.read_bytes(path)[:40])
    assert store.lookup("e" * 64) is None


def test_prune_on_object_storage(url: str) -> None:
    store = Store.open(url)
    old = store.put("x", "old")
    new = store.put("x", "new")
    store.commit(CacheEntry(step_key="1" * 64, step="s", outputs={"x": old}, created=1.0))
    store.commit(CacheEntry(step_key="2" * 64, step="s", outputs={"x": new}, created=2.0))
    report = store.prune(grace_s=0)
    assert report.entries_removed == 1 and report.artifacts_removed == 1
    assert store.has(new) is None and store.has(old) == "missing"


@pytest.mark.parametrize(("given", "line"), [
    ("abfs://container/prefix", "store abfs://container/prefix needs adlfs:"
     " pip install mlpipe-jupyter[azure]"),
    ("gs://bucket/prefix", "store gs://bucket/prefix needs gcsfs: pip install mlpipe-jupyter[gcs]"),
])
def test_a_url_whose_package_is_missing_is_one_line(given: str, line: str) -> None:
    with pytest.raises(BadInput) as caught:
        Store.open(given)
    assert str(caught.value) == line


def test_store_options_come_from_one_json_variable(monkeypatch) -> None:
    monkeypatch.setenv("MLPIPE_STORE_OPTIONS", json.dumps({"endpoint_url": "http://x:1"}))
    assert storefs.storage_options() == {"endpoint_url": "http://x:1"}
    monkeypatch.setenv("MLPIPE_STORE_OPTIONS", "[1]")
    with pytest.raises(BadInput, match="JSON object"):
        storefs.storage_options()


def test_the_store_rule_keeps_urls_and_puts_records_beside_the_notebook(tmp_path) -> None:
    assert resolve_store("s3://b/p/") == "s3://b/p"
    assert resolve_store("file:///srv/store") == location("/srv/store")
    assert is_url("s3://b/p") and not is_url("file:///x") and not is_url(tmp_path)
    assert records_root("s3://b/p", tmp_path / "nb.ipynb") == tmp_path / ".mlpipe"
    assert records_root(tmp_path / "store") == tmp_path / "store"
