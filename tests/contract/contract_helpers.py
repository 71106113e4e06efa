"""Helpers of the contract tests: notebooks as .ipynb dicts, the `mlpipe` command."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpipe_jupyter.cli import main as cli_main

MLPIPE = Path(sys.executable).with_name("mlpipe")


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    def json(self) -> dict[str, Any]:
        return json.loads(self.out)


def cell(source: str | list[str], *, tags: tuple[str, ...] = (), kind: str = "code",
         **extra: Any) -> dict[str, Any]:
    """An .ipynb cell dict (nbformat 4.5 fields unless `extra` overrides them)."""
    raw: dict[str, Any] = {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source}
    if kind == "code":
        raw.update(execution_count=None, outputs=[])
    raw.update(extra)
    return raw


def notebook(cells: list[Any], minor: int = 5) -> dict[str, Any]:
    """A notebook of `cells`: a str is a code cell, a dict is used as it is."""
    raws = [cell(c) if isinstance(c, str) else c for c in cells]
    if minor >= 5:
        for number, raw in enumerate(raws):
            raw.setdefault("id", f"c{number}")
    return {"cells": raws, "metadata": {}, "nbformat": 4, "nbformat_minor": minor}


def mlpipe(*args: str | Path) -> Result:
    """The installed `mlpipe` command in a subprocess."""
    done = subprocess.run([str(MLPIPE), *map(str, args)], capture_output=True, text=True,
                          timeout=120)
    return Result(done.returncode, done.stdout, done.stderr)


def mlpipe_inline(*args: str | Path) -> Result:
    """`mlpipe ARGS` through `cli.main` in this process."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main([str(a) for a in args])
        except SystemExit as exc:  # argparse errors
            code = int(exc.code or 0)
    return Result(code, out.getvalue(), err.getvalue())
