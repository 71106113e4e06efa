"""`mlpipe cache ls|prune` and `mlpipe store info|check`: looking after a store.

Each is a few lines over `mlpipe_jupyter.housekeeping` (the service layer).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from . import EXIT_FAILED, EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    cache = subparsers.add_parser("cache", help="list or prune the step cache")
    actions = cache.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("ls", help="list cache entries")
    _common(listing)
    prune = actions.add_parser(
        "prune", help="remove cache entries by a retention policy",
        description="Remove cache entries by a retention policy (default: the one in"
        " mlpipe.toml or pyproject's [tool.mlpipe.retention], else keep the last entry"
        " of each step of each notebook). Always kept: what the latest run of each"
        " notebook used, pinned runs (mlpipe runs pin) and what a live run holds.",
    )
    _common(prune)
    prune.add_argument("--keep-last", metavar="N", help="keep the N most recently used"
                       " entries of each step of each notebook")
    prune.add_argument("--older-than", metavar="AGE", help="remove entries unused for AGE"
                       " (30d, 12h, 90m)")
    prune.add_argument("--max-size", metavar="SIZE", help="remove least recently used entries"
                       " until the store's artifacts take at most SIZE (50GB, 500MiB)")
    prune.add_argument("--grace", metavar="AGE", help="sweep a marked entry only once its mark"
                       " is this old (default: 0 for a folder, 10m for object storage)")
    prune.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    cache.set_defaults(func=cache_command)

    store = subparsers.add_parser("store", help="a store's size and integrity")
    verbs = store.add_subparsers(dest="action", metavar="ACTION", required=True)
    _common(verbs.add_parser("info", help="size by notebook and step, entries, pins"))
    check = verbs.add_parser("check", help="re-hash every artifact, verify every entry")
    _common(check)
    check.add_argument("--repair", action="store_true",
                       help="remove damaged artifacts and entries (their steps re-run)")
    check.add_argument("--workers", type=int, metavar="N", help="hashing threads")
    store.set_defaults(func=store_command)


def register_run_actions(actions: argparse._SubParsersAction) -> None:
    """`mlpipe runs pin RUN_ID [--note TEXT]` and `mlpipe runs unpin RUN_ID`."""
    pin = actions.add_parser("pin", help="keep a run's results whatever the retention policy")
    pin.add_argument("run_id")
    pin.add_argument("--note", default="", help="why it is kept (shown by store info)")
    _common(pin)
    pin.set_defaults(func=pin_command)
    unpin = actions.add_parser("unpin", help="let the retention policy apply to a run again")
    unpin.add_argument("run_id")
    _common(unpin)
    unpin.set_defaults(func=pin_command)


def pin_command(args: argparse.Namespace) -> int:
    from .. import housekeeping

    if args.action == "unpin":
        done = housekeeping.unpin_run(_store(args), args.run_id)
        print(f"run {args.run_id} unpinned" if done else f"run {args.run_id} was not pinned")
        return EXIT_OK
    pinned = housekeeping.pin_run(_store(args), args.run_id, args.note)
    if args.json:
        print(json.dumps(pinned))
    else:
        print(f"run {args.run_id} pinned: {len(pinned['keys'])} cache entries and"
              f" {len(pinned['artifacts'])} artifacts kept by every prune")
    return EXIT_OK


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", help="the store (default: $MLPIPE_STORE, else .mlpipe in this folder)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _store(args: argparse.Namespace) -> Any:
    from ..stores import resolve_store

    return resolve_store(args.store)


def cache_command(args: argparse.Namespace) -> int:
    if args.action == "prune":
        return _prune(args)
    from ..cache.store import Store

    store = Store.open(_store(args))
    entries = store.entries()
    if args.json:
        json.dump([e.to_json() for e in entries], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    if not entries:
        print(f"no cache entries in {store.url}")
        return EXIT_OK
    rows = [("STEP", "KEY", "NOTEBOOK", "OUTPUTS", "BYTES", "ORIGIN")]
    for entry in entries:
        size = sum(ref.size for ref in entry.outputs.values())
        rows.append((entry.step, entry.step_key[:12], entry.project or "-",
                     ",".join(entry.outputs) or "-", str(size), entry.origin))
    _table(rows)
    return EXIT_OK


def _prune(args: argparse.Namespace) -> int:
    from .. import housekeeping
    from ..cache.retention import (Policy, format_size, parse_duration, parse_keep_last,
                                   parse_size)

    policy = Policy(
        keep_last=parse_keep_last(args.keep_last) if args.keep_last is not None else None,
        older_than_s=parse_duration(args.older_than) if args.older_than is not None else None,
        max_size=parse_size(args.max_size) if args.max_size is not None else None,
    )
    grace = parse_duration(args.grace, "--grace") if args.grace is not None else None
    report = housekeeping.prune(_store(args), None if policy.empty else policy,
                                dry_run=args.dry_run, grace_s=grace)
    if args.json:
        print(json.dumps(report.to_json()))
        return EXIT_OK
    size = format_size(sum(c["size"] for c in report.chosen))
    if args.dry_run:
        print(f"policy: {report.policy}; would remove {len(report.chosen)} cache entries"
              f" ({size} of artifacts not shared with kept entries may go with them);"
              f" {report.kept_protected} entries kept as in use or pinned")
        for chosen in report.chosen:
            print(f"  {chosen['project'] or '-'} {chosen['step']} {chosen['key'][:12]}"
                  f" ({chosen['why']})")
        return EXIT_OK
    print(f"policy: {report.policy}; removed {report.entries_removed} cache entries and"
          f" {report.artifacts_removed} artifacts ({format_size(report.bytes_freed)})")
    waiting = report.marked - report.entries_removed
    if report.sweep_blocked:
        print(f"nothing swept now: {report.sweep_blocked}; run the prune again later")
    elif waiting > 0:
        print(f"{waiting} more marked; they go at a prune after the grace period"
              " if nothing uses them before")
    return EXIT_OK


def store_command(args: argparse.Namespace) -> int:
    from .. import housekeeping

    if args.action == "info":
        info = housekeeping.store_info(_store(args))
        if args.json:
            print(json.dumps(info, indent=1))
            return EXIT_OK
        _print_info(info)
        return EXIT_OK
    report = housekeeping.check(_store(args), repair=args.repair, workers=args.workers,
                                progress=_Progress() if sys.stderr.isatty() else _quiet)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
    else:
        from ..cache.retention import format_size

        print(f"checked {report.artifacts} artifacts ({format_size(report.bytes)}) and"
              f" {report.entries} entries")
        for bad in report.damaged_artifacts:
            print(f"damaged artifact {bad['key'][:12]}: {bad['problem']}")
        for bad in report.damaged_entries:
            print(f"damaged entry {bad['key'][:12]} (step {bad['step'] or '?'}): {bad['problem']}")
        if report.removed:
            print(f"removed {report.removed} damaged files; their steps re-run next time")
        elif not report.ok:
            print("run `mlpipe store check --repair` to remove them (their steps then re-run)")
    return EXIT_OK if report.ok or args.repair else EXIT_FAILED


def _print_info(info: dict[str, Any]) -> None:
    from ..cache.retention import format_size

    oldest = time.strftime("%Y-%m-%d", time.localtime(info["oldest"])) if info["oldest"] else "-"
    print(f"store {info['store']} (layout format {info['format']}): {info['size']} in"
          f" {info['artifacts']} artifacts, {info['entries']} cache entries, oldest {oldest}")
    rows = [("NOTEBOOK", "STEP", "ENTRIES", "SIZE")]
    for project, row in sorted(info["projects"].items()):
        rows.append((project, "(all)", str(row["entries"]), format_size(row["bytes"])))
        for step, each in sorted(row["steps"].items()):
            rows.append(("", step, str(each["entries"]), format_size(each["bytes"])))
    if len(rows) > 1:
        _table(rows)
    if info["pipelines"]:
        print("published: " + ", ".join(f"{name} ({', '.join(versions)})"
                                        for name, versions in info["pipelines"].items()))
    print("pinned runs: " + (", ".join(info["pinned"]) or "none"))


class _Progress:
    """One line on stderr, rewritten at most ten times a second."""

    def __init__(self) -> None:
        self.shown = 0.0

    def __call__(self, done: int, size: int) -> None:
        now = time.monotonic()
        if now - self.shown >= 0.1:
            self.shown = now
            sys.stderr.write(f"\rchecked {done} artifacts ({size / 1e6:.1f} MB)")
            sys.stderr.flush()


def _quiet(done: int, size: int) -> None:
    return None


def _table(rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())


__all__ = ["register"]
