"""Local modules, installed versions and files as key ingredients (cache/modules.py, files.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mlpipe_jupyter.analysis.model import StepOptions
from mlpipe_jupyter.cache.files import HashCache, changed_file, declared_files, file_fact
from mlpipe_jupyter.cache.keys import explain, key_ingredients
from mlpipe_jupyter.cache.modules import environment, is_installed

from keyed_pipeline import make_pipeline

UPSTREAM = {"df": "a" * 64}


def ingredients(tmp_path: Path, setup: str, **kw):
    pipeline = make_pipeline(setup=setup, **kw)
    return key_ingredients(pipeline.step("train"), pipeline, {}, UPSTREAM, base=tmp_path)


def test_local_modules_are_followed_transitively_and_edits_are_named(tmp_path: Path) -> None:
    (tmp_path / "helpers.py").write_text("from consts import K\ndef scale(x):\n    return x * K\n")
    (tmp_path / "consts.py").write_text("K = 2\n")
    before = ingredients(tmp_path, "from helpers import scale")
    assert set(before.modules) == {"helpers", "consts"}
    (tmp_path / "consts.py").write_text("K = 3  # changed\n")
    after = ingredients(tmp_path, "from helpers import scale")
    assert after.key() != before.key()
    assert explain(before, after) == "module consts changed"
    (tmp_path / "consts.py").write_text("K = 3\n\n# only a comment differs\n")
    assert ingredients(tmp_path, "from helpers import scale").key() == after.key()


def test_packages_and_relative_imports_inside_a_local_package(tmp_path: Path) -> None:
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from . import sub\n")
    (pkg / "sub.py").write_text("from .deep import VALUE\n")
    (pkg / "deep.py").write_text("VALUE = 1\n")
    env = environment(["import mypkg", "import numpy as np"], tmp_path)
    assert set(env.modules) == {"mypkg", "mypkg.sub", "mypkg.deep"}
    assert "numpy" in env.packages and env.python.count(".") == 2
    assert not any(name.startswith(("json", "os")) for name in env.modules)


def test_installed_modules_are_not_local() -> None:
    import json

    assert is_installed(json.__file__)
    assert not is_installed(__file__)


def test_a_distribution_version_change_is_named(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    (site / "tinydist").mkdir(parents=True)
    (site / "tinydist" / "__init__.py").write_text("X = 1\n")
    info = site / "tinydist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("tinydist\n")
    monkeypatch.syspath_prepend(str(site))
    before = ingredients(tmp_path, "import tinydist")
    assert before.packages.get("tinydist") == "1.0"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydist\nVersion: 1.1\n")
    after = ingredients(tmp_path, "import tinydist")
    assert explain(before, after) == "package tinydist 1.0 -> 1.1"


def test_declared_inputs_hash_their_files(tmp_path: Path) -> None:
    (tmp_path / "parts").mkdir()
    (tmp_path / "parts" / "a.csv").write_text("x\n1\n")
    options = StepOptions(inputs=("parts/*.csv",))
    before = ingredients(tmp_path, "import math", train_options=options)
    assert list(before.files) == ["parts/a.csv"]
    (tmp_path / "parts" / "b.csv").write_text("x\n2\n")
    after = ingredients(tmp_path, "import math", train_options=options)
    assert explain(before, after) == "file parts/b.csv added"


def test_a_touch_is_no_change_and_costs_one_hash(tmp_path: Path, monkeypatch) -> None:
    from mlpipe_jupyter.cache import files

    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    (tmp_path / "store").mkdir()
    hashes = HashCache(tmp_path / "store" / "hashes.json")
    fact = file_fact(str(data), tmp_path, hashes)
    assert fact is not None and fact.path == "data.csv"
    reads: list[str] = []
    real = files.sha256_file
    monkeypatch.setattr(files, "sha256_file", lambda p: reads.append(p) or real(p))
    assert changed_file([fact], tmp_path, hashes) is None
    assert reads == []  # size and mtime as recorded: not read
    st = data.stat()
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert changed_file([fact], tmp_path, hashes) is None
    hashes.save()
    again = HashCache(tmp_path / "store" / "hashes.json")  # a later process
    assert changed_file([fact], tmp_path, again) is None
    assert len(reads) == 1  # the touched file was hashed once, then only stat-ed
    data.write_text("x\n2\n")
    assert changed_file([fact], tmp_path, hashes) == "file data.csv changed"
    data.unlink()
    assert changed_file([fact], tmp_path, hashes) == "file data.csv deleted"


def test_declared_pattern_matching_nothing_is_kept(tmp_path: Path) -> None:
    assert declared_files(["missing/*.csv"], tmp_path, HashCache.at(None)) == {
        "missing/*.csv": ""
    }


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX paths")
def test_file_outside_the_notebook_folder_is_relative(tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    other = tmp_path / "other.txt"
    other.write_text("1")
    fact = file_fact(str(other), tmp_path / "nb", HashCache.at(None))
    assert fact is not None and fact.path == "../other.txt"
