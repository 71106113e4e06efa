"""Reads below Python: the LD_PRELOAD interposer that watches every process of a step.

`interpose.c` wraps the C library's file calls (open, fopen, stat, access, opendir,
dlopen, exec, posix_spawn) and appends one line per event to the log that
`$MLPIPE_WATCH_LOG` names at the time of the call; `compile/tracking.py` points it at
the current step's log and merges the events into the step's report. The library
is built with the system C compiler (`build.py`: at `make install`, else on first
use) and loaded when the kernel pool starts kernels and its fork server
(`preload_env`). Where it cannot be built or loaded, steps that start programs are
reported opaque instead (DESIGN "What the cache watches").

Kept light: importing this package imports nothing else of mlpipe's.
"""

from __future__ import annotations

import os

from .names import ENV_LOG, ENV_SKIP, ENV_SWITCH, LIB_PREFIX

__all__ = ["ENV_LOG", "ENV_SKIP", "ENV_SWITCH", "LIB_PREFIX", "enabled", "loaded", "preload_env"]


def enabled() -> bool:
    return os.environ.get(ENV_SWITCH, "1") != "0"


def preload_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """`env` (default: this process's) with the interposer in `LD_PRELOAD`, when it
    is available here (built now if need be); unchanged otherwise."""
    from .build import library

    out = dict(os.environ if env is None else env)
    lib = library() if enabled() else None
    if lib is None:
        return out
    current = out.get("LD_PRELOAD", "")
    if lib not in current.replace(" ", ":").split(":"):
        out["LD_PRELOAD"] = f"{lib}:{current}" if current else lib
    out.pop(ENV_LOG, None)  # a step's log is set by the step (tracking.start), not inherited
    return out


def loaded() -> bool:
    """Whether the interposer is loaded into this process."""
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            return any(LIB_PREFIX in line for line in fh)
    except OSError:
        return False
