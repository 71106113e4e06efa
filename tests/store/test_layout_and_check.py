"""The store's layout version, and `mlpipe store check` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from mlpipe_jupyter.cache import layout
from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.errors import BadInput

from store_helpers import entry


def mlpipe(*args: str, cwd) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlpipe_jupyter", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=120)


def test_a_new_store_records_its_format(tmp_path) -> None:
    store = Store.open(tmp_path / "st")
    assert json.loads((store.root / "format.json").read_text())["format"] == layout.FORMAT


def test_a_store_from_before_the_format_file_is_upgraded_in_place(tmp_path) -> None:
    store = Store.open(tmp_path / "st")
    made = entry(store, "a.ipynb", "load", "v1 data", time.time())
    (store.root / "format.json").unlink()
    layout.forget_checked()
    again = Store.open(tmp_path / "st")
    recorded = json.loads((again.root / "format.json").read_text())
    assert recorded["format"] == layout.FORMAT and recorded["upgraded_from"] == 1
    assert again.lookup(made.step_key) is not None  # its entries still serve


def test_a_newer_store_is_refused_with_one_line(tmp_path) -> None:
    Store.open(tmp_path / "st")
    (tmp_path / "st" / "format.json").write_text('{"format": 99}')
    layout.forget_checked()
    with pytest.raises(BadInput) as caught:
        Store.open(tmp_path / "st")
    line = str(caught.value)
    assert "has layout format 99, newer than this mlpipe-jupyter" in line
    assert "pip install -U mlpipe-jupyter" in line and "\n" not in line
    result = mlpipe("store", "info", "--store", "st", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("mlpipe: the store ") and result.stderr.count("\n") == 1
    layout.forget_checked()


def test_store_check_finds_a_flipped_byte_and_repair_drops_the_entry(tmp_path) -> None:
    store = Store.open(tmp_path / "st")
    good = entry(store, "a.ipynb", "load", "fine", time.time())
    bad = entry(store, "a.ipynb", "fit", "will be damaged", time.time())
    path = store.artifact_path(bad.outputs["x"])
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    found = mlpipe("store", "check", "--store", "st", "--json", cwd=tmp_path)
    assert found.returncode == 1, found.stderr
    report = json.loads(found.stdout)
    assert [a["key"] for a in report["damaged_artifacts"]] == [bad.outputs["x"].key]
    assert [e["step"] for e in report["damaged_entries"]] == ["fit"]
    assert report["artifacts"] == 2 and report["entries"] == 2

    repaired = mlpipe("store", "check", "--store", "st", "--repair", cwd=tmp_path)
    assert repaired.returncode == 0, repaired.stderr
    assert "removed 2 damaged files; their steps re-run next time" in repaired.stdout
    layout.forget_checked()
    again = Store.open(tmp_path / "st")
    assert again.lookup(bad.step_key) is None and again.lookup(good.step_key) is not None
    clean = mlpipe("store", "check", "--store", "st", cwd=tmp_path)
    assert clean.returncode == 0 and "checked 1 artifacts" in clean.stdout


def test_store_check_reports_a_forged_entry(tmp_path) -> None:
    store = Store.open(tmp_path / "st")
    made = entry(store, "a.ipynb", "load", "fine", time.time())
    path = store.entry_path(made.step_key)
    data = json.loads(path.read_text())
    data["step"] = "planted"
    path.write_text(json.dumps(data))
    found = mlpipe("store", "check", "--store", "st", "--json", cwd=tmp_path)
    problems = json.loads(found.stdout)["damaged_entries"]
    assert found.returncode == 1 and len(problems) == 1 and problems[0]["step"] == "planted"
