"""`mlpipe store check`: every artifact re-hashed, every entry's signature verified.

Streaming: artifacts are hashed folder by folder (`artifacts/ab/`, one task each) in a
thread pool with at most `2 * workers` folders in flight, so a store of 10^5 artifacts
is checked in memory bounded by that window (each folder holds 1/256 of the paths), not
by the store's size; only each artifact's name and size are kept, for the entries' check.
hashlib releases the GIL on large buffers, so threads hash in parallel.

A damaged artifact (its sha256 is not its name, or unreadable) and a damaged entry
(unreadable, unsigned or signed with another key, or naming an artifact that is
damaged or missing) are reported; `repair=True` removes them, so the steps that
made them re-run next time instead of failing when a step loads the artifact.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .signing import verify

_CHUNK = 1 << 20


@dataclass
class CheckReport:
    artifacts: int = 0
    bytes: int = 0
    entries: int = 0
    damaged_artifacts: list[dict[str, str]] = field(default_factory=list)  # {key, problem}
    damaged_entries: list[dict[str, str]] = field(default_factory=list)  # {key, step, problem}
    removed: int = 0

    @property
    def ok(self) -> bool:
        return not self.damaged_artifacts and not self.damaged_entries

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "artifacts": self.artifacts, "bytes": self.bytes,
                "entries": self.entries, "damaged_artifacts": self.damaged_artifacts,
                "damaged_entries": self.damaged_entries, "removed": self.removed}


def _hash(store: Any, path: Any) -> tuple[Any, int, str | None]:
    """(path, size, problem or None)."""
    name = path.name.split(".")[0]
    digest = hashlib.sha256()
    size = 0
    try:
        if store.remote:
            data = store.fs.read_bytes(path)
            digest.update(data)
            size = len(data)
        else:
            with open(path, "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
    except FileNotFoundError:
        return path, 0, None  # removed while we looked (a prune): not damage
    except OSError as exc:
        return path, size, f"unreadable ({exc.strerror or exc})"
    if digest.hexdigest() != name:
        return path, size, "corrupt (its sha256 does not match its name)"
    return path, size, None


def _folders(store: Any) -> Iterator[Any]:
    """`artifacts/ab/` folders, in order (temp files of writers at the top are not artifacts)."""
    for folder in sorted(store.fs.glob(store.artifacts_dir, "*")):
        if len(folder.name) == 2:
            yield folder


def _hash_folder(store: Any, folder: Any) -> list[tuple[Any, int, str | None]]:
    """One task per `ab/` folder (at most 1/256 of the store's paths in memory at once)."""
    return [_hash(store, path) for path in sorted(store.fs.glob(folder, "*"))]


def check(store: Any, *, repair: bool = False, workers: int = 4,
          progress: Callable[[int, int], None] = lambda done, size: None) -> CheckReport:
    """Check every artifact and entry of `store`; with `repair`, remove what is damaged."""
    report = CheckReport()
    bad: set[str] = set()
    seen: dict[str, int] = {}  # artifact key -> size, from the walk (no stat per reference)
    window: deque[Future[list[tuple[Any, int, str | None]]]] = deque()

    def settle(future: Future[list[tuple[Any, int, str | None]]]) -> None:
        for path, size, problem in future.result():
            one(path, size, problem)
        progress(report.artifacts, report.bytes)

    def one(path: Any, size: int, problem: str | None) -> None:
        report.artifacts += 1
        report.bytes += size
        seen[path.name.split(".")[0]] = size
        if problem:
            key = path.name.split(".")[0]
            bad.add(key)
            report.damaged_artifacts.append({"key": key, "path": str(path), "problem": problem})
            if repair:
                store.fs.remove(path)
                report.removed += 1

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        for folder in _folders(store):
            window.append(pool.submit(_hash_folder, store, folder))
            if len(window) >= 2 * max(1, workers):
                settle(window.popleft())
        while window:
            settle(window.popleft())
    for path in store.fs.glob(store.cache_dir, "*.json"):
        problem, step = _entry_problem(store, path, bad, seen)
        report.entries += 1
        if problem:
            report.damaged_entries.append({"key": path.stem, "step": step, "problem": problem})
            if repair:
                store.fs.remove(path)
                report.removed += 1
    return report


def _entry_problem(store: Any, path: Any, bad: set[str],
                   seen: dict[str, int]) -> tuple[str | None, str]:
    try:
        data = json.loads(store.fs.read_bytes(path).decode("utf-8"))
    except FileNotFoundError:
        return None, ""
    except (OSError, ValueError) as exc:
        return f"unreadable ({exc})", ""
    if not isinstance(data, dict):
        return "not an entry", ""
    step = str(data.get("step", ""))
    untrusted = verify(data)
    if untrusted:
        return untrusted, step
    refs = list((data.get("outputs") or {}).items())
    refs += [(f"file {p}", {"key": k}) for p, k in (data.get("written_keys") or {}).items()]
    for name, ref in refs:
        key = ref.get("key") if isinstance(ref, dict) else None
        if key in bad:
            return f"output '{name}' artifact is damaged", step
        if key and key not in seen:
            return f"output '{name}' artifact is missing", step
        if key and isinstance(ref, dict) and ref.get("size") not in (None, seen[key]):
            return f"output '{name}' artifact is truncated ({seen[key]} of {ref['size']} bytes)", step
    return None, step
