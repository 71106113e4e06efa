"""The store's on-disk layout version: `format.json` at the store's root.

A store records the layout it is written in, so that a later change of the layout
has an upgrade path and an older mlpipe never misreads a newer store:

- no `format.json` in an empty store: this version's format is written;
- no `format.json` in a store that holds entries or artifacts: a format-1 store
  (before the file existed), upgraded in place;
- an older number: upgraded in place, each step in `_UPGRADES`;
- a newer number: refused with one line naming the format and what to install.

An upgrade rewrites files only through the store's atomic writes, and copies every
file it rewrites to `upgrades/<from>-<to>-<time>/` first. Format 2 (this one) only
adds what format 1 readers never look at (`used/`, `leases/`, `pins/`, `gc/`, an
entry's `project`), so 1 -> 2 rewrites nothing but `format.json` itself.
"""

from __future__ import annotations

import json
import time
from typing import Any, Callable

from mlpipe_jupyter.errors import BadInput

FORMAT = 2
FORMAT_FILE = "format.json"
_CHECKED: set[str] = set()  # store URLs checked by this process


def _upgrade_1_to_2(store: Any, backup: Callable[[Any], None]) -> None:
    """Format 2 adds folders and fields that format 1 readers ignore: nothing to rewrite."""


#: from-format -> the function that brings a store of it one format up.
_UPGRADES: dict[int, Callable[[Any, Callable[[Any], None]], None]] = {1: _upgrade_1_to_2}


def read_format(store: Any) -> int | None:
    """The store's recorded format, or None when it records none."""
    try:
        data = json.loads(store.fs.read_bytes(store.root / FORMAT_FILE).decode("utf-8"))
        return int(data["format"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise BadInput(
            f"the store {store.url} has an unreadable {FORMAT_FILE} ({exc}); restore it from"
            f' a backup, or write {{"format": {FORMAT}}} there if the store is of this version'
        ) from None


def _holds_anything(store: Any) -> bool:
    for folder in (store.cache_dir, store.artifacts_dir):
        for _ in store.fs.glob(folder, "*"):
            return True
    return False


def ensure(store: Any) -> int:
    """Check the store's format, upgrading an older one; the format it had before."""
    if store.url in _CHECKED:
        return FORMAT
    recorded = read_format(store)
    found = recorded if recorded is not None else (1 if _holds_anything(store) else FORMAT)
    if found > FORMAT:
        from mlpipe_jupyter._version import __version__

        raise BadInput(
            f"the store {store.url} has layout format {found}, newer than this mlpipe-jupyter"
            f" {__version__} reads (format {FORMAT}): upgrade mlpipe-jupyter"
            " (pip install -U mlpipe-jupyter) to use it"
        )
    if recorded != FORMAT:
        _upgrade(store, found)
    _CHECKED.add(store.url)
    return found


def _upgrade(store: Any, found: int) -> None:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    folder = store.root / "upgrades" / f"{found}-{FORMAT}-{stamp}"

    def backup(path: Any) -> None:
        """Keep a copy of `path` (a file of the store) before it is rewritten."""
        relative = str(path)[len(str(store.root)) + 1:]
        store.fs.write(folder / relative, store.fs.read_bytes(path))

    for version in range(found, FORMAT):
        _UPGRADES[version](store, backup)
    record = {"format": FORMAT, "written": time.time()}
    if found != FORMAT:
        record["upgraded_from"] = found
    store.fs.write(store.root / FORMAT_FILE, (json.dumps(record, indent=1) + "\n").encode())


def forget_checked() -> None:
    """Check stores again on their next open (tests that rewrite `format.json`)."""
    _CHECKED.clear()
