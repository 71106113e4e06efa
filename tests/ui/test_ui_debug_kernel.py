"""Issue 24 in real JupyterLab: "Debug in kernel" on a failed node loads the failed step's
inputs into the notebook's own kernel and puts the step's code below its cell.

Runs debug_kernel.e2e.mjs against the session's `jupyter lab` (tests/ui/conftest.py)."""

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

SCRIPT = Path(__file__).resolve().parent / "debug_kernel.e2e.mjs"


def test_ui_debug_in_kernel_loads_the_failed_steps_inputs(
        lab: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from mlpipe_jupyter import service

    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    folder = lab["root"] / "dbg"
    folder.mkdir(exist_ok=True)
    path = nbfiles.write_notebook(folder / "dbg.ipynb", [
        "%load_ext mlpipe_jupyter",
        "import pandas as pd",
        "%%step load\ndf = pd.DataFrame({'x': [1, 2, 3]})",
        "%%step fit\nmean = float(df.x.mean())",
        "%%step judge\nratio = mean / df.x.sum()\nraise ValueError(f'boom {ratio:.3f}')",
    ])
    record = service.run(path, {}, workers=1)
    assert record["steps"]["judge"]["status"] == "failed", record
    config = {"url": lab["url"], "token": lab["token"], "notebook": "dbg/dbg.ipynb",
              "step": "judge", "marker": "raise ValueError(f'boom", "probe":
              "print(df.x.sum(), mean)", "expect": "6 2.0\n",
              "outDir": str(RESULTS / "debug-kernel"), "deadlineS": SCENARIO_S}
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
