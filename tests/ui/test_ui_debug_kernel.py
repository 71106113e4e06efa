"""Issue 24 in real JupyterLab: "Debug in kernel" on a failed node loads the failed step's
inputs into the notebook's own kernel and puts the step's code below its cell.

Runs debug_kernel.e2e.mjs against the session's `jupyter lab` (tests/ui/conftest.py)."""

from __future__ import annotations

from typing import Any

import nbfiles
import pytest
from scenario import run_scenario

pytestmark = [pytest.mark.ui, pytest.mark.integration]


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
    passed = run_scenario(lab, "debug_kernel.e2e.mjs", "debug-kernel", notebook="dbg/dbg.ipynb",
                          step="judge", marker="raise ValueError(f'boom",
                          probe="print(df.x.sum(), mean)", expect="6 2.0\n")
    assert len(passed) == 2, passed
