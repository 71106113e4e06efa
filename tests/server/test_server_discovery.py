"""Which stores the server's GET routes read: every `.mlpipe` with a database under the root."""

from __future__ import annotations

from pathlib import Path

from mlpipe_jupyter.server.discovery import StoreFinder, find_stores


def store(folder: Path) -> Path:
    (folder / ".mlpipe").mkdir(parents=True)
    (folder / ".mlpipe" / "mlpipe.db").write_bytes(b"")
    return (folder / ".mlpipe").resolve()


def test_stores_are_found_a_few_levels_deep_but_not_in_hidden_folders_or_envs(tmp_path):
    found = [store(tmp_path), store(tmp_path / "a"), store(tmp_path / "a" / "b" / "c")]
    store(tmp_path / ".hidden" / "x")
    store(tmp_path / "node_modules" / "pkg")
    store(tmp_path / "1" / "2" / "3" / "4" / "5")  # deeper than 4 levels
    (tmp_path / "empty" / ".mlpipe").mkdir(parents=True)  # no database: not a store
    assert find_stores(tmp_path) == sorted(found)


def test_a_bounded_scan_stops_early(tmp_path):
    for n in range(30):
        (tmp_path / f"d{n:02d}").mkdir()
    store(tmp_path / "d29")
    assert find_stores(tmp_path, max_dirs=10) == []
    assert find_stores(tmp_path) == [(tmp_path / "d29" / ".mlpipe").resolve()]


def test_the_finder_caches_and_rescans_when_asked(tmp_path):
    finder = StoreFinder(tmp_path, ttl_s=3600)
    assert finder.stores() == []
    made = store(tmp_path / "sub")
    assert finder.stores() == []  # cached
    assert finder.stores(fresh=True) == [made]
