"""Any Dask cluster manager, named by import path: `--cluster dask_jobqueue.SLURMCluster`.

`mlpipe run NB --cluster CLASS [--cluster-option NAME=VALUE ...] [--adapt MIN MAX]`
(and `c.MlpipeService.cluster_class` / `cluster_options`) imports CLASS, starts
it with the options as keyword arguments, scales it, connects a client, and
closes it when the run ends. Every manager that follows distributed's
`Cluster` interface works this way with no code of ours for it: dask-jobqueue
(`SLURMCluster`, `PBSCluster`, ...), dask-kubernetes (`KubeCluster`), Coiled
(`coiled.Cluster`), and `distributed.LocalCluster`, which the tests use.

Scaling: with `--adapt MIN MAX`, `cluster.adapt(minimum=MIN, maximum=MAX)`;
without it, a cluster that asked for no workers (a job queue's, before
`scale`) is scaled to the number of steps that can run at once; one that asked
for some (`n_workers=4`) is left as it is.

Its workers' environments are not this one's, so a run on it gets the
pre-flight check (`preflight.py`), as a `--scheduler` cluster does.

Nothing here imports distributed until a cluster starts.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from .errors import RunInputError

if TYPE_CHECKING:
    from .handle import ClusterHandle

#: How long a started manager may take to bring up its first worker (a batch queue is slow).
WORKER_WAIT_S = float(os.environ.get("MLPIPE_CLUSTER_WAIT_S", "300"))
MAX_ADAPT = 10_000


@dataclass(frozen=True)
class ManagerSpec:
    """A cluster manager to start: its class's import path, keyword options, scaling."""

    cluster_class: str
    options: dict[str, Any] = field(default_factory=dict)
    adapt: tuple[int, int] | None = None  # (minimum, maximum) workers
    width: int = 1  # steps that can run at once: the size when neither adapt nor options say

    def __post_init__(self) -> None:
        check_class_path(self.cluster_class)
        for name, value in self.options.items():
            check_option(name, value)
        if self.adapt is not None:
            check_adapt(self.adapt)


def check_class_path(path: str) -> None:
    """`package.module.Class`, or one line naming --cluster."""
    parts = path.split(".") if isinstance(path, str) else []
    if len(parts) < 2 or not all(part.isidentifier() for part in parts):
        shown = str(path)[:80]
        raise RunInputError(
            f"--cluster {shown!r} is not an import path; write it like"
            " dask_jobqueue.SLURMCluster or distributed.LocalCluster"
        )


def check_option(name: Any, value: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise RunInputError(
            f"--cluster-option {str(name)[:40]!r}: the name must be a Python identifier,"
            " as in --cluster-option queue=gpu"
        )
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        raise RunInputError(
            f"--cluster-option {name}: a {type(value).__name__} cannot be passed;"
            " use a number, string, bool, null, or a list or dict of them"
        ) from None


def check_adapt(adapt: Any) -> tuple[int, int]:
    """(minimum, maximum) as whole numbers with 0 <= minimum <= maximum, 1 <= maximum."""
    try:
        low, high = adapt
    except (TypeError, ValueError):
        raise RunInputError("--adapt takes two numbers, MIN MAX, as in --adapt 1 10") from None
    values = []
    for label, value in (("MIN", low), ("MAX", high)):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise RunInputError(f"--adapt {label} must be a whole number, got {value!r}")
        values.append(value)
    low, high = values
    if not 0 <= low <= high or high < 1 or high > MAX_ADAPT:
        raise RunInputError(
            f"--adapt {low} {high}: need 0 <= MIN <= MAX and 1 <= MAX <= {MAX_ADAPT},"
            " as in --adapt 1 10"
        )
    return low, high


def parse_option(text: str) -> tuple[str, Any]:
    """`queue=gpu` -> ("queue", "gpu"); `cores=8` -> ("cores", 8): a JSON scalar where
    the value parses as one (numbers, true/false, null), else the string."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise RunInputError(
            f"--cluster-option {text[:60]!r}: write it as NAME=VALUE, as in"
            " --cluster-option queue=gpu"
        )
    try:
        value = json.loads(raw)
    except ValueError:
        return name, raw
    return name, value if value is None or isinstance(value, (bool, int, float, str)) else raw


def parse_options(texts: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """Every `--cluster-option NAME=VALUE`, in order (a later one wins)."""
    return dict(parse_option(text) for text in texts)


def load_class(path: str) -> Callable[..., Any]:
    """The class (or factory) at `path`, imported; one line naming --cluster when it cannot be."""
    check_class_path(path)
    module_name, _, attr = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        top = module_name.partition(".")[0]
        packages = {"dask_jobqueue": "dask-jobqueue", "dask_kubernetes": "dask-kubernetes"}
        hint = packages.get(top, top)
        raise RunInputError(
            f"--cluster {path}: cannot import {module_name} ({exc}); install it"
            f" (pip install {hint}) or fix the path"
        ) from None
    except Exception as exc:  # noqa: BLE001 - the module failed on import: its error, one line
        text = str(exc).strip().splitlines()
        raise RunInputError(
            f"--cluster {path}: importing {module_name} failed ({type(exc).__name__}:"
            f" {text[0][:200] if text else ''})"
        ) from None
    found = getattr(module, attr, None)
    if not callable(found):
        raise RunInputError(f"--cluster {path}: {module_name} has no class {attr}")
    return found


def start_manager(spec: ManagerSpec, warn: Callable[[str], None] = lambda _: None) -> ClusterHandle:
    """Start the manager, scale it, connect; the handle closes the cluster at the end."""
    from distributed import Client

    from .handle import ClusterHandle, _detach_main_module

    cls = load_class(spec.cluster_class)
    restore = _detach_main_module()  # a local manager spawns processes too
    try:
        cluster = _construct(cls, spec)
    except BaseException:
        restore()
        raise
    try:
        _scale(cluster, spec)
        client = Client(cluster)
    except BaseException:
        _close_quietly(cluster)
        restore()
        raise
    handle = ClusterHandle(client, cluster, restore=restore, manager=spec.cluster_class,
                           dashboard=_dashboard(cluster, client))
    try:
        client.wait_for_workers(1, timeout=WORKER_WAIT_S)
    except (TimeoutError, OSError):
        handle.close()
        raise RunInputError(
            f"--cluster {spec.cluster_class} started no worker in {WORKER_WAIT_S:g} s;"
            " check its options (queue, account, image) or its own logs"
        ) from None
    return handle


def _construct(cls: Callable[..., Any], spec: ManagerSpec) -> Any:
    options = dict(spec.options)
    if "silence_logs" not in options and _takes(cls, "silence_logs"):
        options["silence_logs"] = logging.CRITICAL  # a failing worker's traceback: our one line
    try:
        # A manager that fails warns on the way ("Port 8787 is already in use"): only
        # our one line is shown then; one that starts gets its warnings shown as usual.
        with warnings.catch_warnings(record=True) as said:
            warnings.simplefilter("default")
            cluster = cls(**options)
        for warning in said:
            warnings.showwarning(warning.message, warning.category, warning.filename,
                                 warning.lineno)  # fmt: skip
        return cluster
    except Exception as exc:  # noqa: BLE001 - a manager's own error, as one line
        root = _innermost(exc)
        text = str(root).strip().splitlines()
        detail = f"{type(root).__name__}: {text[0][:200] if text else ''}"
        if isinstance(root, TypeError) and "argument" in str(root):
            raise RunInputError(
                f"--cluster-option: {spec.cluster_class} does not take these options ({detail})"
            ) from None
        raise RunInputError(f"--cluster {spec.cluster_class} did not start: {detail}") from None


def _takes(cls: Callable[..., Any], name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def _innermost(exc: BaseException) -> BaseException:
    """The first cause of a chain (a worker's TypeError behind "Nanny failed to start")."""
    seen = {id(exc)}
    while True:
        nxt = exc.__cause__ or exc.__context__
        if nxt is None or id(nxt) in seen:
            return exc
        seen.add(id(nxt))
        exc = nxt


def _scale(cluster: Any, spec: ManagerSpec) -> None:
    if spec.adapt is not None:
        low, high = spec.adapt
        try:
            cluster.adapt(minimum=low, maximum=high)
        except (TypeError, ValueError) as exc:
            raise RunInputError(f"--adapt {low} {high}: {spec.cluster_class} refused it ({exc})") \
                from None
        return
    requested = getattr(cluster, "requested", None)
    if requested is not None and not requested:  # asked for no workers (a job queue's)
        cluster.scale(max(1, spec.width))


def _dashboard(cluster: Any, client: Any) -> str | None:
    """The manager's Dask dashboard address, when its scheduler serves one."""
    try:
        link = getattr(cluster, "dashboard_link", None) or client.dashboard_link
    except Exception:  # noqa: BLE001 - no dashboard is no error
        return None
    return str(link) if link else None


def _close_quietly(cluster: Any) -> None:
    try:
        cluster.close()
    except Exception:  # noqa: BLE001 - already failing; the first error is the one to show
        pass




def spec_for(request: Any) -> ManagerSpec | None:
    """The cluster manager a `RunRequest` names (`cluster`), or None."""
    if not getattr(request, "cluster", None):
        return None
    return ManagerSpec(request.cluster, dict(request.cluster_options or {}), request.adapt)


__all__ = [
    "ManagerSpec", "check_adapt", "load_class", "parse_option", "parse_options", "spec_for",
    "start_manager",
]
