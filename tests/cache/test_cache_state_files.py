"""The sidebar's cache state makes the planner's file checks: stale before anything runs."""

from __future__ import annotations

from pathlib import Path

from mlpipe_jupyter.analysis import analyze
from mlpipe_jupyter.analysis.model import Cell
from mlpipe_jupyter.cache.files import HashCache, file_fact
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.execute import planner
from mlpipe_jupyter.server.cache_state import annotate


def test_a_changed_file_shows_stale_with_its_name(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x\n1\n")
    pipeline = analyze([Cell(0, "code", "import os"),
                        Cell(1, "code", "%%step load\nrows = open('data.csv').read()")])
    store = Store.open(tmp_path / ".mlpipe")
    decision = planner.decide(pipeline.step("load"), pipeline, store, {}, {}, base=tmp_path)
    fact = file_fact(str(tmp_path / "data.csv"), tmp_path, HashCache.at(None))
    assert fact is not None
    store.commit(CacheEntry(decision.key, "load", {}, ingredients=decision.ingredients,
                            files_read=(fact,)))

    def state() -> dict:
        dag = annotate(pipeline.to_json(), pipeline, store.root, tmp_path)
        return dag["steps"][0]["cache_state"]

    assert state()["state"] == "cached"
    (tmp_path / "data.csv").write_text("x\n2\n")
    assert state() == {"state": "stale", "reason": "file data.csv changed"}
    (tmp_path / "data.csv").unlink()
    assert state() == {"state": "stale", "reason": "file data.csv deleted"}
