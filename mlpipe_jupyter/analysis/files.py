"""Rule 8 statically: files are dataflow, found where the path is a constant.

A step that writes a file (`open(p, "w")`, `df.to_csv(p)`, `joblib.dump(m, p)`,
`np.save(p, a)`, `fig.savefig(p)`, `Path(p).write_text(...)`, ...) *binds* the
pseudo-name `file:PATH`; a later step that reads it (`open(p)`,
`pd.read_csv(p)`, `joblib.load(p)`, `np.load(p)`, ...) *reads* `file:PATH`
from its nearest preceding writer, so the edge is labelled `file:PATH` like a
variable and the reader's key holds the file's content hash. A path counts
when it is a string literal, a name bound to one in setup, in `%%params` (its
default) or earlier in the same step, or an `os.path.join` / `Path(...) / ...`
/ f-string of those. Computed paths are found at run time (rule 10).
"""

from __future__ import annotations

import ast
import posixpath
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

PREFIX = "file:"

#: call names (last attribute) whose first path-like argument is a file written
WRITERS = frozenset({
    "to_csv", "to_parquet", "to_json", "to_pickle", "to_feather", "to_excel", "to_hdf",
    "to_orc", "to_stata", "to_html", "to_latex", "to_xml", "savefig", "save", "savez",
    "savez_compressed", "savetxt", "dump", "write_text", "write_bytes", "write_table",
    "write_feather", "write_csv", "imsave", "imwrite", "save_model", "to_netcdf",
})
#: call names whose first path-like argument is a file read
READERS = frozenset({
    "read_csv", "read_parquet", "read_json", "read_pickle", "read_feather", "read_excel",
    "read_table", "read_hdf", "read_orc", "read_stata", "read_fwf", "read_xml", "load",
    "loadtxt", "genfromtxt", "read_text", "read_bytes", "imread", "read_image",
    "load_model", "open_dataset", "ParquetFile", "read_metadata",
})
_PATH_KEYWORDS = ("path", "path_or_buf", "fname", "file", "filename", "filepath", "where",
                  "filepath_or_buffer", "io", "source", "dest")


def pseudo_name(path: str) -> str:
    return PREFIX + path


def is_file_name(name: str) -> bool:
    return name.startswith(PREFIX)


def constants(pythons: tuple[str | None, ...], params: dict[str, Any]) -> dict[str, str]:
    """String constants the setup binds at top level, and the string parameters."""
    found = {k: v for k, v in params.items() if isinstance(v, str)}
    for python in pythons:
        tree = _parse(python)
        if tree is not None:
            _bind_constants(tree.body, found)
    return found


def _bind_constants(body: list[ast.stmt], names: dict[str, str]) -> None:
    for node in body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = resolve(node.value, names)
            for target in targets:
                if isinstance(target, ast.Name):
                    if value is None:
                        names.pop(target.id, None)
                    else:
                        names[target.id] = value


@lru_cache(maxsize=2048)
def _parse(python: str | None) -> ast.Module | None:
    if python is None:
        return None
    try:
        return ast.parse(python)
    except (SyntaxError, ValueError, RecursionError):
        return None


def resolve(node: ast.AST, names: dict[str, str]) -> str | None:
    """The string a path expression evaluates to, when it is built from constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                if value.format_spec is not None or value.conversion not in (-1, 115):
                    return None
                part = resolve(value.value, names)
            else:
                part = resolve(value, names)
            if part is None:
                return None
            parts.append(part)
        return "".join(parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # Path(a) / "b"
        left, right = resolve(node.left, names), resolve(node.right, names)
        return posixpath.join(left, right) if left is not None and right is not None else None
    if isinstance(node, ast.Call):
        name = _call_name(node.func)
        if name in ("join", "Path", "PurePath", "PosixPath", "joinpath", "str", "fspath"):
            pieces = [resolve(arg, names) for arg in node.args]
            if name == "joinpath" and isinstance(node.func, ast.Attribute):
                pieces.insert(0, resolve(node.func.value, names))
            if pieces and all(p is not None for p in pieces):
                return posixpath.join(*pieces)  # type: ignore[arg-type]
    return None


def _call_name(func: ast.AST) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _normal(path: str) -> str | None:
    if not path or "://" in path or path.startswith("~"):
        return None
    return posixpath.normpath(path.replace("\\", "/"))


def _mode(call: ast.Call, names: dict[str, str], position: int) -> str:
    if len(call.args) > position:
        return resolve(call.args[position], names) or "r"
    for keyword in call.keywords:
        if keyword.arg == "mode":
            return resolve(keyword.value, names) or "r"
    return "r"


def _first_path(call: ast.Call, names: dict[str, str]) -> str | None:
    for arg in call.args:
        value = resolve(arg, names)
        if value is not None:
            return value
    for keyword in call.keywords:
        if keyword.arg in _PATH_KEYWORDS:
            value = resolve(keyword.value, names)
            if value is not None:
                return value
    return None


def _is_written(mode: str) -> bool:
    return any(c in mode for c in "wax+")


def call_files(call: ast.Call, names: dict[str, str]) -> tuple[str | None, str | None]:
    """(path read, path written) by one call, when its path is a constant."""
    name = _call_name(call.func)
    receiver = call.func.value if isinstance(call.func, ast.Attribute) else None
    if name == "open":
        if receiver is not None and not (
            isinstance(receiver, ast.Name) and receiver.id in ("io", "codecs", "gzip", "bz2")
        ):  # Path(p).open(mode)
            path, mode = resolve(receiver, names), _mode(call, names, 0)
        else:
            path = resolve(call.args[0], names) if call.args else None
            mode = _mode(call, names, 1)
        if path is None:
            return None, None
        return (None, path) if _is_written(mode) and "+" not in mode else (
            path, path if _is_written(mode) else None)
    if name in ("write_text", "write_bytes", "read_text", "read_bytes") and receiver is not None:
        path = resolve(receiver, names)
        return (None, path) if name.startswith("write") else (path, None)
    if name in WRITERS:
        return None, _first_path(call, names)
    if name in READERS:
        return _first_path(call, names), None
    return None, None


@lru_cache(maxsize=4096)
def _step_files(
    pythons: tuple[str | None, ...], names_items: tuple[tuple[str, str], ...]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    names = dict(names_items)
    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    for python in pythons:
        tree = _parse(python)
        if tree is None:
            continue
        for statement in tree.body:
            for node in ast.walk(statement):
                if isinstance(node, ast.Call):
                    read, written = call_files(node, names)
                    read, written = _normal(read or ""), _normal(written or "")
                    if read and read not in writes:
                        reads[read] = None
                    if written:
                        writes[written] = None
            _bind_constants([statement], names)
    return tuple(reads), tuple(writes)


def step_files(pythons: tuple[str | None, ...], names: dict[str, str]
               ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(files read before the step writes them, files written), notebook-relative."""
    return _step_files(tuple(pythons), tuple(sorted(names.items())))


@dataclass
class FileFlow:
    """Rule 8 through the steps in notebook order: the latest writer of each file."""

    names: dict[str, str] = field(default_factory=dict)  # constants of setup and params
    writer: dict[str, str] = field(default_factory=dict)  # path -> latest writing step
    reads: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step -> files read
    writes: dict[str, tuple[str, ...]] = field(default_factory=dict)  # step -> files written
    readers: dict[str, list[str]] = field(default_factory=dict)  # path -> every reader so far
    #: (reader, later writer): the writer replaces what the reader reads, so it runs after
    order: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def after_setup(cls, pythons: tuple[str | None, ...], params: dict[str, Any]) -> FileFlow:
        return cls(names=constants(pythons, params))

    def step(self, name: str, pythons: tuple[str | None, ...], inputs: dict[str, str],
             binds: list[str]) -> None:
        """Add the step's `file:PATH` inputs (-> their writer) and binds in place."""
        reads, writes = step_files(pythons, self.names)
        self.reads[name], self.writes[name] = reads, writes
        for path in reads:
            if path in self.writer:
                inputs[pseudo_name(path)] = self.writer[path]
            self.readers.setdefault(path, []).append(name)
        for path in writes:
            # after every earlier reader of any version: run before it, this write would
            # be what that reader sees (readers are kept across writers for that reason)
            for reader in self.readers.get(path, []):
                if reader != name and (reader, name) not in self.order:
                    self.order.append((reader, name))
            self.writer[path] = name
            if pseudo_name(path) not in binds:
                binds.append(pseudo_name(path))
        binds.sort()
