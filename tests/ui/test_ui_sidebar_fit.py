"""Issue 22 in real JupyterLab: the DAG fits the sidebar, failures are said in view.

Runs sidebar_fit.e2e.mjs scenarios against the module's own `jupyter lab` (the fixture of
test_ui_sidebar.py). Screenshots land in tests/ui/test-results/<scenario>/.
"""

from __future__ import annotations

import json
import shutil
import sys
from typing import Any

import pytest

from scenario import run_scenario
from test_ui_sidebar import REPO, RESULTS, _mlpipe_dag

pytestmark = [pytest.mark.ui, pytest.mark.integration]


def _run(lab: dict[str, Any], name: str, notebook: str, **extra: Any) -> list[str]:
    return run_scenario(lab, "sidebar_fit.e2e.mjs", f"fit-{name}", name, notebook=notebook,
                        **extra)


def _variant(lab: dict[str, Any], folder: str, source: str, edit: Any) -> str:
    """A copy of notebooks/<source> in <root>/<folder>/, its cells changed by `edit(cells)`."""
    target = lab["root"] / folder
    target.mkdir(exist_ok=True)
    notebook = json.loads((REPO / "notebooks" / source).read_text())
    edit(notebook["cells"])
    (target / source).write_text(json.dumps(notebook, indent=1))
    return f"{folder}/{source}"


def _cell(cells: list[dict[str, Any]], first_line: str) -> dict[str, Any]:
    return next(c for c in cells if "".join(c["source"]).startswith(first_line))


def test_ui_sidebar_dag_fits_the_default_sidebar_and_lists_when_narrow(lab: dict[str, Any]) -> None:
    dag = _mlpipe_dag(lab["root"] / "breast_cancer.ipynb")
    passed = _run(lab, "fit", "breast_cancer.ipynb", dag=dag, width=1400, height=900, sidebarWidth=0)
    assert len(passed) == 1, passed
    fanout = _mlpipe_dag(lab["root"] / "fanout.ipynb")
    branches = [s["name"] for s in fanout["steps"] if s["name"].startswith("branch_")]
    passed = _run(lab, "list", "fanout.ipynb", dag=fanout, branches=branches, width=1400,
                  height=900, sidebarWidth=0)  # fmt: skip
    assert len(passed) == 2, passed
    for name in ("sidebar-light", "sidebar-dark"):
        shutil.copy(RESULTS / "fit-fit" / f"{name}.png", RESULTS / f"{name}.png")


def test_ui_sidebar_failed_step_said_in_view_after_reload_and_cli_runs_show(lab: dict[str, Any]) -> None:
    def break_std(cells: list[dict[str, Any]]) -> None:
        cell = _cell(cells, "%%step branch_std")
        cell["source"] = "".join(cell["source"]) + '\nraise ValueError("boom")\n'

    notebook = _variant(lab, "broken", "fanout.ipynb", break_std)
    dag = _mlpipe_dag(lab["root"] / notebook)
    broken = {"step": "branch_std", "error": "ValueError: boom"}
    path = lab["root"] / notebook
    passed = _run(lab, "failed", notebook, dag=dag, broken=broken, width=1400, height=900,
                  sidebarWidth=860, python=sys.executable, notebookPath=str(path),
                  notebookDir=str(path.parent))  # fmt: skip
    assert len(passed) == 4, passed


def test_ui_sidebar_placement_error_in_the_status_line(lab: dict[str, Any]) -> None:
    def two_gpus(cells: list[dict[str, Any]]) -> None:
        cell = _cell(cells, "%%step train")
        source = "".join(cell["source"])
        cell["source"] = source.replace("--gpu 1", "--gpu 2", 1)

    notebook = _variant(lab, "twogpus", "breast_cancer.ipynb", two_gpus)
    dag = _mlpipe_dag(lab["root"] / notebook)
    passed = _run(lab, "placement", notebook, dag=dag, step="train", width=1400, height=900,
                  sidebarWidth=0)  # fmt: skip
    assert len(passed) == 2, passed
