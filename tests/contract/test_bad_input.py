"""Bad input at the command line (issue 10 item 6): one line on stderr, exit 2, no traceback.

Each case is what a clumsy user or an attacker typed, run as the installed `mlpipe`
in a subprocess in a folder holding the files the cases name. Arguments that a
process's argv cannot carry (a NUL byte) go through `cli.main` in this process.
"""

from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from contract_helpers import MLPIPE, mlpipe_inline
from nbfiles import code_cell, write_notebook

LONG = "a" * 5000
DEEP = "[" * 100_000 + "]" * 100_000


@dataclass(frozen=True)
class Case:
    name: str
    args: tuple[str, ...]
    says: str  # a fragment of the one line on stderr


CASES = [
    Case("tags not a list (dag)", ("dag", "tags5.ipynb"), "cell 1 tags must be a list of strings"),
    Case("tags not a list (run)", ("run", "tags5.ipynb"), "cell 1 tags must be a list of strings"),
    Case("cron that never fires", ("schedule", "add", "s", "--cron", "0 0 31 2 *"),
         "day of month 31 never occurs in February, so it would never fire"),
    Case("cron with an Arabic-Indic digit", ("schedule", "add", "s", "--cron", "٣ * * * *"),
         "minute value '٣' must be a number"),
    Case("cron step beyond the field", (
        "schedule", "add", "s", "--cron", "*/1000000000000000000000 * * * *"),
         "minute step must be 1-59"),
    Case("cron step beyond the hours", ("schedule", "add", "s", "--cron", "0 */24 * * *"),
         "hour step must be 1-23, got 24"),
    Case("scheduler of no known scheme", ("run", "ok.ipynb", "--scheduler", "garbage://"),
         "unknown address scheme 'garbage'"),
    Case("store under /proc", ("run", "ok.ipynb", "--store", "/proc/x"),
         "cannot use the store '/proc/x'"),
    Case("notebook path of 5,000 characters", ("dag", LONG + ".ipynb"), "File name too long"),
    Case("store path of 5,000 characters", ("run", "ok.ipynb", "--store", LONG),
         "cannot use the store"),
    Case("NUL byte in a requested notebook path", ("run", "--request", "nul.json"),
         "contains a NUL byte"),
    Case("version 10**30", ("schedule", "add", "s", "--cron", "@daily", "--version", str(10**30)),
         "argument --version: a version is a whole number from 1"),
    Case("notebook nested 100k deep", ("dag", "deep.ipynb"), "nested too deeply to be a notebook"),
    Case("request file nested 100k deep", ("run", "--request", "deep.json"),
         "not a run request"),
    Case("parameters file nested 100k deep", ("run", "ok.ipynb", "-f", "deep.yaml"),
         "-f: nested too deeply to be parameters"),
    Case("dag of a FIFO", ("dag", "fifo.ipynb"), "is not a regular file (a pipe or device)"),
    Case("dag of /dev/zero", ("dag", "/dev/zero"), "is not a regular file (a pipe or device)"),
    Case("run of a FIFO", ("run", "fifo.ipynb"), "is not a regular file (a pipe or device)"),
    Case("run of /dev/zero", ("run", "/dev/zero"), "is not a regular file (a pipe or device)"),
    Case("--cpu nan", ("dag", "cpu_nan.ipynb"), "--cpu 'nan' is not a finite number"),
    Case("--retries 10**20", ("run", "retries.ipynb"), "--retries must be at most 100"),
    Case("run id ../x in a request file", ("run", "--request", "run_id.json"),
         "'../x' is not a run id"),
    Case("run id ../x to runs show", ("runs", "show", "../x"), "'../x' is not a run id"),
    Case("a % in a value is shown once", ("schedule", "add", "s", "--cron", "5% * * * *"),
         "minute value '5%' must be a number"),
    Case("a % in a path is shown once", ("dag", "100%.ipynb"), "notebook '100%.ipynb' does not"),
    Case("scheduler interval nan", ("scheduler", "--interval", "nan", "--once"),
         "argument --interval: seconds must be more than 0"),
    Case("an argparse error is one line too", ("run", "ok.ipynb", "--workers", "5%"),
         "argument --workers: invalid int value: '5%'"),
]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with a good notebook and each bad file a case names."""
    here = tmp_path_factory.mktemp("bad_input")
    write_notebook(here / "ok.ipynb", ["%%step a\nx = 1"])
    bad_tags = code_cell("%%step a\nx = 1")
    bad_tags["metadata"]["tags"] = 5
    write_notebook(here / "tags5.ipynb", [bad_tags])
    write_notebook(here / "cpu_nan.ipynb", ["%%step a --cpu nan\nx = 1"])
    write_notebook(here / "retries.ipynb", ["%%step a --retries 99999999999999999999\nx = 1"])
    for name in ("deep.ipynb", "deep.json", "deep.yaml"):
        (here / name).write_text(DEEP)
    os.mkfifo(here / "fifo.ipynb")
    store = str(here / ".mlpipe")
    (here / "nul.json").write_text(json.dumps(
        {"notebook": str(here / "a\0b.ipynb"), "store": store}))
    (here / "run_id.json").write_text(json.dumps(
        {"notebook": str(here / "ok.ipynb"), "store": store, "run_id": "../x"}))
    return here


def mlpipe_in(folder: Path, *args: str) -> tuple[int, str, str]:
    done = subprocess.run([str(MLPIPE), *args], cwd=folder, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "MLPIPE_STORE": ""})
    return done.returncode, done.stdout, done.stderr


def assert_one_line(code: int, out: str, err: str, says: str) -> None:
    assert "Traceback" not in err, err[-2000:]
    assert code == 2, (code, err[-500:])
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlpipe"), err[-1000:]
    assert says in lines[0], lines[0][:500]
    assert "%%" not in lines[0].replace("%%step", ""), lines[0]  # magic syntax keeps its %%
    assert "mlpipe" not in out  # `dag` may print what it could analyse, never the error


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_and_exit_2(folder: Path, case: Case) -> None:
    assert_one_line(*mlpipe_in(folder, *case.args), case.says)
    assert not (folder / "x").exists() and not (folder / ".mlpipe" / "x").exists()


@pytest.mark.parametrize("args", [
    ("dag", "a\0b.ipynb"), ("run", "a\0b.ipynb"), ("run", "ok.ipynb", "--store", "s\0x"),
    ("runs", "show", "a\0b"),
], ids=["dag", "run", "store", "run id"])
def test_a_nul_byte_in_an_argument_is_one_line_and_exit_2(
        folder: Path, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]) -> None:
    monkeypatch.chdir(folder)
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    result = mlpipe_inline(*args)
    assert_one_line(result.code, result.out, result.err, "\\x00")
