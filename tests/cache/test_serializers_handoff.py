"""From outside (issue 21): a pipeline run hands values to the next step as they left, in
a kernel that offers what they need, and `mlpipe runs show` says which format each output
took and why. One run of real kernels, compared with a papermill top-to-bottom run."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

SETUP = ("import numpy as np\nimport pandas as pd\nimport matplotlib as mpl\n"
         "import statsmodels.formula.api as smf")
CELLS = [
    "%load_ext mlpipe_jupyter",
    SETUP,
    "%%step make\n"
    "ts = pd.Series([1.0, 2.5, 4.0], index=pd.period_range('1959Q1', periods=3, freq='Q'),"
    " name='gdp')\n"
    "frame = pd.DataFrame({'x': np.arange(6.0), 'y': np.arange(6.0) * 2 + 1})\n"
    "grid = np.zeros((2, 3))\n"
    "import matplotlib.pyplot\n"
    "def double_it(v):\n    return 2 * v\n"
    "model = smf.ols('y ~ double_it(x)', frame).fit()",
    "%%step use\n"
    "print(ts)\n"
    "grid[0, 0] = 7.0\n"
    "print(grid.tolist())\n"
    "print(model.predict(frame.head(2)).round(3).tolist())\n"
    "print(type(mpl.pyplot.figure).__name__)\n"
    "print(mpl.get_backend(), mpl.rcParams['figure.figsize'], mpl.rcParams['figure.dpi'])\n"
    "print(pd.get_option('display.max_columns'), pd.get_option('display.width'),"
    " np.get_printoptions()['linewidth'])\n"
    "print(pd.DataFrame(np.ones((2, 30)) * 1.5))",
]


def top_to_bottom(path: Path) -> list[str]:
    import papermill

    out = path.with_name("executed.ipynb")
    papermill.execute_notebook(str(path), str(out), kernel_name="python3", progress_bar=False,
                               cwd=str(path.parent))
    cell = json.loads(out.read_text())["cells"][3]
    return ["".join(o.get("text", "")) for o in cell["outputs"] if o.get("name") == "stdout"]


def test_values_arrive_as_they_left_and_runs_show_says_how(write_notebook, tmp_path) -> None:
    from mlpipe_jupyter import service

    path = write_notebook(CELLS)
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / path.name).write_text(path.read_text())
    expected = top_to_bottom(plain / path.name)
    store = tmp_path / "store"
    record = service.run(path, {}, store=store, workers=1)
    assert record["status"] == "succeeded", record
    nb = json.loads(Path(record["steps"]["use"]["notebook"]).read_text())
    cell = next(c for c in nb["cells"] if c["metadata"].get("mlpipe", {}).get("role") == "step")
    got = ["".join(o.get("text", "")) for o in cell["outputs"] if o.get("name") == "stdout"]
    assert got == expected and "1959Q1" in got[0] and "\\" in "".join(got), got
    shown = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "runs", "show", record["run_id"],
         "--store", str(store)], capture_output=True, text=True, check=True).stdout
    line = next(li for li in shown.splitlines() if li.strip().startswith("make:"))
    assert "ts: cloudpickle (PeriodIndex)" in line and "frame: parquet" in line, shown
    assert re.search(r"grid: npy(,|$)", line), shown
