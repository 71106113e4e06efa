"""Issue 20, the static half: environment reads, calendar reads, settings written and
other modules' globals set, as `mlpipe dag` and the key see them (analysis/ambient.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlpipe_jupyter.analysis import analyze_notebook
from mlpipe_jupyter.analysis.ambient import scan

SETUP = ("import os\nimport decimal\nimport warnings\nimport numpy as np\nimport pandas as pd\n"
         "import matplotlib.pyplot as plt\nfrom datetime import date, datetime as dt\n"
         "from os import getenv",)


def test_environment_and_calendar_reads_are_found() -> None:
    found = scan(("b = int(os.environ.get('BATCH_SIZE', 32))\ny = getenv('YEARS_BACK')\n"
                  "z = os.environ['Z']\nq = 'Q' in os.environ\n"
                  "cutoff = date.today().year\nnow = dt.now()\nts = pd.Timestamp('today')\n"
                  "import time\nt0 = time.time()",), SETUP)
    assert found.environ == ("BATCH_SIZE", "YEARS_BACK", "Z", "Q")
    assert found.calendar == ("date.today()", "datetime.now()", "pd.Timestamp()")
    assert found.settings == ()


@pytest.mark.parametrize("line, kind", [
    ("np.set_printoptions(precision=2)", "numpy"),
    ("pd.set_option('display.precision', 3)", "pandas"),
    ("pd.options.display.max_rows = 5", "pandas"),
    ("decimal.getcontext().prec = 4", "decimal"),
    ("os.environ['MODE'] = 'fast'", "environ"),
    ("os.environ.update(MODE='fast')", "environ"),
    ("warnings.filterwarnings('ignore')", "warnings"),
    ("plt.rcParams['lines.linewidth'] = 3", "matplotlib"),
    ("plt.style.use('ggplot')", "matplotlib"),
])
def test_each_setting_write_is_found(line: str, kind: str) -> None:
    assert scan((line,), SETUP).settings == (kind,)


def test_scoped_changes_are_no_settings_writes() -> None:
    code = ("with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n"
            "with np.printoptions(precision=1):\n    print(np.ones(2))\n"
            "def later():\n    np.set_printoptions(precision=9)")
    assert scan((code,), SETUP).settings == ()


def test_dag_edges_and_warnings(write_notebook, tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "helpers.py").write_text(
        "THRESHOLD = 1\n\ndef set_threshold(t):\n    global THRESHOLD\n    THRESHOLD = t\n")
    monkeypatch.chdir(tmp_path)
    path = write_notebook([
        "import os\nimport numpy as np\nfrom datetime import date\nimport helpers",
        "%%step conf\nnp.set_printoptions(precision=2)\nos.environ['MODE'] = 'fast'",
        "%%step cal\nyear = date.today().year",
        "%%step show\nprint(np.array([1 / 3]), os.environ['MODE'])",
        "%%step knobs\nhelpers.THRESHOLD = 5\nhelpers.set_threshold(3)",
    ])
    pipeline = analyze_notebook(path)
    assert not pipeline.errors
    show = pipeline.step("show")
    assert dict(show.inputs) == {"setting:environ": "conf", "setting:numpy": "conf"}
    assert set(pipeline.step("conf").outputs) == {"setting:environ", "setting:numpy"}
    warnings = "\n".join(pipeline.warnings)
    assert "step 'cal' (cell 3): reads the calendar (date.today())" in warnings
    assert "sets helpers.THRESHOLD, a global of module 'helpers'" in warnings
    assert "calls helpers.set_threshold(), which changes module 'helpers''s global" \
        " THRESHOLD" in warnings
    assert "assigns into setup name 'os'" not in warnings  # the settings flow carries it


def test_cache_option() -> None:
    from mlpipe_jupyter.analysis.options import StepLineError, parse_step_line

    assert parse_step_line("a --cache always")[1].cache == "always"
    assert parse_step_line("a --cache never")[1].cache is False
    with pytest.raises(StepLineError, match="--cache takes always or never"):
        parse_step_line("a --cache sometimes")


def test_key_holds_environment_date_and_record(write_notebook, monkeypatch) -> None:
    from mlpipe_jupyter.cache.keys import key_ingredients, key_reasons

    path = write_notebook([
        "import os\nimport numpy\nfrom datetime import date",
        "%%step a\nb = int(os.environ.get('BATCH_SIZE', 32)) + date.today().year",
        "%%step b --cache always\nc = date.today().year",
    ])
    pipeline = analyze_notebook(path)
    import sys

    settings = sys.modules.get("mlpipe_jupyter.compile.settings")
    if settings is not None:  # an earlier test ran a step's runtime in this process: its
        monkeypatch.setattr(settings, "_BASELINE", {})  # kernel baseline is not ours
    monkeypatch.delenv("BATCH_SIZE", raising=False)
    monkeypatch.setenv("MLPIPE_TODAY", "2026-12-07")
    old = key_ingredients(pipeline.step("a"), pipeline, {}, {}, base=path.parent)
    assert old.environ == {"BATCH_SIZE": None} and old.date == "2026-12-07"
    assert "numpy" in old.records and len(old.records["numpy"]) == 64
    assert key_ingredients(pipeline.step("b"), pipeline, {}, {}, base=path.parent).date == ""
    monkeypatch.setenv("BATCH_SIZE", "128")
    monkeypatch.setenv("MLPIPE_TODAY", "2026-12-08")
    new = key_ingredients(pipeline.step("a"), pipeline, {}, {}, base=path.parent)
    assert key_reasons(old, new) == ["environment BATCH_SIZE (unset) -> 128",
                                     "date 2026-12-07 -> 2026-12-08"]
    assert os.environ["MLPIPE_TODAY"] == "2026-12-08"
