"""`mlpipe runs show RUN_ID --lineage`, `mlpipe runs compare A B ...`, `mlpipe runs diff A B`.

Registered on the `runs` parser of `cli/run.py` (`register_actions`); each reads runs
through the SDK (`get_run`, `Run.lineage`) and prints with `experiments/`.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import EXIT_OK, CliError


def register_actions(actions: argparse._SubParsersAction, show: argparse.ArgumentParser,
                     store_option: Any) -> None:  # fmt: skip
    """Add `--lineage` to `runs show` and the `compare` and `diff` actions."""
    show.add_argument("--lineage", action="store_true",
                      help="what each step was made from (code, params, files, packages...)")
    show.set_defaults(func=show_command, fallback=show.get_default("func"))
    compare = actions.add_parser(
        "compare", help="runs side by side: status, parameters, metrics per step, durations")
    compare.add_argument("run_ids", nargs="+", metavar="RUN_ID")
    store_option(compare)
    compare.add_argument("--json", action="store_true", help="print the rows as JSON")
    compare.set_defaults(func=compare_command)
    diff = actions.add_parser("diff", help="what differed, step by step, between two runs")
    diff.add_argument("run_a", metavar="A")
    diff.add_argument("run_b", metavar="B")
    store_option(diff)
    diff.add_argument("--json", action="store_true", help="print the lines as JSON")
    diff.set_defaults(func=diff_command)


def _run(run_id: str, store: Any) -> Any:
    from ..errors import NotFound
    from ..sdk.registry import get_run

    try:
        return get_run(run_id, store)
    except NotFound as exc:
        raise CliError(str(exc)) from None


def _dump(data: Any) -> None:
    json.dump(data, sys.stdout, indent=1, default=str)
    sys.stdout.write("\n")


def show_command(args: argparse.Namespace) -> int:
    if not args.lineage:
        return int(args.fallback(args) or 0)
    from ..experiments.lineage import text

    found = _run(args.run_id, args.store).lineage
    if args.json:
        _dump(found)
    else:
        sys.stdout.write(text(found))
    return EXIT_OK


def compare_command(args: argparse.Namespace) -> int:
    from ..experiments.compare import rows, table

    if len(args.run_ids) < 2:
        raise CliError("runs compare needs two runs or more, as in: mlpipe runs compare A B")
    from ..experiments.compare import with_lineage

    runs = [_run(run_id, args.store) for run_id in args.run_ids]
    records = [with_lineage(run.record, run.lineage) for run in runs]
    if args.json:
        _dump(rows(records)[1])
    else:
        sys.stdout.write(table(records))
    return EXIT_OK


def diff_command(args: argparse.Namespace) -> int:
    from ..experiments.compare import diff

    lines = diff(_run(args.run_a, args.store).lineage, _run(args.run_b, args.store).lineage)
    if args.json:
        _dump(lines)
    else:
        sys.stdout.write("\n".join(lines or ["no difference in lineage"]) + "\n")
    return EXIT_OK
