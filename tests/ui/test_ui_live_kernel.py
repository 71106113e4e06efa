"""Issue 19 in real JupyterLab: a notebook's cells run in a real kernel after `mlpipe run`
restore the pipeline's entry, and a setup cell edited and re-run without saving re-runs
the step with the new value (the key is what the kernel executed, not the saved file).

Runs live_kernel.e2e.mjs against the session's `jupyter lab` (tests/ui/conftest.py).
"""

from __future__ import annotations

from typing import Any

import nbfiles
import pytest
from scenario import run_scenario

pytestmark = [pytest.mark.ui, pytest.mark.integration]


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
    passed = run_scenario(lab, "live_kernel.e2e.mjs", "live-kernel", notebook="live/live.ipynb")
    assert len(passed) == 2, passed
    assert path.read_bytes() == saved  # the edit was never saved
