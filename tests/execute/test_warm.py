"""What a pooled kernel imports ahead of its step."""

from __future__ import annotations

from mlpipe_jupyter.execute.kernels import warm_code
from mlpipe_jupyter.execute.warm import setup_modules, warm


def test_setup_modules_lists_top_level_absolute_imports_once() -> None:
    source = (
        "import numpy as np\nimport os.path\nfrom sklearn import metrics\n"
        "from . import local\nimport numpy\nif True:\n    import json\n"
        "def f():\n    import csv\n"
    )
    assert setup_modules(source) == ("numpy", "os.path", "sklearn")


def test_setup_with_a_syntax_error_warms_nothing() -> None:
    assert setup_modules("import (") == ()


def test_warm_code_binds_no_name() -> None:
    namespace: dict = {}
    exec(warm_code(("json", "no_such_module_xyz")), namespace)  # noqa: S102
    assert set(namespace) == {"__builtins__"}


def test_warm_ignores_modules_that_fail() -> None:
    warm(["no_such_module_xyz", "json"])
    import sys

    assert "json" in sys.modules
