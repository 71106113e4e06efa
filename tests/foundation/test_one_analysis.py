"""A run's notebook is analysed once: a server records the run (queued), starts it when a
slot frees (`service.record`, then `service.start`, as `MlpipeService.backend_*` do), and
the run's child process takes the analysis handed to it instead of analysing again.

Analyses are counted in this process by wrapping the analysis entry points, and in the
child (and its kernels) by a `sitecustomize` on PYTHONPATH that wraps the same two."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from nbfiles import write_notebook

import mlpipe_jupyter.analysis as analysis
from mlpipe_jupyter import service
from mlpipe_jupyter.request import RunRequest

pytestmark = pytest.mark.integration

COUNTER = '''
import os
def _wrap():
    import mlpipe_jupyter.analysis as a
    log = os.environ["MLPIPE_TEST_ANALYSES"]
    for name in ("analyze", "analyze_notebook"):
        real = getattr(a, name)
        def counted(*args, _real=real, **kwargs):
            with open(log, "a") as fh:
                fh.write(f"{os.getpid()}\\n")
            return _real(*args, **kwargs)
        setattr(a, name, counted)
_wrap()
'''


def test_a_server_run_analyses_its_notebook_once(tmp_path, monkeypatch) -> None:
    notebook = write_notebook(tmp_path / "nb.ipynb", [
        "%%step load\nvalues = [1, 2, 3]",
        "%%step total\nprint(sum(values))",
    ])
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(COUNTER)
    child_log = tmp_path / "child-analyses.log"
    monkeypatch.setenv("MLPIPE_TEST_ANALYSES", str(child_log))
    monkeypatch.setenv("PYTHONPATH", f"{site}:{Path(analysis.__file__).parents[2]}")
    here: list[str] = []
    for name in ("analyze", "analyze_notebook"):
        real = getattr(analysis, name)
        monkeypatch.setattr(analysis, name,
                            lambda *a, _real=real, **k: here.append("x") or _real(*a, **k))

    request = service.record(RunRequest.build(notebook, {}, store=tmp_path / "st", workers=1))
    run_id = service.start(request)
    assert len(here) == 1, "the server analysed the notebook more than once"
    records = service._open_records(tmp_path / "st")
    deadline = time.time() + 240
    while records.get_run(run_id)["status"] in ("queued", "running"):
        assert time.time() < deadline, "the run did not finish"
        time.sleep(0.5)
    record = records.get_run(run_id)
    assert record["status"] == "succeeded", json.dumps(record)[:2000]
    assert not child_log.exists() or child_log.read_text() == "", (
        "the run's child process analysed the notebook again")
