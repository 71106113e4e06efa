"""Published pipelines: immutable, versioned snapshots of a notebook.

`<store>/pipelines/NAME/vN/` holds `notebook.ipynb` (the source, byte for byte) and
`pipeline.json` (the DAG json and what identifies the version); the `pipelines` table
indexes them. With an object-storage store (`s3://...`) the snapshots and the table
live in the local records folder beside the notebook (`stores.records_root`), and
`pipeline.json` names the store, so the version's runs keep their artifacts there; each
version is also uploaded to the bucket's catalog (`<url>/pipelines/NAME/vN/`, see the end
of this module). A version directory is written under a temporary name and renamed into
place while the database's write lock is held, so a reader never sees half a version
and two publishers never take the same number. Publishing a notebook whose cells are
identical to the latest version returns that version instead of making a new one.

The catalog (issue 25): `pipeline.json` also records who published (`publisher`: $USER,
else the login name), a `description` (the notebook's first markdown cell) and the
parameters; `list_pipelines` adds them, with every version number, to each row, and
`catalog_entry` reads them for one version.
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
    about = {"publisher": publisher(), "description": description(notebook)}
    digest = notebook_digest(notebook)
    used = _used_notebooks(source, dag)
    if used:  # issue 25: an edit to a notebook a step --uses makes a new version
        digest = hashlib.sha256((digest + json.dumps(
            [[s["name"], s.get("uses"), s.get("uses_digest")] for s in dag["steps"]],
            sort_keys=True)).encode("utf-8")).hexdigest()  # fmt: skip
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
        if artifacts is not None:  # the bucket's catalog numbers a team's versions
            version = max(version, remote_latest(artifacts, name) + 1)
        published = Published(
            name=name,
            version=version,
            digest=digest,
            source=str(source),
            created=time.time(),
            steps=len(dag["steps"]),
            path=version_dir(store_root, name, version),
        )
        _write_version(published, source, dag, artifacts, about, used)
        if artifacts is not None:
            _upload_version(artifacts, published)
        conn.execute(
            "INSERT INTO pipelines (name, version, digest, source, created, steps)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (name, version, digest, published.source, published.created, published.steps),
        )
    return published, True


def _read_and_analyze(source: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    from ..analysis import NotebookError, analyze, cells_from_json

    from ..analysis.graph import analyze_at

    try:
        notebook = json.loads(source.read_text(encoding="utf-8"))
        cells = cells_from_json(notebook["cells"], where=f"notebook '{source}'")
        pipeline = analyze_at(cells, source) if any(
            "--uses" in c.source for c in cells) else analyze(cells)  # issue 25
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


def _used_notebooks(source: Path, dag: dict[str, Any]) -> dict[str, Path]:
    """The notebooks the `--uses NB.ipynb:STEP` steps read, by their path relative to
    `source` (copied into the version, so that the snapshot runs as published). A pinned
    `NAME@VERSION:STEP` is already immutable; a path outside the notebook's folder
    (`../x.ipynb`) is refused: the snapshot could not hold it."""
    from ..analysis.uses import UsesError, parse_ref

    used: dict[str, Path] = {}
    for step in dag["steps"]:
        if not step.get("uses"):
            continue
        try:
            ref = parse_ref(step["uses"])
        except UsesError:
            continue
        if ref.name:
            continue
        relative = Path(ref.notebook)
        if relative.is_absolute() or ".." in relative.parts:
            raise BadInput(f"step '{step['name']}': --uses {step['uses']} is outside the"
                           f" folder of {source.name}; a published snapshot holds only what"
                           " is beside it or below it (move the notebook, or publish it and"
                           " pin NAME@VERSION:STEP)")  # fmt: skip
        used[relative.as_posix()] = source.parent / relative
    return used


def _write_version(published: Published, source: Path, dag: dict[str, Any],
                   artifacts: str | None, about: dict[str, Any] | None = None,
                   used: dict[str, Path] | None = None) -> None:  # fmt: skip
    parent = published.path.parent
    parent.mkdir(parents=True, exist_ok=True)
    if published.path.exists():  # left by a crash before its row was committed
        shutil.rmtree(published.path)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=parent))
    try:
        shutil.copyfile(source, tmp / NOTEBOOK_FILE)
        for relative, path in (used or {}).items():  # the notebooks --uses steps read
            (tmp / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, tmp / relative)
        spec = {**published.to_json(), "notebook": NOTEBOOK_FILE, "dag": dag, **(about or {})}
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
        {**_from_row(store_root, row).to_json(), "versions": row["versions"],
         **catalog_entry(_from_row(store_root, row)),
         "version_numbers": [v.version for v in versions(store_root, row["name"])]}
        for row in rows
    ]


def publisher() -> str:
    """Who publishes: $USER (or $USERNAME), else the login name, else "unknown"."""
    name = os.environ.get("USER") or os.environ.get("USERNAME")
    if not name:
        try:
            import getpass

            name = getpass.getuser()
        except (OSError, KeyError, ImportError):
            name = ""
    return name or "unknown"


def description(notebook: dict[str, Any]) -> str:
    """The text of the notebook's first markdown cell ("" when it has none)."""
    for cell in notebook.get("cells", []):
        if isinstance(cell, dict) and cell.get("cell_type") == "markdown":
            source = cell.get("source", "")
            return ("".join(source) if isinstance(source, list) else str(source)).strip()
    return ""


def catalog_entry(published: Published) -> dict[str, Any]:
    """What the catalog shows of a version: publisher, published (UTC, ISO 8601), the
    description, parameters and step names (None/empty for a version published before
    they were recorded)."""
    try:
        spec = json.loads(published.spec.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        spec = {}
    return _entry(spec, published.created)


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


def new_from(store_root: Path | str, name: str, target: Path | str, version: int | None = None,
             *, url: str | None = None) -> tuple[Published, Path]:  # fmt: skip
    """Write a new notebook at `target` from the published pipeline `name` (the latest
    version unless `version`): a markdown header naming where it came from, then the
    snapshot's cells with their outputs cleared. Cells, setup and parameters are the
    snapshot's, so its steps key as the template's did (keys hold no notebook path).
    BadInput when `target` exists or is not an .ipynb path; NotFound when not published."""
    target = Path(target)
    if target.suffix != ".ipynb":
        raise BadInput(f"'{target}' is not an .ipynb path; name the new notebook NAME.ipynb")
    if target.exists():
        raise BadInput(f"'{target}' exists; pick a new name (mlpipe new never overwrites)")
    try:
        published = get(store_root, name, version)
        notebook = json.loads(published.notebook.read_text(encoding="utf-8"))
        about = catalog_entry(published)
    except NotFound:
        if url is None:
            raise
        published, notebook, about = remote_version(url, name, version)
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        if cell.get("cell_type") == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cells.append(cell)
    header = (f"> New from the published pipeline **{published.name} v{published.version}**"
              f" (published by {about['publisher'] or 'unknown'} at {about['published']},"
              f" from `{published.source}`) with `mlpipe new {target.name} --from"
              f" {published.name}@{published.version}`.")  # fmt: skip
    head: dict[str, Any] = {"cell_type": "markdown", "metadata": {}, "source": header}
    if notebook.get("nbformat_minor", 0) >= 5 or any("id" in c for c in cells):
        head["id"] = "mlpipe-new-from"
    notebook["cells"] = [head, *cells]
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    if published.path.is_dir():  # the notebooks its --uses steps read, where none is yet
        for file in sorted(published.path.rglob("*.ipynb")):
            relative = file.relative_to(published.path)
            if relative.as_posix() != NOTEBOOK_FILE and not (target.parent / relative).exists():
                (target.parent / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(file, target.parent / relative)
                (target.parent / relative).chmod(0o644)
    return published, target


# -- the team catalog on object storage (issue 25) -------------------------------------
# With an object-storage store, `publish` also uploads each version's folder to
# `<url>/pipelines/NAME/vN/` (write-once: a version is never re-written), and the catalog,
# `mlpipe new --from` and the version numbers read the bucket, so every project folder
# with that store sees the same pipelines. Two publishers racing for one number is not
# guarded against (object storage has no lock here): the later upload wins that version.


def _remote(url: str) -> tuple[Any, Any]:
    from ..cache.fs import filesystem_for

    fs = filesystem_for(url)
    return fs, fs.root(url) / "pipelines"


def _upload_version(url: str, published: Published) -> None:
    fs, root = _remote(url)
    folder = root / published.name / f"v{published.version}"
    for file in sorted(published.path.rglob("*")):
        if file.is_file():
            fs.write(folder / file.relative_to(published.path).as_posix(), file.read_bytes())


def _remote_specs(url: str, name: str = "*") -> dict[str, dict[int, Any]]:
    """name -> version -> the bucket path of its pipeline.json."""
    fs, root = _remote(url)
    found: dict[str, dict[int, Any]] = {}
    for path in fs.glob(root, f"{name}/v*/{SPEC_FILE}"):
        number = path.parent.name[1:]
        if path.parent.name[:1] == "v" and number.isdigit():
            found.setdefault(path.parent.parent.name, {})[int(number)] = path
    return found


def remote_latest(url: str, name: str) -> int:
    """The latest version of `name` in the bucket's catalog (0: none)."""
    return max(_remote_specs(url, name).get(name, {0: None}))


def _published_of(url: str, spec: dict[str, Any], path: Path) -> Published:
    return Published(name=spec["name"], version=int(spec["version"]), digest=spec["digest"],
                     source=spec.get("source", ""), created=float(spec.get("created", 0)),
                     steps=int(spec.get("steps", 0)), path=path)  # fmt: skip


def remote_version(url: str, name: str, version: int | None = None
                   ) -> tuple[Published, dict[str, Any], dict[str, Any]]:  # fmt: skip
    """A version in the bucket's catalog: (its Published, notebook json, catalog entry)."""
    fs, _ = _remote(url)
    versions_found = _remote_specs(url, name).get(name, {})
    number = version if version is not None else max(versions_found, default=0)
    if number not in versions_found:
        what = f"pipeline '{name}'" + (f" version {version}" if version is not None else "")
        raise NotFound(f"{what} is not published in {url}; `mlpipe pipelines --store {url}`"
                       " lists what is")  # fmt: skip
    spec_path = versions_found[number]
    spec = json.loads(fs.read_bytes(spec_path))
    notebook = json.loads(fs.read_bytes(spec_path.parent / NOTEBOOK_FILE))
    published = _published_of(url, spec, Path(fs.url(spec_path.parent)))
    return published, notebook, _entry(spec, published.created)


def _entry(spec: dict[str, Any], created: float) -> dict[str, Any]:
    dag = spec.get("dag") if isinstance(spec.get("dag"), dict) else {}
    return {
        "publisher": spec.get("publisher"),
        "published": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
        "description": spec.get("description") or "",
        "params": dict(dag.get("params") or {}),
        "step_names": [s.get("name") for s in dag.get("steps") or [] if isinstance(s, dict)],
    }


def remote_catalog(url: str) -> list[dict[str, Any]]:
    """`list_pipelines`' rows for the bucket's catalog, by name."""
    fs, _ = _remote(url)
    rows = []
    for name, found in sorted(_remote_specs(url).items()):
        latest = max(found)
        spec = json.loads(fs.read_bytes(found[latest]))
        published = _published_of(url, spec, Path(fs.url(found[latest].parent)))
        notebook = fs.url(found[latest].parent / NOTEBOOK_FILE)
        rows.append({**published.to_json(), "notebook": notebook, "versions": len(found), **_entry(spec, published.created),
                     "version_numbers": sorted(found)})  # fmt: skip
    return rows


def catalog(store: Path | str, records: Path | str) -> list[dict[str, Any]]:
    """The catalog a store shows: the bucket's for an object-storage URL, else the
    records folder's (`list_pipelines`)."""
    from ..stores import is_url

    return remote_catalog(str(store)) if is_url(store) else list_pipelines(records)
