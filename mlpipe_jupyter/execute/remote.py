"""Steps on workers that share no filesystem with the notebook (a store on object storage).

When the store is a URL (`s3://bucket/prefix`), a worker needs nothing of the
notebook's folder. On the orchestrator, `project_files` stores by content
(sha256) the files a step reads from the project: those `--inputs` declares,
those the analysis finds at constant paths (rule 8), those an earlier run of the
step recorded reading, and the local modules the setup and the step import. The
job carries their refs. On the worker, `prepare` lays them out in the project's
working folder there (`<worker local dir>/mlpipe-work/<project id>`, one per
project, so files a step writes stay for the steps after it as they would in
the notebook's folder), and runs the step with its executed notebook and result
file kept locally; `finish` uploads them to the store. Files passed between
steps (`file:model.pkl`) already travel through the store as step inputs and
outputs (compile/runtime.py). The worker reads and writes the store directly.

A store in a local folder keeps today's path: the step runs in the notebook's
folder (a shared filesystem).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.cache.serializers import FILE_FORMAT
from mlpipe_jupyter.cache.store import ArtifactRef

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Step
    from mlpipe_jupyter.cache.store import Store

    from .engine import StepJob

WORK_FOLDER = "mlpipe-work"
FILE_PREFIX = "file:"


def project_id(folder: Path) -> str:
    """A short name for the notebook's folder on workers (no path or user name in it)."""
    return hashlib.sha256(str(folder).encode("utf-8", "surrogateescape")).hexdigest()[:16]


def _inside(path: str, base: Path) -> str | None:
    """`path` relative to `base` (POSIX) when it lies inside it, else None."""
    full = Path(path) if os.path.isabs(path) else base / path
    try:
        rel = Path(os.path.normpath(full)).relative_to(base)
    except ValueError:
        return None
    text = rel.as_posix()
    return None if text in ("", ".") else text


def _module_files(pipeline: Any, step: Step, base: Path) -> list[str]:
    """The local modules (inside `base`) that the setup and the step import."""
    from mlpipe_jupyter.cache.modules import _Resolver, environment, search_path

    env = environment((pipeline.setup_source, step.source), base)
    resolver = _Resolver(search_path(base))
    found = []
    for name in env.modules:
        spec = resolver.spec(name)
        origin = getattr(spec, "origin", None)
        if origin and os.path.isfile(origin):
            found.append(origin)
    return found


def wanted_files(store: Store, pipeline: Any, step: Step, base: Path) -> list[str]:
    """Paths (relative to `base`) of the project files the step may read."""
    from mlpipe_jupyter.cache.files import HashCache, declared_files

    candidates: list[str] = list(step.file_reads)
    declared = declared_files(step.options.inputs, base, HashCache.at(store.hash_dir), step.name)
    candidates.extend(path for path, digest in declared.items() if digest)
    entry = store.latest_for_step(step.name)
    if entry is not None:
        candidates.extend(fact.path for fact in entry.files_read)
    candidates.extend(_module_files(pipeline, step, base))
    kept = {rel for rel in (_inside(p, base) for p in candidates) if rel is not None}
    return sorted(rel for rel in kept if (base / rel).is_file())


def project_files(
    store: Store, pipeline: Any, step: Step, base: Path, passed: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """{relative path: artifact ref JSON} of the project files the step reads, stored by content.

    Files that arrive as step inputs (`passed`, `file:PATH` from an earlier step)
    are left to them. A file already in the store (same sha256 and size) is not
    uploaded again.
    """
    from mlpipe_jupyter.cache.files import HashCache

    hashes = HashCache.at(store.hash_dir)
    refs: dict[str, dict[str, Any]] = {}
    for rel in wanted_files(store, pipeline, step, base):
        if f"{FILE_PREFIX}{rel}" in passed:
            continue
        path = base / rel
        try:
            ref = ArtifactRef(hashes.sha256(str(path)), FILE_FORMAT, path.stat().st_size, "file")
            if store.has(ref) is not None:
                ref = store.put_file(path)
        except OSError:
            continue
        refs[rel] = ref.to_json()
    hashes.save()
    return refs


CANCEL_MARKER = "cancel"
_MARKED: set[tuple[str, str]] = set()


def mark_cancelled(store: Store, run_id: str) -> None:
    """Tell the workers of a URL store that the run is cancelled (they cannot read its
    records): `<store>/runs/<run_id>/cancel`, which their step watchdogs poll."""
    if (store.url, run_id) in _MARKED:
        return
    store.write_bytes(store.runs_dir / run_id / CANCEL_MARKER, b"")
    _MARKED.add((store.url, run_id))


def cancel_marked(store_url: str, run_id: str) -> bool:
    """On a worker: whether `mark_cancelled` was written for the run."""
    from mlpipe_jupyter.cache.store import Store

    store = Store.open(store_url)
    try:
        store.fs.size(store.runs_dir / run_id / CANCEL_MARKER)
    except FileNotFoundError:
        return False
    return True


# -- on the worker ----------------------------------------------------------------


def _local_base() -> Path:
    try:
        from distributed import get_worker

        return Path(get_worker().local_directory)
    except (ImportError, ValueError, AttributeError):
        return Path(tempfile.gettempdir()) / f"mlpipe-{os.getuid()}"


POOL_PREFIX = "mlpipe-remote:"


def pool_folder(project: str) -> str:
    """How the orchestrator names a project's working folder to the workers' kernel pools
    (`plugin.py`): each worker turns it into its own folder (`worker_folder`)."""
    return f"{POOL_PREFIX}{project}"


def _project_root(project: str) -> Path:
    return _local_base().resolve() / WORK_FOLDER / project


def worker_folder(cwd: str | None) -> str | None:
    """On a worker: a `pool_folder` name as this worker's working folder for that project
    (created); any other folder as it is."""
    if not cwd or not cwd.startswith(POOL_PREFIX):
        return cwd
    from mlpipe_jupyter.cache import fs as storefs

    folder = _project_root(cwd[len(POOL_PREFIX):]) / "project"
    storefs.makedirs(folder)
    return str(folder)


def prepare(job: StepJob) -> StepJob:
    """The job as this worker runs it: in its own working folder with the project files laid
    out, the executed notebook and result file kept locally (`finish` uploads them)."""
    from mlpipe_jupyter.cache import fs as storefs
    from mlpipe_jupyter.cache.store import Store

    assert job.store_url is not None
    root = _project_root(job.project)
    workdir, meta = root / "project", root / "steps" / job.run_id
    storefs.makedirs(workdir)
    storefs.makedirs(meta)
    store = Store.open(job.store_url)
    for rel, ref in sorted(job.files.items()):
        target = workdir / rel
        if _inside(str(target), workdir) != rel:
            continue  # never outside the working folder
        store.restore_file(ArtifactRef.from_json(ref), target)
    name = PurePosixPath(job.result_path).name
    local_result = meta / name
    local_notebook = meta / PurePosixPath(job.notebook_path).name
    mlpipe = {**job.parameters.get("_mlpipe", {}), "result": str(local_result)}
    return replace(
        job, cwd=str(workdir), notebook_path=str(local_notebook), result_path=str(local_result),
        parameters={**job.parameters, "_mlpipe": mlpipe},
    )


def finish(job: StepJob, here: StepJob) -> None:
    """Upload the executed notebook and the result file of `here` (the prepared job) to the
    store paths `job` names; a missing one (the kernel died first) is skipped."""
    from mlpipe_jupyter.cache.store import Store

    assert job.store_url is not None
    store = Store.open(job.store_url)
    for local, target in ((here.notebook_path, job.notebook_path),
                          (here.result_path, job.result_path)):
        if os.path.isfile(local):
            store.upload(local, store.path_of(target))


__all__ = [
    "cancel_marked", "finish", "mark_cancelled", "pool_folder", "prepare", "project_files", "project_id", "wanted_files",
    "worker_folder",
]
