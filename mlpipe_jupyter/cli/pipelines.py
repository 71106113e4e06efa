"""`mlpipe publish | pipelines | export | schedule ... | scheduler`: a few lines each over
mlpipe_jupyter.schedule. Errors of that package print as one line and exit 2."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from ..status import RunStatus

from . import EXIT_OK, CliError


def register(subparsers: Any) -> None:
    publish = subparsers.add_parser("publish", help="publish a notebook as a versioned pipeline")
    publish.add_argument("notebook")
    publish.add_argument("--name", help="pipeline name (default: the notebook's name)")
    _common(publish)
    publish.set_defaults(func=_guard(cmd_publish))

    pipelines = subparsers.add_parser(
        "pipelines", help="the catalog: published pipelines with versions, publisher, steps")
    _common(pipelines)
    pipelines.set_defaults(func=_guard(cmd_pipelines))

    new = subparsers.add_parser(
        "new", help="write a new notebook from a published pipeline (a template)")
    new.add_argument("notebook", help="the new .ipynb file (never overwritten)")
    new.add_argument("--from", dest="template", required=True, metavar="NAME[@VERSION]",
                     help="published pipeline to start from (default: its latest version)")
    _common(new)
    new.set_defaults(func=_guard(cmd_new))

    export = subparsers.add_parser("export", help="write step notebooks + a papermill runner")
    export.add_argument("notebook")
    export.add_argument("-o", "--output", required=True, metavar="DIR")
    export.add_argument("--force", action="store_true", help="replace a non-empty DIR")
    export.set_defaults(func=_guard(cmd_export))

    schedule = subparsers.add_parser("schedule", help="cron schedules of published pipelines")
    actions = schedule.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="run a published pipeline on a cron schedule")
    add.add_argument("name", help="schedule name (also the pipeline's, unless --pipeline)")
    add.add_argument("--cron", required=True, metavar="EXPR", help="e.g. '0 6 * * *' or @daily")
    add.add_argument("--pipeline", help="published pipeline to run (default: NAME)")
    add.add_argument("--version", type=_version, help="pin a version (default: the latest)")
    add.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                     metavar=("NAME", "VALUE"))  # fmt: skip
    _common(add)
    add.set_defaults(func=_guard(cmd_schedule_add))
    listing = actions.add_parser("list", help="list schedules with their next run")
    _common(listing)
    listing.set_defaults(func=_guard(cmd_schedule_list))
    for action, helptext in (("pause", "stop firing"), ("resume", "fire again from now"),
                             ("remove", "delete the schedule")):  # fmt: skip
        parser = actions.add_parser(action, help=helptext)
        parser.add_argument("name")
        _common(parser)
        parser.set_defaults(func=_guard(cmd_schedule_change), action=action)

    service = subparsers.add_parser("scheduler", help="the service that fires due schedules")
    service.add_argument("--once", action="store_true", help="one pass, wait for its runs, exit")
    service.add_argument("--interval", type=_interval, default=30.0, metavar="S",
                         help="longest sleep between checks (default 30)")  # fmt: skip
    _common(service)
    service.set_defaults(func=_guard(cmd_scheduler))


MAX_VERSION = 2**31 - 1
MAX_INTERVAL_S = 86400.0


def _version(text: str) -> int:
    """A published version: a whole number from 1 (argparse's `type`)."""
    value = int(text) if text.isascii() and text.isdigit() else 0
    if not 1 <= value <= MAX_VERSION:
        shown = text if len(text) <= 12 else text[:12] + "..."
        raise argparse.ArgumentTypeError(
            f"a version is a whole number from 1 to {MAX_VERSION}, got {shown!r}")
    return value


def _interval(text: str) -> float:
    """Seconds between the scheduler's checks: more than 0, at most a day."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_INTERVAL_S:  # nan fails too
        shown = text if len(text) <= 12 else text[:12] + "..."
        raise argparse.ArgumentTypeError(
            f"seconds must be more than 0 and at most {MAX_INTERVAL_S:g}, got {shown!r}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="store folder (default: $MLPIPE_STORE, else .mlpipe"
                        " beside the notebook, else ./.mlpipe)")
    parser.add_argument("--json", action="store_true", help="print JSON")


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """The schedule package's errors (and a bad cron) become one line and exit 2."""

    def run(args: argparse.Namespace) -> int:
        from ..schedule.cron import CronError
        from ..schedule.errors import MlpipeError

        try:
            return command(args)
        except CronError as exc:
            raise CliError(f"--cron '{exc.expr}': {exc.detail}") from None
        except MlpipeError as exc:
            raise CliError(str(exc)) from None

    run.__name__ = command.__name__
    return run


def store_root(args: argparse.Namespace, notebook: str | None = None) -> Path | str:
    """The store of `stores.resolve_store`: --store, $MLPIPE_STORE, beside NOTEBOOK, ./.mlpipe."""
    from ..stores import resolve_store

    return resolve_store(args.store, notebook)


def records_of(args: argparse.Namespace) -> Path:
    """Where published pipelines and schedules are kept: the store, or for an
    object-storage store the local records folder (./.mlpipe)."""
    from ..stores import records_root

    return records_root(store_root(args))


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True))


def cmd_publish(args: argparse.Namespace) -> int:
    from ..schedule import publish

    name = args.name or Path(args.notebook).stem
    published, created = publish.publish(args.notebook, name, store_root(args, args.notebook))
    if args.json:
        _print_json({**published.to_json(), "created": created})
    else:
        verb = "published" if created else "unchanged since"
        print(f"{verb} {published.name} v{published.version} ({published.steps} steps) "
              f"at {published.path}")  # fmt: skip
    return EXIT_OK


def cmd_pipelines(args: argparse.Namespace) -> int:
    from ..schedule import publish

    rows = publish.catalog(store_root(args), records_of(args))  # a bucket's, for a URL
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no published pipelines (mlpipe publish NB --name NAME)")
    for row in rows:  # the catalog (issue 25): one block per pipeline
        numbers = ", ".join(f"v{n}" for n in row.get("version_numbers") or [row["version"]])
        print(f"{row['name']}  {numbers}  published by {row.get('publisher') or '?'}"
              f" at {row.get('published', '?')}  from {row['source']}")  # fmt: skip
        steps = ", ".join(row.get("step_names") or []) or f"{row['steps']} steps"
        params = ", ".join(f"{k}={v!r}" for k, v in (row.get("params") or {}).items())
        print(f"    steps: {steps}" + (f"; params: {params}" if params else ""))
        lines = (ln.lstrip("#").strip() for ln in (row.get("description") or "").split("\n"))
        first = " ".join(ln for ln in lines if ln)
        first = first if len(first) <= 100 else first[:97] + "..."
        if first:
            print(f"    {first}")
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    """`mlpipe new NB --from NAME[@VERSION]` (issue 25): a notebook from the catalog."""
    from ..schedule import publish

    name, _, version = args.template.partition("@")
    number = version[1:] if version[:1] in ("v", "V") else version
    if version and not (number.isdigit() and int(number) >= 1):
        raise CliError(f"--from {args.template!r}: write NAME or NAME@VERSION, as in prep@2")
    store = records_of_notebook(args, args.notebook)
    from ..stores import is_url

    url = store_root(args, args.notebook)
    published, path = publish.new_from(store, name, args.notebook,
                                       int(number) if version else None,
                                       url=str(url) if is_url(url) else None)  # fmt: skip
    if args.json:
        _print_json({**published.to_json(), "written": str(path)})
    else:
        print(f"wrote {path} from {published.name} v{published.version}")
    return EXIT_OK


def records_of_notebook(args: argparse.Namespace, notebook: str) -> Path:
    """The records folder of the store a new notebook at `notebook` would use."""
    from ..stores import records_root

    return records_root(store_root(args, notebook), notebook)


def cmd_export(args: argparse.Namespace) -> int:
    from ..schedule.export import export

    out = export(args.notebook, args.output, force=args.force)
    print(f"exported to {out}: run it with `python {out / 'run_pipeline.py'}`")
    return EXIT_OK


def cmd_schedule_add(args: argparse.Namespace) -> int:
    from ..schedule import cron, schedules
    from .run import parse_value

    params = {key: parse_value(value) for key, value in args.parameters}
    schedule = schedules.add(records_of(args), args.name, args.cron, pipeline=args.pipeline,
                             params=params, version=args.version,
                             published_only=True)  # fmt: skip
    if args.json:
        _print_json(schedule.to_json())
        return EXIT_OK
    shown = cron.preview(schedule.cron)
    print(f"schedule {schedule.name}: pipeline {schedule.pipeline}, {shown['description']}")
    print("next runs: " + ", ".join(shown["next"]))
    return EXIT_OK


def cmd_schedule_list(args: argparse.Namespace) -> int:
    from ..schedule import schedules

    rows = [s.to_json() for s in schedules.list_schedules(records_of(args))]
    if args.json:
        _print_json(rows)
        return EXIT_OK
    if not rows:
        print("no schedules (mlpipe schedule add NAME --cron EXPR)")
    for row in rows:
        state = "paused" if row["paused"] else f"next {row['next_run']}"
        last = f", last run {row['last_run_id']}" if row["last_run_id"] else ""
        error = f", last error: {row['last_error']}" if row["last_error"] else ""
        skipped = (f", skipped {row['skipped']}x (last {row['last_skipped']}:"
                   f" {row['last_skip_reason']})" if row.get("skipped") else "")  # fmt: skip
        print(f"{row['name']:<20} {row['pipeline']:<20} {row['cron']:<15} "
              f"{row['description']}; {state}{last}{error}{skipped}")  # fmt: skip
    return EXIT_OK


def cmd_schedule_change(args: argparse.Namespace) -> int:
    from ..schedule import schedules

    store = records_of(args)
    if args.action == "remove":
        schedules.remove(store, args.name)
        print(f"removed schedule {args.name}")
        return EXIT_OK
    schedule = schedules.set_paused(store, args.name, paused=args.action == "pause")
    state = "paused" if schedule.paused else f"resumed, next run {schedule.to_json()['next_run']}"
    print(f"schedule {schedule.name} {state}")
    return EXIT_OK


def cmd_scheduler(args: argparse.Namespace) -> int:
    """Fire due schedules; with --once, exit 1 unless every run it fired succeeded."""
    from ..schedule.scheduler import serve

    store = records_of(args)
    if not args.once:
        print(f"mlpipe scheduler: watching {store} (Ctrl-C to stop)", file=sys.stderr)
    fired = serve(store, interval=args.interval, once=args.once,
                  log=lambda line: print(line, flush=True))  # fmt: skip
    failed = [f for f in fired if f.error is not None]
    if args.once:
        from .. import service

        for item in fired:
            if item.run_id is None:
                continue
            status = service.run_record(store, item.run_id)["status"]
            if status != RunStatus.SUCCEEDED:
                print(f"mlpipe: run {item.run_id} of schedule '{item.schedule}' {status};"
                      f" see `mlpipe runs show {item.run_id} --store {store}`",
                      file=sys.stderr)  # fmt: skip
                failed.append(item)
    return EXIT_OK if not failed else 1
