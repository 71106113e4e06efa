"""`jupyter server` and `jupyter lab` as a user starts them, with only the installed config
(no `--ContentsManager.allow_hidden` on the command line): the executed step notebook that
`GET runs/ID/steps/NAME/notebook` names, inside the hidden `.mlpipe` store, opens through
the contents API, as the sidebar opens it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from server_helpers import write_notebook

pytestmark = pytest.mark.integration

CELLS = ["%%step load\nnumbers = [1, 2, 3]", "%%step total --outputs result\nresult = sum(numbers)"]
TOKEN = "mlpipe-installed-config"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, app: str, root: Path, home: Path, *options: str) -> None:
        self.port = free_port()
        env = {**os.environ, "JUPYTER_CONFIG_DIR": str(home / "config"),
               "JUPYTER_DATA_DIR": str(home / "data"), "JUPYTER_RUNTIME_DIR": str(home / "run")}
        env.pop("MLPIPE_STORE", None)
        command = [sys.executable, "-m", app, "--allow-root", "--no-browser",
                   f"--port={self.port}", f"--IdentityProvider.token={TOKEN}",
                   f"--ServerApp.root_dir={root}", *options]  # fmt: skip
        self.log = open(home / f"{app}.log", "wb")
        self.process = subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def request(self, path: str, method: str = "GET", body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        url = f"http://127.0.0.1:{self.port}/{path}"
        req = urllib.request.Request(url, data=data, method=method,
                                     headers={"Authorization": f"token {TOKEN}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def wait_up(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, "the server exited; see its log"
            try:
                if self.request("mlpipe/api/status")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"server not up after {timeout}s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


@pytest.mark.parametrize("app", ["jupyter_server", "jupyterlab"])
def test_the_step_notebook_opens_with_the_installed_config(tmp_path, app):
    root = tmp_path / "root"
    write_notebook(root / "pipe.ipynb", CELLS)
    server = Server(app, root, tmp_path)
    try:
        server.wait_up()
        status, started = server.request("mlpipe/api/runs", "POST", {"path": "pipe.ipynb"})
        assert status == 202, started
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            _, record = server.request(f"mlpipe/api/runs/{started['run_id']}")
            if record["status"] not in ("queued", "running"):
                break
            time.sleep(0.3)
        assert record["status"] == "succeeded", record
        status, opened = server.request(f"mlpipe/api/runs/{started['run_id']}/steps/total/notebook")
        assert status == 200 and opened["path"].startswith(".mlpipe/"), opened
        status, content = server.request(f"api/contents/{opened['path']}")
        assert status == 200, content
        assert content["type"] == "notebook"
        sources = ["".join(c["source"]) for c in content["content"]["cells"]]
        assert any("result = sum(numbers)" in s for s in sources), sources
    finally:
        server.stop()
    assert "--ContentsManager.allow_hidden" not in " ".join(server.process.args)
