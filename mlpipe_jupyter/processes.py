"""Whether a process of this machine still exists (leases, dead writers' temp files)."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """True while process `pid` exists on this machine (also when another user owns it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
