"""`mlpipe run`, `mlpipe runs [show RUN_ID]`, `mlpipe cache ls|prune`.

Each command builds one `RunRequest` (or reads the one `service.start` wrote,
`--request FILE`) and hands it to `mlpipe_jupyter.service`; the store follows
`stores.resolve_store`. Parameters follow
papermill: `-p NAME VALUE` (int, float, True/False, None, else a string),
`-y YAML`, `-f FILE`. Exit codes: 0 every step succeeded or was cached, 1 a
step failed (or the run was cancelled), 2 bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..request import parse_value
from ..status import RunStatus
from . import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, CliError

if TYPE_CHECKING:
    from ..request import RunRequest


def register(subparsers: argparse._SubParsersAction) -> None:
    _register_run(subparsers)
    _register_retry(subparsers)
    _register_runs(subparsers)


def _store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store", help="the store (default: $MLPIPE_STORE, else .mlpipe beside the notebook)"
    )


def _register_run(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "run", help="run a notebook as a pipeline",
        description="Run a notebook's %%step cells as papermill steps on Dask,"
        " reusing cached steps.",
    )
    parser.add_argument("notebook", nargs="?", help="path of the .ipynb file")
    parser.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"), help="a parameter value (papermill's -p)")
    parser.add_argument("-y", "--parameters_yaml", help="parameters as a YAML string")
    parser.add_argument("-f", "--parameters_file", help="parameters from a YAML file")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS", help="run on an existing Dask scheduler")
    where.add_argument("--workers", type=int, metavar="N", help="CPU workers of the local cluster")
    parser.add_argument("--gpu-workers", type=int, metavar="N",
                        help="GPU workers of the local cluster (default: one per GPU found)")
    parser.add_argument("--cluster", metavar="CLASS",
                        help="start a Dask cluster manager by import path (e.g."
                        " dask_jobqueue.SLURMCluster), closed when the run ends")
    parser.add_argument("--cluster-option", action="append", default=[], metavar="NAME=VALUE",
                        help="a keyword for --cluster (VALUE as JSON where it parses)")
    parser.add_argument("--adapt", nargs=2, metavar=("MIN", "MAX"),
                        help="scale the --cluster adaptively between MIN and MAX workers")
    _store_option(parser)
    parser.add_argument("--no-cache", action="store_true", help="run every step, reuse nothing")
    parser.add_argument("--tracking-uri", metavar="URI", help="MLflow tracking URI: a parent run"
                        " per run, a child per step (default: $MLFLOW_TRACKING_URI)")
    parser.add_argument("--json", action="store_true", help="print the run record as JSON only")
    parser.add_argument("--request", metavar="FILE", help=argparse.SUPPRESS)  # service.start
    _selection_options(parser)
    parser.set_defaults(func=run_command)


def _selection_options(parser: argparse.ArgumentParser) -> None:
    """dbt's selection grammar (analysis/select.py) and the plan before the run."""
    parser.add_argument("--select", "-s", action="append", default=[], metavar="EXPR",
                        help="run only these steps: STEP, +STEP (with what it needs, reused"
                        " when cached), STEP+ (with everything downstream), +STEP+; space"
                        " separated terms are a union")
    parser.add_argument("--exclude", action="append", default=[], metavar="EXPR",
                        help="leave these steps out (same grammar)")
    parser.add_argument("--only", action="append", default=[], metavar="STEP",
                        help="this step alone, its inputs from the cache")
    parser.add_argument("--from", dest="from_step", action="append", default=[],
                        metavar="STEP", help="= --select STEP+")
    parser.add_argument("--until", action="append", default=[], metavar="STEP",
                        help="= --select +STEP")
    parser.add_argument("--dry", action="store_true", help="print the plan (run, cached or"
                        " skipped, and why) and run nothing: no cluster, no kernel")


def _register_retry(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "retry", help="run a finished run again: what succeeded is reused, the rest runs",
        description="A new run of the run's notebook snapshot and parameters; the steps"
        " that succeeded are reused from the cache, the failed, cancelled and not-started"
        " ones run. The new run's record names the run it retries (retry_of).",
    )
    parser.add_argument("run_id")
    _store_option(parser)
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="run on this Dask scheduler (default: as the retried run did)")
    where.add_argument("--workers", type=int, metavar="N",
                       help="a local cluster of N CPU workers (default: as the retried run did)")
    parser.add_argument("--json", action="store_true", help="print the run record as JSON only")
    parser.add_argument("--dry", action="store_true", help="print the plan and run nothing")
    parser.set_defaults(func=retry_command)


def _register_runs(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("runs", help="list recent runs, or show one")
    _store_option(parser)
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=runs_command, action=None)
    actions = parser.add_subparsers(dest="action", metavar="ACTION")
    show = actions.add_parser("show", help="one run's record")
    show.add_argument("run_id")
    _store_option(show)
    show.add_argument("--json", action="store_true", help="print the run record as JSON")
    show.set_defaults(func=runs_command)
    from .runs import register_actions  # show --lineage, compare, diff (experiments)

    register_actions(actions, show, _store_option)
    from .store import register_run_actions  # pin, unpin (retention)

    register_run_actions(actions)


def _register_cache(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("cache", help="list or prune the step cache")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    listing = actions.add_parser("ls", help="list cache entries")
    _store_option(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    prune = actions.add_parser("prune", help="keep the latest entry per step, drop the rest")
    _store_option(prune)
    prune.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=cache_command)


def collect_params(args: argparse.Namespace) -> dict[str, Any]:
    """-f, then -y, then -p (later wins), as papermill merges them."""
    params: dict[str, Any] = {}
    for label, text in (("-f", _read(args.parameters_file)), ("-y", args.parameters_yaml)):
        if text:
            params.update(_yaml_mapping(label, text))
    for name, value in args.parameters:
        params[name] = parse_value(value)
    return params


def _read(path: str | None) -> str | None:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    except OSError as exc:
        raise CliError(f"-f {path}: cannot read it ({exc.strerror})") from None


def _yaml_mapping(label: str, text: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CliError(f"{label}: not valid YAML ({str(exc).splitlines()[0]})") from None
    except RecursionError:
        raise CliError(f"{label}: nested too deeply to be parameters") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise CliError(f"{label}: parameters must be a YAML mapping like 'lr: 0.1'")
    return data


def run_command(args: argparse.Namespace) -> int:
    return _execute(_request(args), args.json, args.dry)


def retry_command(args: argparse.Namespace) -> int:
    from .. import service
    from ..errors import MlpipeError
    from ..stores import resolve_store

    where: dict[str, Any] = {}
    if args.scheduler or args.workers is not None:  # in place of the retried run's cluster
        where = {"scheduler": args.scheduler or None, "workers": args.workers,
                 "gpu_workers": None, "cluster": None, "cluster_options": {}, "adapt": None}
    try:
        request = service.retry_request(resolve_store(args.store), args.run_id, **where)
    except MlpipeError as exc:
        raise CliError(str(exc)) from None
    return _execute(request, args.json, args.dry)


def _execute(request: RunRequest, as_json: bool, dry: bool = False) -> int:
    from .. import service
    from ..errors import MlpipeError

    if dry:
        try:
            planned = service.plan(request)
        except MlpipeError as exc:
            raise CliError(str(exc)) from None
        if as_json:
            print(json.dumps(planned, indent=1))
        else:
            sys.stdout.write(plan_lines(planned["steps"], planned["ms"]))
        return EXIT_OK
    bar = None
    on_event = _dashboard_line
    pipeline = _pipeline(request)  # analysed once (or handed down): bar and run
    if not as_json:
        from ..execute.progress import ProgressBar

        if pipeline is not None:
            bar = on_event = ProgressBar(list(pipeline.order))
        on_event = _plan_first(on_event)
    try:
        record = service.execute(request, on_event, pipeline=pipeline)
    except MlpipeError as exc:
        if bar is not None:
            bar.close()
        for line in str(exc).splitlines():
            print(f"mlpipe: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if bar is not None:
        bar.close()
    _print_record(record, as_json)
    return EXIT_OK if record.get("status") == RunStatus.SUCCEEDED else EXIT_FAILED


def plan_lines(rows: list[dict[str, Any]], ms: float | None = None) -> str:
    """The plan as `mlpipe run --dry` prints it (and `mlpipe run` first): one line a step."""
    from ..execute.planner import plan_text

    return plan_text(rows, ms)


def _plan_first(on_event: Any) -> Any:
    """`on_event`, printing the run's plan (the runner's 'plan' event) as it comes."""

    def handle(event: dict[str, Any]) -> None:
        if event.get("event") == "plan":
            sys.stdout.write(plan_lines(event["steps"]))
            sys.stdout.flush()
        on_event(event)

    return handle


def _request(args: argparse.Namespace) -> RunRequest:
    """The run request of the command line, or the one `service.start` wrote (`--request`)."""
    from ..errors import BadInput
    from ..execute.managers import parse_options
    from ..request import RunRequest

    if args.request:
        if args.notebook:
            raise CliError("--request FILE carries the notebook; pass one or the other")
        try:
            return RunRequest.from_json(Path(args.request).read_text(encoding="utf-8"))
        except (OSError, BadInput) as exc:
            raise CliError(f"--request {args.request}: {exc}") from None
    if not args.notebook:
        raise CliError("run needs a notebook: mlpipe run NOTEBOOK.ipynb")
    try:
        return RunRequest.build(
            args.notebook, collect_params(args), store=args.store, scheduler=args.scheduler,
            workers=args.workers, gpu_workers=args.gpu_workers, no_cache=args.no_cache,
            cluster=args.cluster, cluster_options=parse_options(args.cluster_option),
            adapt=args.adapt, tracking_uri=getattr(args, "tracking_uri", None),
            select=args.select + [f"{s}+" for s in args.from_step]
            + [f"+{s}" for s in args.until],
            exclude=args.exclude, only=args.only,
        )
    except BadInput as exc:
        raise CliError(str(exc)) from None


def _pipeline(request: RunRequest) -> Any:
    """The request's runnable pipeline, or None (then `service.execute` reports why)."""
    from .. import service
    from ..errors import MlpipeError

    try:
        return service.analysis_of(request)
    except (MlpipeError, ValueError, OSError):
        return None


def _dashboard_line(event: dict[str, Any]) -> None:
    """With --json (stdout is the record): the dashboard address and warnings on stderr."""
    if event.get("event") == "cluster" and event.get("dashboard"):
        print(f"mlpipe: dashboard: {event['dashboard']}", file=sys.stderr, flush=True)
    elif event.get("event") == "warning":
        print(f"mlpipe: warning: {event.get('message')}", file=sys.stderr, flush=True)


def _print_record(record: dict[str, Any], as_json: bool) -> None:
    if as_json:
        json.dump(record, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        from ..execute.progress import summary_table

        sys.stdout.write(summary_table(record))


def runs_command(args: argparse.Namespace) -> int:
    from .. import service
    from ..errors import NotFound
    from ..execute.progress import runs_table
    from ..stores import resolve_store

    root = resolve_store(args.store)
    if args.action == "show":
        try:
            record = service.run_record(root, args.run_id)
        except NotFound as exc:
            raise CliError(str(exc)) from None
        formats = _output_formats(root, record)
        if args.json:
            for name, outputs in formats.items():
                record["steps"][name]["outputs"] = outputs
        _print_record(record, args.json)
        if not args.json and any(formats.values()):
            sys.stdout.write("outputs (format, and why a faster one was not used):\n")
            for name, outputs in formats.items():
                if outputs:
                    shown = ", ".join(f"{var}: {ref['format']}" + (f" ({ref['why']})"
                                      if ref.get("why") else "") for var, ref in outputs.items())
                    sys.stdout.write(f"  {name}: {shown}\n")
        return EXIT_OK
    found = service.runs(root)
    if args.json:
        json.dump(found, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(runs_table(found) if found else f"no runs in {root}\n")
    return EXIT_OK


def _output_formats(root: Any, record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each step's outputs as `{var: {"format", "why"?}}` (issue 21): from the step's
    kept result in this run, else from the cache entry it was reused from."""
    from ..cache.store import Store

    try:
        store = Store.open(root)
    except Exception:  # noqa: BLE001 - a record without its store still shows
        return {}
    found: dict[str, dict[str, Any]] = {}
    for name, step in record.get("steps", {}).items():
        refs: dict[str, Any] = {}
        try:
            path = store.runs_dir / str(record.get("run_id")) / f"{name}.result.json"
            refs = json.loads(store.read_bytes(path).decode("utf-8")).get("outputs") or {}
        except (OSError, ValueError, AttributeError):
            entry = store.lookup(step["cache_key"]) if step.get("cache_key") else None
            refs = {var: ref.to_json() for var, ref in entry.outputs.items()} if entry else {}
        found[name] = {
            var: {k: ref[k] for k in ("format", "why") if ref.get(k)}
            for var, ref in sorted(refs.items())
            if isinstance(ref, dict) and ":" not in var and ref.get("format")
        }
    return found


def cache_command(args: argparse.Namespace) -> int:
    from ..cache.store import Store
    from ..stores import resolve_store

    store = Store.open(resolve_store(args.store))
    if args.action == "prune":
        report = store.prune()
        summary = {
            "entries_removed": report.entries_removed,
            "artifacts_removed": report.artifacts_removed,
            "bytes_freed": report.bytes_freed,
        }
        if args.json:
            print(json.dumps(summary))
        else:
            print(
                f"removed {report.entries_removed} cache entries and"
                f" {report.artifacts_removed} artifacts ({report.bytes_freed} bytes)"
            )
        return EXIT_OK
    entries = store.entries()
    if args.json:
        json.dump([_entry_json(e) for e in entries], sys.stdout, indent=1)
        sys.stdout.write("\n")
        return EXIT_OK
    if not entries:
        print(f"no cache entries in {store.root}")
        return EXIT_OK
    rows = [("STEP", "KEY", "OUTPUTS", "BYTES", "ORIGIN")]
    for entry in entries:
        size = sum(ref.size for ref in entry.outputs.values())
        rows.append((entry.step, entry.step_key[:12], ",".join(entry.outputs) or "-",
                     str(size), entry.origin))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return EXIT_OK


def _entry_json(entry: Any) -> dict[str, Any]:
    data = entry.to_json()
    data.pop("displays", None)
    data["displays"] = len(entry.displays)
    return data


__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "parse_value", "register"]
