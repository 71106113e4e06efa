"""Issue 20: environment variables, the calendar, same-version reinstalls, and the
process-wide settings a step makes, seen by the cache as a top-to-bottom run sees them.

Real `mlpipe run`s (the CLI, its own cluster and kernels) compared with a top-to-bottom
papermill run of the same folder in the same state (tests/never_stale/stale_helpers.py).
"""

from __future__ import annotations

import base64
import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "never_stale"))
from stale_helpers import Folder, printed, statuses  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

PKG = "b2tinypkg"


@pytest.fixture(autouse=True)
def _no_configured_store(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.delenv("BATCH_SIZE", raising=False)
    monkeypatch.delenv("YEARS_BACK", raising=False)


def _wheel(folder: Path, factor: int) -> Path:
    """A pure-Python wheel of PKG 1.0 whose scale() multiplies by `factor`."""
    files = {
        f"{PKG}/__init__.py": f"def scale(x):\n    return x * {factor}\n",
        f"{PKG}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {PKG}\nVersion: 1.0\n",
        f"{PKG}-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: hand\n"
                                      "Root-Is-Purelib: true\nTag: py3-none-any\n",
        f"{PKG}-1.0.dist-info/top_level.txt": f"{PKG}\n",
    }
    rows = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        rows.append(f"{name},sha256={digest.decode()},{len(text.encode())}")
    rows.append(f"{PKG}-1.0.dist-info/RECORD,,")
    files[f"{PKG}-1.0.dist-info/RECORD"] = "\n".join(rows) + "\n"
    path = folder / f"wheel{factor}" / f"{PKG}-1.0-py3-none-any.whl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def _pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "-q", *args], check=True, timeout=120,
                   capture_output=True)


@pytest.fixture
def tinypkg(tmp_path: Path):
    """PKG installed (not editable) into this environment; `reinstall()` puts in a fixed
    build with the same version; uninstalled afterwards."""
    _pip("install", "--no-deps", "--no-index", str(_wheel(tmp_path, 2)))

    def reinstall() -> None:
        _pip("install", "--no-deps", "--no-index", "--force-reinstall", str(_wheel(tmp_path, 3)))

    yield reinstall
    _pip("uninstall", "-y", PKG)


def test_environment_calendar_reinstall_and_settings(tmp_path: Path, tinypkg,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    (nb / "cfgmod.py").write_text(  # read at run time only: no literal name in the notebook
        "import os\n\ndef years_back(name='YEARS_BACK'):\n"
        "    return int(os.environ.get(name, '0'))\n")
    folder = Folder(nb, [
        "import os\nimport decimal\nimport warnings\nimport numpy as np\nimport pandas as pd\n"
        "import matplotlib\nfrom datetime import date",
        # one step changes all six settings; the next prints what each gives it
        "%%step conf\nbatch = int(os.environ.get('BATCH_SIZE', 32))\n"
        "np.set_printoptions(precision=2)\npd.set_option('display.precision', 1)\n"
        "decimal.getcontext().prec = 4\nos.environ['MODE'] = 'fast'\n"
        "warnings.simplefilter('error', UserWarning)\n"
        "matplotlib.rcParams['lines.linewidth'] = 7.0",
        "%%step show\nprint(np.array([1 / 3]), pd.Series([1 / 3]).to_string(),"
        " decimal.Decimal(1) / decimal.Decimal(7), os.environ['MODE'], batch)\n"
        "print(matplotlib.rcParams['lines.linewidth'])\n"
        "try:\n    warnings.warn('w', UserWarning)\n    print('warned')\n"
        "except UserWarning:\n    print('raised')",
        "%%step cal\nyear = date.today().year\nprint(year > 2000)",
        f"%%step pkg\nimport {PKG}\nprint({PKG}.scale(5))",
        "%%step yb\nimport cfgmod\nprint(cfgmod.years_back())",
    ])
    folder.write()
    monkeypatch.setenv("MLPIPE_TODAY", "2026-12-07")
    first = folder.run()
    assert set(statuses(first).values()) == {"succeeded"}
    assert printed(first) == folder.papermill(tmp_path)
    assert printed(first)["show"] == "[0.33] 0    0.3 0.1429 fast 32\n7.0\nraised\n"

    monkeypatch.setenv("BATCH_SIZE", "128")
    monkeypatch.setenv("YEARS_BACK", "3")
    monkeypatch.setenv("MLPIPE_TODAY", "2026-12-08")
    tinypkg()  # same version, other files
    after = folder.run()
    reasons = {name: step["reason"] for name, step in after["steps"].items()}
    assert reasons["conf"] == "environment BATCH_SIZE (unset) -> 128"
    assert reasons["show"] == "upstream conf changed"
    assert reasons["cal"] == "date 2026-12-07 -> 2026-12-08"
    assert reasons["pkg"] == f"package {PKG} 1.0 reinstalled"
    assert reasons["yb"] == "environment YEARS_BACK (unset) -> 3"  # seen at run time
    assert printed(after) == folder.papermill(tmp_path)
    assert printed(after)["pkg"] == "15\n"

    again = folder.run()  # the same day, environment and install: all reused
    assert set(statuses(again).values()) == {"cached"}, again["steps"]
