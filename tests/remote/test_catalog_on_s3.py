"""The team catalog on object storage (issue 25): a pipeline published from one project
folder to an s3:// store is listed, with its publisher and description, and cloned with
`mlpipe new --from` from a second project folder that shares only the bucket."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

from nbfiles import write_notebook
from remote_env import BUCKET

import mlpipe_jupyter as mlp
from mlpipe_jupyter.cli import main

CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": "# Sums\nAdds numbers up."},
    "%%params\nn = 4",
    "%%step load\nnumbers = list(range(n))",
    "%%step total\ntotal = sum(numbers)",
]


def test_a_catalog_in_a_bucket_is_seen_from_a_second_project(s3, tmp_path: Path, monkeypatch,
                                                            capsys) -> None:  # noqa: ANN001
    url = f"s3://{BUCKET}/catalog-{uuid.uuid4().hex[:8]}"
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.setenv("USER", "alice")
    first = tmp_path / "alice"
    write_notebook(first / "sums.ipynb", CELLS)
    monkeypatch.chdir(first)
    assert main(["publish", "sums.ipynb", "--store", url]) == 0
    assert "published sums v1" in capsys.readouterr().out

    second = tmp_path / "bob"
    second.mkdir()
    monkeypatch.chdir(second)
    monkeypatch.setenv("USER", "bob")
    assert main(["pipelines", "--store", url, "--json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["name"], row["version_numbers"], row["publisher"]) == ("sums", [1], "alice")
    assert row["description"] == "# Sums\nAdds numbers up." and row["params"] == {"n": 4}
    assert row["step_names"] == ["load", "total"]
    assert [r["name"] for r in mlp.pipelines(store=url)] == ["sums"]
    assert main(["new", "mine.ipynb", "--from", "sums@1", "--store", url]) == 0
    cells = json.loads((second / "mine.ipynb").read_text())["cells"]
    assert "sums v1" in cells[0]["source"] and "alice" in cells[0]["source"]
    assert [c["source"] for c in cells[1:]] == [CELLS[0]["source"], *CELLS[1:]]

    write_notebook(second / "sums.ipynb", [*CELLS, "%%step double\ntwice = 2 * total"])
    capsys.readouterr()
    assert main(["publish", "sums.ipynb", "--store", url]) == 0  # bob's is the next version
    assert "published sums v2" in capsys.readouterr().out
    assert main(["pipelines", "--store", url]) == 0
    assert capsys.readouterr().out.startswith("sums  v1, v2  published by bob")

    write_notebook(second / "uses.ipynb", [  # a step pinned from the bucket's catalog
        "%%step load\nnumbers = [5, 6]", "%%step total --uses sums@1:total"])
    monkeypatch.setenv("MLPIPE_STORE", url)
    capsys.readouterr()
    assert main(["dag", "uses.ipynb", "--format", "json"]) == 0
    steps = json.loads(capsys.readouterr().out)["steps"]
    assert steps[1]["uses"] == "sums@1:total" and steps[1]["reads"] == ["numbers"]
