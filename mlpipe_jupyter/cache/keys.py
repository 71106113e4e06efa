"""Cache keys: a Merkle hash over a step's code, setup, parameters and inputs.

A step's key hashes the canonical JSON of its *ingredients*: the normalized
step code, the normalized setup code, the values of the parameters it reads,
the artifact keys (content hashes) of the upstream outputs it reads (a file an
upstream step writes is an input `file:PATH` keyed by its bytes), the names it
outputs, the normalized source of every local module the setup and the step
import (transitively), the versions of the distributions they import and the
Python version (`cache/modules.py`; for a `--kernel` step, the kernelspec's
name and that interpreter's versions, `cache/kernelenv.py`), and the content hashes of the files
declared with `--inputs` (`cache/files.py`). Resource options (cpu, gpu,
memory, retries, timeout) and `--no-cache` never change a result, so they are
not ingredients. An entry also records the files its step read; the planner
uses it only while they are unchanged (`execute/planner.py` `entry_stale`).

The ingredients are kept with each cache entry, so `key_reasons` can say why
a key differs from the last entry for the same step ("code changed",
"parameter lr changed", "upstream features changed").
"""

from __future__ import annotations

import ast
import hashlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpipe_jupyter.analysis.normalize import normalize_code  # noqa: F401 (re-exported)

from .hashing import canonical_json, sha256_text  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from mlpipe_jupyter.analysis.model import Pipeline, Step

#: Bump when the key recipe or the artifact formats change: every key changes.
KEY_VERSION = 2


def literal_repr(value: Any) -> str:
    """`repr` that does not depend on the process: set items come out sorted.

    `repr({"b", "a"})` changes with PYTHONHASHSEED; a parameters cell and a
    cache key must not.
    """
    kind = type(value)
    if kind in (set, frozenset):
        body = ", ".join(sorted(literal_repr(item) for item in value))
        if kind is set:
            return f"{{{body}}}" if body else "set()"
        return f"frozenset({{{body}}})" if body else "frozenset()"
    if kind is dict:
        pairs = (f"{literal_repr(k)}: {literal_repr(v)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    if kind is list:
        return "[" + ", ".join(literal_repr(item) for item in value) + "]"
    if kind is tuple:
        items = [literal_repr(item) for item in value]
        return f"({items[0]},)" if len(items) == 1 else "(" + ", ".join(items) + ")"
    return repr(value)


def json_value(value: Any) -> Any:
    """A parameter value as stable JSON: itself when it is plain JSON, else its literal repr."""
    try:
        text = canonical_json(value)
    except (TypeError, ValueError):
        return {"repr": literal_repr(value)}
    return json.loads(text)


def setup_params(pipeline: Pipeline) -> tuple[str, ...]:
    """The parameters the setup code reads (every step runs setup, so every step needs them)."""
    if not pipeline.params or not pipeline.setup_source.strip():
        return ()
    used = _setup_reads(pipeline.setup_source)
    return tuple(name for name in pipeline.params if name in used)


@lru_cache(maxsize=64)
def _setup_reads(setup_source: str) -> frozenset[str]:
    """The names the setup code reads: visited once per setup, not once per step's key."""
    from mlpipe_jupyter.analysis.ipysyntax import python_source
    from mlpipe_jupyter.analysis.visitor import cell_facts

    code = python_source(setup_source)
    try:
        facts = cell_facts(code) if code is not None else None
    except SyntaxError:
        return frozenset()
    return frozenset(facts.reads) | frozenset(facts.deferred) if facts else frozenset()


def step_params(step: Step, pipeline: Pipeline) -> tuple[str, ...]:
    """The parameters a step's notebook needs: its own and the setup's, sorted."""
    return tuple(sorted(set(step.params) | set(setup_params(pipeline))))


@dataclass(frozen=True)
class KeyIngredients:
    """What a step's cache key is made of, kept with each cache entry."""

    step: str
    code: str  # sha256 of the normalized step code
    setup: str  # sha256 of the normalized setup code
    params: dict[str, Any] = field(default_factory=dict)  # name -> JSON value
    inputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # var -> (producer, key)
    outputs: tuple[str, ...] = ()
    version: int = KEY_VERSION
    modules: dict[str, str] = field(default_factory=dict)  # local module -> source sha256
    packages: dict[str, str] = field(default_factory=dict)  # distribution -> version
    python: str = ""
    files: dict[str, str] = field(default_factory=dict)  # --inputs file -> sha256
    kernel: str = ""  # --kernel: the kernelspec it runs on ("" for the default kernel)
    # issue 20 (cache/ambient.py): environment variables read -> value (None: unset), the
    # day for a step that reads the calendar, distribution -> sha256 of its RECORD
    environ: dict[str, str | None] = field(default_factory=dict)
    date: str = ""
    records: dict[str, str] = field(default_factory=dict)
    # issue 25: `--uses REF` as written (relative: the same for a clone elsewhere) and the
    # sha256 of what REF contributes (analysis/uses.py); empty for a step of its own
    uses: dict[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """sha256 hex of the canonical JSON of the ingredients (not the step name)."""
        return sha256_text(
            canonical_json(
                {
                    "version": self.version,
                    "code": self.code,
                    "setup": self.setup,
                    "params": self.params,
                    "inputs": {var: key for var, (_, key) in self.inputs.items()},
                    "outputs": list(self.outputs),
                    "modules": self.modules,
                    "packages": self.packages,
                    "python": self.python,
                    "files": self.files,
                    **({"kernel": self.kernel} if self.kernel else {}),
                    **({"environ": self.environ} if self.environ else {}),
                    **({"date": self.date} if self.date else {}),
                    **({"records": self.records} if self.records else {}),
                    **({"uses": self.uses} if self.uses else {}),
                }
            )
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "code": self.code,
            "setup": self.setup,
            "params": dict(self.params),
            "inputs": {var: {"step": p, "key": k} for var, (p, k) in self.inputs.items()},
            "outputs": list(self.outputs),
            "version": self.version,
            "modules": dict(self.modules),
            "packages": dict(self.packages),
            "python": self.python,
            "files": dict(self.files),
            "kernel": self.kernel,
            "environ": dict(self.environ),
            "date": self.date,
            "records": dict(self.records),
            "uses": dict(self.uses),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> KeyIngredients:
        return cls(
            step=data["step"],
            code=data["code"],
            setup=data["setup"],
            params=dict(data.get("params", {})),
            inputs={v: (i["step"], i["key"]) for v, i in data.get("inputs", {}).items()},
            outputs=tuple(data.get("outputs", ())),
            version=int(data.get("version", KEY_VERSION)),
            modules=dict(data.get("modules", {})),
            packages=dict(data.get("packages", {})),
            python=str(data.get("python", "")),
            files=dict(data.get("files", {})),
            kernel=str(data.get("kernel") or ""),
            environ=dict(data.get("environ") or {}),
            date=str(data.get("date") or ""),
            records=dict(data.get("records") or {}),
            uses=dict(data.get("uses") or {}),
        )


def key_ingredients(
    step: Step,
    pipeline: Pipeline,
    param_values: dict[str, Any],
    input_keys: dict[str, str],
    *,
    base: Path | None = None,
    store_dir: Path | None = None,
) -> KeyIngredients:
    """Collect a step's ingredients.

    `param_values` overrides the pipeline's defaults; `input_keys` maps each
    name the step reads to the artifact key of the upstream output it reads.
    `base` is the notebook's folder (the kernels' working directory; default
    the current one): local modules and `--inputs` files are found from it.
    `store_dir` is a folder where file hashes and the distribution map are
    memoised (the store's cache folder).
    """
    from .files import HashCache, declared_files
    from .modules import environment

    base = Path.cwd() if base is None else Path(base)
    params = {}
    for name in step_params(step, pipeline):
        if name in param_values:
            params[name] = json_value(param_values[name])
        elif name in pipeline.params:
            params[name] = json_value(pipeline.params[name])
        else:
            raise ValueError(
                f"step '{step.name}': parameter '{name}' has no value;"
                f" pass it with -p {name} VALUE or give it a default in %%params"
            )
    producers = step.producers()
    inputs = {}
    for var in step.reads:
        if var not in input_keys:
            raise ValueError(
                f"step '{step.name}': no artifact key for input '{var}'"
                f" (from step '{producers.get(var, '?')}'); key the upstream steps first"
            )
        inputs[var] = (producers.get(var, ""), input_keys[var])
    env = environment((pipeline.setup_source, step.source), base, store_dir)
    kernel = getattr(step.options, "kernel", None) or ""
    if kernel:  # another interpreter: its versions (cache/kernelenv.py)
        from .kernelenv import kernel_environment

        env = kernel_environment(step.name, kernel, env, store_dir)
    return KeyIngredients(
        step=step.name,
        code=sha256_text(normalize_code(step.source)),
        setup=sha256_text(normalize_code(pipeline.setup_source)),
        params=params,
        inputs=inputs,
        outputs=tuple(sorted(step.outputs)),
        modules=env.modules,
        packages=env.packages,
        python=env.python,
        files=declared_files(
            getattr(step.options, "inputs", ()), base, HashCache.at(store_dir), step.name
        ),
        kernel=kernel,
        uses=({"ref": step.options.uses, "digest": step.options.uses_digest}
              if getattr(step.options, "uses", "") else {}),
        **step_ambient(step, pipeline, env.packages if not kernel else {}, store_dir),
    )


def step_ambient(step: Step, pipeline: Pipeline, packages: dict[str, str],
                 store_dir: Path | None = None) -> dict[str, Any]:
    """The issue-20 ingredients: `environ`, `date`, `records` (cache/ambient.py)."""
    from .ambient import step_ambient as collect

    return collect(step, pipeline, packages, store_dir)


def ambient_reasons(old: KeyIngredients, new: KeyIngredients) -> list[str]:
    """`environment BATCH_SIZE 32 -> 128`, `date 2026-12-07 -> 2026-12-08`,
    `package mypkg 1.0 reinstalled`."""
    from .ambient import reasons

    return reasons(old, new)


def step_key(
    step: Step,
    pipeline: Pipeline,
    param_values: dict[str, Any],
    input_keys: dict[str, str],
) -> str:
    """The step's cache key: sha256 hex of its ingredients' canonical JSON."""
    return key_ingredients(step, pipeline, param_values, input_keys).key()


def key_reasons(old: KeyIngredients | None, new: KeyIngredients) -> list[str]:
    """Why `new` differs from `old` (the latest entry for the same step), one phrase each."""
    if old is None:
        return ["no cache entry"]
    reasons: list[str] = []
    if old.version != new.version:
        reasons.append("cache format changed")
    if old.uses and new.uses and old.uses != new.uses:  # issue 25: the used step's notebook
        ref = new.uses.get("ref", "")
        reasons.append(f"uses {ref}, which changed" if old.uses.get("ref") == ref
                       else f"uses {ref} (was {old.uses.get('ref', '')})")
    elif old.code != new.code:
        reasons.append("code changed")
    if old.setup != new.setup:
        reasons.append("setup changed")
    for name in sorted(set(old.params) | set(new.params)):
        if old.params.get(name, _MISSING) != new.params.get(name, _MISSING):
            reasons.append(f"parameter {name} changed")
    changed_upstream: list[str] = []
    for var in sorted(set(old.inputs) | set(new.inputs)):
        before, after = old.inputs.get(var), new.inputs.get(var)
        if before is None or after is None or before[1] != after[1]:
            producer = (after or before or ("", ""))[0] or var
            if var.startswith("file:"):  # a file an upstream step writes (rule 8)
                reasons.append(f"file {var[len('file:'):]} changed (written by {producer})")
            elif var.startswith("random:"):  # a generator's state (rule 9)
                reasons.append(f"random state from step '{producer}' changed")
            elif var.startswith("setting:"):  # process-wide settings (cache/ambient.py)
                reasons.append(f"{var[len('setting:'):]} settings from step '{producer}'"
                               " changed")
            elif producer not in changed_upstream:
                changed_upstream.append(producer)
    reasons.extend(f"upstream {producer} changed" for producer in changed_upstream)
    reasons.extend(_environment_reasons(old, new))
    if old.outputs != new.outputs:
        reasons.append("outputs changed")
    if not reasons and old.key() != new.key():
        reasons.append("key changed")
    return reasons


def _environment_reasons(old: KeyIngredients, new: KeyIngredients) -> list[str]:
    """Module, package, Python and declared-file differences, one phrase each."""
    reasons: list[str] = []
    if old.kernel != new.kernel:
        reasons.append(f"kernel {old.kernel or '(default)'} -> {new.kernel or '(default)'}")
    reasons.extend(ambient_reasons(old, new))
    for name in sorted(set(old.modules) | set(new.modules)):
        if old.modules.get(name) != new.modules.get(name):
            reasons.append(f"module {name} changed")
    for dist in sorted(set(old.packages) | set(new.packages)):
        before, after = old.packages.get(dist), new.packages.get(dist)
        if before != after:
            reasons.append(f"package {dist} {before or '(none)'} -> {after or '(none)'}")
    if old.python and new.python and old.python != new.python:
        reasons.append(f"python {old.python} -> {new.python}")
    for path in sorted(set(old.files) | set(new.files)):
        before, after = old.files.get(path), new.files.get(path)
        if before != after:
            state = "deleted" if after is None else "added" if before is None else "changed"
            reasons.append(f"file {path} {state}")
    return reasons


def explain(old: KeyIngredients | None, new: KeyIngredients) -> str:
    """`key_reasons` as one line, e.g. "code changed; parameter lr changed"."""
    return "; ".join(key_reasons(old, new)) or "unchanged"


_MISSING = object()
