"""Published pipelines: immutable, versioned snapshots of a notebook.

`<store>/pipelines/NAME/vN/` holds `notebook.ipynb` (the source, byte for byte) and
`pipeline.json` (the DAG json and what identifies the version); the `pipelines` table
indexes them. With an object-storage store (`s3://...`) the snapshots and the table
live in the local records folder beside the notebook (`stores.records_root`), and
`pipeline.json` names the store, so the version's runs keep their artifacts there. A version directory is written under a temporary name and renamed into
place while the database's write lock is held, so a reader never sees half a version
and two publishers never take the same number. Publishing a notebook whose cells are
identical to the latest version returns that version instead of making a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import db
from .errors import BadInput, NotFound

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
NOTEBOOK_FILE = "notebook.ipynb"
SPEC_FILE = "pipeline.json"


@dataclass(frozen=True)
class Published:
    """One version of a published pipeline."""

    name: str
    version: int
    digest: str
    source: str  # the notebook it was published from
    created: float
    steps: int
    path: Path  # the version's directory

    @property
    def notebook(self) -> Path:
        return self.path / NOTEBOOK_FILE

    @property
    def spec(self) -> Path:
        return self.path / SPEC_FILE

    def artifact_store(self) -> str | None:
        """The object-storage URL its runs keep their artifacts in, or None (the folder
        the pipeline is published in)."""
        try:
            store = json.loads(self.spec.read_text(encoding="utf-8")).get("store")
        except (OSError, ValueError):
            return None
        return store if isinstance(store, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "source": self.source,
            "created": self.created,
            "steps": self.steps,
            "notebook": str(self.notebook),
        }


def check_name(name: str, what: str = "pipeline") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise BadInput(
            f"{what} name {name!r} is not valid: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return name


def notebook_digest(notebook: dict[str, Any]) -> str:
    """sha256 of what makes the pipeline: each cell's type, source and tags (not outputs)."""
    cells = [
        [
            cell.get("cell_type", ""),
            "".join(cell.get("source", "")),
            sorted(cell.get("metadata", {}).get("tags", [])),
        ]
        for cell in notebook.get("cells", [])
    ]
    canonical = json.dumps(cells, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def publish(notebook_path: Path | str, name: str, store_root: Path | str) -> tuple[Published, bool]:
    """Publish `notebook_path` as `name`; returns the version and whether it is new.

    BadInput when the notebook cannot be read or has analysis errors (each listed).
    """
    from ..stores import is_url, records_root

    check_name(name)
    source = Path(notebook_path).resolve()
    artifacts = str(store_root) if is_url(store_root) else None
    store_root = records_root(store_root, source)
    notebook, dag = _read_and_analyze(source)
    digest = notebook_digest(notebook)
    latest = _latest_row(store_root, name)
    if latest is not None and latest["digest"] == digest:
        return _from_row(store_root, latest), False
    with db.connect(store_root, write=True) as conn:
        row = conn.execute(
            "SELECT * FROM pipelines WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
        if row is not None and row["digest"] == digest:  # a twin published meanwhile
            return _from_row(store_root, row), False
        version = (row["version"] if row else 0) + 1
        published = Published(
            name=name,
            version=version,
            digest=digest,
            source=str(source),
            created=time.time(),
            steps=len(dag["steps"]),
            path=version_dir(store_root, name, version),
        )
        _write_version(published, source, dag, artifacts)
        conn.execute(
            "INSERT INTO pipelines (name, version, digest, source, created, steps)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, version, digest, published.source, published.created, published.steps),
        )
    return published, True


def _read_and_analyze(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..analysis import NotebookError, analyze, cells_from_json

    try:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        pipeline = analyze(cells_from_json(notebook["cells"], where=f"notebook '{source}'"))
    except FileNotFoundError:
        raise NotFound(f"notebook '{source}' not found") from None
    except (OSError, ValueError, KeyError, TypeError, NotebookError) as exc:
        raise BadInput(f"notebook '{source}' cannot be read: {exc}") from None
    if pipeline.errors:
        problems = "; ".join(str(e) for e in pipeline.errors)
        raise BadInput(f"notebook '{source.name}' is not a valid pipeline: {problems}")
    if not pipeline.steps:
        raise BadInput(f"notebook '{source.name}' has no %%step cells: nothing to publish")
    return notebook, pipeline.to_json()


def _write_version(published: Published, source: Path, dag: dict[str, Any],
                   artifacts: str | None) -> None:  # fmt: skip
    parent = published.path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if published.path.exists():  # left by a crash before its row was committed
        shutil.rmtree(published.path)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        shutil.copyfile(source, tmp / NOTEBOOK_FILE)
        spec = {**published.to_json(), "notebook": NOTEBOOK_FILE, "dag": dag}
        if artifacts is not None:
            spec["store"] = artifacts
        (tmp / SPEC_FILE).write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
        for file in (tmp / NOTEBOOK_FILE, tmp / SPEC_FILE):
            file.chmod(0o444)
        os.rename(tmp, published.path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def version_dir(store_root: Path | str, name: str, version: int) -> Path:
    return Path(store_root) / "pipelines" / name / f"v{version}"


def get(store_root: Path | str, name: str, version: int | None = None) -> Published:
    """A published version (the latest when `version` is None); NotFound names what exists."""
    check_name(name)
    if version is None:
        row = _latest_row(store_root, name)
    else:
        with db.connect(store_root) as conn:
            row = conn.execute(
                "SELECT * FROM pipelines WHERE name = ? AND version = ?", (name, int(version))
            ).fetchone()
    if row is None:
        known = [p["name"] for p in list_pipelines(store_root)]
        what = f"pipeline '{name}'" + (f" version {version}" if version is not None else "")
        hint = f"published: {', '.join(known)}" if known else "nothing is published yet"
        raise NotFound(
            f"{what} is not published in {store_root} ({hint}); publish it with `mlpipe"
            " publish`, or pass the store it was published in (--store, beside its notebook)"
        )
    return _from_row(store_root, row)


def versions(store_root: Path | str, name: str) -> list[Published]:
    with db.connect(store_root) as conn:
        rows = conn.execute(
            "SELECT * FROM pipelines WHERE name = ? ORDER BY version", (name,)
        ).fetchall()
    return [_from_row(store_root, row) for row in rows]


def list_pipelines(store_root: Path | str) -> list[dict[str, Any]]:
    """Every published pipeline with its latest version, by name."""
    with db.connect(store_root) as conn:
        rows = conn.execute(
            "SELECT p.*, counts.n AS versions FROM pipelines p JOIN ("
            " SELECT name, MAX(version) AS latest, COUNT(*) AS n FROM pipelines GROUP BY name"
            ") counts ON p.name = counts.name AND p.version = counts.latest ORDER BY p.name"
        ).fetchall()
    return [
        {**_from_row(store_root, row).to_json(), "versions": row["versions"]} for row in rows
    ]


def _latest_row(store_root: Path | str, name: str) -> Any:
    with db.connect(store_root) as conn:
        return conn.execute(
            "SELECT * FROM pipelines WHERE name = ? ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()


def _from_row(store_root: Path | str, row: Any) -> Published:
    return Published(
        name=row["name"],
        version=row["version"],
        digest=row["digest"],
        source=row["source"],
        created=row["created"],
        steps=row["steps"],
        path=version_dir(store_root, row["name"], row["version"]),
    )
