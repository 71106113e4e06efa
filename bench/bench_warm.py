"""Benchmark the warm inner loop (issue 11) against papermill, measured in the same run.

Baselines: `papermill` of each notebook top to bottom (the whole command, a
plain copy without the mlpipe magics, a fresh folder each time so nothing is
cached). Then the same scenarios
- warm: a `WarmCluster` held by this process, runs through `service.execute`
  exactly as the Jupyter server's REST route runs them (timed from the call to
  the finished record), and `mlpipe run` as a whole command with `mlpipe
  cluster up`;
- cold: `mlpipe run` as a whole command, no warm cluster (the embedded one).
Figures are medians of `--repeat` (default 3). Scenarios and targets:

| scenario | target |
|---|---|
| chain6 leaf edit, warm | <= the leaf's own work (0.5 s) + 0.5 s |
| no-change rerun, warm, call to finished record | < 0.3 s |
| tiny10 cold (fresh store) on the warm cluster | <= +0.1 s/step over papermill |
| sklearn7 first run, warm | faster than papermill as a whole command (no ratio: not like for like) |
| sklearn7, cold `mlpipe run` | <= 1.3x papermill |
| chain6 cold `mlpipe run` | <= 1.15x papermill |
| orchestrator memory, 1 GB DataFrame through 3 steps | grows < 50 MB |

Run: `.venv/bin/python bench/bench_warm.py [--repeat 3] [--skip-memory]` (about 4-5
minutes on 2 cores). sklearn7 is `bench/notebooks/sklearn7.ipynb`: load_digits, a
split, scaling, two model branches in parallel (logistic regression, random
forest), a comparison table and a matplotlib plot.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_run import chain, notebook, timed  # noqa: E402 - the same notebooks and timer
BIN = Path(sys.executable).parent
MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]
PAPERMILL = [str(BIN / "papermill")]
SKLEARN7 = HERE / "notebooks" / "sklearn7.ipynb"
LEAF_WORK_S = 0.5


def cells_of(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]  # fmt: skip


def plain(cells: list[str]) -> list[str]:
    """The notebook papermill runs: no mlpipe magics (nothing recorded, nothing cached)."""
    out = []
    for source in cells:
        if source.startswith("%load_ext mlpipe_jupyter"):
            continue
        out.append(source.split("\n", 1)[1] if source.startswith("%%step") else source)
    return out


def write(folder: Path, name: str, cells: list[str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(json.dumps(notebook(cells)))
    return path


class Bench:
    def __init__(self, folder: Path, repeat: int) -> None:
        self.folder = folder
        self.repeat = repeat
        self.count = 0

    def fresh(self, prefix: str) -> Path:
        self.count += 1
        return self.folder / f"{prefix}-{self.count}"

    def papermill(self, cells: list[str]) -> float:
        """papermill of the plain notebook, median of `repeat`, each in a fresh folder."""
        samples = []
        for _ in range(self.repeat):
            path = write(self.fresh("pm"), "nb.ipynb", plain(cells))
            samples.append(timed([*PAPERMILL, path.name, "out.ipynb", "--no-progress-bar"],
                                 path.parent))  # fmt: skip
        return statistics.median(samples)

    def cold(self, cells: list[str]) -> float:
        """`mlpipe run` as a command, fresh store, the embedded cluster."""
        samples = []
        for _ in range(self.repeat):
            path = write(self.fresh("cold"), "nb.ipynb", cells)
            samples.append(timed([*MLPIPE, "run", path.name, "--json"], path.parent))
        return statistics.median(samples)


def execute(path: Path, store: Path, address: str) -> tuple[float, dict[str, Any]]:
    """One run on the warm cluster as the server runs it; (seconds to the record, record)."""
    from mlpipe_jupyter import service
    from mlpipe_jupyter.request import RunRequest

    started = time.perf_counter()
    record = service.execute(RunRequest.build(path, {}, store=store, scheduler=address))
    elapsed = time.perf_counter() - started
    if record["status"] != "succeeded":
        raise SystemExit(f"warm run of {path} failed: {json.dumps(record)[:2000]}")
    return elapsed, record


def wait_ready(warm: Any, at_least: int = 1, timeout: float = 60) -> None:
    """Until every worker has `at_least` kernels ready for some folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = warm.status()
        if all(w["kernels_ready"] >= at_least for w in status["workers"]):
            return
        time.sleep(0.2)


def warm_scenarios(bench: Bench, warm: Any, sk_cells: list[str]) -> dict[str, float]:
    from mlpipe_jupyter.analysis import analyze, cells_from_json

    figures: dict[str, list[float]] = {"edit": [], "nochange": [], "tiny10": [], "sklearn": []}
    chain_folder = bench.fresh("warm-chain6")
    path = write(chain_folder, "nb.ipynb", chain(6, LEAF_WORK_S))
    setup = analyze(cells_from_json([{"source": s, "tags": []} for s in chain(6, 0)]))
    warm.prepare(path, setup.setup_source)
    store = chain_folder / ".mlpipe"
    execute(path, store, warm.address)  # the first run fills the cache
    for r in range(bench.repeat):
        write(chain_folder, "nb.ipynb", chain(6, LEAF_WORK_S, r + 1))
        wait_ready(warm)
        figures["edit"].append(execute(path, store, warm.address)[0])
        figures["nochange"].append(execute(path, store, warm.address)[0])

    tiny_folder = bench.fresh("warm-tiny10")
    tiny = write(tiny_folder, "nb.ipynb", chain(10, 0.0))
    warm.prepare(tiny, "import time\n")
    for r in range(bench.repeat):
        wait_ready(warm)
        figures["tiny10"].append(execute(tiny, tiny_folder / f"store-{r}", warm.address)[0])

    sk_folder = bench.fresh("warm-sklearn7")
    sk = write(sk_folder, "nb.ipynb", sk_cells)
    sk_setup = analyze(cells_from_json([{"source": s, "tags": []} for s in sk_cells]))
    warm.prepare(sk, sk_setup.setup_source)
    for r in range(bench.repeat):
        wait_ready(warm, 2)
        figures["sklearn"].append(execute(sk, sk_folder / f"store-{r}", warm.address)[0])
    return {name: statistics.median(values) for name, values in figures.items()}


def shell_warm_edit(bench: Bench) -> float:
    """`mlpipe run` of a chain6 leaf edit with `mlpipe cluster up` (whole command)."""
    folder = bench.fresh("shell-warm")
    path = write(folder, "nb.ipynb", chain(6, LEAF_WORK_S))
    timed([*MLPIPE, "cluster", "up", "--workers", "2"], folder)
    try:
        timed([*MLPIPE, "run", path.name, "--json"], folder)
        samples = []
        for r in range(bench.repeat):
            write(folder, "nb.ipynb", chain(6, LEAF_WORK_S, r + 1))
            time.sleep(1.0)  # the pools refill between edits, as they do while a person types
            samples.append(timed([*MLPIPE, "run", path.name, "--json"], folder))
        return statistics.median(samples)
    finally:
        timed([*MLPIPE, "cluster", "down"], folder)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def memory_growth(bench: Bench, warm: Any) -> tuple[float, float]:
    """(orchestrator RSS growth in MB, seconds) while a 1 GB DataFrame flows through 3 steps."""
    folder = bench.fresh("memory")
    cells = [
        "%load_ext mlpipe_jupyter",
        "import numpy as np\nimport pandas as pd",
        "%%step make\ndf = pd.DataFrame({'a': np.arange(2**27, dtype='float64')})  # 1 GiB",
        "%%step shift\ndf['a'] += 1.0",
        "%%step total\ntotal = float(df['a'].sum())",
    ]
    path = write(folder, "nb.ipynb", cells)
    execute(write(folder / "tiny", "nb.ipynb", chain(2, 0.0)), folder / "tiny-store",
            warm.address)  # imports loaded before the baseline
    before = rss_mb()
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_mb())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        seconds = execute(path, folder / ".mlpipe", warm.address)[0]
    finally:
        done.set()
        sampler.join()
    return peak[0] - before, seconds


def row(name: str, value: float, baseline: str, ratio: float | None, target: str,
        ok: bool) -> str:  # fmt: skip
    shown = f"{ratio:.2f}x" if ratio is not None else "-"
    return f"{name:<40} {value:>7.2f}s  {baseline:<28} {shown:>6}  {target:<22} {'ok' if ok else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure (median)")
    parser.add_argument("--skip-memory", action="store_true", help="leave out the 1 GB run")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="mlpipe-bench-warm-"))
    bench = Bench(folder, args.repeat)
    sk_cells = cells_of(SKLEARN7)
    started = time.perf_counter()
    try:
        pm = {
            "chain6": bench.papermill(chain(6, LEAF_WORK_S)),
            "leaf": bench.papermill(["import time", f"time.sleep({LEAF_WORK_S})\nx5 = 1"]),
            "tiny10": bench.papermill(chain(10, 0.0)),
            "sklearn": bench.papermill(sk_cells),
        }
        cold = {"chain6": bench.cold(chain(6, LEAF_WORK_S)), "sklearn": bench.cold(sk_cells)}
        shell_edit = shell_warm_edit(bench)

        from mlpipe_jupyter.execute.warmcluster import WarmCluster

        t0 = time.perf_counter()
        warm = WarmCluster(workers=2)
        warm_start = time.perf_counter() - t0
        try:
            w = warm_scenarios(bench, warm, sk_cells)
            memory = None if args.skip_memory else memory_growth(bench, warm)
        finally:
            warm.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    per_step = (w["tiny10"] - pm["tiny10"]) / 10
    lines = [
        f"{'scenario':<40} {'mlpipe':>8}  {'baseline':<28} {'ratio':>6}  {'target':<22} verdict",
        row("chain6 leaf edit, warm (REST path)", w["edit"], f"leaf's own work {LEAF_WORK_S}s",
            None, f"<= {LEAF_WORK_S + 0.5:.1f}s", w["edit"] <= LEAF_WORK_S + 0.5),
        row("chain6 leaf edit, mlpipe run + cluster up", shell_edit,
            f"papermill 1 step {pm['leaf']:.2f}s", shell_edit / pm["leaf"], "(whole command)",
            True),
        row("no-change rerun, warm (call to record)", w["nochange"], "-", None, "< 0.30s",
            w["nochange"] < 0.3),
        row("tiny10 cold store, warm cluster", w["tiny10"],
            f"papermill whole {pm['tiny10']:.2f}s", None,
            f"{per_step:+.2f}s/step (<= +0.10)", per_step <= 0.1),
        # no ratio: an in-process run on a warm cluster pays no interpreter start or
        # imports, papermill as a whole command does (not like for like)
        row("sklearn7 first run, warm", w["sklearn"], f"papermill whole {pm['sklearn']:.2f}s",
            None, "faster than papermill", w["sklearn"] <= pm["sklearn"]),
        row("sklearn7 cold mlpipe run", cold["sklearn"], f"papermill whole {pm['sklearn']:.2f}s",
            cold["sklearn"] / pm["sklearn"], "<= 1.30x", cold["sklearn"] <= 1.3 * pm["sklearn"]),
        row("chain6 cold mlpipe run", cold["chain6"], f"papermill whole {pm['chain6']:.2f}s",
            cold["chain6"] / pm["chain6"], "<= 1.15x", cold["chain6"] <= 1.15 * pm["chain6"]),
    ]
    if memory is not None:
        growth, seconds = memory
        lines.append(f"{'orchestrator RSS, 1 GiB df x 3 steps':<40} {growth:>6.1f}MB  "
                     f"{'run ' + format(seconds, '.1f') + 's':<28} {'-':>6}  {'< 50 MB':<22} "
                     f"{'ok' if growth < 50 else 'MISSED'}")  # fmt: skip
    print("\n".join(lines))
    print(f"(medians of {args.repeat}; 2 workers; warm cluster started in {warm_start:.2f}s;"
          f" bench took {time.perf_counter() - started:.0f}s)")


if __name__ == "__main__":
    main()
