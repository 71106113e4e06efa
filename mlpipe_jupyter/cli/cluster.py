"""`mlpipe cluster up|down|status`: a warm cluster for the shell.

`up` starts a detached warm cluster (execute/warmcluster.py) and records its
address in the store (`<store>/cluster.json`); `mlpipe run` on a notebook of
that store uses it while it lives. `status` shows its workers, kernels ready,
memory and the dashboard address; `down` stops it. A record whose process is
gone is ignored with one line.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import EXIT_FAILED, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "cluster", help="start, stop or show a warm cluster for `mlpipe run`",
        description="A warm Dask cluster with kernels started ahead of time, kept between"
        " runs; `mlpipe run` uses it while it lives.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    up = actions.add_parser("up", help="start the warm cluster (detached)")
    up.add_argument("--workers", type=int, metavar="N", help="CPU workers (default: min(2, cpus))")
    up.add_argument("--gpu-workers", type=int, metavar="N",
                    help="GPU workers (default: one per GPU found)")
    up.add_argument("--idle-timeout", type=float, default=3600.0, metavar="SECONDS",
                    help="stop after this long without work (0: never; default 3600)")
    down = actions.add_parser("down", help="stop the warm cluster")
    status = actions.add_parser("status", help="workers, kernels ready, memory, dashboard")
    for sub in (up, down, status):
        sub.add_argument(
            "--store", help="the store (default: $MLPIPE_STORE, else .mlpipe in this folder)"
        )
        sub.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cluster_command)


def cluster_command(args: argparse.Namespace) -> int:
    from ..execute import warmcluster
    from ..execute.cluster import ClusterOptions
    from ..stores import records_root, resolve_store

    store = records_root(resolve_store(args.store))  # an object-storage store's: ./.mlpipe
    warn = lambda message: print(f"mlpipe: {message}", file=sys.stderr)  # noqa: E731
    if args.action == "up":
        ClusterOptions(workers=args.workers, gpu_workers=args.gpu_workers)  # bad sizes: exit 2
        record = warmcluster.up(store, args.workers, args.gpu_workers, args.idle_timeout)
        _print(args.json, {"address": record.address, "dashboard": record.dashboard,
                           "pid": record.pid},
               f"warm cluster at {record.address} (pid {record.pid})\n"
               f"dashboard: {record.dashboard or '-'}\nrecorded in {store}\n")
        return EXIT_OK
    if args.action == "down":
        record = warmcluster.down(store)
        if record is None:
            _print(args.json, {"stopped": None}, f"no warm cluster recorded in {store}\n")
        else:
            _print(args.json, {"stopped": record.address},
                   f"stopped the warm cluster at {record.address}\n")
        return EXIT_OK
    found = warmcluster.status(store, warn)
    if found is None:
        _print(args.json, None, f"no warm cluster recorded in {store}; start one with"
                                " `mlpipe cluster up`\n")
        return EXIT_FAILED
    _print(args.json, found, status_text(found))
    return EXIT_OK


def _print(as_json: bool, data: Any, text: str) -> None:
    if as_json:
        print(json.dumps(data, indent=1))
    else:
        sys.stdout.write(text)


def _bytes(amount: int) -> str:
    value = float(amount)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return str(amount)


def status_text(found: dict[str, Any]) -> str:
    """The warm cluster's status as a person reads it."""
    up_s = time.time() - float(found.get("started") or time.time())
    lines = [
        f"warm cluster at {found['address']} (pid {found.get('pid')}, {found.get('owner')},"
        f" up {up_s / 60:.0f} min)",
        f"dashboard: {found.get('dashboard') or '-'}",
    ]
    rows = [("WORKER", "RESOURCES", "KERNELS READY", "MEMORY")]
    for worker in found["workers"]:
        resources = ",".join(
            f"{k}={v:g}" for k, v in sorted(worker["resources"].items()) if k != "MEMORY"
        )
        memory = f"{_bytes(worker['memory'])} / {_bytes(worker['memory_limit'])}"
        rows.append((worker["address"], resources or "-", str(worker["kernels_ready"]), memory))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines) + "\n"


__all__ = ["register"]
