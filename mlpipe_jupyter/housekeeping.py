"""Looking after a store for years: retention, pins, size, integrity (the service layer).

What the CLI (`mlpipe cache prune`, `mlpipe store info|check`, `mlpipe runs pin`), the
SDK (`mlp.store_info()`, `Run.pin()`) and the server (`GET store`) call. The store's own
mechanics are in `cache/` (`retention.py` chooses, `gc.py` marks and sweeps,
`integrity.py` checks, `layout.py` versions the layout).

Retention defaults come from the first of: the caller's explicit policy, then
`c.MlpipeService.retention` for the server, then `[tool.mlpipe.retention]` in the
nearest `pyproject.toml` or `[retention]` in the nearest `mlpipe.toml` (searched from
the notebook's folder, else the working directory, upward), e.g.::

    [tool.mlpipe.retention]
    keep_last = 3          # per step of each notebook
    older_than = "30d"
    max_size = "50GB"      # also collected automatically after a run that exceeds it
    grace = "10m"          # how long a marked entry waits before it is swept
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

from .cache.retention import (Policy, format_size, parse_duration, parse_keep_last,
                              parse_size)
from .errors import BadInput, NotFound
from .status import StepStatus
from .stores import db_path

URL_GRACE_S = 600.0
RETENTION_ENV = "MLPIPE_RETENTION"  # JSON: the server's c.MlpipeService.retention  # object storage: others may be planning runs on other machines


def _toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{path}: cannot read the retention settings ({exc})") from None


def config_retention(start: Path | None = None) -> tuple[dict[str, Any], Path | None]:
    """The nearest retention table above `start` (a folder), and the file it came from."""
    folder = (start or Path.cwd()).resolve()
    for each in (folder, *folder.parents):
        own = each / "mlpipe.toml"
        if own.is_file():
            table = _toml(own).get("retention")
            if isinstance(table, dict):
                return table, own
        project = each / "pyproject.toml"
        if project.is_file():
            table = _toml(project).get("tool", {}).get("mlpipe", {}).get("retention")
            if isinstance(table, dict):
                return table, project
    return {}, None


def policy_from(table: dict[str, Any], where: str = "retention") -> tuple[Policy, float | None]:
    """A policy and grace period from a settings table; unknown keys are one line."""
    known = {"keep_last", "older_than", "max_size", "grace"}
    unknown = sorted(set(table) - known)
    if unknown:
        raise BadInput(f"{where}: unknown setting(s) {', '.join(unknown)};"
                       f" use {', '.join(sorted(known))}")
    policy = Policy(
        keep_last=parse_keep_last(table["keep_last"], f"{where}.keep_last")
        if table.get("keep_last") is not None else None,
        older_than_s=parse_duration(table["older_than"], f"{where}.older_than")
        if table.get("older_than") is not None else None,
        max_size=parse_size(table["max_size"], f"{where}.max_size")
        if table.get("max_size") is not None else None,
    )
    grace = parse_duration(table["grace"], f"{where}.grace") if "grace" in table else None
    return policy, grace


def configured_policy(start: Path | None = None,
                      settings: dict[str, Any] | None = None) -> tuple[Policy, float | None]:
    """The configured policy (server settings over files) and grace; empty when none."""
    if settings is None and os.environ.get(RETENTION_ENV):
        import json

        try:
            settings = json.loads(os.environ[RETENTION_ENV])
        except ValueError as exc:
            raise BadInput(f"${RETENTION_ENV} is not JSON: {exc}") from None
    if settings:
        return policy_from(settings, "c.MlpipeService.retention")
    table, path = config_retention(start)
    return policy_from(table, str(path)) if path else (Policy(), None)


def _open(store: str | os.PathLike[str]) -> Any:
    from .cache.store import Store

    return Store.open(store)


def _records(store: Any) -> Any:
    from .execute.records import Records

    return Records(store.records_root) if db_path(store.records_root).exists() else None


def prune(store: str | os.PathLike[str], policy: Policy | None = None, *,
          dry_run: bool = False, grace_s: float | None = None, start: Path | None = None,
          now: float | None = None) -> Any:
    """Apply `policy` (or the configured one) to the store; a `gc.GcReport`."""
    opened = _open(store)
    configured, configured_grace = configured_policy(start)
    chosen = configured.merged(policy) if policy is not None else configured
    if chosen.empty:
        chosen = Policy(keep_last=1)  # no rule anywhere: the latest entry of each step
    if grace_s is None:
        grace_s = configured_grace if configured_grace is not None else (
            URL_GRACE_S if opened.remote else 0.0)
    return opened.prune(policy=chosen, records=_records(opened), dry_run=dry_run,
                        grace_s=grace_s, now=now)


def after_run(store: str | os.PathLike[str], notebook: Path) -> Any | None:
    """Collect garbage after a run when a size cap is configured and the store exceeds it."""
    policy, grace = configured_policy(notebook.parent)
    if policy.max_size is None:
        return None
    opened = _open(store)
    from .cache.gc import artifact_sizes

    if sum(artifact_sizes(opened).values()) <= policy.max_size:
        return None
    return prune(store, Policy(max_size=policy.max_size), grace_s=grace,
                 start=notebook.parent)


def store_info(store: str | os.PathLike[str]) -> dict[str, Any]:
    """Size by project, step and pipeline; entries; the oldest; pins; the layout format."""
    from .cache import gc
    from .cache.layout import FORMAT, read_format

    opened = _open(store)
    sizes = gc.artifact_sizes(opened)
    owners = gc.project_of_keys(_records(opened))
    projects: dict[str, dict[str, Any]] = {}
    oldest: float | None = None
    entries = opened.entries()
    for entry in entries:
        project = entry.project or owners.get(entry.step_key, "") or "(unknown)"
        mine = {ref.key for ref in entry.outputs.values()} | set(entry.written_keys.values())
        size = sum(sizes.get(key, 0) for key in mine)
        row = projects.setdefault(project, {"entries": 0, "bytes": 0, "steps": {}})
        row["entries"] += 1
        row["bytes"] += size
        step = row["steps"].setdefault(entry.step, {"entries": 0, "bytes": 0})
        step["entries"] += 1
        step["bytes"] += size
        oldest = entry.created if oldest is None else min(oldest, entry.created)
    pinned = gc.pins(opened)
    return {
        "store": opened.url, "format": read_format(opened) or FORMAT,
        "bytes": sum(sizes.values()), "artifacts": len(sizes), "entries": len(entries),
        "oldest": oldest, "projects": projects, "pipelines": _published(opened),
        "pinned": sorted(pinned), "size": format_size(sum(sizes.values())),
    }


def _published(store: Any) -> dict[str, Any]:
    """Published pipeline -> its versions (snapshots under `pipelines/`)."""
    found: dict[str, Any] = {}
    root = Path(store.records_root) / "pipelines"
    if root.is_dir():
        for folder in sorted(p for p in root.iterdir() if p.is_dir()):
            found[folder.name] = sorted(v.name for v in folder.iterdir() if v.is_dir())
    return found


def check(store: str | os.PathLike[str], *, repair: bool = False, workers: int | None = None,
          progress: Callable[[int, int], None] = lambda done, size: None) -> Any:
    from .cache.integrity import check as check_store

    return check_store(_open(store), repair=repair, progress=progress,
                       workers=workers or min(8, (os.cpu_count() or 2) * 2))


def _run_entries(store: Any, run_id: str) -> list[Any]:
    records = _records(store)
    if records is None:
        raise NotFound(f"no run '{run_id}' in this store; list runs with `mlpipe runs`")
    try:
        record = records.get_run(run_id)
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    entries = []
    for step in record["steps"].values():
        key = step.get("cache_key")
        if key and step.get("status") in (StepStatus.SUCCEEDED, StepStatus.CACHED):
            entry = store.lookup(key)
            if entry is not None:
                entries.append(entry)
    return entries


def pin_run(store: str | os.PathLike[str], run_id: str, note: str = "") -> dict[str, Any]:
    """Keep run `run_id`'s results whatever the retention policy says."""
    from .cache import gc
    from .runids import check_run_id

    check_run_id(run_id)
    opened = _open(store)
    entries = _run_entries(opened, run_id)
    if not entries:
        raise NotFound(f"run {run_id} has no results left in the store to pin")
    return gc.pin(opened, run_id, entries, note)


def unpin_run(store: str | os.PathLike[str], run_id: str) -> bool:
    from .cache import gc
    from .runids import check_run_id

    check_run_id(run_id)
    return gc.unpin(_open(store), run_id)


def describe_age(seconds_since: float | None) -> str:
    if seconds_since is None:
        return "-"
    return time.strftime("%Y-%m-%d", time.localtime(seconds_since))
