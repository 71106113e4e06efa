"""`mlpipe run --dry` with a selection, from outside (a subprocess; no cluster, no kernel)."""

from __future__ import annotations

import json
import subprocess
import sys

from nbfiles import write_notebook

CELLS = [
    "%%step load\nraw = 1",
    "%%step prep\ndf = raw + 1",
    "%%step train\nmodel = df * 2",
    "%%step evaluate\nscore = model + df",
]


def mlpipe(*args: str, cwd) -> subprocess.CompletedProcess[str]:  # noqa: ANN001
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_dry_prints_the_plan_and_runs_nothing(tmp_path) -> None:
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    done = mlpipe("run", "nb.ipynb", "--dry", "--until", "prep", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("plan: 2 to run, 0 cached, 2 skipped (planned in ")
    assert lines[1:] == [
        "  load      run      no cache entry",
        "  prep      run      waits for upstream load",
        "  train     skipped  not selected",
        "  evaluate  skipped  not selected",
    ]
    assert not (tmp_path / ".mlpipe" / "mlpipe.db").exists()  # nothing ran, no run recorded
    done = mlpipe("run", "nb.ipynb", "--dry", "--json", "-s", "train+", "--exclude", "evaluate",
                  cwd=tmp_path)  # fmt: skip
    assert done.returncode == 2  # train reads df from prep, neither selected nor cached
    assert done.stderr.strip() == (
        "mlpipe: step 'train' reads df from step 'prep', which is not selected and not in the"
        " cache: run load, prep first (--until prep), or select '+train'")


def test_bad_selection_is_one_line_and_exit_2(tmp_path) -> None:
    write_notebook(tmp_path / "nb.ipynb", CELLS)
    done = mlpipe("run", "nb.ipynb", "--only", "evalute", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "mlpipe: unknown step 'evalute' in --only; the closest is 'evaluate'"
        " (steps: load, prep, train, evaluate)"]
    rows = json.loads(mlpipe("run", "nb.ipynb", "--dry", "--json", cwd=tmp_path).stdout)["steps"]
    assert [(r["step"], r["action"]) for r in rows] == [
        ("load", "run"), ("prep", "run"), ("train", "run"), ("evaluate", "run")]
