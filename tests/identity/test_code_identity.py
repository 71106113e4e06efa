"""Issue 20, code identity at run time: what a step really loaded is in its entry.

Real `mlpipe run`s (the CLI, its own cluster and kernels) compared with a top-to-bottom
papermill run of the same folder (tests/never_stale/stale_helpers.py). One notebook
holds the three cases the static import walk cannot see: a module on a `sys.path`
entry the step adds, a plugin loaded with `importlib.import_module`, and a fitted
object of a local class that flows to a step that never imports its module.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "never_stale"))
from stale_helpers import Folder, printed, statuses  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(autouse=True)
def _no_configured_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)


def _files(nb: Path, k: int, value: int, factor: int) -> None:
    (nb / "plugins").mkdir(exist_ok=True)
    (nb / "plugins" / "__init__.py").write_text("")
    (nb / "plugins" / "fast.py").write_text(f"K = {k}\n")
    (nb / "libs").mkdir(exist_ok=True)
    (nb / "libs" / "fast_mod.py").write_text(f"def value():\n    return {value}\n")
    (nb / "models.py").write_text(
        "class MyModel:\n    def __init__(self, w):\n        self.w = w\n\n"
        f"    def predict(self, x):\n        return self.w * x * {factor}\n")


def test_modules_loaded_at_run_time_key_the_entry(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    _files(nb, k=1, value=10, factor=1)
    folder = Folder(nb, [
        "import sys\nimport importlib",
        "%%step plug\nplugin = importlib.import_module('plugins.' + 'fast')\nk = plugin.K",
        "%%step lib\nsys.path.insert(0, 'libs')\nimport fast_mod\nv = fast_mod.value()",
        "%%step fit\nimport models\nm = models.MyModel(2)",
        "%%step show\nprint(k, v)",
        "%%step use\nprint(m.predict(3))",
    ])
    folder.write()
    first = folder.run()
    assert set(statuses(first).values()) == {"succeeded"}
    assert printed(first) == folder.papermill(tmp_path)
    assert folder.run()["steps"]["use"]["status"] == "cached"

    _files(nb, k=2, value=20, factor=5)  # each file changes; the fitted m pickles the same
    after = folder.run()
    reasons = {name: step["reason"] for name, step in after["steps"].items()}
    assert reasons["plug"] == "module plugins.fast changed"
    assert reasons["lib"] == "module fast_mod changed"
    assert reasons["fit"] == "module models changed"  # imported by the step: in its key
    assert reasons["use"] == "module models changed"  # only unpickled: in its entry
    assert statuses(after)["use"] == "succeeded"
    assert printed(after) == folder.papermill(tmp_path)
    assert printed(after)["use"] == "30\n"


def test_live_kernel_restores_settings_and_sees_a_fixed_model(tmp_path: Path) -> None:
    """papermill runs the notebook with the extension (a live kernel, its `.mlpipe`): the
    second run restores every cell, settings included; after `predict` is fixed in
    models.py, neither the fit nor the step using the fitted model is restored."""
    import papermill

    import nbfiles

    (tmp_path / ".mlpipe").mkdir()
    _files(tmp_path, k=1, value=10, factor=1)
    nbfiles.write_notebook(tmp_path / "nb.ipynb", [
        "%load_ext mlpipe_jupyter", "import os\nimport numpy as np",
        "%%step conf\nnp.set_printoptions(precision=2)\nos.environ['MODE'] = 'fast'",
        "%%step fit\nimport models\nm = models.MyModel(2)",
        "%%step use\nprint(np.array([1 / 3]), os.environ['MODE'], m.predict(3))",
    ])

    def run() -> list[str]:
        out = papermill.execute_notebook(
            str(tmp_path / "nb.ipynb"), str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
            progress_bar=False, kernel_name="python3")
        return ["".join(o.get("text", "")) for c in out["cells"][2:] for o in c["outputs"]
                if o.get("output_type") == "stream"]

    assert run() == ["[0.33] fast 6\n"]
    again = run()
    assert all("restored from cache" in line for line in again[:-1]), again
    assert again[-1].endswith("[0.33] fast 6\n")
    _files(tmp_path, k=1, value=10, factor=5)
    fixed = "".join(run())
    assert "step 'fit' not restored: module models changed" in fixed
    assert "step 'use' not restored: module models changed" in fixed
    assert fixed.endswith("[0.33] fast 30\n")
