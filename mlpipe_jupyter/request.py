"""One run request: what a run was asked to do, built once by each front end.

The CLI (`mlpipe run`), `%pipeline run`, the Jupyter server, the scheduler and
the SDK each build a `RunRequest` with `RunRequest.build` and pass it, unchanged,
to `service.execute` / `service.start` and on to the runner. Paths in it are
absolute (the store by `stores.resolve_store`), so it means the same thing in
the child process a server-started run uses, which gets it as JSON
(`to_json` / `from_json`), never as a rebuilt command line.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, TypedDict

from .errors import BadInput
from .runids import check_run_id
from .stores import PathLike, absolute, location, resolve_store


class RunKeywords(TypedDict, total=False):
    """The options of `mlpipe run` as keywords (`Pipeline.run(**options)`, `mlp.trigger`)."""

    store: PathLike | None
    scheduler: str | None
    workers: int | None
    gpu_workers: int | None
    no_cache: bool
    cluster: str | None
    cluster_options: dict[str, Any] | None
    adapt: tuple[int, int] | None
    select: str | list[str] | None
    exclude: str | list[str] | None
    only: str | list[str] | None
    tracking_uri: str | None


def check_options(options: dict[str, Any]) -> dict[str, Any]:
    """`options` if every key is a `RunKeywords` key; `BadInput` naming the first that is not."""
    known = RunKeywords.__annotations__
    for key in options:
        if key not in known:
            raise BadInput(f"unknown run option {key!r}; the options are: {', '.join(known)}")
    return options


@dataclass(frozen=True)
class RunRequest:
    """A run of `notebook` as a pipeline, with the options of `mlpipe run`.

    `scheduler` (an existing Dask scheduler's address), `cluster` (a Dask
    cluster manager's import path, started with `cluster_options` as keywords
    and scaled by `adapt` = (MIN, MAX), `execute/managers.py`) and `workers` /
    `gpu_workers` (the sizes of the embedded LocalCluster) exclude each other
    as they do on the command line. `run_id` is None until the run is recorded
    (`service.start` records it before the child process starts).
    """

    notebook: Path
    store: Path
    params: dict[str, Any] = field(default_factory=dict)
    scheduler: str | None = None
    workers: int | None = None
    gpu_workers: int | None = None
    no_cache: bool = False
    run_id: str | None = None
    cluster: str | None = None
    cluster_options: dict[str, Any] = field(default_factory=dict)
    adapt: tuple[int, int] | None = None
    select: tuple[str, ...] = ()  # dbt's selection terms (`+train`, `prep+`; analysis/select.py)
    exclude: tuple[str, ...] = ()
    only: tuple[str, ...] = ()
    source: Path | None = None  # the notebook snapshot analysed in place of `notebook` (retry)
    retry_of: str | None = None  # the run this one retries
    tracking_uri: str | None = None  # MLflow (`--tracking-uri`; else $MLFLOW_TRACKING_URI)

    @classmethod
    def build(
        cls,
        notebook: PathLike,
        params: dict[str, Any] | None = None,
        *,
        store: PathLike | None = None,
        scheduler: str | None = None,
        workers: int | None = None,
        gpu_workers: int | None = None,
        no_cache: bool = False,
        run_id: str | None = None,
        cwd: PathLike | None = None,
        cluster: str | None = None,
        cluster_options: dict[str, Any] | None = None,
        adapt: tuple[int, int] | list[int] | None = None,
        select: str | list[str] | tuple[str, ...] | None = None,
        exclude: str | list[str] | tuple[str, ...] | None = None,
        only: str | list[str] | tuple[str, ...] | None = None,
        source: PathLike | None = None,
        retry_of: str | None = None,
        tracking_uri: str | None = None,
    ) -> RunRequest:
        """A request with its paths made absolute against `cwd` (default: this process's);
        `BadInput` for options that cannot go together or values a run cannot take."""
        params = dict(params or {})
        for name, value in params.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise BadInput(f"parameter name {name!r} is not a Python identifier")
            _check_json(name, value)
        if scheduler and (workers is not None or gpu_workers is not None):
            raise BadInput(
                "a run takes a scheduler address or the sizes of a local cluster"
                " (workers, gpu_workers), not both"
            )
        for label, count in (("workers", workers), ("gpu_workers", gpu_workers)):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise BadInput(f"{label} must be a whole number, got {count!r}")
        if not isinstance(notebook, (str, os.PathLike)) or not str(notebook):
            raise BadInput(f"notebook must be a path to an .ipynb file, got {notebook!r}")
        cluster, cluster_options, adapt = _check_cluster(
            cluster, cluster_options, adapt, scheduler=scheduler, workers=workers,
            gpu_workers=gpu_workers,
        )
        path = absolute(notebook, cwd)
        return cls(
            notebook=path,
            store=resolve_store(store, path, cwd=cwd),
            params=params,
            scheduler=scheduler or None,
            workers=workers,
            gpu_workers=gpu_workers,
            no_cache=bool(no_cache),
            run_id=None if run_id is None else check_run_id(run_id),
            select=_terms("select", select),
            exclude=_terms("exclude", exclude),
            only=_terms("only", only),
            source=None if source is None else absolute(source, cwd),
            retry_of=None if retry_of is None else check_run_id(retry_of),
            cluster=cluster,
            cluster_options=cluster_options,
            adapt=adapt,
            tracking_uri=_tracking_uri(tracking_uri or os.environ.get("MLFLOW_TRACKING_URI"), cwd),
        )

    def with_run_id(self, run_id: str) -> RunRequest:
        """The same request, for the recorded run `run_id`."""
        return replace(self, run_id=check_run_id(run_id))

    def to_json(self) -> str:
        """The request as one JSON object (paths as strings)."""
        data = asdict(self)
        data["notebook"], data["store"] = str(self.notebook), str(self.store)
        data["source"] = None if self.source is None else str(self.source)
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> RunRequest:
        """The request `to_json` wrote; `BadInput` for anything else."""
        try:
            data = json.loads(text)
            return cls(
                notebook=Path(data["notebook"]), store=location(data["store"]),
                params=dict(data.get("params") or {}), scheduler=data.get("scheduler"),
                workers=data.get("workers"), gpu_workers=data.get("gpu_workers"),
                no_cache=bool(data.get("no_cache")),
                run_id=None if data.get("run_id") is None else check_run_id(data["run_id"]),
                cluster=data.get("cluster"),
                cluster_options=dict(data.get("cluster_options") or {}),
                adapt=tuple(data["adapt"]) if data.get("adapt") else None,
                select=tuple(data.get("select") or ()),
                exclude=tuple(data.get("exclude") or ()),
                only=tuple(data.get("only") or ()),
                source=Path(data["source"]) if data.get("source") else None,
                retry_of=data.get("retry_of"),
                tracking_uri=data.get("tracking_uri"),
            )  # fmt: skip
        except (ValueError, KeyError, TypeError, RecursionError) as exc:  # BadInput too
            raise BadInput(f"not a run request: {exc}") from None


def _check_cluster(
    cluster: str | None, options: dict[str, Any] | None, adapt: Any, *,
    scheduler: str | None, workers: int | None, gpu_workers: int | None,
) -> tuple[str | None, dict[str, Any], tuple[int, int] | None]:
    """The cluster manager's fields, checked; `BadInput` naming the flag otherwise."""
    from .execute.managers import ManagerSpec

    if not cluster:
        if options or adapt is not None:
            flag = "--cluster-option" if options else "--adapt"
            raise BadInput(
                f"{flag} needs --cluster CLASS, as in --cluster distributed.LocalCluster"
            )
        return None, {}, None
    if scheduler or workers is not None or gpu_workers is not None:
        raise BadInput(
            "--cluster starts its own cluster: it does not go with --scheduler, --workers"
            " or --gpu-workers"
        )
    if options is not None and not isinstance(options, dict):
        raise BadInput(f"cluster_options must be a mapping of NAME: VALUE, got {options!r}")
    spec = ManagerSpec(cluster, dict(options or {}), None)
    if adapt is not None:
        from .execute.managers import check_adapt

        adapt = check_adapt(adapt)
    return spec.cluster_class, spec.options, adapt


def _tracking_uri(uri: str | None, cwd: PathLike | None) -> str | None:
    """An MLflow tracking URI with a SQLite file or folder made absolute against `cwd`."""
    if uri is None or uri == "":
        return None
    if not isinstance(uri, str):
        raise BadInput(f"tracking_uri must be a URI string, got {uri!r}")
    from .experiments.mlflow_tree import resolve_uri

    return resolve_uri(uri, cwd)


def _terms(label: str, value: Any) -> tuple[str, ...]:
    """A selection option as terms (`"+a b+"` or a list of them); `BadInput` if not strings."""
    if value is None or value == "":
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, (list, tuple)) or not all(isinstance(t, str) for t in items):
        raise BadInput(f"{label} must be step names as a string or a list of strings,"
                       f" got {value!r}")  # fmt: skip
    from .analysis.select import terms

    return tuple(terms(items))


def _check_json(name: str, value: Any) -> None:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise BadInput(
            f"parameter {name}: a {type(value).__name__} cannot be passed to a run;"
            " use a literal (number, string, bool, None, list or dict of them)"
        ) from None


def parse_value(text: str) -> Any:
    """A `-p` value as papermill reads it: int, float, True/False, None, else the string."""
    if text in ("True", "False"):
        return text == "True"
    if text == "None":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


__all__ = ["RunKeywords", "RunRequest", "check_options", "parse_value"]
