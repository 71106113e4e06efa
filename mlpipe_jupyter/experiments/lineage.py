"""What each step of a run was made from (its lineage), from the step's cache entry.

A step's lineage: its code and setup hashes, the parameters it read, the files it read
(path, size, sha256: those the runtime saw it read and its declared `--inputs`), the
local modules (source sha256), the packages (name, version), Python and the kernel, and
the upstream steps' keys; the run's adds the project's git commit and dirty state. The
orchestrator writes it at the end of a run as `runs/<run_id>/lineage.json` (`RunTracker`);
a run recorded without it is rebuilt from the cache entries its record names.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

LINEAGE_FILE = "lineage.json"


def git_state(folder: Path) -> dict[str, Any] | None:
    """`{"commit", "dirty"}` of the git work tree holding `folder`; None outside one."""
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, timeout=10,
            )
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if not commit:
        return None
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit.strip(), "dirty": bool(status and status.strip())}


def step_lineage(entry: Any, *, status: str, cache_key: str | None,
                 reused: bool = False) -> dict[str, Any]:
    """One step's lineage from its cache entry (`CacheEntry`, or None: what is known)."""
    data: dict[str, Any] = {"status": status, "cache_key": cache_key, "reused": reused}
    if entry is None:
        return data
    ing = entry.ingredients
    files = {f.path: {"path": f.path, "size": f.size, "sha256": f.sha256}
             for f in entry.files_read}
    if ing is not None:
        for path, digest in ing.files.items():  # --inputs (their size is not kept in the key)
            files.setdefault(path, {"path": path, "size": None, "sha256": digest})
        data.update({
            "code": ing.code, "setup": ing.setup, "params": dict(ing.params),
            "modules": dict(ing.modules), "packages": dict(ing.packages),
            "python": ing.python, "kernel": ing.kernel or "default",
            "upstream": {var: {"step": producer, "artifact": key}
                         for var, (producer, key) in sorted(ing.inputs.items())},
        })
    data["files"] = [files[p] for p in sorted(files)]
    if entry.metrics:
        data["metrics"] = dict(entry.metrics)
    return data


def from_record(store: Any, record: dict[str, Any]) -> dict[str, Any]:
    """The run's lineage: its `lineage.json` when the run wrote one, else rebuilt from the
    cache entries its record names (`git` unknown then)."""
    import json

    path = store.runs_dir / record["run_id"] / LINEAGE_FILE
    try:
        data = json.loads(store.read_bytes(path).decode("utf-8"))
        if isinstance(data, dict) and isinstance(data.get("steps"), dict):
            order = [n for n in record.get("steps", {}) if n in data["steps"]]
            order += [n for n in data["steps"] if n not in order]  # the file's keys are sorted
            return {**data, "steps": {n: data["steps"][n] for n in order}}
    except (OSError, ValueError):
        pass
    steps = {}
    for name, step in record.get("steps", {}).items():
        key = step.get("cache_key")
        entry = store.lookup(key) if key and step.get("status") in ("succeeded", "cached") else None
        steps[name] = step_lineage(entry, status=step.get("status", "pending"), cache_key=key,
                                   reused=step.get("status") == "cached")
    return {"run_id": record["run_id"], "git": None, "steps": steps}


def text(lineage: dict[str, Any]) -> str:
    """The lineage as `mlpipe runs show ID --lineage` prints it."""
    lines = [f"run {lineage.get('run_id')}"]
    git = lineage.get("git")
    if git:
        lines.append(f"  git commit {git['commit'][:12]}" + (" (dirty)" if git["dirty"] else ""))
    else:
        lines.append("  git: not a git work tree (or not recorded)")
    for name, step in lineage.get("steps", {}).items():
        key = (step.get("cache_key") or "-")[:12]
        reused = ", reused" if step.get("reused") else ""
        lines.append(f"{name}: {step.get('status')}{reused}, key {key}")
        if "code" not in step:
            lines.append("  (no lineage: the step did not succeed, or its entry was pruned)")
            continue
        lines.append(f"  code {step['code'][:12]}  setup {step['setup'][:12]}"
                     f"  kernel {step.get('kernel')}  python {step.get('python') or '?'}")
        for pname, value in step.get("params", {}).items():
            lines.append(f"  param   {pname} = {value!r}")
        for f in step.get("files", []):
            size = "?" if f.get("size") is None else f"{f['size']} B"
            lines.append(f"  file    {f['path']} ({size}) sha256 {f['sha256'][:12]}")
        for mod, digest in step.get("modules", {}).items():
            lines.append(f"  module  {mod} {digest[:12]}")
        for var, up in step.get("upstream", {}).items():
            lines.append(f"  input   {var} from {up['step']} artifact {up['artifact'][:12]}")
        for pkg, version in step.get("packages", {}).items():
            lines.append(f"  package {pkg} {version}")
        for metric, value in step.get("metrics", {}).items():
            lines.append(f"  metric  {metric} = {value:g}")
    return "\n".join(lines) + "\n"
