"""What watching a step's reads costs (issue 20): the read watcher (LD_PRELOAD interposer)
plus the audit hook, the log merge and the report, against the same step untracked.

- open1000: a step that opens and reads 1,000 small files.
- spawn100: a step that runs 100 short subprocesses (`cat` of a small file).
Each is timed in a fresh interpreter, untracked (no interposer, no tracker) and tracked
(interposer loaded, `tracking.start` .. `tracking.stop` + `file_report`, as a step's kernel
does; its `file_report` hashes every file read, as before issue 20), and with the audit
hook alone (the tracker before issue 20), medians of `--repeat`. Then `mlpipe run` of chain6 (6 chained steps) with nothing
changed, whole command, median of 3: target < 1 s (bench/README.md has the figure before).

Run: `.venv/bin/python bench/bench_watch.py [--repeat 5]` (about a minute).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

CHILD = r"""
import json, os, subprocess, sys, time
from pathlib import Path
case, tracked, repeat, folder = sys.argv[1], sys.argv[2] != "0", int(sys.argv[3]), Path(sys.argv[4])
os.chdir(folder)
times = []
for _ in range(repeat):
    if tracked:
        from mlpipe_jupyter.compile import tracking
        tracking.start(folder, None)
    start = time.perf_counter()
    if case == "open1000":
        for i in range(1000):
            with open(f"f{i}.txt") as fh:
                fh.read()
    else:
        for _ in range(100):
            subprocess.run(["cat", "f0.txt"], stdout=subprocess.DEVNULL)
    if tracked:
        report = tracking.file_report(tracking.stop(), None)
        assert report.opaque or len(report.files_read) == (1000 if case == "open1000" else 1)
    times.append(time.perf_counter() - start)
print(json.dumps(times))
"""


def step_times(case: str, mode: str, repeat: int, folder: Path) -> list[float]:
    """mode: "untracked"; "hook" (the tracker without the interposer: before issue 20);
    "watched" (the interposer loaded too: now)."""
    from mlpipe_jupyter.watch import preload_env

    env = preload_env() if mode == "watched" else {k: v for k, v in os.environ.items()
                                                   if k != "LD_PRELOAD"}
    done = subprocess.run([sys.executable, "-c", CHILD, case, "0" if mode == "untracked" else "1",
                           str(repeat), str(folder)], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout)


def chain6_rerun(repeat: int) -> float:
    from bench_stale import chain6, notebook

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "nb.ipynb").write_text(json.dumps(notebook(chain6())))
        cmd = [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb"]
        subprocess.run(cmd, cwd=tmp, capture_output=True, check=True)
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            out = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True, check=True)
            times.append(time.perf_counter() - start)
            table = out.stdout.split("STEP  STATUS", 1)[-1].splitlines()[1:]
            assert all(row.split()[1] == "cached" for row in table if row.startswith("s")), out.stdout
        return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from mlpipe_jupyter.watch.build import library

    print(f"read watcher: {library() or 'not available (no C compiler)'}")
    with tempfile.TemporaryDirectory(prefix="bench-watch-", dir=os.getcwd()) as tmp:
        folder = Path(tmp)
        for i in range(1000):
            (folder / f"f{i}.txt").write_text(f"{i}\n")
        for case in ("open1000", "spawn100"):
            plain, hook, watched = (statistics.median(step_times(case, mode, args.repeat, folder))
                                    for mode in ("untracked", "hook", "watched"))
            print(f"{case:9} untracked {plain * 1000:7.1f} ms   audit hook only (before) "
                  f"{hook * 1000:7.1f} ms   hook + interposer (now) {watched * 1000:7.1f} ms"
                  f"   now/untracked x{watched / plain:.2f}")
    rerun = chain6_rerun(3)
    print(f"chain6 no-change mlpipe run: {rerun:.2f} s (target < 1 s)")


if __name__ == "__main__":
    main()
