"""Runs side by side (`mlpipe runs compare`, `mlp.compare`) and explained (`mlpipe runs diff`).

`row(record)` flattens a run record into MLflow's column names: `run_id`, `status`,
`start_time`, `end_time`, `params.NAME`, `metrics.STEP.NAME`, plus `duration.STEP`
(seconds; "cached" for a reused step) for the command line's table. `diff(a, b)` words,
step by step, what differed in two runs' lineage.
"""

from __future__ import annotations

import time
from typing import Any, Iterable


def with_lineage(record: dict[str, Any], lineage: dict[str, Any]) -> dict[str, Any]:
    """The record with the parameters the run used (the defaults it took too, from its
    lineage) instead of only those it was given."""
    used = lineage.get("params")
    if not isinstance(used, dict):
        return record
    return {**record, "params": {**used, **(record.get("params") or {})}}


def row(record: dict[str, Any]) -> dict[str, Any]:
    """One run record as a flat row (MLflow's column names)."""
    data: dict[str, Any] = {
        "run_id": record["run_id"], "status": record["status"],
        "start_time": record.get("started"), "end_time": record.get("finished"),
    }
    for name, value in sorted((record.get("params") or {}).items()):
        data[f"params.{name}"] = value
    for step, info in record.get("steps", {}).items():
        for metric, value in sorted((info.get("metrics") or {}).items()):
            data[f"metrics.{step}.{metric}"] = value
    for step, info in record.get("steps", {}).items():
        if info.get("status") == "cached":
            data[f"duration.{step}"] = "cached"
        else:
            data[f"duration.{step}"] = info.get("duration_s")
    return data


def rows(records: Iterable[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns (in first-seen order: run fields, params, metrics, durations) and rows."""
    found = [row(r) for r in records]
    columns: dict[str, None] = {}
    for prefix in ("", "params.", "metrics.", "duration."):
        for data in found:
            for column in data:
                if (column.split(".")[0] + "." if "." in column else "") == prefix:
                    columns.setdefault(column)
    return list(columns), found


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "-"
    if column in ("start_time", "end_time") and isinstance(value, (int, float)):
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(value))
    if isinstance(value, float):
        return f"{value:.4g}" if not column.startswith("duration.") else f"{value:.2f}s"
    return str(value)


def table(records: list[dict[str, Any]]) -> str:
    """`mlpipe runs compare A B ...`: one row per field, one column per run."""
    columns, found = rows(records)
    lines = [[""] + [d["run_id"] for d in found]]
    for column in columns:
        if column == "run_id":
            continue
        values = [_cell(d.get(column), column) for d in found]
        mark = "*" if len(set(values)) > 1 else " "
        lines.append([f"{mark} {column}"] + values)
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in lines]
    return "\n".join(out) + "\n(* differs)\n"


def frame(records: Iterable[dict[str, Any]]) -> Any:
    """A pandas DataFrame of run records, one row per run, with MLflow's column names:
    `run_id`, `status`, `start_time`, `end_time` (UTC timestamps), `params.NAME`,
    `metrics.STEP.NAME` (`mlp.compare`, sdk/compare.py)."""
    import pandas as pd

    columns, found = rows(records)
    columns = [c for c in columns if not c.startswith("duration.")]
    data = pd.DataFrame([{c: d.get(c) for c in columns} for d in found], columns=columns)
    for column in ("start_time", "end_time"):
        data[column] = pd.to_datetime(data[column], unit="s", utc=True)
    return data


# -- diff ---------------------------------------------------------------------------


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text[:10] + ".." if isinstance(value, str) and len(value) >= 40 else text


def _changes(kind: str, a: dict[str, Any], b: dict[str, Any], show: Any = _short) -> list[str]:
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in a:
            out.append(f"{kind} {name} added ({show(b[name])})")
        elif name not in b:
            out.append(f"{kind} {name} removed (was {show(a[name])})")
        elif a[name] != b[name]:
            out.append(f"{kind} {name} {show(a[name])} -> {show(b[name])}")
    return out


def step_diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between one step's lineage in two runs, as short phrases."""
    if "code" not in a or "code" not in b:
        missing = [s for s, d in (("first", a), ("second", b)) if "code" not in d]
        return [f"no lineage in the {' and '.join(missing)} run (status"
                f" {a.get('status')} / {b.get('status')})"] if a != b else []
    out = []
    if a["code"] != b["code"]:
        out.append(f"code {_short(a['code'])} -> {_short(b['code'])}")
    if a["setup"] != b["setup"]:
        out.append(f"setup code {_short(a['setup'])} -> {_short(b['setup'])}")
    out += _changes("parameter", a.get("params", {}), b.get("params", {}))
    files_a = {f["path"]: f["sha256"] for f in a.get("files", [])}
    files_b = {f["path"]: f["sha256"] for f in b.get("files", [])}
    out += _changes("file", files_a, files_b)
    out += _changes("module", a.get("modules", {}), b.get("modules", {}))
    out += _changes("package", a.get("packages", {}), b.get("packages", {}))
    if a.get("python") != b.get("python"):
        out.append(f"python {a.get('python')} -> {b.get('python')}")
    if a.get("kernel") != b.get("kernel"):
        out.append(f"kernel {a.get('kernel')} -> {b.get('kernel')}")
    up_a = {v: u.get("artifact") for v, u in a.get("upstream", {}).items()}
    up_b = {v: u.get("artifact") for v, u in b.get("upstream", {}).items()}
    for var in sorted(set(up_a) | set(up_b)):
        if up_a.get(var) != up_b.get(var):
            source = (b.get("upstream", {}).get(var) or a["upstream"][var])["step"]
            out.append(f"input {var} from {source} changed")
    return out


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """`mlpipe runs diff A B`: one line per step that differs (and the git commit)."""
    lines = []
    git_a, git_b = a.get("git") or {}, b.get("git") or {}
    if git_a.get("commit") != git_b.get("commit") or git_a.get("dirty") != git_b.get("dirty"):
        def git(g: dict[str, Any]) -> str:
            return (g["commit"][:12] + (" (dirty)" if g.get("dirty") else "")) if g else "none"
        lines.append(f"git: {git(git_a)} -> {git(git_b)}")
    steps_a, steps_b = a.get("steps", {}), b.get("steps", {})
    same = []
    for name in list(steps_a) + [n for n in steps_b if n not in steps_a]:
        if name not in steps_b:
            lines.append(f"{name}: only in {a.get('run_id')}")
        elif name not in steps_a:
            lines.append(f"{name}: only in {b.get('run_id')}")
        else:
            changes = step_diff(steps_a[name], steps_b[name])
            if changes:
                lines.append(f"{name}: " + "; ".join(changes))
            else:
                same.append(name)
    if same:
        lines.append(f"same lineage: {', '.join(same)}")
    return lines
