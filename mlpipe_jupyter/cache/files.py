"""Files as cache ingredients: content hashes, re-stat checks, declared `--inputs`.

A file read is recorded with its fingerprint at the first read (size, mtime_ns,
ctime_ns, inode: git's and Bazel's stat data). Reuse needs the fingerprint
unchanged, else the sha256 is compared: ctime cannot be set from user space, so a
file rewritten with its size and mtime put back (`cp -p`, `rsync -a`, `touch -r`)
is rehashed. `HashCache` remembers (size, mtime_ns, inode, ctime_ns) -> sha256 per
absolute path, kept as one JSON file in the store's cache folder, so touching a file
without changing it costs one hash, then only a stat. `entry_changed` is the one
check the planner, the sidebar's cache state and the live kernel use: an entry is
valid while every file it read (and every folder it listed) is as recorded, no
path it looked for and did not find has appeared, and its reads were all watched.

Paths in facts are relative to the notebook's folder, POSIX separators.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any, Iterable

from .facts import FileFact

_CHUNK = 1 << 20
HASHES_FILE = "file-hashes.json"


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def listing_sha256(names: Iterable[str]) -> str:
    """The hash of a folder's listing: its entry names, sorted, one per line."""
    return hashlib.sha256("\n".join(sorted(names)).encode("utf-8", "surrogateescape")).hexdigest()


class HashCache:
    """sha256 of files, remembered by (size, mtime_ns, inode, ctime_ns); saved on `save()`."""

    _instances: dict[str, HashCache] = {}

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.hashes: dict[str, list] = {}
        self.dirty = False
        if path is not None:
            try:
                self.hashes = dict(json.loads(path.read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                self.hashes = {}

    @classmethod
    def at(cls, folder: Path | None) -> HashCache:
        """The cache kept in `folder` (one per process and folder); in-memory for None."""
        if folder is None:
            return cls(None)
        key = str(folder)
        if key not in cls._instances:
            cls._instances[key] = cls(Path(folder) / HASHES_FILE)
        return cls._instances[key]

    def sha256(self, path: str, st: os.stat_result | None = None) -> str:
        st = st or os.stat(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns]
        known = self.hashes.get(path)
        if known and len(known) == 5 and known[:4] == stamp:
            return str(known[4])
        digest = sha256_file(path)
        self.hashes[path] = [*stamp, digest]
        self.dirty = True
        return digest

    def save(self) -> None:
        if not self.dirty or self.path is None:
            return
        from .fs import atomic_write_json

        try:
            # merge with what others wrote meanwhile: last writer wins per path
            try:
                on_disk = dict(json.loads(self.path.read_text("utf-8")))
            except (OSError, ValueError, TypeError):
                on_disk = {}
            atomic_write_json(self.path, {**on_disk, **self.hashes})
            self.dirty = False
        except OSError:
            pass


def relative(path: str | os.PathLike[str], base: Path) -> str:
    """`path` relative to `base`, POSIX separators (`..` for files outside it)."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(base))
    return rel.replace(os.sep, "/")


def file_fact(path: str, base: Path, hashes: HashCache,
              first: tuple[int, int, int, int] | None = None) -> FileFact | None:
    """The fact of one regular file; None when it is not one. `first` is its fingerprint
    (size, mtime_ns, ctime_ns, inode) at the step's first read (default: now)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    size, mtime_ns, ctime_ns, inode = first or (
        st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
    return FileFact(relative(path, base), size, mtime_ns / 1e9, hashes.sha256(path, st),
                    mtime_ns, ctime_ns, inode)


def listing_fact(path: str, base: Path) -> FileFact | None:
    """A folder's listing as a fact: size = number of entries, sha256 of the names."""
    try:
        st = os.stat(path)
        names = os.listdir(path)
    except OSError:
        return None
    return FileFact(relative(path, base), len(names), st.st_mtime, listing_sha256(names))


def changed_file(
    facts: Iterable[FileFact], base: Path, hashes: HashCache, *, skip: Iterable[str] = ()
) -> str | None:
    """Why these recorded files no longer hold ("file data.csv changed"); None if all do.

    A file whose fingerprint (size, mtime_ns, ctime_ns, inode) is as recorded is
    not read; one that differs is rehashed (through `hashes`), so a touch without a
    change is no change. Facts of older entries (no ctime) compare size and mtime.
    `skip` names paths whose content is already in the key (file inputs).
    """
    skipped = set(skip)
    for fact in facts:
        if fact.path in skipped:
            continue
        path = os.path.join(base, fact.path)
        try:
            st = os.stat(path)
        except OSError:
            return f"file {fact.path} deleted"
        if fact.ctime_ns:
            if (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino) == (
                    fact.size, fact.mtime_ns, fact.ctime_ns, fact.inode):
                continue
        elif st.st_size == fact.size and st.st_mtime == fact.mtime:
            continue
        try:
            if hashes.sha256(path, st) != fact.sha256:
                return f"file {fact.path} changed"
        except OSError:
            return f"file {fact.path} deleted"
    return None


def changed_listing(facts: Iterable[FileFact], base: Path) -> str | None:
    """Why these recorded folder listings no longer hold; None if all do."""
    for fact in facts:
        path = os.path.join(base, fact.path)
        try:
            st = os.stat(path)
        except OSError:
            return f"folder {fact.path} deleted"
        if st.st_mtime == fact.mtime:
            continue
        try:
            names = os.listdir(path)
        except OSError:
            return f"folder {fact.path} deleted"
        if listing_sha256(names) != fact.sha256:
            return f"files in {fact.path} changed"
    return None


def appeared(paths: Iterable[str], base: Path) -> str | None:
    """Why paths the step looked for and did not find no longer hold ("file
    overrides.csv appeared"); None while all are still absent."""
    for rel in paths:
        if rel in ("", "."):
            continue
        if os.path.lexists(os.path.join(base, rel)):
            return f"file {rel} appeared"
    return None


def not_watched(entry: Any) -> str | None:
    """Why an entry's reads were not fully watched ("reads not fully tracked: runs
    `cat`"); None when they were."""
    opaque = tuple(getattr(entry, "opaque", ()) or ())
    if not opaque:
        return None
    more = f" and {len(opaque) - 1} more" if len(opaque) > 1 else ""
    return f"reads not fully tracked: {opaque[0]}{more}"


def entry_changed(entry: Any, base: Path, cache_dir: Path | None,
                  skip: Iterable[str] = (), *, opaque_ok: bool = False) -> str | None:
    """Why a cache entry's recorded files and folders no longer hold; None if they do.

    The one check behind a run's plan, the sidebar's cache state and a live
    kernel's `%%step` hit. `cache_dir` keeps the hashes (the store's cache folder).
    An opaque entry (reads not fully watched) never holds unless `opaque_ok`: the
    step declares its inputs (`--inputs`) or asks for `--cache always`.
    """
    why = None if opaque_ok else not_watched(entry)
    if why is not None:
        return why
    absent = tuple(getattr(entry, "paths_absent", ()) or ())
    if not entry.files_read and not entry.dirs_listed and not absent:
        return None
    hashes = HashCache.at(cache_dir)
    try:
        return (changed_file(entry.files_read, base, hashes, skip=skip)
                or changed_listing(entry.dirs_listed, base) or appeared(absent, base))
    finally:
        hashes.save()


def declared_files(
    patterns: Iterable[str], base: Path, hashes: HashCache, step: str = "?"
) -> dict[str, str]:
    """{path: sha256} of the files `--inputs` patterns match, from `base`.

    A file is named as its pattern names it: relative to `base` for a relative
    pattern, absolute for an absolute one (`/data/*.csv`, a shared mount), so
    that copies of the project in other folders compute the same key (a team
    cache). A pattern that matches nothing is kept as `{pattern: ""}`, so that
    the file appearing later changes the key.
    """
    found: dict[str, str] = {}
    for pattern in patterns:
        full = pattern if os.path.isabs(pattern) else os.path.join(base, pattern)
        matches = sorted(glob.glob(full, recursive=True))
        files = [m for m in matches if os.path.isfile(m)]
        for folder in (m for m in matches if os.path.isdir(m)):
            for root, _dirs, names in os.walk(folder):
                files.extend(os.path.join(root, n) for n in names)
        if not files:
            found[pattern] = ""
        for path in sorted(files):
            try:
                name = os.path.normpath(path) if os.path.isabs(pattern) else relative(path, base)
                found[name] = hashes.sha256(path)
            except OSError:
                continue
    hashes.save()
    return dict(sorted(found.items()))
