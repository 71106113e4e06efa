"""Building the interposer: `python -m mlpipe_jupyter.watch.build` (make install), or on
first use into a cache folder, with the system C compiler.

The library's file name carries a hash of its source and flags, so an edited
`interpose.c` is rebuilt rather than an old build loaded. It is looked for in the
package folder (`_build/`, where make install puts it) and then in
`$XDG_CACHE_HOME/mlpipe/watch` (`~/.cache/...`); a missing one is built there under
a file lock, once per machine. No compiler, or a failed build: `library()` is None
and the tool marks steps that start programs opaque instead.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .names import LIB_PREFIX

SOURCE = Path(__file__).with_name("interpose.c")
FLAGS = ("-O2", "-U_FORTIFY_SOURCE", "-fno-delete-null-pointer-checks", "-Wall",
         "-Wno-nonnull-compare", "-shared", "-fPIC")
LIBS = ("-ldl", "-pthread")

_found: dict[str, str | None] = {}


def _name() -> str:
    digest = hashlib.sha256(SOURCE.read_bytes() + " ".join(FLAGS + LIBS).encode()).hexdigest()
    return f"{LIB_PREFIX}{digest[:16]}.so"


def package_dir() -> Path:
    return Path(__file__).with_name("_build")


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(root) / "mlpipe" / "watch"


def _usable(path: Path) -> bool:
    # ld.so splits LD_PRELOAD on spaces and colons, with no escaping
    return path.is_file() and not any(c in str(path) for c in " :")


def library() -> str | None:
    """The built interposer's path, building it if need be; None where it cannot be."""
    if "lib" in _found:
        return _found["lib"]
    try:
        name = _name()
    except OSError:
        _found["lib"] = None
        return None
    found = None
    for folder in (package_dir(), cache_dir()):
        if _usable(folder / name):
            found = str(folder / name)
            break
    if found is None and not any(c in str(cache_dir()) for c in " :"):
        found = build(cache_dir() / name)
    _found["lib"] = found
    return found


def build(target: Path) -> str | None:
    """Compile the interposer to `target` (under a lock; atomic rename). None on failure."""
    import fcntl

    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target.parent / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if target.is_file():
                return str(target)
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            done = subprocess.run(
                [cc, *FLAGS, "-o", str(tmp), str(SOURCE), *LIBS],
                capture_output=True, text=True, timeout=120,
            )
            if done.returncode != 0:
                tmp.unlink(missing_ok=True)
                print(f"mlpipe: cannot build the read watcher: {done.stderr.strip()[:500]}",
                      file=sys.stderr)
                return None
            os.replace(tmp, target)
            return str(target)
    except (OSError, subprocess.SubprocessError):
        return None


def main() -> int:
    """Build into the package folder (make install); print the path."""
    path = build(package_dir() / _name())
    if path is None:
        print("mlpipe: no C compiler or the build failed: steps that start programs "
              "will be marked opaque", file=sys.stderr)
        return 0
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
