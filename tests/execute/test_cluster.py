"""Up-front resource checks and GPU detection (no cluster needed)."""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json
from mlpipe_jupyter.execute.cluster import check_resources, detect_gpus, unadvertised
from mlpipe_jupyter.execute.errors import ResourceError

CPU = {"CPU": 2, "MEMORY": 4e9}
GPU = {"GPU": 1, "CPU": 2, "MEMORY": 4e9}


def step(line: str):  # noqa: ANN201
    return analyze(cells_from_json([{"source": f"%%step {line}\nx = 1"}])).steps[0]


@pytest.mark.parametrize(
    ("line", "workers", "message"),
    [
        ("t --gpu 2", {"a": CPU, "b": GPU},
         "step 't' needs GPU=2 but no worker has more than GPU=1;"
         ' start a worker with --resources "GPU=2" or lower --gpu'),
        ("t --gpu 1", {"a": CPU},
         "step 't' needs GPU=1 but no worker has GPU; start a worker with --resources"
         ' "GPU=1" (or run with --gpu-workers 1) or lower --gpu'),
        ("t --cpu 4", {"a": CPU}, "step 't' needs CPU=4 but no worker has more than CPU=2;"),
        ("t --memory 8GB", {"a": CPU}, "step 't' needs MEMORY=8000000000 but no worker has more than MEMORY=4000000000"),
        ("t --gpu 1 --cpu 3", {"a": {"CPU": 4}, "b": GPU},
         "step 't' needs GPU=1, CPU=3 but no single worker has all of them;"),
    ],
)
def test_unsatisfiable_step_fails_with_one_line(line: str, workers: dict, message: str) -> None:
    with pytest.raises(ResourceError) as err:
        check_resources([step(line)], workers)
    assert str(err.value).startswith(message)
    assert "\n" not in str(err.value)


def test_satisfiable_steps_pass() -> None:
    steps = [step("a --gpu 1 --cpu 1 --memory 1GB"), step("b"), step("c --cpu 2")]
    assert check_resources(steps, {"x": CPU, "y": GPU}) == frozenset()


def test_cpu_and_memory_are_hints_where_no_worker_advertises_them() -> None:
    workers = {"x": {}, "y": {"GPU": 1}}
    assert unadvertised(workers) == {"CPU", "MEMORY"}
    assert check_resources([step("a --cpu 2 --memory 8GB --gpu 1")], workers) == {"CPU", "MEMORY"}
    with pytest.raises(ResourceError, match="needs GPU=2"):
        check_resources([step("a --gpu 2")], workers)


@pytest.mark.parametrize(("visible", "gpus"), [("0,1", ["0", "1"]), ("", []), ("-1", []), ("3", ["3"])])
def test_cuda_visible_devices_decides_the_gpus(monkeypatch, visible: str, gpus: list) -> None:  # noqa: ANN001
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert detect_gpus() == gpus


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("garbage://", "unknown address scheme 'garbage'"),
        ("tcp://host", "is not a scheduler address; write it like tcp://HOST:8786"),
        ("tcp://host:99999", "is not a scheduler address"),
        ("tcp://us er@host:1", "is not a scheduler address"),
    ],
)
def test_a_bad_scheduler_address_is_bad_input_before_anything_runs(address, message) -> None:
    from mlpipe_jupyter.execute.cluster import ClusterOptions
    from mlpipe_jupyter.execute.errors import RunInputError

    with pytest.raises(RunInputError, match=message) as caught:
        ClusterOptions(scheduler=address)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://[::1]:1"])
def test_scheduler_addresses_dask_accepts_are_accepted(address) -> None:
    from mlpipe_jupyter.execute.cluster import ClusterOptions

    assert ClusterOptions(scheduler=address).scheduler == address


def test_cli_garbage_scheduler_is_one_line_and_exit_2(tmp_path) -> None:
    import json
    import subprocess
    import sys

    cells = [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "%%step a\nx = 1"}]
    (tmp_path / "nb.ipynb").write_text(json.dumps({"cells": cells, "metadata": {},
                                                   "nbformat": 4, "nbformat_minor": 5}))
    done = subprocess.run(
        [sys.executable, "-m", "mlpipe_jupyter", "run", "nb.ipynb", "--scheduler", "garbage://"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2, done.stderr[-1500:]
    assert done.stderr.strip().splitlines() == [
        "mlpipe: --scheduler 'garbage://': unknown address scheme 'garbage'; use e.g."
        " tcp://HOST:8786 (schemes: tcp, tls, ucx, ws, wss, inproc)"
    ]


@pytest.mark.integration
def test_embedded_workers_start_the_runs_kernel_pool_as_they_start(tmp_path) -> None:  # noqa: ANN001
    """The first step's kernel (and its fork server's imports) is on its way while the
    cluster comes up, before the run registers its pool plugin; kernels do not inherit
    the variable that carried the pool's settings."""
    import time

    from mlpipe_jupyter.execute import cluster, kernels
    from mlpipe_jupyter.execute.preload import POOL_ENV

    handle = cluster.start(cluster.ClusterOptions(workers=1, gpu_workers=0,
                                                  pool=(str(tmp_path), 1, ("json",))))
    try:
        deadline = time.monotonic() + 60
        while True:
            ready = handle.client.run(kernels.ready_kernels)
            if all(r.get(str(tmp_path)) == 1 for r in ready.values()):
                break
            assert time.monotonic() < deadline, ready
            time.sleep(0.2)
        seen = handle.client.run(lambda: __import__("os").environ.get(POOL_ENV))
        assert set(seen.values()) == {None}
        km = handle.client.run(lambda: len(kernels._POOLS))
        assert set(km.values()) == {1}
    finally:
        handle.close()
