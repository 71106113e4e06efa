"""Runs of a store, and published pipelines: `runs`, `get_run`, `publish`, `trigger`.

Every `store=` follows `stores.resolve_store`: the argument, else
`$MLPIPE_STORE`, else `.mlpipe` beside `notebook=` (or, for `publish`, beside the
notebook it publishes), else `.mlpipe` in the working directory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Unpack

from ..request import RunKeywords, check_options
from ..stores import PathLike, absolute, records_root, resolve_store
from .run import Run


def runs(store: PathLike | None = None, *, notebook: PathLike | None = None,
         limit: int = 50) -> list[Run]:  # fmt: skip
    """The store's recent runs, newest first (`notebook=`: that notebook's store)."""
    from .. import service

    root = resolve_store(store, notebook)
    records = records_root(root, notebook)  # beside the notebook (or here) for a URL store
    return [Run(r["run_id"], root, r, records=records) for r in service.runs(records, limit)]


def get_run(run_id: str, store: PathLike | None = None, *,
            notebook: PathLike | None = None) -> Run:  # fmt: skip
    """The run `run_id` of the store; `NotFound` when it has no such run."""
    from .. import service

    root = resolve_store(store, notebook)
    records = records_root(root, notebook)
    return Run(run_id, root, service.run_record(records, run_id), records=records)


def publish(notebook: PathLike, name: str | None = None, *,
            store: PathLike | None = None) -> tuple[str, int]:  # fmt: skip
    """Publish the notebook as an immutable, versioned pipeline; `(name, version)`.

    The name defaults to the notebook's; publishing unchanged cells again returns
    the latest version. `BadInput` for a bad name or a notebook with analysis
    errors, `NotFound` when there is no such notebook.
    """
    from ..schedule import publish as published

    path = absolute(notebook)
    version, _ = published.publish(path, name or path.stem, resolve_store(store, path))
    return version.name, version.version


def trigger(
    name: str,
    params: dict[str, Any] | None = None,
    *,
    version: int | None = None,
    **options: Unpack[RunKeywords],
) -> Run:
    """Start a run of the published pipeline `name` (latest version unless `version`); the
    `Run` at once (`run.wait()` blocks). `options` as for `Pipeline.run`; `store` is where
    the pipeline is published (the rule's default: `$MLPIPE_STORE`, else ./.mlpipe).
    `NotFound` when it is not published there."""
    from .. import service
    from ..schedule.scheduler import run_published

    options = check_options(dict(options))
    root = resolve_store(options.pop("store", None))
    published, run_id = run_published(root, name, version=version, params=params,
                                      start=service.start, options=options)  # fmt: skip
    records = absolute(records_root(root))
    return Run(run_id, published.artifact_store() or records, records=records)


def pipelines(store: PathLike | None = None) -> list[dict[str, Any]]:
    """The catalog of published pipelines in the store, by name (issue 25): each row has
    `name`, `version` (the latest), `version_numbers`, `publisher`, `published` (UTC,
    ISO 8601), `description` (the notebook's first markdown cell), `params`, `step_names`,
    `source` and `notebook` (the latest snapshot). `store` as for `runs`."""
    from ..schedule import publish as published

    root = resolve_store(store)  # an object-storage URL: the bucket's catalog
    return published.catalog(root, records_root(root))
