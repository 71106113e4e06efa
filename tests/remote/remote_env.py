"""Names the remote tests and their fixtures share (tests/remote/conftest.py)."""

from __future__ import annotations

import atexit
import os
import shutil
import sys
import tempfile
from functools import lru_cache
from pathlib import Path

BUCKET = "team-bucket"
_SETPRIV = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]
# The venv's interpreter may live under root's home (pyenv), which is 0700: in a mount
# namespace of its own the command sees, at /root, a folder holding only that interpreter
# tree, so user `nobody` can run Python and nothing else of root's home is there.
_SCRIPT = 'mount --bind "$1" "$2" && mount --rbind "$3" /root && shift 3 && exec "$@"'


@lru_cache(maxsize=1)
def _fake_root() -> tuple[str, str, str] | None:
    real = Path(os.path.realpath(sys.executable))
    if not real.is_relative_to("/root"):
        return None
    top = Path("/root") / real.relative_to("/root").parts[0]  # e.g. /root/.pyenv
    fake = Path(tempfile.mkdtemp(prefix="mlpipe-fakeroot-", dir="/tmp"))
    os.chmod(fake, 0o755)
    atexit.register(shutil.rmtree, fake, True)
    (fake / top.name).mkdir(mode=0o755)
    return str(top), str(fake / top.name), str(fake)


def as_nobody(argv: list[str]) -> list[str]:
    """`argv` run as user `nobody` (the tests run as root, whom file modes do not stop)."""
    fake = _fake_root()
    if fake is None:
        return [*_SETPRIV, *argv]
    return ["unshare", "-m", "--propagation", "private", "sh", "-c", _SCRIPT, "sh", *fake,
            *_SETPRIV, *argv]
