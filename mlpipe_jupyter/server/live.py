"""What the sidebar shows while a run goes: a step's output so far, the dashboard's proxy path.

A step's executed notebook is written by papermill as each cell starts and ends (and every
30 s during a long cell), so reading it as JSON shows the step's output up to now without
touching the kernel or the worker.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import NotFound

LOG_CHARS = 20_000  # the tail of the output a log answer carries
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "::1", ""}


def step_log(run_id: str, step: str, record: dict[str, Any]) -> dict[str, Any]:
    """`{run_id, step, status, cells_done, cells_total, text}` from the step's notebook so far."""
    steps = record.get("steps", {})
    if step not in steps:
        raise NotFound(f"run {run_id} has no step '{step}'; its steps: {', '.join(steps)}")
    info = steps[step]
    answer: dict[str, Any] = {"run_id": run_id, "step": step, "status": info.get("status"),
                              "cells_done": 0, "cells_total": 0, "text": ""}  # fmt: skip
    path = info.get("notebook")
    if not path or "://" in str(path) or not Path(path).is_file():
        return answer
    try:
        notebook = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):  # caught between papermill's writes: the next poll reads it
        return answer
    code = [c for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    done = [c for c in code if c.get("metadata", {}).get("papermill", {}).get("status") == "completed"]
    answer.update(cells_done=len(done), cells_total=len(code), text=_output_text(code)[-LOG_CHARS:])
    return answer


def _output_text(cells: list[dict[str, Any]]) -> str:
    parts: list[str] = []
    for cell in cells:
        for output in cell.get("outputs", []):
            kind = output.get("output_type")
            if kind == "stream":
                text = output.get("text", "")
                parts.append("".join(text) if isinstance(text, list) else str(text))
            elif kind == "error":
                parts.append(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}\n")
            elif kind in ("execute_result", "display_data"):
                plain = output.get("data", {}).get("text/plain")
                if plain:
                    parts.append(("".join(plain) if isinstance(plain, list) else str(plain)) + "\n")
    return "".join(parts)


def proxy_path(link: str | None) -> str | None:
    """The dashboard through the Jupyter server (`proxy/PORT/status`, jupyter-server-proxy),
    when that is installed and the dashboard listens on this machine; else None."""
    if not link:
        return None
    try:
        import jupyter_server_proxy  # noqa: F401
    except ImportError:
        return None
    parts = urlsplit(link)
    if parts.hostname not in _LOCAL_HOSTS or not parts.port:
        return None
    return f"proxy/{parts.port}{parts.path or '/status'}"
