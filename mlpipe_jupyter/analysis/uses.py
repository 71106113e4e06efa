"""Steps from other notebooks (issue 25): `%%step clean --uses prep.ipynb:clean`.

`expand(cells, notebook, analyze)` rewrites each `--uses` step cell of a notebook so
that its body is the referenced step's code, as if it were pasted there:

1. the referenced notebook's setup cells (a step notebook runs this notebook's setup
   first, as for every step, then these lines: the setups combine, this one first);
2. `NAME = VALUE` for each parameter of the referenced notebook that the step reads:
   `--param NAME=VALUE`, else nothing where this notebook has a parameter of that name
   (it stays a parameter here, `-p` sets it), else the referenced notebook's default;
3. the referenced step's code (its `%%step` cell and the cells after it).

`--rename OLD=NEW` renames OLD in all three (never an attribute or a keyword argument).
The `%%step` line keeps its options and gains `--uses-digest SHA`: the sha256 of what the
referenced notebook contributes (its step code, its setup, the defaults read), which the
cache key includes, so an edit there re-runs this step ("uses prep.ipynb:clean, which
changed"). `NAME@VERSION:STEP` reads the snapshot `mlpipe publish` wrote in the store
(`<records>/pipelines/NAME/vVERSION/notebook.ipynb`). Problems are `AnalysisError`s, one
line each naming the step and cell: a missing notebook, pipeline version or step, a
nested reference (the referenced step uses another), a cycle, a name clash.
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from ..errors import BadInput
from .ipysyntax import cell_magic
from .model import AnalysisError, Cell, Pipeline, StepOptions
from .notebook import NotebookError, read_cells
from .options import StepLineError, parse_step_line
from .roles import classify, parse_params

Analyze = Callable[[list[Cell]], Pipeline]


class UsesError(BadInput):
    """A `--uses` reference that cannot be resolved; one line with the fix."""


@dataclass(frozen=True)
class Ref:
    """A parsed `--uses` value."""

    text: str
    step: str
    notebook: str = ""  # a path, relative to the using notebook's folder
    name: str = ""  # a published pipeline ...
    version: int = 0  # ... at this version


@dataclass(frozen=True)
class Resolved:
    code: str  # what the step runs, renames applied
    digest: str  # sha256 of what the referenced notebook contributes
    prefix_binds: tuple[str, ...]  # names bound by the referenced setup and the param lines
    source: Path  # the notebook the code came from
    options: str = ""  # the referenced step's own options (--gpu 1 ...), less --after


def parse_ref(text: str) -> Ref:
    """`prep.ipynb:clean` or `prep@3:clean` (`prep.ipynb@v3:clean` too)."""
    head, sep, step = text.rpartition(":")
    if not sep or not head or not step.isidentifier():
        raise UsesError(f"--uses {text!r}: write NOTEBOOK.ipynb:STEP or NAME@VERSION:STEP")
    if "@" in head:
        name, _, version = head.rpartition("@")
        number = version[1:] if version[:1] in ("v", "V") else version
        if not name or not number.isdigit() or int(number) < 1:
            raise UsesError(f"--uses {text!r}: a pinned version is NAME@VERSION:STEP, as in"
                            " prep@3:clean")  # fmt: skip
        name = name[: -len(".ipynb")] if name.endswith(".ipynb") else name
        return Ref(text, step, name=name, version=int(number))
    return Ref(text, step, notebook=head)


def locate(ref: Ref, notebook: Path) -> Path:
    """The notebook file `ref` names, seen from `notebook` (the using notebook)."""
    if not ref.name:
        return Path(notebook).parent / ref.notebook
    from ..stores import is_url, records_root, resolve_store

    store = resolve_store(None, notebook)
    records = records_root(store, notebook)
    snapshot = records / "pipelines" / ref.name / f"v{ref.version}" / "notebook.ipynb"
    if not snapshot.is_file() and is_url(store):  # the bucket's catalog, kept once here
        snapshot = _fetched(str(store), ref, records)
    if not snapshot.is_file():
        raise UsesError(
            f"--uses {ref.text}: pipeline '{ref.name}' version {ref.version} is not published"
            f" in {records}; publish it with `mlpipe publish NB --name {ref.name}` or fix the"
            " version"
        )
    return snapshot


def _fetched(url: str, ref: Ref, records: Path) -> Path:
    """`<url>/pipelines/NAME/vN/notebook.ipynb` (versions are write-once) copied to
    `<records>/catalog/NAME/vN/`; that path, absent when the bucket has no such file."""
    import os

    local = records / "catalog" / ref.name / f"v{ref.version}" / "notebook.ipynb"
    if local.is_file():
        return local
    try:
        import fsspec

        options = json.loads(os.environ.get("MLPIPE_STORE_OPTIONS") or "{}")
        fs, path = fsspec.core.url_to_fs(
            f"{url}/pipelines/{ref.name}/v{ref.version}/notebook.ipynb", **options)
        data = fs.cat_file(path)
    except Exception as exc:  # noqa: BLE001 - missing, credentials, network: say which
        if isinstance(exc, FileNotFoundError):
            return local
        raise UsesError(f"--uses {ref.text}: cannot read {url}: {exc}") from None
    local.parent.mkdir(parents=True, exist_ok=True)
    tmp = local.with_name(f".{local.name}.{os.getpid()}")
    tmp.write_bytes(data)
    os.replace(tmp, local)
    return local


Expanded = tuple[list[Cell], list[AnalysisError], dict[str, tuple[str, ...]]]


def expand(cells: list[Cell], notebook: str | Path, analyze: Analyze) -> Expanded:
    """`cells` with each `--uses` step resolved; the errors; each such step's prefix binds."""
    notebook = Path(notebook)
    out = list(cells)
    errors: list[AnalysisError] = []
    prefix: dict[str, tuple[str, ...]] = {}
    here: dict[str, object] | None = None
    for position, cell in enumerate(cells):
        magic = cell_magic(cell.source) if cell.kind == "code" and "--uses" in cell.source \
            else None  # fmt: skip
        if magic is None or magic.name != "step":
            continue
        try:
            name, options = parse_step_line(magic.args)
        except StepLineError:
            continue  # classify reports it
        if not options.uses:
            continue
        if here is None:
            here, _ = parse_params(classify(list(cells)).params)
        try:
            _check_body(magic.body, options.uses)
            resolved = resolve(options, notebook, here, analyze)
        except UsesError as exc:
            errors.append(AnalysisError(str(exc), step=name, cell=cell.index))
            continue
        lines = cell.source.split("\n")
        rest = magic.args.split(None, 1)[1] if len(magic.args.split(None, 1)) > 1 else ""
        line = f"%%step {name} --uses-digest={resolved.digest} {resolved.options} {rest}"
        line = line.replace("  ", " ").rstrip()  # this line's options after (and over) its
        source = "\n".join([*lines[: magic.line], line, resolved.code])
        out[position] = replace(cell, source=source)
        prefix[name] = resolved.prefix_binds
    return out, errors, prefix


def _check_body(body: str, uses: str) -> None:
    try:
        tree = ast.parse(body)
    except SyntaxError:
        tree = None
    if tree is None or not all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                               and isinstance(s.value.value, str) for s in tree.body):  # fmt: skip
        raise UsesError(f"--uses {uses} takes its code from there; leave this cell empty or"
                        " a docstring and put other code in a cell of its own")  # fmt: skip


def resolve(options: StepOptions, notebook: Path, params_here: dict[str, object],
            analyze: Analyze) -> Resolved:  # fmt: skip
    """The code `options.uses` stands for, seen from `notebook`; UsesError if none."""
    ref = parse_ref(options.uses)
    source = locate(ref, notebook)
    shown = ref.notebook or f"{ref.name}@{ref.version}"
    if not ref.name and _same(source, notebook):
        raise UsesError(f"--uses {ref.text}: a cycle, {notebook.name} uses itself; reference"
                        " another notebook, or write the step here")  # fmt: skip
    try:
        pipeline = analyze(read_cells(source))
    except NotebookError as exc:
        raise UsesError(f"--uses {ref.text}: {exc}") from None
    try:
        step = pipeline.step(ref.step)
    except KeyError:
        names = ", ".join(pipeline.names()) or "none"
        raise UsesError(f"--uses {ref.text}: {shown} has no step '{ref.step}' (its steps:"
                        f" {names})") from None  # fmt: skip
    if step.options.uses:
        _nested(ref, step.options.uses, source, notebook)
    bad = [e for e in pipeline.errors if e.step in (None, ref.step)]
    if bad:
        raise UsesError(f"--uses {ref.text}: {shown} has an error there ({bad[0]}); fix it"
                        f" in {shown}")  # fmt: skip
    given = dict(options.uses_params)
    for name in given:
        if name not in step.params:
            known = ", ".join(step.params) or "none"
            raise UsesError(f"--param {name}: step '{ref.step}' of {shown} reads no parameter"
                            f" '{name}' (it reads: {known})")  # fmt: skip
    renames = dict(options.renames)
    lines = []
    for name in step.params:
        if name in given:
            lines.append(f"{name} = {_literal(given[name])}")
        elif renames.get(name, name) not in params_here:
            lines.append(f"{name} = {pipeline.params[name]!r}")
    setup = pipeline.setup_source.strip("\n")
    code = "\n\n".join(p for p in (setup, "\n".join(lines), step.source.strip("\n")) if p)
    code = rename(code, renames, ref.text)
    inherited = _inherited_options(pipeline, step.cell)
    digest = hashlib.sha256(json.dumps(
        [setup, step.source, {p: repr(pipeline.params.get(p)) for p in step.params},
         *([inherited] if inherited else [])],
        sort_keys=True).encode("utf-8")).hexdigest()  # fmt: skip
    bound = [*sorted(pipeline.setup_names), *(line.split(" = ")[0] for line in lines)]
    return Resolved(code, digest, tuple(dict.fromkeys(renames.get(n, n) for n in bound)),
                    source, inherited)


def _inherited_options(pipeline: Pipeline, cell: int) -> str:
    """The referenced step's `%%step` options as words, without its name and `--after`
    (its steps are not this notebook's): `--gpu 1 --outputs model`. The using line's
    options come after them, so they override a value and add to a list."""
    import shlex

    magic = cell_magic(pipeline.cells[cell].source) if cell < len(pipeline.cells) else None
    if magic is None:
        return ""
    words = shlex.split(magic.args, comments=True)[1:]
    kept: list[str] = []
    skipping = False
    for word in words:
        if word.startswith("--"):
            skipping = word.split("=", 1)[0] == "--after"
        if not skipping:
            kept.append(word)
    return shlex.join(kept)


def _same(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def _nested(ref: Ref, inner: str, source: Path, notebook: Path) -> None:
    try:
        further = parse_ref(inner)
        back = not further.name and _same(locate(further, source), notebook)
    except UsesError:
        back = False
    if back:
        raise UsesError(f"--uses {ref.text}: a cycle, that step uses {inner} (this notebook);"
                        " write the step in one of them")  # fmt: skip
    raise UsesError(f"--uses {ref.text}: that step itself uses {inner} (nested references"
                    f" are not followed); use {inner} here directly")  # fmt: skip


def _literal(text: str) -> str:
    """`--param` VALUE as code: a Python literal as written, anything else a string."""
    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return repr(text)
    return text


def rename(code: str, renames: dict[str, str], where: str) -> str:
    """`code` with each name OLD (not an attribute, not a keyword argument) spelt NEW."""
    if not renames:
        return code
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, SyntaxError) as exc:
        raise UsesError(f"--rename: cannot read the code of {where} ({exc})") from None
    names = {t.string for t in tokens if t.type == tokenize.NAME}
    for old, new in renames.items():
        if old not in names:
            raise UsesError(f"--rename {old}={new}: {where} has no name '{old}'")
        if new in names and new not in renames:
            raise UsesError(f"--rename {old}={new}: a name clash, {where} already uses '{new}';"
                            " pick another name")  # fmt: skip
    lines = code.split("\n")
    edits: list[tuple[int, int, int, str]] = []
    depth = 0
    previous = None
    for index, token in enumerate(tokens):
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
        if token.type == tokenize.NAME and token.string in renames:
            after = _next(tokens, index)
            dotted = previous is not None and previous.string == "."
            keyword = depth > 0 and after is not None and after.string == "="
            if not dotted and not keyword:
                edits.append((token.start[0] - 1, token.start[1], token.end[1],
                              renames[token.string]))  # fmt: skip
        if token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT,
                              tokenize.INDENT, tokenize.DEDENT):  # fmt: skip
            previous = token
    for row, start, end, new in reversed(edits):
        lines[row] = lines[row][:start] + new + lines[row][end:]
    return "\n".join(lines)


def _next(tokens: list[tokenize.TokenInfo], index: int) -> tokenize.TokenInfo | None:
    for token in tokens[index + 1:]:
        if token.type not in (tokenize.NL, tokenize.COMMENT):
            return token
    return None


def clashes(pipeline: Pipeline, prefix: dict[str, tuple[str, ...]]) -> list[AnalysisError]:
    """A name the referenced setup (or a parameter line) binds in a `--uses` step that
    another step here binds too: the pasted setup would overwrite that step's value."""
    errors = []
    for step in pipeline.steps:
        names = set(prefix.get(step.name, ()))
        if not names:
            continue
        for other in pipeline.steps:
            if other.name == step.name:
                continue
            both = sorted(names & set(other.binds))
            if both:
                errors.append(AnalysisError(
                    f"a name clash: {step.options.uses}'s setup or parameters bind"
                    f" '{both[0]}', which step '{other.name}' binds too; rename it with"
                    f" --rename {both[0]}=NEW", step=step.name, cell=step.cell))  # fmt: skip
                break
    return errors


def resolve_in_kernel(options: StepOptions, notebook: Path | None, analyze: Analyze) -> str:
    """The code a `%%step ... --uses REF` cell runs in a live kernel (`notebook`: the
    kernel's notebook, else one in its working directory)."""
    here = notebook if notebook is not None else Path.cwd() / "(this notebook).ipynb"
    params: dict[str, object] = {}
    if notebook is not None and notebook.is_file():
        try:
            params, _ = parse_params(classify(read_cells(notebook)).params)
        except NotebookError:
            params = {}
    return resolve(options, here, params, analyze).code
