"""The content-addressed artifact store and the cache index.

Layout under the store root (default `.mlpipe/` beside the notebook, or an
object-storage URL such as `s3://bucket/prefix`):

    artifacts/ab/<sha256>.<ext>   one file per distinct content, named by its hash
    cache/<step_key>.json         one CacheEntry per step key
    runs/<run_id>/<step>.ipynb    executed step notebooks (written by execute/)
    mlpipe.db                     run records (execute/records.py), in `records_root`:
                                  the store folder, or `.mlpipe/` beside the notebook
                                  when the store is a URL

In a local folder every file is written to a temporary name on the same
filesystem, fsynced and moved into place with `os.replace`; on object storage
each object is one PUT (`fs.py`). Either way a reader sees nothing or the whole
file, and two writers of the same key race harmlessly (last writer wins).
Artifacts are written before the signed entry that names them, so a writer
killed mid-commit leaves nothing trusted. `lookup` trusts an entry only when
all its artifacts exist with the recorded size, and `get` checks the sha256
before it deserializes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .facts import FileFact

from mlpipe_jupyter.errors import BadInput, MlpipeError
from mlpipe_jupyter.processes import alive

from . import fs as storefs
from .fs import atomic_write_bytes, atomic_write_json, json_bytes  # noqa: F401 (re-exported)
from .keys import KeyIngredients
from .signing import sign, verify
from .serializers import FILE_FORMAT, REGISTRY, UnsavableValue, type_name

__all__ = [
    "ArtifactRef",
    "CacheEntry",
    "CorruptArtifact",
    "PruneReport",
    "Store",
    "UnsavableValue",
]

log = logging.getLogger(__name__)

STORE_ENV = "MLPIPE_STORE"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TMP_PREFIX = storefs.TMP_PREFIX
_CHUNK = 1 << 20


class CorruptArtifact(MlpipeError):
    """An artifact file that is missing, truncated or does not match its checksum."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(
            f"artifact {path} is {reason}; re-run the step that made it"
            " (its cache entry is no longer used)"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))


@dataclass(frozen=True)
class ArtifactRef:
    """A stored value: `key` is the sha256 of the stored bytes."""

    key: str
    format: str
    size: int
    type: str
    #: why faster formats were passed over ("PeriodIndex"); not part of the identity
    why: str = field(default="", compare=False)
    #: the producer's notebook functions and classes, offered to the value as it loads
    #: (a formula that calls `double_it`); compile/runtime.py
    names: ArtifactRef | None = field(default=None, compare=False)

    def to_json(self) -> dict[str, Any]:
        found: dict[str, Any] = {"key": self.key, "format": self.format, "size": self.size,
                                 "type": self.type}
        if self.why:
            found["why"] = self.why
        if self.names is not None:
            found["names"] = self.names.to_json()
        return found

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ArtifactRef:
        names = data.get("names")
        return cls(str(data["key"]), str(data["format"]), int(data["size"]), str(data["type"]),
                   str(data.get("why") or ""),
                   cls.from_json(names) if isinstance(names, dict) else None)


@dataclass(frozen=True)
class CacheEntry:
    """The cached result of one step run: its output refs and displayed outputs."""

    step_key: str
    step: str
    outputs: dict[str, ArtifactRef]
    displays: list[dict[str, Any]] = field(default_factory=list)  # nbformat output dicts
    created: float = field(default_factory=time.time)
    duration_s: float = 0.0
    origin: str = "pipeline"  # "pipeline" | "interactive"
    ingredients: KeyIngredients | None = None
    # what the step touched at run time (its StepReport): valid while files_read hold
    files_read: tuple[FileFact, ...] = ()
    dirs_listed: tuple[FileFact, ...] = ()
    files_written: tuple[FileFact, ...] = ()
    written_keys: dict[str, str] = field(default_factory=dict)  # path -> artifact key
    metrics: dict[str, float] = field(default_factory=dict)  # the step's metrics (reused)
    #: what the kernel saw of code and environment (StepReport.identity, issue 20): the
    #: entry holds while it holds (cache/ambient.identity_changed)
    identity: dict[str, Any] = field(default_factory=dict)
    project: str = ""  # the notebook it was made for (gc.project_id); "" when unknown
    # paths it looked for and did not find; why its reads were not fully watched (issue 20)
    paths_absent: tuple[str, ...] = ()
    opaque: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        watched = {name: list(getattr(self, name)) for name in ("paths_absent", "opaque")
                   if getattr(self, name)}
        return {
            **watched,
            **({"metrics": dict(self.metrics)} if self.metrics else {}),
            **({"identity": dict(self.identity)} if self.identity else {}),
            **({"project": self.project} if self.project else {}),
            "files_read": [f.to_json() for f in self.files_read],
            "dirs_listed": [f.to_json() for f in self.dirs_listed],
            "files_written": [f.to_json() for f in self.files_written],
            "written_keys": dict(self.written_keys),
            "step_key": self.step_key,
            "step": self.step,
            "outputs": {var: ref.to_json() for var, ref in sorted(self.outputs.items())},
            "displays": list(self.displays),
            "created": self.created,
            "duration_s": self.duration_s,
            "origin": self.origin,
            "ingredients": self.ingredients.to_json() if self.ingredients else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CacheEntry:
        ingredients = data.get("ingredients")
        return cls(
            step_key=data["step_key"],
            step=data["step"],
            outputs={v: ArtifactRef.from_json(r) for v, r in data["outputs"].items()},
            displays=list(data.get("displays", [])),
            created=float(data.get("created", 0.0)),
            duration_s=float(data.get("duration_s", 0.0)),
            origin=data.get("origin", "pipeline"),
            ingredients=KeyIngredients.from_json(ingredients) if ingredients else None,
            files_read=tuple(FileFact.from_json(f) for f in data.get("files_read", ())),
            dirs_listed=tuple(FileFact.from_json(f) for f in data.get("dirs_listed", ())),
            files_written=tuple(FileFact.from_json(f) for f in data.get("files_written", ())),
            written_keys=dict(data.get("written_keys", {})),
            project=str(data.get("project") or ""),
            metrics={str(k): float(v) for k, v in (data.get("metrics") or {}).items()},
            identity=dict(data.get("identity") or {}),
            paths_absent=tuple(data.get("paths_absent", ())),
            opaque=tuple(data.get("opaque", ())),
        )


@dataclass(frozen=True)
class PruneReport:
    entries_removed: int
    artifacts_removed: int
    bytes_freed: int




def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class Store:
    """Artifacts and cache entries under one root: a local folder or an object-storage URL.

    `root` is a `Path` for a folder and a `PurePosixPath` (`bucket/prefix`) on
    object storage; `url` is how a worker is told where the store is, and
    `records_root` the local folder of `mlpipe.db` (the root itself for a folder).
    """

    def __init__(
        self, root: str | os.PathLike[str], *, notebook: str | os.PathLike[str] | None = None
    ) -> None:
        from ..stores import db_path, location, records_root, url_protocol

        if url_protocol(root) == "file":
            root = location(root)
        self.fs = storefs.filesystem_for(root)
        self.remote = self.fs.remote
        self.root: Any = self.fs.root(root if self.remote else Path(root).expanduser())
        self.url = self.fs.url(self.root)
        self.records_root = records_root(self.url if self.remote else self.root, notebook)
        self.artifacts_dir = self.root / "artifacts"
        self.cache_dir = self.root / "cache"
        self.runs_dir = self.root / "runs"
        self.db_path = db_path(self.records_root)
        # file hashes (files.HashCache) are facts of this machine: always a local folder
        self.hash_dir = self.cache_dir if not self.remote else self.records_root / "cache"
        self._swept = False  # dead writers' temp files removed (once per process)

    @classmethod
    def open(
        cls, root: str | os.PathLike[str], *, notebook: str | os.PathLike[str] | None = None
    ) -> Store:
        """The store at `root` (a folder or a URL), its folders created if missing."""
        try:
            store = cls(root, notebook=notebook)
            if store.remote:
                store.fs.check(store.root)
            for folder in (store.artifacts_dir, store.cache_dir, store.runs_dir):
                store.fs.makedirs(folder)
            from .layout import ensure

            ensure(store)
        except BadInput:
            raise
        except (OSError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or str(exc)
            shown = str(root) if len(str(root)) <= 200 else str(root)[:200] + "..."
            raise BadInput(
                f"cannot use the store {shown!r}: {reason}; choose a folder you can write"
                " (--store PATH or MLPIPE_STORE)"
            ) from None
        return store

    @staticmethod
    def default_root(notebook_path: str | os.PathLike[str]) -> Path:
        """`$MLPIPE_STORE` if set, else `.mlpipe` beside the notebook (stores.resolve_store)."""
        from ..stores import resolve_store

        return resolve_store(None, Path(notebook_path).expanduser().resolve())

    def run_notebook_path(self, run_id: str, step: str) -> Path:
        return self.runs_dir / run_id / f"{step}.ipynb"

    def url_of(self, path: Any) -> str:
        """A path in this store as a worker is given it (a local path, or a URL)."""
        return self.fs.url(path)

    def path_of(self, url: str) -> Any:
        """The store path of `url_of`'s answer."""
        return self.fs.root(url) if self.remote else Path(url)

    def write_bytes(self, path: Any, data: bytes) -> None:
        """Write a file of the store atomically (temp and rename, or one PUT)."""
        self.fs.write(path, data)

    def write_json(self, path: Any, data: Any) -> None:
        self.fs.write(path, json_bytes(data))

    def read_bytes(self, path: Any) -> bytes:
        """A file of the store's bytes; `FileNotFoundError` when it is not there."""
        return self.fs.read_bytes(path)

    def upload(self, local: str | os.PathLike[str], path: Any) -> None:
        """Copy the local file `local` to `path` in the store (an executed notebook)."""
        self.fs.write(path, Path(local).read_bytes())

    # -- artifacts ----------------------------------------------------------

    def artifact_path(self, ref: ArtifactRef) -> Path:
        if not _HEX64.match(ref.key):
            raise ValueError(f"artifact key {ref.key!r} is not a sha256 hex digest")
        ext = REGISTRY.named(ref.format).ext
        return self.artifacts_dir / ref.key[:2] / f"{ref.key}.{ext}"

    def put(self, name: str, value: Any) -> ArtifactRef:
        """Store `value` (the output named `name`); the same bytes are stored once.

        Raises `UnsavableValue` naming `name` and the value's type when no
        serializer can store it.
        """
        kind = type_name(value)
        candidates, why = REGISTRY.choose(value)  # lossless formats only (issue 21)
        self._remove_dead_writers_tmp()
        for position, serializer in enumerate(candidates):
            tmp = self.fs.staging(self.artifacts_dir)
            try:
                with storefs.open_new(tmp) as fh:
                    serializer.dump(value, fh)
                    fh.flush()
                    os.fsync(fh.fileno())
            except Exception as exc:
                tmp.unlink(missing_ok=True)
                if position == len(candidates) - 1:
                    raise UnsavableValue(name, kind, _short(exc)) from exc
                log.debug("%s: %s declined %s (%s)", name, serializer.format, kind, exc)
                continue
            try:
                ref = self._commit_artifact(tmp, serializer.format, kind)
                return replace(ref, why=why) if why else ref
            finally:
                tmp.unlink(missing_ok=True)
        raise UnsavableValue(name, kind, "no serializer accepts it")

    def put_file(self, path: str | os.PathLike[str]) -> ArtifactRef:
        """Store a file's bytes as they are (a file a step wrote); key = their sha256."""
        tmp = self.fs.staging(self.artifacts_dir)
        try:
            with open(path, "rb") as src, storefs.open_new(tmp) as fh:
                while chunk := src.read(_CHUNK):
                    fh.write(chunk)
                fh.flush()
                os.fsync(fh.fileno())
            return self._commit_artifact(tmp, FILE_FORMAT, "file")
        finally:
            tmp.unlink(missing_ok=True)

    def restore_file(self, ref: ArtifactRef, dest: str | os.PathLike[str]) -> bool:
        """Put a stored file back at `dest` unless it already holds those bytes.

        True when it wrote the file. The bytes are checked against their key
        first; the file appears atomically (temp name, then rename).
        """
        target = Path(dest)
        try:
            if target.stat().st_size == ref.size and _file_sha256(target) == ref.key:
                return False
        except OSError:
            pass
        data = self.get(ref)
        atomic_write_bytes(target, bytes(data))
        return True

    def _remove_dead_writers_tmp(self) -> None:
        """Delete temp files whose writer process is gone (a killed step's half artifact).

        Temp names carry the writer's pid (`.tmp-<pid>-<uuid>`); one whose pid no
        longer exists on this machine and is older than a minute can never be
        committed. Checked once per store per process.
        """
        if self._swept:
            return
        self._swept = True
        cutoff = time.time() - 60
        staging = self.fs.staging(self.artifacts_dir).parent  # object storage: a local folder
        for path in Path(staging).glob(f"{_TMP_PREFIX}*"):
            pid = path.name[len(_TMP_PREFIX):].split("-", 1)[0]
            try:
                if not pid.isdigit() or alive(int(pid)) or path.stat().st_mtime > cutoff:
                    continue
                path.unlink()
                log.info("removed %s, left by a writer that died", path.name)
            except OSError:
                continue

    def _commit_artifact(self, tmp: Path, format: str, kind: str) -> ArtifactRef:
        ref = ArtifactRef(_file_sha256(tmp), format, tmp.stat().st_size, kind)
        final = self.artifact_path(ref)
        try:
            if self.remote:
                # an object of the right size is kept without a download: `get` checks its
                # sha256 before anything loads it, and removes it if it is wrong
                if self.fs.size(final) == ref.size:
                    return ref
            # an existing file of the right size is kept only if its bytes are right
            elif final.stat().st_size == ref.size and _file_sha256(final) == ref.key:
                os.utime(final)  # fresh mtime: a concurrent prune's grace period covers it
                return ref
        except FileNotFoundError:
            pass
        self.fs.put_local(tmp, final)
        return ref

    def has(self, ref: ArtifactRef) -> str | None:
        """None when the artifact's file exists with the right size, else why not."""
        try:
            size = self.fs.size(self.artifact_path(ref))
        except FileNotFoundError:
            return "missing"
        except (KeyError, ValueError) as exc:
            return str(exc)
        return None if size == ref.size else f"truncated ({size} of {ref.size} bytes)"

    def get(self, ref: ArtifactRef) -> Any:
        """Load a stored value, after checking its size and sha256."""
        path = self.artifact_path(ref)
        try:
            data = self.fs.read_bytes(path)
        except FileNotFoundError:
            raise CorruptArtifact(path, "missing") from None
        problem = None
        if len(data) != ref.size:
            problem = f"truncated ({len(data)} of {ref.size} bytes)"
        elif hashlib.sha256(data).hexdigest() != ref.key:
            problem = "corrupt (its sha256 does not match its name)"
        if problem:
            self.fs.remove(path)  # so the next put of this content rewrites it
            raise CorruptArtifact(path, f"{problem} and was removed")
        return REGISTRY.named(ref.format).load(data)

    # -- cache index ---------------------------------------------------------

    def entry_path(self, step_key: str) -> Path:
        return self.cache_dir / f"{step_key}.json"

    def _latest_path(self, step: str) -> Path:
        return self.cache_dir / "latest" / f"{step}.json"

    def commit(self, entry: CacheEntry) -> None:
        """Write the entry atomically; its artifacts must already be stored.

        Also points `cache/latest/<step>.json` at it, so `latest_for_step`
        reads one small file instead of scanning the index.
        """
        for var, ref in entry.outputs.items():
            problem = self.has(ref)
            if problem:
                raise CorruptArtifact(self.artifact_path(ref), f"{problem} (output '{var}')")
        # the signed entry is written last: a writer killed before it leaves nothing trusted
        self.write_json(self.entry_path(entry.step_key), sign(entry.to_json()))
        self.write_json(self._latest_path(entry.step), {"step_key": entry.step_key})

    def _read_entry(self, path: Path) -> CacheEntry | None:
        """The entry at `path` if it is readable, of the right shape and signed by our key."""
        try:
            data = json.loads(self.fs.read_bytes(path).decode("utf-8"))
            if not isinstance(data, dict):
                raise TypeError(f"expected an object, got {type(data).__name__}")
            untrusted = verify(data)
            if untrusted:
                _warn_once(f"ignoring cache entry {path.name}: {untrusted}; its step re-runs")
                return None
            return CacheEntry.from_json(data)
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            _warn_once(f"ignoring unreadable cache entry {path.name}: {exc}")
            return None

    def lookup(self, step_key: str) -> CacheEntry | None:
        """The entry for `step_key` if it and all its artifacts are there, else None."""
        entry = self._read_entry(self.entry_path(step_key))
        if entry is None:
            log.debug("no cache entry %s", step_key)
            return None
        if entry.step_key != step_key:
            log.warning("ignoring cache entry %s: it names key %s", step_key, entry.step_key)
            return None
        for var, ref in entry.outputs.items():
            problem = self.has(ref)
            if problem:
                log.warning(
                    "cache entry %s of step '%s' not used: output '%s' artifact %s",
                    step_key[:12], entry.step, var, problem,
                )
                return None
        from .gc import note_use

        note_use(self, step_key)
        return entry

    def invalidate(self, step_key: str) -> None:
        """Forget the entry for `step_key` (an artifact of it failed its checksum)."""
        self.fs.remove(self.entry_path(step_key))

    def entries(self) -> list[CacheEntry]:
        """Every readable cache entry, oldest first."""
        found = []
        for path in self.fs.glob(self.cache_dir, "*.json"):
            if _HEX64.match(path.stem):
                entry = self._read_entry(path)
                if entry is not None:
                    found.append(entry)
        return sorted(found, key=lambda e: (e.created, e.step_key))

    def latest_for_step(self, step: str) -> CacheEntry | None:
        """The newest entry for the step named `step` (to explain a key change)."""
        try:
            pointer = json.loads(self.fs.read_bytes(self._latest_path(step)).decode("utf-8"))
            entry = self._read_entry(self.entry_path(str(pointer["step_key"])))
        except (OSError, ValueError, KeyError, TypeError):
            entry = None
        if entry is not None and entry.step == step:
            return entry
        mine = [e for e in self.entries() if e.step == step]
        return mine[-1] if mine else None

    def nearest_for_step(self, step: str, ingredients: KeyIngredients) -> CacheEntry | None:
        """The entry of `step` whose ingredients differ from these in the fewest ways
        (newest on ties), to explain a miss against what is really closest."""
        from .keys import key_reasons

        mine = [e for e in self.entries() if e.step == step and e.ingredients is not None]
        if not mine:
            return self.latest_for_step(step)
        return min(reversed(mine), key=lambda e: len(key_reasons(e.ingredients, ingredients)))

    def prune(self, keep_latest_per_step: bool = True, grace_s: float = 3600.0, *,
              policy: Any = None, records: Any = None, dry_run: bool = False,
              now: float | None = None) -> Any:
        """Apply a retention policy (`gc.collect`): by default keep the latest entry of each
        step of each project, then remove artifacts no entry references.

        Artifacts and temp files younger than `grace_s` stay (a run may have stored them
        and not yet committed its entry), and a marked entry is swept only once its mark
        is that old. Returns a `gc.GcReport`."""
        from .gc import collect
        from .retention import Policy

        if policy is None:
            policy = Policy(keep_last=1) if keep_latest_per_step else Policy()
        return collect(self, policy, records=records, dry_run=dry_run, grace_s=grace_s, now=now)

    def _remove_unreferenced(self, referenced: set[str], older_than: float) -> tuple[int, int]:
        count = freed = 0
        tmp = f"{_TMP_PREFIX}*"
        glob = self.fs.glob
        candidates = [
            *glob(self.artifacts_dir, "*/*"), *glob(self.artifacts_dir, tmp),
            *glob(self.cache_dir, tmp), *glob(self.cache_dir, f"*/{tmp}"),
        ]
        for path in candidates:
            if path.name.split(".")[0] in referenced:
                continue
            try:
                size = self.fs.size(path)
                if self.fs.mtime(path) >= older_than:
                    continue
                self.fs.remove(path)
            except FileNotFoundError:
                continue
            count += 1
            freed += size
        return count, freed


_warned: set[str] = set()


def _warn_once(message: str) -> None:
    """One warning per distinct problem per process (a planner reads an entry many times)."""
    if message not in _warned:
        _warned.add(message)
        log.warning("%s", message)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
