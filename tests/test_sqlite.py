"""The shared records database: a damaged file is set aside, a locked one is waited for."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mlpipe_jupyter import sqlite as db


def _fresh_path(tmp_path: Path) -> Path:
    path = tmp_path / "mlpipe.db"
    db.ensure_wal(path)
    return path


def test_random_bytes_are_moved_aside_and_a_fresh_database_is_made(tmp_path: Path, caplog) -> None:
    path = tmp_path / "mlpipe.db"
    path.write_bytes(b"\x8f" * 5000)
    db.ensure_wal(path)
    with db.transaction(path, write=True) as conn:
        conn.execute("CREATE TABLE t (x)")
    aside = list(tmp_path.glob("mlpipe.db.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_bytes() == b"\x8f" * 5000
    assert "moved aside" in caplog.text and "file is not a database" in caplog.text


def test_a_malformed_page_is_found_and_set_aside(tmp_path: Path) -> None:
    path = tmp_path / "mlpipe.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("v" * 500,) for _ in range(200)])
    conn.execute("CREATE INDEX i ON t (x)")
    conn.commit()
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page: 3 * page + 200] = b"\xff" * 200  # garble a page in the middle
    path.write_bytes(bytes(data))
    db.ensure_wal(path)
    assert list(tmp_path.glob("mlpipe.db.corrupt-*"))
    with db.transaction(path) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0


def test_a_healthy_database_is_left_alone(tmp_path: Path) -> None:
    path = _fresh_path(tmp_path)
    with db.transaction(path, write=True) as conn:
        conn.execute("CREATE TABLE t (x)")
    db._checked.clear()
    db.ensure_wal(path)
    assert not list(tmp_path.glob("*.corrupt-*"))


def test_a_lock_held_too_long_is_one_line_not_a_traceback(tmp_path: Path, monkeypatch, caplog) -> None:
    path = _fresh_path(tmp_path)
    monkeypatch.setattr(db, "BUSY_TIMEOUT_S", 1.5)
    monkeypatch.setattr(db, "LOCK_SLICE_S", 0.2)
    monkeypatch.setattr(db, "SAY_AFTER_S", 0.5)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(db.DatabaseBusy, match="stayed locked by another process") as caught:
            with db.transaction(path, write=True):
                pass
        assert "\n" not in str(caught.value)
        assert "waiting for" in caplog.text
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def test_a_lock_released_while_waiting_goes_on(tmp_path: Path, monkeypatch) -> None:
    path = _fresh_path(tmp_path)
    monkeypatch.setattr(db, "LOCK_SLICE_S", 0.2)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    threading.Timer(0.8, lambda: (holder.execute("ROLLBACK"), holder.close())).start()
    started = time.monotonic()
    with db.transaction(path, write=True) as conn:
        conn.execute("CREATE TABLE t (x)")
    assert 0.5 < time.monotonic() - started < 10


def test_cli_on_a_damaged_database_says_so_in_one_line_and_works(tmp_path: Path) -> None:
    store = tmp_path / ".mlpipe"
    store.mkdir()
    (store / "mlpipe.db").write_bytes(b"not a database at all" * 100)
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "runs", "--store", str(store)],
        capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "moved aside" in done.stderr
