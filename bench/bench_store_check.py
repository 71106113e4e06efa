"""`mlpipe store check` throughput and memory against `sha256sum` on the same files
(issue 26, item 4).

Fills a store with N small artifacts (default 100,000 of 1-4 KB, plus one 64 MB
artifact so that hashing speed, not only file opening, shows) and a signed entry per
100 artifacts, then times, each `--repeat` times (medians):
- `mlpipe store check` as a whole command (parallel re-hash + signature checks);
- `find artifacts -type f -print0 | xargs -0 -P CORES sha256sum` on the same files
  (the baseline: hashing the same bytes with coreutils, as parallel as the machine);
and prints MB/s for both and the check's peak memory (ru_maxrss of the child), which
must not grow with N (run with --count 10000 and 100000 and compare).

Run: `.venv/bin/python bench/bench_store_check.py [--count 100000] [--repeat 3]`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MLPIPE = [sys.executable, "-m", "mlpipe_jupyter"]


def fill(root: Path, count: int) -> int:
    sys.path.insert(0, str(REPO))
    from mlpipe_jupyter.cache.keys import sha256_text
    from mlpipe_jupyter.cache.store import CacheEntry, Store

    store = Store.open(root)
    total = 0
    refs = []
    for i in range(count):
        ref = store.put("x", os.urandom(1024 + (i % 4) * 1024))
        refs.append(ref)
        total += ref.size
        if len(refs) == 100:
            store.commit(CacheEntry(step_key=sha256_text(f"e{i}"), step=f"s{i % 7}",
                                    outputs={f"v{j}": r for j, r in enumerate(refs)}))
            refs = []
    big = store.put("big", os.urandom(64 * 2**20))
    store.commit(CacheEntry(step_key=sha256_text("big"), step="big", outputs={"x": big}))
    return total + big.size


def timed(command: list[str] | str, cwd: Path, shell: bool = False) -> tuple[float, float]:
    """(seconds, peak RSS of the child in MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, shell=shell, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    took = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return took, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        size = fill(folder / "st", args.count)
        print(f"{time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} cores, load"
              f" {os.getloadavg()[0]:.1f}: {args.count} artifacts, {size / 1e6:.0f} MB"
              f" (filled in {time.perf_counter() - started:.0f} s)")
        cores = os.cpu_count() or 2
        ours, base, rss = [], [], []
        for _ in range(args.repeat):
            took, peak = timed([*MLPIPE, "store", "check", "--store", "st"], folder)
            ours.append(took)
            rss.append(peak)
            took, _ = timed(f"find st/artifacts -type f -print0 | xargs -0 -P {cores}"
                            " sha256sum > /dev/null", folder, shell=True)
            base.append(took)
        check, sums = statistics.median(ours), statistics.median(base)
        print(f"mlpipe store check: {check:.2f} s, {size / 1e6 / check:.0f} MB/s,"
              f" peak RSS {max(rss):.0f} MB")
        print(f"sha256sum (xargs -P {cores}): {sums:.2f} s, {size / 1e6 / sums:.0f} MB/s")
        print(f"ratio (check / sha256sum): {check / sums:.2f}x (medians of {args.repeat})")


if __name__ == "__main__":
    main()
