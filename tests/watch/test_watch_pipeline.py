"""What the cache watches (issue 20, DESIGN "What the cache watches"): reads below Python
and in child processes, files outside the project, paths that did not exist, fingerprints.

From outside, as a user would: `mlpipe run` a notebook whose steps read files through C
libraries, other processes and probes; change each file in a way Python's `open` never
saw; run again. Every step re-runs naming its file, and what each prints equals a
top-to-bottom papermill run in the same state. Many cases share one notebook so the
whole module costs a few pipeline runs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "never_stale"))
from stale_helpers import Folder, printed, statuses  # noqa: E402

from mlpipe_jupyter.watch.build import library  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("cc") is None or library() is None,
                       reason="no C compiler: the read watcher cannot be built"),
]


def _sqlite(path: Path, value: int) -> None:
    import sqlite3

    con = sqlite3.connect(path)
    con.execute("create table if not exists t(a)")
    con.execute("delete from t")
    con.execute("insert into t values (?)", (value,))
    con.commit()
    con.close()


def _arrow(folder: Path, value: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"a": [value, value + 1]})
    pq.write_table(table, folder / "part.parquet")
    with pa.OSFile(str(folder / "table.arrow"), "wb") as sink:
        with pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)


def _library(folder: Path, value: int) -> None:
    source = folder / "k.c"
    source.write_text(f"int k(void) {{ return {value}; }}\n")
    subprocess.run(["cc", "-shared", "-fPIC", "-o", str(folder / "libk.so"), str(source)],
                   check=True)
    source.unlink()


SETUP = """import os, sqlite3, subprocess
import pyarrow as pa, pyarrow.parquet as pq
OUTSIDE = {outside!r}

def first_line(path):
    with open(path) as fh:
        return fh.readline().strip()"""

STEPS = {
    "sq": "con = sqlite3.connect('data.db')\n"
          "print(con.execute('select sum(a) from t').fetchone()[0])\ncon.close()",
    "parquet": "print(pq.ParquetFile('part.parquet').read().column('a').to_pylist())",
    "ipc": "with pa.memory_map('table.arrow') as source:\n"
           "    print(pa.ipc.open_file(source).read_all().column('a').to_pylist())",
    "clib": "import ctypes\nprint(ctypes.CDLL(os.path.abspath('libk.so')).k())",
    "loky": "from joblib import Parallel, delayed\n"
            "print(Parallel(n_jobs=2)(delayed(first_line)(f'loky{i}.txt') for i in range(2)))",
    "pool": "from concurrent.futures import ProcessPoolExecutor\n"
            "with ProcessPoolExecutor(2) as ex:\n"
            "    print(list(ex.map(first_line, ['pool0.txt', 'pool1.txt'])))",
    "cat": "print(subprocess.run(['cat', 'cat.txt'], capture_output=True, text=True).stdout)",
    "bang": "lines = !cat bang.txt\nprint(lines)",
    "outside": "print(first_line(OUTSIDE))",
    "absent": "print(os.path.exists('overrides.csv'))",
    "same_stat": "print(first_line('same.txt'))",
}


def _notebook(folder: Path, outside: Path) -> Folder:
    sources = [SETUP.format(outside=str(outside))]
    sources += [f"%%step {name}\n{code}" for name, code in STEPS.items()]
    return Folder(folder, sources)


def _state(folder: Path, outside: Path, n: int) -> None:
    _sqlite(folder / "data.db", n)
    _arrow(folder, n)
    _library(folder, n)
    for name in ("loky0", "loky1", "pool0", "pool1", "cat", "bang"):
        (folder / f"{name}.txt").write_text(f"{name} {n}\n")
    outside.write_text(f"outside {n}\n")


def test_reads_anywhere_make_the_step_rerun(tmp_path: Path) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    outside = Path(os.environ.get("TMPDIR", "/tmp")) / f"mlpipe-b1-outside-{uuid.uuid4().hex}.txt"
    try:
        _state(project, outside, 1)
        (project / "same.txt").write_text("aaaa\n")
        folder = _notebook(project, outside)
        folder.write()
        before = folder.run()
        assert set(statuses(before).values()) == {"succeeded"}, statuses(before)
        assert printed(before) == folder.papermill(tmp_path)

        _state(project, outside, 2)
        (project / "overrides.csv").write_text("x\n")
        same = project / "same.txt"
        stamp = same.stat()
        same.write_text("bbbb\n")  # same size; mtime put back as `cp -p` / `touch -r` do
        os.utime(same, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))
        after = folder.run()
        reasons = {name: step["reason"] for name, step in after["steps"].items()}
        files = {"sq": "data.db", "parquet": "part.parquet", "ipc": "table.arrow",
                 "clib": "libk.so", "loky": "loky", "pool": "pool", "cat": "cat.txt",
                 "bang": "bang.txt", "outside": outside.name, "same_stat": "same.txt"}
        for name, file in files.items():
            assert "changed" in reasons[name] and file in reasons[name], (name, reasons[name])
        assert reasons["absent"] == "file overrides.csv appeared"
        assert printed(after) == folder.papermill(tmp_path)
    finally:
        outside.unlink(missing_ok=True)


def test_opaque_step_is_not_reused_unless_asked(tmp_path: Path) -> None:
    static = "/sbin/ldconfig"  # statically linked on Debian and most glibc systems
    if not os.path.exists(static):
        pytest.skip("no statically linked program here")
    call = f"print(subprocess.run([{static!r}, '--version'], capture_output=True, text=True)" \
           ".stdout.splitlines()[0][:9])"
    folder = Folder(tmp_path, [
        "import subprocess",
        f"%%step opaque\n{call}",
        f"%%step vouched --cache always\n{call}",
    ])
    folder.write()
    before = folder.run()
    assert set(statuses(before).values()) == {"succeeded"}
    again = folder.run()
    assert again["steps"]["opaque"]["status"] == "succeeded"
    assert again["steps"]["opaque"]["reason"] == "reads not fully tracked: runs `ldconfig`"
    assert again["steps"]["vouched"]["status"] == "cached"
    assert printed(again) == folder.papermill(tmp_path)


def test_file_edited_while_the_step_runs(tmp_path: Path) -> None:
    """Read, then changed before the step ended: not cached from the old content; the
    step runs once more in the same run and prints the new content."""
    (tmp_path / "slow.txt").write_text("old\n")
    folder = Folder(tmp_path, [
        "import os, time",
        "%%step slow\ntext = open('slow.txt').read().strip()\n"
        "open('started.flag', 'w').close()\n"
        "deadline = time.time() + 20\n"
        "while not os.path.exists('edited.flag') and time.time() < deadline:\n"
        "    time.sleep(0.05)\n"
        "print(text)",
    ])
    folder.write()

    def edit_once() -> None:
        deadline = time.time() + 120
        while not (tmp_path / "started.flag").exists() and time.time() < deadline:
            time.sleep(0.05)
        (tmp_path / "slow.txt").write_text("new\n")
        (tmp_path / "edited.flag").write_text("")

    editor = threading.Thread(target=edit_once, daemon=True)
    editor.start()
    record = folder.run()
    editor.join(5)
    assert record["steps"]["slow"]["status"] == "succeeded"
    assert record["steps"]["slow"]["printed"] == "new\n"
    again = folder.run()
    assert again["steps"]["slow"]["status"] == "cached"
