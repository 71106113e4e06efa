"""`%%step --kernel` in a real IPython shell: the same parser as the analysis."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from mlpipe_jupyter.magics.session import session_for


def test_a_kernel_step_runs_as_a_cell_here_and_records_its_kernel(ip: Any, run: Any) -> None:
    result = run("%%step train --kernel py311-torch\nx = 2\nx * 3")
    assert result.success and result.result == 6
    assert session_for(ip).steps["train"].options.kernel == "py311-torch"


def test_a_bad_kernel_name_is_one_usage_error_line(run: Any) -> None:
    result = run("%%step train --kernel 'py 311'\nx = 1")
    assert isinstance(result.error_in_exec, UsageError)
    message = str(result.error_in_exec)
    assert "--kernel 'py 311' is not a kernelspec name" in message
    assert "\n" not in message
