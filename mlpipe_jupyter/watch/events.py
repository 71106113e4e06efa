"""The interposer's log: one event per line (see `interpose.c`)."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

OPEN_READ, OPEN_UPDATE, OPEN_WRITE = "R", "U", "W"
LOOKUP, FOLDER, LIBRARY, UNFOLLOWABLE = "S", "D", "L", "O"


@dataclass(frozen=True)
class Event:
    op: str
    errno: int
    pid: int
    size: int
    mtime_ns: int
    ctime_ns: int
    inode: int
    path: str

    @property
    def fingerprint(self) -> tuple[int, int, int, int] | None:
        if self.errno or not (self.inode or self.mtime_ns):
            return None
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode)


def log_dir() -> Path:
    """Where the steps' logs go: one folder per user in the temp folder."""
    folder = Path(tempfile.gettempdir()) / f"mlpipe-watch-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def new_log() -> str:
    """A fresh log path for one step in this process."""
    import time

    folder = log_dir()
    now = time.time()
    for old in folder.glob("*.log"):  # written by a worker process after its step ended
        try:
            if now - old.stat().st_mtime > 24 * 3600:
                old.unlink()
        except OSError:
            continue
    return str(folder / f"{os.getpid()}-{now:.0f}-{time.time_ns() % 10**9}.log")


def read(path: str) -> Iterator[Event]:
    """The events in the log at `path` (none if it was never written)."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError:
        return
    for raw in data.splitlines():
        parts = raw.decode("utf-8", "surrogateescape").split("\t", 7)
        if len(parts) != 8:
            continue
        try:
            yield Event(parts[0], int(parts[1]), int(parts[2]), int(parts[3]), int(parts[4]),
                        int(parts[5]), int(parts[6]), parts[7])
        except ValueError:
            continue
