"""A real S3 endpoint and a real Dask cluster whose workers cannot see the notebook's folder.

- `s3`: moto's `ThreadedMotoServer` on a free port of 127.0.0.1 and a bucket in it;
  every process of the test reaches it through `AWS_ENDPOINT_URL` (botocore and s3fs
  honour it), with moto's dummy credentials.
- `cluster`: `dask scheduler` and two `dask worker` processes, each started in its own
  empty temporary folder, as user `nobody` (`setpriv`): the tests run as root, whom
  permissions would not stop, and the project folders are root's with mode 0700.
"""

from __future__ import annotations

import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest

from remote_env import BUCKET, as_nobody



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="package")
def s3() -> Iterator[dict[str, str]]:
    """The endpoint's environment (`AWS_*`), with bucket `BUCKET` made."""
    import boto3
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # a line per request otherwise
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    env = {
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # this process lists the bucket with boto3 and s3fs too
    boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"]).create_bucket(Bucket=BUCKET)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        server.stop()


def nobody_folder(prefix: str) -> Path:
    """An empty folder in /tmp that user `nobody` owns (pytest's tmp_path is root's, 0700)."""
    folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    shutil.chown(folder, "nobody", "nogroup")
    return folder


def nobody_env(home: Path, s3_env: dict[str, str]) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    return {
        **keep, **s3_env, "HOME": str(home), "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTER_DATA_DIR": str(home / "data"), "IPYTHONDIR": str(home / "ipython"),
        "PYTHONDONTWRITEBYTECODE": "1", "MPLBACKEND": "Agg",
    }


def _wait_for_workers(address: str, count: int, timeout: float = 30.0) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as client:
        client.wait_for_workers(count, timeout=timeout)


@pytest.fixture(scope="package")
def cluster(s3: dict[str, str]) -> Iterator[dict[str, Any]]:
    """`{"address", "folders", "env"}`: a scheduler and two workers running as nobody."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs: list[subprocess.Popen[bytes]] = []
    folders: list[Path] = []
    logs = []

    def start(args: list[str], name: str) -> None:
        folder = nobody_folder(f"mlpipe-{name}-")
        folders.append(folder)
        log = open(folder.with_name(folder.name + ".log"), "wb")
        logs.append(log)
        procs.append(subprocess.Popen(
            as_nobody([sys.executable, "-m", f"distributed.cli.dask_{args[0]}", *args[1:]]),
            cwd=folder, env=nobody_env(folder, s3),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        ))

    try:
        start(["scheduler", "--host", "127.0.0.1", "--port", str(port),
               "--no-dashboard", "--no-show"], "scheduler")
        for number in (1, 2):
            start(["worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard",
                   "--local-directory", ".", "--name", f"w{number}"], f"worker{number}")
        _wait_for_workers(address, 2)
        yield {"address": address, "folders": folders, "env": s3}
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in reversed(procs):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()
        for folder in folders:
            shutil.rmtree(folder, ignore_errors=True)
            Path(folder.with_name(folder.name + ".log")).unlink(missing_ok=True)
