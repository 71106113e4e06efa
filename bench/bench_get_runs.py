"""Benchmark `GET /mlpipe/api/runs` on a real `jupyter server` while a pipeline runs.

One session, each figure a median of per-request latencies (send to last byte):

- lone, idle: one call at a time, nothing running, each one reading the records (the
  baseline; the server reuses an answer for 0.25 s, so the calls are 0.3 s apart);
- lone, during a run: one call at a time while a pipeline step runs;
- 200 parallel, during a run: 200 calls sent at once, `--bursts` times (target: < 100 ms);
- beside it, the floor: 200 parallel `GET /api/status`, jupyter_server's own trivial
  route, in the same bursts (what authentication and tornado cost per request here).

The parallel calls are sent by `curl --parallel` (a C client, as a browser would be,
so the client does not take the server's CPU), else by tornado's client.

The store holds `--history` finished runs (written through the run records before the
server starts), so each answer is a realistic 50-record list. The server is started as a
user starts it (installed config), on a free port, in a temporary root.

Run: `.venv/bin/python bench/bench_get_runs.py [--bursts 3] [--history 60]` (about 1 min).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

TOKEN = "bench-get-runs"
SLOW_NOTEBOOK = [
    "import time",
    "%%step load\nnumbers = list(range(10))",
    "%%step work --outputs total\ntime.sleep(60)\ntotal = sum(numbers)",
]


def notebook_json(sources: list[str]) -> dict:
    cells = [{"cell_type": "code", "execution_count": None, "id": f"c{i}", "metadata": {},
              "outputs": [], "source": s} for i, s in enumerate(sources)]  # fmt: skip
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3", "language": "python",
            "display_name": "Python 3"}}, "nbformat": 4, "nbformat_minor": 5}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def seed_history(store: Path, notebook: Path, count: int) -> None:
    from mlpipe_jupyter.execute.records import Records

    records = Records(store)
    for i in range(count):
        run_id = records.create_run(str(notebook), {"i": i}, ["load", "work"],
                                    started=time.time() - 3600 + i)  # fmt: skip
        for step in ("load", "work"):
            records.update_step(run_id, step, status="succeeded", reason="no cache entry",
                                duration_s=0.5, worker="tcp://127.0.0.1:1")  # fmt: skip
        records.finish_run(run_id, "succeeded")


def call(port: int, path: str, method: str = "GET", body: dict | None = None) -> dict:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{port}/{path}", data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})  # fmt: skip
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read() or b"null")


def lone_ms(port: int, count: int) -> list[float]:
    """One call at a time, each after the server's last answer is no longer fresh
    (handlers.READ_FRESH_S): every call reads the records."""
    timings = []
    for _ in range(count):
        time.sleep(0.3)
        begin = time.perf_counter()
        call(port, "mlpipe/api/runs")
        timings.append((time.perf_counter() - begin) * 1000)
    return timings


async def burst_ms(port: int, path: str, parallel: int) -> list[float]:
    from tornado.httpclient import AsyncHTTPClient

    client = AsyncHTTPClient(force_instance=True, max_clients=parallel)
    url = f"http://127.0.0.1:{port}/{path}"
    headers = {"Authorization": f"token {TOKEN}"}

    async def one() -> float:
        begin = time.perf_counter()
        answer = await client.fetch(url, headers=headers, request_timeout=120)
        assert answer.code == 200
        return (time.perf_counter() - begin) * 1000

    try:
        return list(await asyncio.gather(*(one() for _ in range(parallel))))
    finally:
        client.close()


def curl_burst_ms(port: int, path: str, parallel: int) -> list[float]:
    url = f"http://127.0.0.1:{port}/{path}"
    command = ["curl", "--silent", "--no-progress-meter", "--parallel", "--parallel-immediate",
               "--parallel-max", str(parallel), "--header", f"Authorization: token {TOKEN}",
               "--write-out", "%{stderr}%{http_code} %{time_total}\n"]  # fmt: skip
    for _ in range(parallel):
        command += ["--output", "/dev/null", url]
    lines = subprocess.run(command, capture_output=True, text=True, timeout=300).stderr.split("\n")
    answers = [line.split() for line in lines if line.count(" ") == 1]
    assert len(answers) == parallel and all(code == "200" for code, _ in answers), lines[:5]
    return [float(seconds) * 1000 for _, seconds in answers]


def burst(port: int, path: str, parallel: int) -> list[float]:
    if shutil.which("curl"):
        return curl_burst_ms(port, path, parallel)
    return asyncio.run(burst_ms(port, path, parallel))


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"bench: {what} not reached after {timeout:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=200)
    parser.add_argument("--history", type=int, default=60)
    args = parser.parse_args()

    started = time.perf_counter()
    home = Path(tempfile.mkdtemp(prefix="bench-get-runs-"))
    root = home / "root"
    root.mkdir()
    notebook = root / "slow.ipynb"
    notebook.write_text(json.dumps(notebook_json(SLOW_NOTEBOOK)))
    seed_history(root / ".mlpipe", notebook, args.history)
    port = free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
           "JUPYTER_RUNTIME_DIR": str(home / "run")}  # fmt: skip
    env.pop("MLPIPE_STORE", None)
    log = open(home / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter_server", "--allow-root", "--no-browser", f"--port={port}",
         f"--IdentityProvider.token={TOKEN}", f"--ServerApp.root_dir={root}"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_for(lambda: call(port, "mlpipe/api/status") is not None, 120, "the server")
        idle = lone_ms(port, 30)
        run_id = call(port, "mlpipe/api/runs", "POST", {"path": "slow.ipynb", "no_cache": True})["run_id"]

        def step_running() -> bool:
            record = call(port, f"mlpipe/api/runs/{run_id}")
            if record["status"] not in ("queued", "running"):
                raise SystemExit(f"bench: the run ended early: {record['status']} {record['error']}")
            return record["steps"]["work"]["status"] == "running"

        wait_for(step_running, 180, "a running step")
        during = lone_ms(port, 30)
        bursts, floors = [], []
        for _ in range(args.bursts):
            floors.append(burst(port, "api/status", args.parallel))
            bursts.append(burst(port, "mlpipe/api/runs", args.parallel))
        assert call(port, f"mlpipe/api/runs/{run_id}")["status"] == "running", "the run ended mid-bench"
        call(port, f"mlpipe/api/runs/{run_id}", "DELETE")
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        shutil.rmtree(home, ignore_errors=True)

    every = [ms for one in bursts for ms in one]
    floor = [ms for one in floors for ms in one]
    print(f"{'GET runs (' + str(args.history) + ' runs listed)':<36} {'median':>9} {'p90':>9}  target")
    print(f"{'lone, idle (baseline)':<36} {statistics.median(idle):7.1f}ms "
          f"{_p90(idle):7.1f}ms  -")  # fmt: skip
    print(f"{'lone, during a run':<36} {statistics.median(during):7.1f}ms "
          f"{_p90(during):7.1f}ms  -")  # fmt: skip
    print(f"{f'{args.parallel} parallel, during a run':<36} {statistics.median(every):7.1f}ms "
          f"{_p90(every):7.1f}ms  < 100 ms median")  # fmt: skip
    print(f"{'  floor: ' + str(args.parallel) + ' x GET api/status':<36} "
          f"{statistics.median(floor):7.1f}ms {_p90(floor):7.1f}ms  -")  # fmt: skip
    per_burst = ", ".join(f"{statistics.median(b):.1f}" for b in bursts)
    client = "curl --parallel" if shutil.which("curl") else "tornado AsyncHTTPClient"
    print(f"(GET runs burst medians {per_burst} ms; {client}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; bench took "
          f"{time.perf_counter() - started:.0f}s)")  # fmt: skip


def _p90(values: list[float]) -> float:
    return sorted(values)[int(len(values) * 0.9) - 1]


if __name__ == "__main__":
    main()
