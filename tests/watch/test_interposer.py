"""The read watcher itself, without kernels: what a process and its children log, and how
the tracker and the validity check read it (issue 20). Each case runs a small Python child
with the interposer loaded, as a step's kernel has it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlpipe_jupyter.cache.files import entry_changed
from mlpipe_jupyter.cache.store import CacheEntry
from mlpipe_jupyter.watch import events
from mlpipe_jupyter.watch.build import library

pytestmark = pytest.mark.skipif(shutil.which("cc") is None or library() is None,
                                reason="no C compiler: the read watcher cannot be built")


def _watched(tmp_path: Path, code: str) -> list[events.Event]:
    log = tmp_path / "events.log"
    env = {**os.environ, "LD_PRELOAD": library(), "MLPIPE_WATCH_LOG": str(log)}
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True)
    return [e for e in events.read(str(log)) if str(tmp_path) in e.path or e.op == "O"]


def test_reads_in_c_libraries_and_children_with_fingerprints(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a\n")
    import sqlite3

    sqlite3.connect(tmp_path / "data.db").execute("create table t(a)").connection.commit()
    seen = _watched(tmp_path, (
        "import os, sqlite3, subprocess\n"
        "sqlite3.connect('data.db').execute('select * from t').fetchall()\n"
        "os.path.exists('overrides.csv')\n"
        "subprocess.run(['cat', 'a.txt'], env={'PATH': os.environ['PATH']},"
        " stdout=subprocess.DEVNULL, check=True)\n"
        "subprocess.run(['/sbin/ldconfig', '--version'], stdout=subprocess.DEVNULL)\n"
    ))
    by_path = {(e.op, os.path.basename(e.path)): e for e in seen}
    db = by_path[("U", "data.db")]  # sqlite opens its database read-write
    st = (tmp_path / "data.db").stat()
    assert db.fingerprint == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    assert by_path[("S", "overrides.csv")].errno == 2
    cat = by_path[("R", "a.txt")]  # in `cat`, whose environment had lost LD_PRELOAD
    assert cat.pid != db.pid
    if os.path.exists("/sbin/ldconfig"):
        assert ("O", "ldconfig (statically linked)") in by_path


def test_errno_is_what_the_c_library_set(tmp_path: Path) -> None:
    _watched(tmp_path, (
        "import errno, os\n"
        "try:\n    open('missing.txt')\nexcept FileNotFoundError as e:\n"
        "    assert e.errno == errno.ENOENT\n"
        "assert not os.access('missing.txt', os.R_OK)\n"
    ))


def test_tracker_merges_the_watcher_events(tmp_path: Path) -> None:
    (tmp_path / "shard.txt").write_text("1\n")
    code = (
        "import json, os, subprocess, sys\n"
        "from pathlib import Path\n"
        "from mlpipe_jupyter.compile import tracking\n"
        "t = tracking.start(Path('.'), None)\n"
        "subprocess.run(['cat', 'shard.txt'], stdout=subprocess.DEVNULL)\n"
        "os.path.exists('overrides.csv')\n"
        "try:\n    open('local_settings.json')\nexcept FileNotFoundError:\n    pass\n"
        "r = tracking.file_report(tracking.stop(), None)\n"
        "print(json.dumps(r.to_json()))\n"
    )
    env = {**os.environ, "LD_PRELOAD": library()}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    report = json.loads(out.splitlines()[-1])
    assert [f["path"] for f in report["files_read"]] == ["shard.txt"]
    assert report["paths_absent"] == ["local_settings.json", "overrides.csv"]
    assert "opaque" not in report
    # without the watcher, a step that starts a program is opaque
    env.pop("LD_PRELOAD")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, check=True,
                         capture_output=True, text=True).stdout
    report = json.loads(out.splitlines()[-1])
    assert report["opaque"] == ["runs `cat`"]
    assert report["paths_absent"] == ["local_settings.json"]  # a failed `open` through Python


def _entry(tmp_path: Path, **fields) -> CacheEntry:
    return CacheEntry(step_key="k", step="s", outputs={}, **fields)


def test_same_size_and_mtime_is_rehashed(tmp_path: Path) -> None:
    from mlpipe_jupyter.cache.files import HashCache, file_fact

    path = tmp_path / "same.txt"
    path.write_text("aaaa\n")
    fact = file_fact(str(path), tmp_path, HashCache(None))
    entry = _entry(tmp_path, files_read=(fact,))
    assert entry_changed(entry, tmp_path, None) is None
    stamp = path.stat()
    path.write_text("bbbb\n")
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # cp -p, touch -r
    assert entry_changed(entry, tmp_path, None) == "file same.txt changed"


def test_absent_path_appearing_and_opaque_entries(tmp_path: Path) -> None:
    entry = _entry(tmp_path, paths_absent=("overrides.csv",))
    assert entry_changed(entry, tmp_path, None) is None
    (tmp_path / "overrides.csv").write_text("x\n")
    assert entry_changed(entry, tmp_path, None) == "file overrides.csv appeared"
    opaque = _entry(tmp_path, opaque=("runs `cat`",))
    assert entry_changed(opaque, tmp_path, None) == "reads not fully tracked: runs `cat`"
    assert entry_changed(opaque, tmp_path, None, opaque_ok=True) is None
    assert CacheEntry.from_json(opaque.to_json()).opaque == ("runs `cat`",)
