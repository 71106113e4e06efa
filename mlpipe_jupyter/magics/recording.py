"""Record what a cell shows while it still shows it, and show it again later.

Outputs are kept as nbformat-4 output dicts (`stream`, `display_data`,
`execute_result`), the same shape papermill writes, so a cache entry made in
the kernel and one made by a pipeline run are displayed the same way.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class _Tee:
    """A text stream that records what is written and passes it on."""

    def __init__(self, name: str, target: Any, outputs: list[dict[str, Any]]) -> None:
        self._name = name
        self._target = target
        self._outputs = outputs

    def write(self, text: str) -> int:
        if text:
            last = self._outputs[-1] if self._outputs else None
            if last and last["output_type"] == "stream" and last["name"] == self._name:
                last["text"] += text
            else:
                self._outputs.append({"output_type": "stream", "name": self._name, "text": text})
        return self._target.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


@contextmanager
def recording(shell: Any) -> Iterator[list[dict[str, Any]]]:
    """Within the block, everything printed or displayed is also appended to the list."""
    outputs: list[dict[str, Any]] = []
    publisher = shell.display_pub
    original = publisher.publish

    def publish(data: dict[str, Any], metadata: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        if not kwargs.get("update"):
            outputs.append(
                {"output_type": "display_data", "data": dict(data),
                 "metadata": dict(metadata or {})}
            )
        return original(data, metadata, **kwargs)

    streams = sys.stdout, sys.stderr
    shadowed = vars(publisher).get("publish")
    publisher.publish = publish
    sys.stdout = _Tee("stdout", streams[0], outputs)
    sys.stderr = _Tee("stderr", streams[1], outputs)
    try:
        yield outputs
    finally:
        sys.stdout, sys.stderr = streams
        if shadowed is None:
            del publisher.publish  # back to the class's method
        else:
            publisher.publish = shadowed


def result_output(shell: Any, value: Any) -> dict[str, Any] | None:
    """The `execute_result` a value shown as `Out[n]` makes, or None for None."""
    if value is None:
        return None
    data, metadata = shell.display_formatter.format(value)
    return {"output_type": "execute_result", "data": data, "metadata": metadata,
            "execution_count": None}


def replay(outputs: list[dict[str, Any]], *, trusted: bool) -> None:
    """Show recorded outputs again: streams printed, rich outputs displayed.

    Outputs that are not `trusted` (their cache entry is not signed with our key)
    are shown as an untrusted notebook's would be (`sanitize.py`).
    """
    from IPython.display import display

    from .sanitize import sanitize_outputs

    for output in outputs if trusted else sanitize_outputs(outputs):
        kind = output.get("output_type")
        if kind == "stream":
            stream = sys.stderr if output.get("name") == "stderr" else sys.stdout
            stream.write(_text(output.get("text", "")))
        elif kind in ("display_data", "execute_result"):
            data = {mime: _text(v) if isinstance(v, list) else v
                    for mime, v in output.get("data", {}).items()}
            display(data, metadata=output.get("metadata") or {}, raw=True)


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
