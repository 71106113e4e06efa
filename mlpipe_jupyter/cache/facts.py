"""A file as a step saw it (`FileFact`): the cache validates entries by these, and the
step's report (`compile/report.py`) carries them from the kernel to the coordinator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FileFact:
    """One file as the step saw it: its stat and content hash."""

    path: str  # relative to the notebook's folder, POSIX separators
    size: int
    mtime: float
    sha256: str
    #: the fingerprint at the first read (0: not taken, e.g. an entry of an older version):
    #: reuse needs size, mtime_ns, ctime_ns and inode unchanged, else the sha256 is compared
    mtime_ns: int = 0
    ctime_ns: int = 0
    inode: int = 0

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path, "size": self.size, "mtime": self.mtime,
                                "sha256": self.sha256}
        if self.ctime_ns:
            data.update(mtime_ns=self.mtime_ns, ctime_ns=self.ctime_ns, inode=self.inode)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FileFact:
        return cls(str(data["path"]), int(data["size"]), float(data["mtime"]), str(data["sha256"]),
                   int(data.get("mtime_ns", 0)), int(data.get("ctime_ns", 0)),
                   int(data.get("inode", 0)))
