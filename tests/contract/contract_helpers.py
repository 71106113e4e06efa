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

from nbfiles import code_cell, notebook_json as notebook  # noqa: F401 - one writer

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
    if kind == "code":
        return code_cell(source, tags, **extra)
    return {"cell_type": kind, "metadata": {"tags": list(tags)}, "source": source, **extra}


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
