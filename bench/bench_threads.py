"""A numpy and a scikit-learn step as fast in a pipeline as in papermill (issue 27, item 1).

One notebook, two steps: `matrix` (six products of 1200x1200 matrices) and `forest`
(`RandomForestClassifier(n_estimators=200, n_jobs=-1)` on the digits), the second
`--after` the first so that each runs alone, as in papermill. Each is run
`--repeat` times (default 3) as a cold `mlpipe run` and as papermill of the plain copy,
alternating; the figure is each step cell's own time (`metadata.papermill.duration` of the
executed notebooks: the step's cell inside its step notebook, the same cell in papermill's
notebook) and the ratio pipeline / papermill, target <= 1.05. Before issue 27 the step
ran on one thread (Dask's nanny sets OMP/MKL/OPENBLAS_NUM_THREADS=1): about 2x on 2 cores.
Also printed: the thread count the run record gives each step.

Run: `.venv/bin/python bench/bench_threads.py [--repeat 3]` (about 2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_run import MLPIPE, PAPERMILL, timed  # noqa: E402
from bench_warm import plain, write  # noqa: E402

CELLS = [
    "%load_ext mlpipe_jupyter",
    "import numpy as np\nfrom sklearn.datasets import load_digits\n"
    "from sklearn.ensemble import RandomForestClassifier",
    "%%step matrix\nrng = np.random.default_rng(0)\na = rng.random((1200, 1200))\n"
    "for _ in range(6):\n    b = a @ a\ntotal = float(b.sum())",
    "%%step forest --after matrix\nX, y = load_digits(return_X_y=True)\n"
    "model = RandomForestClassifier(n_estimators=200, n_jobs=-1, random_state=0).fit(X, y)\n"
    "score = model.score(X, y)",
]
STEPS = ("matrix", "forest")


def cell_times(executed: Path, step_role: bool) -> list[float]:
    nb = json.loads(executed.read_text())
    return [float(c["metadata"].get("papermill", {}).get("duration") or 0.0)
            for c in nb["cells"] if c["cell_type"] == "code"
            and (not step_role or c["metadata"].get("mlpipe", {}).get("role") == "step")]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlpipe-bench-threads-"))
    pm: dict[str, list[float]] = {s: [] for s in STEPS}
    ml: dict[str, list[float]] = {s: [] for s in STEPS}
    threads: dict[str, int] = {}
    try:
        for i in range(args.repeat):
            folder = root / f"pm{i}"
            nb = write(folder, "t.ipynb", plain(CELLS))
            timed([*PAPERMILL, nb.name, "out.ipynb", "--no-progress-bar"], folder)
            times = cell_times(folder / "out.ipynb", step_role=False)
            for step, t in zip(STEPS, times[1:]):
                pm[step].append(t)
            folder = root / f"ml{i}"
            write(folder, "t.ipynb", CELLS)
            timed([*MLPIPE, "run", "t.ipynb", "--json"], folder)
            (run_dir,) = (folder / ".mlpipe" / "runs").iterdir()
            for step in STEPS:
                ml[step].append(sum(cell_times(run_dir / f"{step}.ipynb", step_role=True)))
            with sqlite3.connect(folder / ".mlpipe" / "mlpipe.db") as conn:
                threads.update(dict(conn.execute("SELECT name, threads FROM steps")))
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'step':8} {'papermill cell':>14} {'pipeline step cell':>18} {'ratio':>6}  threads")
    for step in STEPS:
        a, b = statistics.median(ml[step]), statistics.median(pm[step])
        print(f"{step:8} {b:>13.2f}s {a:>17.2f}s {a / b:>5.2f}x  {threads.get(step)}")
    print(f"(medians of {args.repeat}; target <= 1.05x; {os.cpu_count()} cores; load average"
          f" {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())})")


if __name__ == "__main__":
    main()
