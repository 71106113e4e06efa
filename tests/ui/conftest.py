"""The one `jupyter lab` every browser test module drives (session scoped: one start, one
warm cluster, for test_ui_sidebar.py and test_ui_sidebar_*.py)."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from typing import Any, Iterator

import pytest

from test_ui_sidebar import GPU_NOTEBOOK, REPO, RUN_NOTEBOOK, _free_port, _prerequisites, _wait_for


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _prerequisites()
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    shutil.copytree(REPO / "notebooks", root, ignore=shutil.ignore_patterns(".mlpipe", ".ipynb_checkpoints"))
    for folder in ("run", "failure", "publish"):
        (root / folder).mkdir()
        shutil.copy(REPO / "notebooks" / RUN_NOTEBOOK, root / folder / RUN_NOTEBOOK)
    (root / "gpu").mkdir()
    shutil.copy(REPO / "notebooks" / GPU_NOTEBOOK, root / "gpu" / GPU_NOTEBOOK)
    config = base / "config"
    config.mkdir()
    (config / "jupyter_server_config.json").write_text(
        json.dumps({"ServerApp": {"jpserver_extensions": {"mlpipe_jupyter": True}}})
    )
    # ipywidgets' manager (8.1) throws on a notebook with no kernel (it reads
    # session.kernel.id once the session is "ready"); the scenarios open theirs kernel-less.
    (config / "labconfig").mkdir()
    (config / "labconfig" / "page_config.json").write_text(
        json.dumps({"disabledExtensions": {"@jupyter-widgets/jupyterlab-manager": True}})
    )
    # The freshly built labextension/, whether or not `make install` linked it.
    extensions = base / "labextensions"
    extensions.mkdir()
    (extensions / "mlpipe-jupyter").symlink_to(REPO / "labextension")
    # No "get notified about Jupyter news?" toast over the screenshots.
    news = base / "settings" / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false"}))
    token, port = secrets.token_hex(16), _free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(config),
        "JUPYTERLAB_SETTINGS_DIR": str(base / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(base / "workspaces"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
    }
    log = base / "lab.log"
    command = [
        sys.executable, "-m", "jupyterlab", "--allow-root", "--no-browser",
        f"--port={port}", f"--ServerApp.token={token}", f"--ServerApp.root_dir={root}",
        "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        "--MlpipeService.gpu_workers=1",  # a --gpu 1 step runs on this GPU-less machine
        "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: open notebooks with no kernel
        f"--LabApp.extra_labextensions_path={extensions}",
    ]  # fmt: skip
    with log.open("w") as out:
        proc = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    try:
        _wait_for(f"{url}api/status?token={token}", proc, log)
        yield {"url": url, "token": token, "root": root, "log": log}
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


