"""Benchmark `mlpipe run` against papermill on sleep-based notebooks.

Each figure is the median wall time of the whole command (process start to
exit) over `--repeat` runs, measured in the same session as its papermill
baseline:

- chain6: 6 steps in a chain, 1 s of sleep each. Cold run vs `papermill` of the
  whole notebook; no-change rerun; leaf-edit rerun vs `papermill` of a notebook
  holding only that step.
- fanout8: a `prepare` step and 8 independent 2 s branches on 2 workers:
  makespan vs the ideal (8 x 2 s / 2 workers + one papermill start).
- chain10: 10 trivial steps, cold, vs `papermill` of the whole notebook:
  the overhead per step.

Run: `.venv/bin/python bench/bench_run.py [--repeat 3]` (about 4-5 minutes).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent
MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]
PAPERMILL = [str(BIN / "papermill")]
WORKERS = 2


def notebook(cells: list[str]) -> dict:
    return {
        "cells": [
            {"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
             "outputs": [], "source": src}
            for i, src in enumerate(cells)
        ],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def chain(n: int, sleep_s: float, leaf_edit: int = 0) -> list[str]:
    cells = ["%load_ext mlpipe_jupyter", "import time"]
    for i in range(n):
        reads = f"x{i - 1} + " if i else ""
        extra = f" + {leaf_edit}" if i == n - 1 else ""
        body = f"time.sleep({sleep_s})\n" if sleep_s else ""
        cells.append(f"%%step s{i}\n{body}x{i} = {reads}1{extra}")
    return cells


def fanout(branches: int, sleep_s: float) -> list[str]:
    cells = ["%load_ext mlpipe_jupyter", "import time", "%%step prepare\ndata = list(range(10))"]
    for i in range(branches):
        cells.append(f"%%step b{i}\ntime.sleep({sleep_s})\nr{i} = sum(data) + {i}")
    return cells


def write(folder: Path, name: str, cells: list[str]) -> Path:
    path = folder / name
    path.write_text(json.dumps(notebook(cells)))
    return path


def timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return elapsed


def mlpipe_run(path: Path, store: Path) -> float:
    return timed([*MLPIPE, "run", path.name, "--store", str(store), "--workers", str(WORKERS),
                  "--json"], path.parent)


def papermill_run(path: Path) -> float:
    return timed([*PAPERMILL, path.name, f"{path.stem}.out.ipynb", "--no-progress-bar"],
                 path.parent)


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def bench_chain6(folder: Path, repeat: int) -> dict[str, float]:
    cold, rerun, edit, pm_whole, pm_step = [], [], [], [], []
    leaf_only = write(folder, "leaf.ipynb", ["import time", "x4 = 5", "time.sleep(1)\nx5 = x4 + 1"])
    for r in range(repeat):
        path = write(folder, "chain6.ipynb", chain(6, 1.0))
        store = folder / f"store6-{r}"
        cold.append(mlpipe_run(path, store))
        rerun.append(mlpipe_run(path, store))
        write(folder, "chain6.ipynb", chain(6, 1.0, leaf_edit=r + 1))
        edit.append(mlpipe_run(path, store))
        pm_whole.append(papermill_run(path))
        pm_step.append(papermill_run(leaf_only))
    return {"cold": median(cold), "rerun": median(rerun), "edit": median(edit),
            "pm_whole": median(pm_whole), "pm_step": median(pm_step)}


def bench_fanout(folder: Path, repeat: int) -> dict[str, float]:
    runs, pm_whole, pm_empty = [], [], []
    empty = write(folder, "empty.ipynb", ["x = 1"])
    for r in range(repeat):
        path = write(folder, "fanout.ipynb", fanout(8, 2.0))
        runs.append(mlpipe_run(path, folder / f"storef-{r}"))
        pm_whole.append(papermill_run(path))
        pm_empty.append(papermill_run(empty))
    ideal = 8 * 2.0 / WORKERS + median(pm_empty)
    return {"run": median(runs), "pm_whole": median(pm_whole), "ideal": ideal}


def bench_chain10(folder: Path, repeat: int) -> dict[str, float]:
    runs, pm_whole = [], []
    for r in range(repeat):
        path = write(folder, "chain10.ipynb", chain(10, 0.0))
        runs.append(mlpipe_run(path, folder / f"store10-{r}"))
        pm_whole.append(papermill_run(path))
    return {"run": median(runs), "pm_whole": median(pm_whole)}


def report(c6: dict[str, float], fo: dict[str, float], c10: dict[str, float]) -> str:
    rows = [
        ("chain6 cold run", c6["cold"], f"papermill whole {c6['pm_whole']:.2f}s",
         c6["cold"] / c6["pm_whole"], "< 1.25x"),
        ("chain6 no-change rerun", c6["rerun"], "-", None, "< 1 s"),
        ("chain6 leaf-edit rerun", c6["edit"], f"papermill 1 step {c6['pm_step']:.2f}s",
         c6["edit"] / c6["pm_step"], "< 1.3x"),
        ("fanout8 makespan", fo["run"], f"ideal {fo['ideal']:.2f}s (papermill whole"
         f" {fo['pm_whole']:.2f}s)", fo["run"] / fo["ideal"], "< 1.25x"),
        ("chain10 trivial cold", c10["run"], f"papermill whole {c10['pm_whole']:.2f}s",
         None, f"{(c10['run'] - c10['pm_whole']) / 10:+.2f} s/step (<= +0.30)"),
    ]
    lines = [f"{'workload':<24} {'mlpipe':>8}  {'baseline':<44} {'ratio':>6}  target"]
    for name, value, baseline, ratio, target in rows:
        shown = f"{ratio:.2f}x" if ratio is not None else "-"
        lines.append(f"{name:<24} {value:>7.2f}s  {baseline:<44} {shown:>6}  {target}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--only", choices=("chain6", "fanout8", "chain10"),
                        help="run one workload and print its raw figures")
    args = parser.parse_args()
    if args.only:
        folder = Path(tempfile.mkdtemp(prefix="mlpipe-bench-"))
        workload = {"chain6": bench_chain6, "fanout8": bench_fanout, "chain10": bench_chain10}
        print(args.only, workload[args.only](folder, args.repeat))
        shutil.rmtree(folder, ignore_errors=True)
        return
    folder = Path(tempfile.mkdtemp(prefix="mlpipe-bench-"))
    try:
        started = time.perf_counter()
        c6 = bench_chain6(folder, args.repeat)
        fo = bench_fanout(folder, args.repeat)
        c10 = bench_chain10(folder, args.repeat)
        print(report(c6, fo, c10))
        print(f"(medians of {args.repeat}; {WORKERS} workers; bench took"
              f" {time.perf_counter() - started:.0f}s)")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
