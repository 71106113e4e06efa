"""The two kinds of place a store lives: a local folder and object storage (fsspec).

`LocalFS` is plain `os` calls (the fast path): every file is written to a
temporary name in its folder, fsynced and moved into place with `os.replace`.
`ObjectFS` wraps an fsspec filesystem (`s3fs`, `adlfs`, `gcsfs`); there one
object PUT is all or nothing, so a reader sees either no object or the whole
one, and the store's commit order (artifacts, verified by their sha256, then
the signed entry last) keeps "never half-written" without renames.

Both take paths as `PurePosixPath`-like values (`Path` locally, `PurePosixPath`
of `bucket/prefix/...` on object storage) and offer the same few calls.

Permissions (local folders only; object storage has its own access control):
what the store creates is owner-only, folders 0700 and files 0600, whatever the
umask, unless `$MLPIPE_STORE_MODE=group` (or `c.MlpipeService.store_mode`),
which makes them 0770 / 0660 for a team folder on a shared filesystem.

Endpoint and credential options for object storage come from fsspec's own
configuration (`~/.config/fsspec/*.json`, `FSSPEC_S3_ENDPOINT_URL`-style
variables) and the cloud SDKs' usual settings (`AWS_ENDPOINT_URL`, profiles),
plus `$MLPIPE_STORE_OPTIONS`: a JSON object passed to the filesystem as keyword
arguments (`{"endpoint_url": "http://127.0.0.1:9000"}`). It is read from the
environment of each process (orchestrator and workers), never written into
step notebooks, so credentials do not land in the store.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from mlpipe_jupyter.errors import BadInput

MODE_ENV = "MLPIPE_STORE_MODE"
OPTIONS_ENV = "MLPIPE_STORE_OPTIONS"
TMP_PREFIX = ".tmp-"
_REACHED: set[tuple[str, str]] = set()
_MODES = {"owner": (0o700, 0o600), "group": (0o770, 0o660)}
# URL scheme -> (fsspec package, extra of mlpipe-jupyter)
PACKAGES = {
    "s3": ("s3fs", "s3"), "s3a": ("s3fs", "s3"),
    "abfs": ("adlfs", "azure"), "abfss": ("adlfs", "azure"), "az": ("adlfs", "azure"),
    "gs": ("gcsfs", "gcs"), "gcs": ("gcsfs", "gcs"),
}


def store_mode() -> str:
    """`owner` (the default) or `group`, from `$MLPIPE_STORE_MODE`."""
    mode = (os.environ.get(MODE_ENV) or "owner").strip().lower()
    if mode not in _MODES:
        raise BadInput(f"${MODE_ENV}={mode!r}: choose owner (0700/0600) or group (0770/0660)")
    return mode


def dir_mode() -> int:
    return _MODES[store_mode()][0]


def file_mode() -> int:
    return _MODES[store_mode()][1]


def makedirs(folder: str | os.PathLike[str]) -> None:
    """Create `folder` and its missing parents with the store's folder mode (not the umask's)."""
    path = Path(folder)
    missing = []
    while not path.exists():
        missing.append(path)
        if path.parent == path:
            break
        path = path.parent
    mode = dir_mode()
    for each in reversed(missing):
        try:
            os.mkdir(each, mode)
        except FileExistsError:
            continue
        os.chmod(each, mode)


def open_new(path: str | os.PathLike[str]) -> Any:
    """A new file opened for binary writing, with the store's file mode (not the umask's)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, file_mode())
    os.fchmod(fd, file_mode())
    return os.fdopen(fd, "wb")


def create_empty(path: str | os.PathLike[str]) -> None:
    """Make `path` an empty file with the store's file mode unless it exists (a file another
    writer then fills keeps that mode: an executed notebook, a log, a database)."""
    try:
        open_new(path).close()
    except FileExistsError:
        pass


def tmp_name(folder: Path, suffix: str = "") -> Path:
    """A temporary name in `folder` that carries this process's pid (for the dead-writer sweep)."""
    return folder / f"{TMP_PREFIX}{os.getpid()}-{uuid.uuid4().hex}{suffix}"


def write_local(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temp file in the same folder, fsync, rename."""
    makedirs(path.parent)
    tmp = tmp_name(path.parent, path.suffix)
    try:
        with open_new(tmp) as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


class LocalFS:
    """A store in a local folder: plain os calls."""

    remote = False

    def root(self, location: str | os.PathLike[str]) -> Path:
        return Path(location)

    def url(self, path: Path) -> str:
        return str(path)

    def makedirs(self, folder: Path) -> None:
        makedirs(folder)

    def read_bytes(self, path: Path) -> bytes:
        return Path(path).read_bytes()

    def size(self, path: Path) -> int:
        return Path(path).stat().st_size

    def mtime(self, path: Path) -> float:
        return Path(path).stat().st_mtime

    def touch(self, path: Path) -> None:
        os.utime(path)

    def write(self, path: Path, data: bytes) -> None:
        write_local(Path(path), data)

    def put_local(self, local: Path, path: Path) -> None:
        """Move the finished local file `local` (in the same folder tree) to `path`."""
        makedirs(Path(path).parent)
        os.replace(local, path)

    def get_local(self, path: Path, local: Path) -> None:
        write_local(Path(local), self.read_bytes(path))

    def remove(self, path: Path) -> None:
        Path(path).unlink(missing_ok=True)

    def glob(self, folder: Path, pattern: str) -> Iterator[Path]:
        return Path(folder).glob(pattern)

    def staging(self, folder: Path) -> Path:
        """Where a new artifact is written before its commit: beside its final place."""
        makedirs(folder)
        return tmp_name(Path(folder))


class ObjectFS:
    """A store on object storage through an fsspec filesystem."""

    remote = True

    def __init__(self, url: str) -> None:
        self.protocol = url.split("://", 1)[0].lower()
        self.fs = open_filesystem(url)
        self.url_prefix = f"{self.protocol}://"

    def root(self, location: str | os.PathLike[str]) -> PurePosixPath:
        return PurePosixPath(str(location).split("://", 1)[1].strip("/"))

    def check(self, root: PurePosixPath) -> None:
        """`BadInput` in one line when the bucket (container) cannot be reached; once per
        process and bucket."""
        bucket = root.parts[0] if root.parts else ""
        if self.protocol not in PACKAGES or (self.protocol, bucket) in _REACHED:
            return  # only clouds have buckets (fsspec's memory:// has none)
        try:
            self.fs.info(bucket)
        except FileNotFoundError:
            reason = f"there is no bucket {bucket!r}"
        except Exception as exc:  # noqa: BLE001 - credentials, network: the SDK's own words
            lines = str(exc).strip().splitlines()
            reason = lines[0] if lines else type(exc).__name__
        else:
            _REACHED.add((self.protocol, bucket))
            return
        raise BadInput(
            f"cannot use the store {self.url(root)}: {reason} (credentials and endpoint: the"
            f" usual settings of {self.protocol}, or ${OPTIONS_ENV})"
        )

    def url(self, path: PurePosixPath) -> str:
        return f"{self.url_prefix}{path}"

    def makedirs(self, folder: PurePosixPath) -> None:
        return None  # object storage has no folders to make

    def read_bytes(self, path: PurePosixPath) -> bytes:
        return bytes(self.fs.cat_file(str(path)))

    def _info(self, path: PurePosixPath) -> dict[str, Any]:
        try:
            return dict(self.fs.info(str(path), refresh=True))
        except TypeError:
            return dict(self.fs.info(str(path)))

    def size(self, path: PurePosixPath) -> int:
        info = self._info(path)
        if info.get("type") == "directory":
            raise FileNotFoundError(str(path))
        return int(info["size"])

    def mtime(self, path: PurePosixPath) -> float:
        info = self._info(path)
        stamp = (info.get("LastModified") or info.get("last_modified") or info.get("mtime")
                 or info.get("created"))
        if hasattr(stamp, "timestamp"):
            return float(stamp.timestamp())
        return float(stamp or 0.0)

    def touch(self, path: PurePosixPath) -> None:
        return None  # prune's grace period reads the upload time; a re-upload is not needed

    def write(self, path: PurePosixPath, data: bytes) -> None:
        self.fs.pipe_file(str(path), data)  # one PUT: all or nothing

    def put_local(self, local: Path, path: PurePosixPath) -> None:
        self.fs.put_file(str(local), str(path))
        Path(local).unlink(missing_ok=True)

    def get_local(self, path: PurePosixPath, local: Path) -> None:
        write_local(Path(local), self.read_bytes(path))

    def remove(self, path: PurePosixPath) -> None:
        try:
            self.fs.rm_file(str(path))
        except FileNotFoundError:
            pass

    def glob(self, folder: PurePosixPath, pattern: str) -> Iterator[PurePosixPath]:
        self.fs.invalidate_cache(str(folder))
        return (PurePosixPath(p) for p in self.fs.glob(f"{folder}/{pattern}"))

    def staging(self, folder: PurePosixPath) -> Path:
        """A local temporary file: the artifact is uploaded once it is complete."""
        base = Path(tempfile.gettempdir()) / f"mlpipe-staging-{os.getuid()}"
        makedirs(base)
        return tmp_name(base)


def storage_options() -> dict[str, Any]:
    """`$MLPIPE_STORE_OPTIONS` as keyword arguments for the filesystem (a JSON object)."""
    text = os.environ.get(OPTIONS_ENV)
    if not text:
        return {}
    try:
        options = json.loads(text)
    except ValueError as exc:
        raise BadInput(f"${OPTIONS_ENV} is not JSON ({exc})") from None
    if not isinstance(options, dict):
        raise BadInput(f"${OPTIONS_ENV} must be a JSON object of filesystem options")
    return options


def open_filesystem(url: str) -> Any:
    """The fsspec filesystem for `url`; `BadInput` with the pip line when its package is missing."""
    protocol = url.split("://", 1)[0].lower()
    try:
        import fsspec
    except ImportError:
        raise BadInput(f"store {url} needs fsspec: pip install fsspec") from None
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError:
        package, extra = PACKAGES.get(protocol, (protocol + "fs", protocol))
        raise BadInput(
            f"store {url} needs {package}: pip install mlpipe-jupyter[{extra}]"
        ) from None
    except ValueError:
        raise BadInput(
            f"store {url}: unknown protocol {protocol!r}; use a folder or an s3://, abfs://"
            " or gs:// URL"
        ) from None
    options = storage_options()
    if protocol in ("s3", "s3a"):
        options.setdefault("use_listings_cache", False)
    return cls(**options)


def filesystem_for(location: Any) -> LocalFS | ObjectFS:
    """`LocalFS` for a folder, `ObjectFS` for an object-storage URL (stores.is_url)."""
    from mlpipe_jupyter.stores import is_url

    return ObjectFS(str(location)) if is_url(location) else LocalFS()


__all__ = [
    "MODE_ENV", "OPTIONS_ENV", "LocalFS", "ObjectFS", "create_empty", "dir_mode", "file_mode",
    "filesystem_for", "makedirs", "open_filesystem", "open_new", "storage_options",
    "store_mode", "write_local",
]


def json_bytes(data: Any) -> bytes:
    """A JSON document as the store writes it: indented, sorted keys, UTF-8, newline."""
    return (json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to the local `path` via a temp file in the same directory, fsync, rename
    (created with the store's mode)."""
    write_local(Path(path), data)


def atomic_write_json(path: Path, data: Any) -> None:
    atomic_write_bytes(path, json_bytes(data))
