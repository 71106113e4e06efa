"""The step runtime records the files a step reads, writes and lists (compile/tracking.py).

In-process: the audit hook is installed once in this test process too, gated
by the active tracker, exactly as in a kernel.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.compile import tracking
from mlpipe_jupyter.compile.runtime import begin, load_inputs, save_outputs


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    pd.DataFrame({"x": [1, 2]}).to_csv("data.csv", index=False)
    pd.DataFrame({"x": [3]}).to_parquet("p.parquet")
    np.save("a.npy", np.arange(3))
    (tmp_path / "params").mkdir()
    (tmp_path / "params" / "n.txt").write_text("4")
    (tmp_path / "parts").mkdir()
    for i in range(2):
        (tmp_path / "parts" / f"{i}.csv").write_text(f"x\n{i}\n")
    return tmp_path


def test_reads_through_python_and_c_readers_are_recorded(folder: Path) -> None:
    tracker = tracking.start(folder, folder / ".mlpipe")
    try:
        pd.read_csv("data.csv")
        pd.read_parquet("p.parquet")  # pyarrow opens it in C++: seen through the wrapper
        np.load("a.npy")
        with open(os.path.join("params", "n.txt")) as fh:
            fh.read()
        frames = [pd.read_csv(p) for p in sorted(glob.glob("parts/*.csv"))]
        with open("out.txt", "w") as fh:
            fh.write("x")
        with open("out.txt") as fh:  # its own output: not a read
            fh.read()
        import json as _json  # an import is not a data read  # noqa: F401
    finally:
        tracking.stop()
    report = tracking.file_report(tracker, Store.open(folder / ".mlpipe"))
    assert [f.path for f in report.files_read] == [
        "a.npy", "data.csv", "p.parquet", "params/n.txt", "parts/0.csv", "parts/1.csv"]
    assert [f.path for f in report.files_written] == ["out.txt"]
    assert [f.path for f in report.dirs_listed] == ["parts"]
    assert report.written_keys["out.txt"] == report.files_written[0].sha256
    assert len(frames) == 2


def test_inactive_tracker_records_nothing(folder: Path) -> None:
    tracker = tracking.start(folder, None)
    tracking.stop()
    pd.read_csv("data.csv")
    assert not tracker.reads


def test_save_outputs_writes_the_report_and_stores_file_outputs(folder: Path) -> None:
    store = folder / ".mlpipe"
    cfg = {"store": str(store), "inputs": {}, "outputs": ["file:model.bin", "n"],
           "result": str(folder / "r.json"), "step": "train"}
    begin(cfg)
    Path("model.bin").write_bytes(b"weights")
    pd.read_csv("data.csv")
    save_outputs(cfg, {"n": 1})
    result = json.loads((folder / "r.json").read_text())
    assert result["outputs"]["file:model.bin"]["format"] == "file"
    assert [f["path"] for f in result["report"]["files_read"]] == ["data.csv"]
    assert [f["path"] for f in result["report"]["files_written"]] == ["model.bin"]
    # a reader's load cell puts the file back when it is gone or changed
    Path("model.bin").write_bytes(b"tampered")
    ref = result["outputs"]["file:model.bin"]
    reader = {"store": str(store), "inputs": {"file:model.bin": ref}, "outputs": [],
              "result": "", "step": "score"}
    assert load_inputs(reader) == {}
    assert Path("model.bin").read_bytes() == b"weights"


def test_package_metadata_scans_are_not_the_steps_listings(folder: Path) -> None:
    from importlib.metadata import entry_points

    tracker = tracking.start(folder, None)
    try:
        entry_points(group="mlpipe-nothing")  # lists every sys.path folder, '' included
        os.listdir("parts")
    finally:
        tracking.stop()
    assert list(tracker.listed) == [str(folder / "parts")]
