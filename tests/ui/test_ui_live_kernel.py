"""Issue 19 in real JupyterLab: a notebook's cells run in a real kernel after `mlpipe run`
restore the pipeline's entry, and a setup cell edited and re-run without saving re-runs
the step with the new value (the key is what the kernel executed, not the saved file).

Runs live_kernel.e2e.mjs against the session's `jupyter lab` (tests/ui/conftest.py).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import nbfiles
import pytest

from test_ui_sidebar import RESULTS, SCENARIO_S, _shut_down_kernels, _text

pytestmark = [pytest.mark.ui, pytest.mark.integration]

SCRIPT = Path(__file__).resolve().parent / "live_kernel.e2e.mjs"


def test_ui_live_kernel_restores_then_reruns_an_unsaved_setup_edit(
        lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpipe_jupyter import service

    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    folder = lab["root"] / "live"
    folder.mkdir(exist_ok=True)
    path = nbfiles.write_notebook(folder / "live.ipynb", [
        "%load_ext mlpipe_jupyter", "SCALE = 2", "%%step scaled\nvalue = 10 * SCALE\nprint(value)"])
    assert service.run(path, {}, workers=1)["status"] == "succeeded"
    saved = path.read_bytes()
    config = {"url": lab["url"], "token": lab["token"], "notebook": "live/live.ipynb",
              "outDir": str(RESULTS / "live-kernel"), "deadlineS": SCENARIO_S}
    env = {**os.environ, "MLPIPE_UI": json.dumps(config)}
    try:
        done = subprocess.run(["node", str(SCRIPT)], cwd=SCRIPT.parent, capture_output=True,
                              text=True, timeout=SCENARIO_S + 30, env=env)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as late:
        output, code = _text(late.stdout) + _text(late.stderr), None
    print(output)
    _shut_down_kernels(lab)
    if code != 0:
        pytest.fail(f"{output[-4000:]}\n--- jupyter lab log ---\n{lab['log'].read_text()[-2500:]}")
    assert len([ln for ln in output.splitlines() if ln.startswith("PASS ")]) == 2, output
    assert path.read_bytes() == saved  # the edit was never saved
