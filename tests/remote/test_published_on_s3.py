"""A pipeline published with an object-storage store: snapshot and records stay local,
its runs keep their artifacts in the bucket."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from nbfiles import write_notebook
from remote_env import BUCKET

import mlpipe_jupyter as mlp

CELLS = [
    "%%params\nn = 4",
    "%%step load\nnumbers = list(range(n))",
    "%%step total --outputs total\ntotal = sum(numbers)",
]


def bucket_keys(prefix: str) -> list[str]:
    import boto3

    client = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


@pytest.mark.integration
def test_publish_and_trigger_with_an_s3_store(s3, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    prefix = f"published-{uuid.uuid4().hex[:8]}"
    url = f"s3://{BUCKET}/{prefix}"
    project = tmp_path / "project"
    notebook = write_notebook(project / "nb.ipynb", CELLS)
    monkeypatch.chdir(project)
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.setenv("MLPIPE_SIGNING_KEY", "team-key")

    assert mlp.publish(notebook, "sums", store=url) == ("sums", 1)
    assert not any(p.name.startswith("s3:") for p in project.rglob("*"))  # no "s3:/b/p" folder
    assert (project / ".mlpipe" / "pipelines" / "sums" / "v1" / "notebook.ipynb").is_file()
    listed = subprocess.run([sys.executable, "-m", "mlpipe_jupyter", "pipelines", "--store", url],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert listed.returncode == 0 and listed.stdout.startswith("sums"), listed.stderr

    run = mlp.trigger("sums", {"n": 5}, store=url).wait(timeout=240, raise_on_failure=True)
    assert run["total"]["total"] == 10
    keys = bucket_keys(prefix)
    assert any(k.startswith(f"{prefix}/artifacts/") for k in keys), keys
    assert any(k.startswith(f"{prefix}/cache/") for k in keys), keys
    assert mlp.get_run(run.id, notebook=notebook).status is mlp.RunStatus.SUCCEEDED
