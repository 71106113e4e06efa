"""Run one `*.e2e.mjs` scenario of this folder against the session's `jupyter lab`
(tests/ui/conftest.py): its PASS lines, or the test fails with its output and the lab's log."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from test_ui_sidebar import RESULTS, SCENARIO_S, _shut_down_kernels, _text

HERE = Path(__file__).resolve().parent


def run_scenario(lab: dict[str, Any], script: str, out: str, *args: str,
                 **config: Any) -> list[str]:
    """`node script args...` with MLPIPE_UI = the lab's url and token, `outDir`
    (test-results/<out>), the deadline and `config`; its `PASS ...` lines."""
    settings = {"url": lab["url"], "token": lab["token"], "outDir": str(RESULTS / out),
                "deadlineS": SCENARIO_S, **config}
    env = {**os.environ, "MLPIPE_UI": json.dumps(settings)}
    try:
        done = subprocess.run(["node", str(HERE / script), *args], cwd=HERE,
                              capture_output=True, text=True, timeout=SCENARIO_S + 30, env=env)
        output, code = done.stdout + done.stderr, done.returncode
    except subprocess.TimeoutExpired as late:
        output, code = _text(late.stdout) + _text(late.stderr), None
    print(output)
    _shut_down_kernels(lab)
    if code != 0:
        pytest.fail(f"{output[-4000:]}\n--- jupyter lab log ---\n{lab['log'].read_text()[-2500:]}")
    return [line for line in output.splitlines() if line.startswith("PASS ")]
