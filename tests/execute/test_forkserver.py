"""Kernels forked from a fork server: the setup's modules loaded, nothing else shared."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlpipe_jupyter.execute import kernels
from mlpipe_jupyter.execute.forkserver import can_fork, installed
from mlpipe_jupyter.processes import alive


def test_installed_modules_are_preloaded_local_ones_never(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    (tmp_path / "helpers.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert installed("json") and installed("numpy") and installed("os.path")
    assert not installed("helpers")
    assert not installed("no_such_module_here")


def test_only_an_ipykernel_of_this_interpreter_is_forked() -> None:
    assert can_fork([sys.executable, "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not can_fork(["/usr/bin/python3-other", "-m", "ipykernel_launcher", "-f", "k.json"])
    assert not can_fork([sys.executable, "-m", "other_kernel", "-f", "k.json"])


def run_code(km: Any, code: str) -> str:
    """What `code` prints in the kernel of `km`."""
    out: list[str] = []

    def hook(msg: dict[str, Any]) -> None:
        if msg["msg_type"] == "stream":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            out.append(f"ERROR {msg['content']['ename']}: {msg['content']['evalue']}")

    kc = km.client()
    kc.start_channels()
    try:
        kernels.call(kc.execute_interactive(code, timeout=30, output_hook=hook))
    finally:
        kc.stop_channels()
    return "".join(out).strip()


@pytest.mark.integration
def test_forked_kernels_are_fresh_apart_from_the_preloaded_modules(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("VALUE = 'first'\n")
    pool = kernels.KernelPool(str(tmp_path), size=0, warm=("numpy", "helpers"))
    server = pool.forkserver()
    assert server is not None and server.modules == ("numpy",)  # helpers is local
    try:
        first = pool.take()
        assert run_code(first, "leak = 1\nimport numpy\nprint(numpy.random.randint(10**9))")
        seen = run_code(first, "import os, sys\nprint(os.getcwd(), 'numpy' in sys.modules,"
                               " os.getppid() == %d)" % server.proc.pid)
        assert seen == f"{tmp_path} True True"
        kernels.retire(first)
        (tmp_path / "helpers.py").write_text("VALUE = 'second'\n")
        second = pool.take()
        code = (
            "import os, numpy, helpers\n"
            "print('leak' in globals(), helpers.VALUE, os.environ.get('JPY_PARENT_PID') =="
            " str(os.getppid()))"
        )
        assert run_code(second, code) == "False second True"
        draws = {run_code(second, "print(numpy.random.randint(10**9))")}
        third = pool.take()
        draws.add(run_code(third, "import numpy\nprint(numpy.random.randint(10**9))"))
        assert len(draws) == 2  # each kernel its own global random state
        pids = [k.provisioner.pid for k in (second, third)]
        for km in (second, third):
            kernels.retire(km)
        assert not any(alive(pid) for pid in pids)
    finally:
        pool.close()
    deadline = time.monotonic() + 10
    while alive(server.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server.proc.pid)  # the pool's server goes with the pool


@pytest.mark.integration
def test_a_kernel_still_running_a_step_outlives_its_closing_pool(tmp_path: Path) -> None:
    pool = kernels.KernelPool(str(tmp_path), size=0)
    km = pool.take()
    server = pool.forkserver()
    assert server is not None
    pool.close()
    assert run_code(km, "print(6 * 7)") == "42"  # the step finishes on it
    kernels.retire(km)
    deadline = time.monotonic() + 10
    while alive(server.proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(server.proc.pid)


@pytest.mark.integration
def test_the_server_takes_its_kernels_with_it(tmp_path: Path) -> None:
    pool = kernels.KernelPool(str(tmp_path), size=0)
    km = pool.take()
    pid = km.provisioner.pid
    server = pool.forkserver()
    assert server is not None
    server.close()  # what happens when the worker that started it dies (its stdin closes)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive(pid)
    kernels.retire(km)
    pool.close()


def test_an_upgraded_package_makes_the_server_stale(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from mlpipe_jupyter.execute import forkserver

    package = tmp_path / "__init__.py"
    package.write_text("")
    monkeypatch.setattr(forkserver, "_origin", lambda module: str(package))
    before = forkserver.stamp(("somepkg",))
    os.utime(package, (1, 1))  # `pip install -U somepkg` rewrote it
    assert forkserver.stamp(("somepkg",)) != before


@pytest.mark.integration
def test_a_forked_kernel_sees_pandas_and_matplotlib_as_a_fresh_kernel_does(tmp_path: Path) -> None:
    """Modules decide some things at import (pandas' display width, the plot backend):
    preloaded in the server, they must decide them as they would in a kernel."""
    code = ("import pandas, matplotlib\n"
            "print(pandas.get_option('display.max_columns'), matplotlib.get_backend())")
    forked = kernels.KernelPool(str(tmp_path), size=0, warm=("pandas", "matplotlib.pyplot",
                                                             "tqdm.auto"))
    server = forked.forkserver()
    assert server is not None and server.modules == ("pandas", "matplotlib.pyplot")
    try:
        km = forked.take()
        got = run_code(km, code)
        kernels.retire(km)
    finally:
        forked.close()
    from jupyter_client import KernelManager

    fresh = KernelManager(kernel_name="python3")
    fresh.start_kernel(cwd=str(tmp_path))
    try:
        want = run_code(fresh, code)
    finally:
        fresh.shutdown_kernel(now=True)
    assert got == want and want.startswith("20 ")
