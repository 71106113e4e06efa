"""What a pooled kernel imports ahead of its step."""

from __future__ import annotations

import subprocess
import sys
import uuid

from mlpipe_jupyter.execute.kernels import warm_code
from mlpipe_jupyter.execute.warm import setup_modules, warm


def test_setup_modules_lists_top_level_absolute_imports_once() -> None:
    source = (
        "import numpy as np\nimport os.path\nfrom sklearn import metrics\n"
        "from . import local\nimport numpy\nif True:\n    import json\n"
        "def f():\n    import csv\n"
    )
    assert setup_modules(source) == ("numpy", "os.path", "sklearn", "sklearn.metrics")


def test_setup_modules_read_notebook_syntax() -> None:
    """A magic line first (`%matplotlib inline`) hid every import (issue 27)."""
    source = ("%matplotlib inline\nimport numpy as np\nimport statsmodels.api as sm\n"
              "from sklearn import datasets, metrics as m\n!echo hi\nx = 1 +\n")
    assert setup_modules(source) == ("numpy", "statsmodels.api", "sklearn",
                                     "sklearn.datasets", "sklearn.metrics")


def test_setup_with_a_syntax_error_warms_nothing() -> None:
    assert setup_modules("import (") == ()


def test_warm_code_binds_no_name() -> None:
    namespace: dict = {}
    exec(warm_code(("json", "no_such_module_xyz")), namespace)  # noqa: S102
    assert set(namespace) == {"__builtins__"}


def test_warm_imports_what_loads_and_skips_what_fails(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    suffix = uuid.uuid4().hex[:8]  # never imported before in this process
    good, broken = f"warm_good_{suffix}", f"warm_broken_{suffix}"
    (tmp_path / f"{good}.py").write_text("VALUE = 42\n")
    (tmp_path / f"{broken}.py").write_text("raise RuntimeError('cannot import me')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert good not in sys.modules and broken not in sys.modules
    warm([broken, "no_such_module_xyz", good])  # a failure does not stop the rest
    assert sys.modules[good].VALUE == 42
    assert broken not in sys.modules
    del sys.modules[good]


def test_warm_code_imports_in_a_fresh_interpreter(tmp_path) -> None:  # noqa: ANN001
    (tmp_path / "warm_fresh_mod.py").write_text("VALUE = 7\n")
    code = warm_code(("warm_fresh_mod",)) + "\nimport sys\nprint('warm_fresh_mod' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)  # fmt: skip
    assert done.stdout.strip() == "True", done.stderr
