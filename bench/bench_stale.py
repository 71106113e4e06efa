"""What "a cache hit is never stale" costs a no-change rerun (issue 8).

Whole `mlpipe run` commands (process start to exit), medians of `--repeat`:

- chain6 no-change rerun: 6 chained steps, every one cached. Target < 1 s.
- files300 no-change rerun: one step that read 300 files (each is re-stat-ed
  by the plan). Target < 1.5 s.
- files300 after touching all 300 without changing them: nothing re-runs; the
  first such plan rehashes each file once, later ones only stat them.

Beside each, in the same session: the plan itself in-process with the new
checks (local modules, installed versions, files read) and with them switched
off (the key recipe before issue 8), so the difference is what the checks cost.
The figure before this work is in bench/README.md (chain6 no-change 0.48 s).

Run: `.venv/bin/python bench/bench_stale.py [--repeat 5]` (about a minute).
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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
                   "outputs": [], "source": src} for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def chain6() -> list[str]:
    cells = ["import math"]
    for i in range(6):
        reads = f"x{i - 1} + " if i else ""
        cells.append(f"%%step s{i}\nx{i} = {reads}1")
    return cells


def files300() -> list[str]:
    return [
        "from glob import glob",
        "%%step load\ntotal = 0\nfor p in sorted(glob('parts/*.txt')):\n"
        "    total += int(open(p).read())",
        "%%step show\nprint(total)",
    ]


def run(folder: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([*MLPIPE, "run", "nb.ipynb", "--json"], cwd=folder,
                          capture_output=True, text=True, check=True)
    return time.perf_counter() - started, json.loads(done.stdout)


def dag_seconds(folder: Path, repeat: int) -> float:
    """`mlpipe dag` of the same notebook: process start, imports and analysis, no plan."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        subprocess.run([*MLPIPE, "dag", "nb.ipynb", "--format", "json"], cwd=folder,
                       capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def statuses(record: dict) -> set[str]:
    return {s["status"] for s in record["steps"].values()}


def timed_reruns(folder: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        seconds, record = run(folder)
        assert statuses(record) == {"cached"}, record
        times.append(seconds)
    return statistics.median(times)


@contextmanager
def checks_off() -> Iterator[None]:
    """The plan as before issue 8: no module/package/file ingredients, no file checks."""
    from mlpipe_jupyter.cache import modules
    from mlpipe_jupyter.execute import planner

    saved = (modules.environment, planner.entry_stale)
    modules.environment = lambda *a, **k: modules.Environment()  # type: ignore[assignment]
    planner.entry_stale = lambda *a, **k: None  # type: ignore[assignment]
    try:
        yield
    finally:
        modules.environment, planner.entry_stale = saved


def plan_ms(folder: Path, repeat: int) -> float:
    """Median in-process `plan()` time (ms) of the folder's notebook, on its store."""
    from mlpipe_jupyter.analysis import analyze_notebook
    from mlpipe_jupyter.cache.store import Store
    from mlpipe_jupyter.execute import planner

    pipeline = analyze_notebook(folder / "nb.ipynb")
    store = Store.open(folder / ".mlpipe")
    params = planner.param_values(pipeline, {})
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        planner.plan(pipeline, store, params, base=folder)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    began = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        chain = Path(tmp) / "chain6"
        chain.mkdir()
        (chain / "nb.ipynb").write_text(json.dumps(notebook(chain6())))
        run(chain)
        rows.append(("chain6 no-change rerun", timed_reruns(chain, args.repeat), "< 1 s",
                     "0.48s (bench/README.md, 2026-11-22)"))
        rows.append(("chain6 `mlpipe dag` (floor)", dag_seconds(chain, args.repeat), "-",
                     "start + imports + analysis, same session"))
        many = Path(tmp) / "files300"
        (many / "parts").mkdir(parents=True)
        for i in range(300):
            (many / "parts" / f"{i:03}.txt").write_text(str(i))
        (many / "nb.ipynb").write_text(json.dumps(notebook(files300())))
        _, cold = run(many)
        assert statuses(cold) == {"succeeded"}
        rows.append(("files300 no-change rerun", timed_reruns(many, args.repeat), "< 1.5 s", "-"))
        rows.append(("files300 `mlpipe dag` (floor)", dag_seconds(many, args.repeat), "-", "-"))
        later = time.time() + 10
        for path in (many / "parts").iterdir():
            os.utime(path, (later, later))
        first, record = run(many)
        assert statuses(record) == {"cached"}, "touching without changing re-ran a step"
        rows.append(("files300 touched: 1st rerun", first, "nothing re-runs", "-"))
        rows.append(("files300 touched: later", timed_reruns(many, args.repeat), "< 1.5 s", "-"))
        plans = [(name, plan_ms(folder, args.repeat)) for name, folder in
                 (("chain6", chain), ("files300", many))]
        with checks_off():
            before = {name: plan_ms(folder, args.repeat) for name, folder in
                      (("chain6", chain), ("files300", many))}
    print(f"{'workload':30} {'mlpipe':>8}  {'target':16} before")
    for name, seconds, target, old in rows:
        print(f"{name:30} {seconds:7.2f}s  {target:16} {old}")
    print(f"\n{'in-process plan()':30} {'checks':>8}  {'without checks (the old key)'}")
    for name, ms in plans:
        print(f"{name:30} {ms:6.1f}ms  {before[name]:6.1f}ms")
    print(f"(medians of {args.repeat}; bench took {time.perf_counter() - began:.0f}s)")


if __name__ == "__main__":
    main()
