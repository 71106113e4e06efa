"""`mlpipe publish | pipelines | schedule | export` through the CLI entry point, in process."""

from __future__ import annotations

import json

import pytest
from sched_helpers import TWO_STEPS, write_notebook

from mlpipe_jupyter.cli import main


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    write_notebook(tmp_path / "nb.ipynb", TWO_STEPS)
    return tmp_path


def test_bad_cron_exits_2_with_one_line(workdir, capsys):
    assert main(["schedule", "add", "nightly", "--cron", "61 * * * *"]) == 2
    err = capsys.readouterr().err
    assert err == "mlpipe: --cron '61 * * * *': minute must be 0-59, got 61\n"


def test_publish_list_and_schedule_flow(workdir, capsys):
    assert main(["publish", "nb.ipynb", "--name", "nightly"]) == 0
    assert "published nightly v1 (2 steps)" in capsys.readouterr().out
    assert main(["publish", "nb.ipynb", "--name", "nightly"]) == 0
    assert "unchanged since nightly v1" in capsys.readouterr().out
    assert main(["pipelines", "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["name"], row["version"]) == ("nightly", 1)

    assert main(["schedule", "add", "nightly", "--cron", "0 6 * * *", "-p", "scale", "3"]) == 0
    out = capsys.readouterr().out
    assert "every day at 06:00" in out and out.count("T06:00") == 3
    assert main(["schedule", "pause", "nightly"]) == 0
    assert main(["schedule", "list", "--json"]) == 0
    [schedule] = json.loads(capsys.readouterr().out.split("\n", 1)[1])
    assert schedule["paused"] and schedule["params"] == {"scale": 3}
    assert main(["schedule", "resume", "nightly"]) == 0
    assert main(["schedule", "remove", "nightly"]) == 0
    capsys.readouterr()
    assert main(["schedule", "remove", "nightly"]) == 2
    assert "schedule 'nightly' does not exist" in capsys.readouterr().err


def test_publish_a_broken_notebook_exits_2(workdir, capsys):
    write_notebook(workdir / "bad.ipynb", ["%%step a\ny = x"])
    assert main(["publish", "bad.ipynb"]) == 2
    assert "not a valid pipeline: step 'a' (cell 1)" in capsys.readouterr().err


def test_scheduler_once_with_nothing_due_exits_0(workdir, capsys):
    assert main(["scheduler", "--once"]) == 0
    assert capsys.readouterr().out == ""


def test_schedule_add_checks_the_published_pipeline_and_its_params(workdir, capsys):
    assert main(["schedule", "add", "nightly", "--cron", "@daily"]) == 2
    assert "pipeline 'nightly' is not published" in capsys.readouterr().err
    assert main(["publish", "nb.ipynb", "--name", "nightly"]) == 0
    assert main(["schedule", "add", "nightly", "--cron", "@daily", "-p", "scael", "3"]) == 2
    err = capsys.readouterr().err
    assert err == ("mlpipe: unknown parameter 'scael' for pipeline 'nightly';"
                   " its parameters are: scale\n")
    assert main(["schedule", "list", "--json"]) == 0
    assert "[]" in capsys.readouterr().out
