"""Real notebooks, cold: `mlpipe run` against papermill, and what each step pays on top
of its own cells (issue 27, items 3 and 4).

The corpus is `bench/notebooks/corpus/*.ipynb` (`bench/corpus.py` writes it): 10
notebooks in the style of scikit-learn's gallery, statsmodels' examples and pandas'
plotting guide, 8-10 steps each, with a real setup (`%matplotlib inline` first, `import
statsmodels.api as sm`, `from sklearn import datasets`, a style or seaborn theme).

For each notebook, `--repeat` times (default 1), in fresh folders:
- papermill of a plain copy (no mlpipe magics) top to bottom, as a whole command; its
  executed notebook gives each cell's own time (`metadata.papermill.duration`);
- a cold `mlpipe run` as a whole command (embedded cluster, fresh store).
Printed per notebook: both wall times and their ratio (medians), the setup cells' time in
papermill beside the median time the same setup cells took inside the steps, and the
median per-step overhead: a step's recorded duration minus its own cells' time in the
papermill run. Then the medians over the corpus. Targets: per-step overhead median <=
0.2 s, cold ratio median <= 1.2x.

Run: `.venv/bin/python bench/bench_corpus.py [--repeat 1] [--only NAME,NAME]` (about 4
minutes on 2 cores per repeat).
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
from bench_warm import cells_of, plain, write  # noqa: E402

CORPUS = HERE / "notebooks" / "corpus"


def durations(executed: Path) -> list[float]:
    """Each code cell's own time in a papermill-executed notebook."""
    nb = json.loads(executed.read_text())
    return [float(c["metadata"].get("papermill", {}).get("duration") or 0.0)
            for c in nb["cells"] if c["cell_type"] == "code"]


def step_setup_time(executed: Path) -> float:
    """The setup cells' time inside an executed step notebook."""
    nb = json.loads(executed.read_text())
    return sum(float(c["metadata"].get("papermill", {}).get("duration") or 0.0)
               for c in nb["cells"]
               if c["metadata"].get("mlpipe", {}).get("role") == "setup")


def _executed(run_dir: Path, step: str) -> Path:
    """The step's executed notebook (a step re-run in the run has one per attempt)."""
    kept = run_dir / f"{step}.ipynb"
    if kept.exists():
        return kept
    return max(run_dir.glob(f"{step}.*ipynb"), key=lambda p: p.stat().st_mtime)


def one(source: Path, folder: Path) -> dict:
    cells = cells_of(source)
    pm_dir, ml_dir = folder / "pm", folder / "ml"
    plain_cells = plain(cells)
    pm_nb = write(pm_dir, source.name, plain_cells)
    pm_wall = timed([*PAPERMILL, pm_nb.name, "out.ipynb", "--no-progress-bar"], pm_dir)
    pm_cells = durations(pm_dir / "out.ipynb")
    ml_dir.mkdir(parents=True)
    shutil.copy(source, ml_dir / source.name)
    ml_wall = timed([*MLPIPE, "run", source.name, "--json"], ml_dir)
    store = ml_dir / ".mlpipe"
    with sqlite3.connect(store / "mlpipe.db") as conn:
        rows = dict(conn.execute("SELECT name, duration_s FROM steps"))
    # plain copy: cell 0 is the setup, then one cell per step, in order
    steps = [c.split("\n", 1)[0].split()[1] for c in cells if c.startswith("%%step")]
    own = dict(zip(steps, pm_cells[1:]))
    (run_dir,) = (store / "runs").iterdir()
    setups = [step_setup_time(_executed(run_dir, s)) for s in steps]
    return {"pm": pm_wall, "ml": ml_wall, "pm_setup": pm_cells[0],
            "step_setup": statistics.median(setups),
            "overheads": [rows[s] - own[s] for s in steps]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--only", default=None)
    args = parser.parse_args()
    started = time.time()
    root = Path(tempfile.mkdtemp(prefix="mlpipe-bench-corpus-"))
    ratios, overheads = [], []
    print(f"{'notebook':28} {'steps':>5} {'papermill':>9} {'mlpipe':>8} {'ratio':>6}"
          f" {'setup pm':>8} {'setup/step':>10} {'overhead/step':>13}")
    try:
        for source in sorted(CORPUS.glob("*.ipynb")):
            if args.only and not any(part in source.stem for part in args.only.split(",")):
                continue
            runs = [one(source, root / f"{source.stem}-{i}") for i in range(args.repeat)]
            pm = statistics.median(r["pm"] for r in runs)
            ml = statistics.median(r["ml"] for r in runs)
            over = [o for r in runs for o in r["overheads"]]
            overheads += over
            ratios.append(ml / pm)
            print(f"{source.stem:28} {len(runs[0]['overheads']):>5} {pm:>8.2f}s {ml:>7.2f}s"
                  f" {ml / pm:>5.2f}x {statistics.median(r['pm_setup'] for r in runs):>7.2f}s"
                  f" {statistics.median(r['step_setup'] for r in runs):>9.2f}s"
                  f" {statistics.median(over):>12.2f}s", flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = os.getloadavg()[0]
    print(f"median cold ratio {statistics.median(ratios):.2f}x (target <= 1.2x);"
          f" median per-step overhead {statistics.median(overheads):.2f}s (target <= 0.2 s)"
          f" over {len(overheads)} steps")
    print(f"(medians of {args.repeat}; load average {load:.2f} at the end;"
          f" {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; took"
          f" {time.time() - started:.0f}s)")


if __name__ == "__main__":
    main()
