"""The one rule for where a store is (DESIGN "Execution"), used by every front end.

`resolve_store(store, notebook)`: the explicit `store` if given, else
`$MLPIPE_STORE`, else `.mlpipe` beside the notebook, else (no notebook: `mlpipe
runs`, `mlpipe scheduler`, `mlp.runs()`) `.mlpipe` in the working directory. A
relative path is made absolute at once against the caller's working directory
(`cwd`, default `os.getcwd()`), so it means the same thing in a child process,
in a kernel whose working directory is the notebook's, and in the server.

The store may also be an fsspec URL (`s3://bucket/prefix`, `abfs://container/prefix`,
`gs://bucket/prefix`): artifacts, cache entries and executed step notebooks live
there, while run records and schedules (`mlpipe.db`) stay in a local folder,
`records_root`: `.mlpipe` beside the notebook (else in `cwd`). A `file://` URL is
the local folder it names. A resolved store is a `Path` (a local folder) or a `str`
(an object-storage URL, without a trailing `/`); `is_url` tells them apart.

Nothing here touches the disk beyond `os.getcwd()`; the store is not created.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

#: The SQLite file of run records, schedules and published pipelines, in a records root.
DB_NAME = "mlpipe.db"

STORE_ENV = "MLPIPE_STORE"
STORE_DIRNAME = ".mlpipe"

PathLike = str | os.PathLike[str]
StoreRoot = Path | str  # a local folder, or an object-storage URL
_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]+)://")


def url_protocol(store: object) -> str | None:
    """The URL scheme of `store` (`s3`, `gs`, ...), or None for a local path."""
    if isinstance(store, os.PathLike):
        return None
    match = _URL.match(str(store))
    return match.group(1).lower() if match else None


def is_url(store: object) -> bool:
    """True when `store` names object storage (a URL other than `file://`)."""
    return url_protocol(store) not in (None, "file")


def location(store: PathLike, cwd: PathLike | None = None) -> StoreRoot:
    """One store given by the user, as the rule keeps it: a URL as it is (no trailing
    `/`), `file://PATH` and plain paths as absolute folders."""
    text = os.fspath(store)
    protocol = url_protocol(text)
    if protocol == "file":
        return absolute(text[len("file://"):] or "/", cwd)
    if protocol is not None:
        return text.rstrip("/")
    return absolute(text, cwd)


def records_root(
    store: StoreRoot, notebook: PathLike | None = None, *, cwd: PathLike | None = None
) -> Path:
    """The local folder of `mlpipe.db` for `store`: the store itself when it is a folder,
    else `.mlpipe` beside `notebook` (else in `cwd`)."""
    if not is_url(store):
        return Path(store)
    if notebook is not None:
        path = absolute(notebook, cwd)
        return _published_in(path) or path.parent / STORE_DIRNAME
    return absolute(STORE_DIRNAME, cwd)


def _published_in(notebook: Path) -> Path | None:
    """The records folder a published snapshot (`<records>/pipelines/NAME/vN/notebook.ipynb`)
    belongs to: its runs are recorded there, not inside the snapshot."""
    parts = notebook.parts
    if (len(parts) > 4 and parts[-1] == "notebook.ipynb" and parts[-4] == "pipelines"
            and parts[-2][:1] == "v" and parts[-2][1:].isdigit()):  # fmt: skip
        records = notebook.parents[3]
        if (records / DB_NAME).is_file():
            return records
    return None


def absolute(path: PathLike, cwd: PathLike | None = None) -> Path:
    """`path` with `~` expanded, made absolute against `cwd` (default: this process's)."""
    expanded = Path(path).expanduser()
    if expanded.is_absolute():
        return Path(os.path.normpath(expanded))
    base = Path(cwd).expanduser() if cwd is not None else Path(os.getcwd())
    return Path(os.path.normpath(absolute(base) / expanded))


def resolve_store(
    store: PathLike | None = None,
    notebook: PathLike | None = None,
    *,
    cwd: PathLike | None = None,
) -> StoreRoot:
    """The absolute store root (or its URL): `store`, else `$MLPIPE_STORE`, else `.mlpipe`
    beside `notebook`, else `.mlpipe` in `cwd`."""
    if store:
        return location(store, cwd)
    env = os.environ.get(STORE_ENV)
    if env:
        return location(env, cwd)
    if notebook is not None:
        return absolute(notebook, cwd).parent / STORE_DIRNAME
    return absolute(STORE_DIRNAME, cwd)


def configured_store(cwd: PathLike | None = None) -> StoreRoot | None:
    """`$MLPIPE_STORE` made absolute, or None: a store that holds everything when set."""
    env = os.environ.get(STORE_ENV)
    return location(env, cwd) if env else None


__all__ = [
    "STORE_DIRNAME", "STORE_ENV", "StoreRoot", "absolute", "configured_store", "is_url",
    "location", "records_root", "resolve_store", "url_protocol",
]


def project_id(notebook: str | os.PathLike[str]) -> str:
    """The notebook's identity in a store: its path inside its git work tree (the same for
    everyone of a team who cloned the project), else its folder's name and its own
    (`churn/train.ipynb`: a shared store never holds a machine's absolute paths).
    Retention never compares the entries of one notebook with another's."""
    path = Path(notebook).expanduser().resolve()
    for folder in path.parents:
        if (folder / ".git").exists():
            return path.relative_to(folder).as_posix()
    return f"{path.parent.name}/{path.name}" if path.parent.name else path.name


def db_path(records: str | os.PathLike[str]) -> Path:
    """The run records' database of a records root (`records_root`)."""
    return Path(records) / DB_NAME
