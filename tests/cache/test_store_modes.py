"""What a local store creates is owner-only (0700 folders, 0600 files) whatever the umask,
unless MLPIPE_STORE_MODE=group (0770 / 0660, a team folder on a shared filesystem)."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Iterator

import pytest

from mlpipe_jupyter.cache.files import HashCache
from mlpipe_jupyter.cache.store import CacheEntry, Store
from mlpipe_jupyter.errors import BadInput
from mlpipe_jupyter.execute.records import Records


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    old = os.umask(0)  # everything would be world-writable if the store trusted the umask
    try:
        yield
    finally:
        os.umask(old)


def modes_under(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[path.relative_to(folder).as_posix()] = stat.S_IMODE(path.stat().st_mode)
    return found


def fill(root: Path) -> None:
    store = Store.open(root)
    ref = store.put("x", {"a": 1})
    store.commit(CacheEntry(step_key="b" * 64, step="load", outputs={"x": ref}))
    data = root.parent / "data.csv"
    data.write_text("1,2\n")
    store.put_file(data)
    hashes = HashCache.at(store.hash_dir)
    hashes.sha256(str(data))
    hashes.save()
    Records(store.records_root).create_run("nb.ipynb", {}, ["load"])


def test_a_store_is_owner_only_under_a_permissive_umask(tmp_path, permissive_umask,
                                                        monkeypatch) -> None:
    monkeypatch.delenv("MLPIPE_STORE_MODE", raising=False)
    root = tmp_path / "project" / ".mlpipe"
    fill(root)
    modes = modes_under(root)
    assert {"artifacts", "cache/latest", "runs", "mlpipe.db"} <= set(modes)
    for name, mode in modes.items():
        is_dir = (root / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), (name, oct(mode))


def test_group_mode_shares_with_the_group_only(tmp_path, permissive_umask, monkeypatch) -> None:
    monkeypatch.setenv("MLPIPE_STORE_MODE", "group")
    root = tmp_path / "team" / ".mlpipe"
    fill(root)
    for name, mode in modes_under(root).items():
        is_dir = (root / name).is_dir()
        assert mode == (0o770 if is_dir else 0o660), (name, oct(mode))


def test_an_unknown_mode_is_one_line(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLPIPE_STORE_MODE", "world")
    with pytest.raises(BadInput, match=r"MLPIPE_STORE_MODE='world': choose owner .* or group"):
        Store.open(tmp_path / "s").put("x", 1)


@pytest.mark.integration
def test_a_real_run_under_umask_0_leaves_an_owner_only_store(tmp_path) -> None:
    import subprocess
    import sys

    from nbfiles import write_notebook

    notebook = write_notebook(tmp_path / "nb.ipynb", [
        "import json", "%%step make\nx = [1, 2]",
        "%%step use\ny = sum(x)\nopen('out.json', 'w').write(json.dumps(y))",
    ])
    env = {k: v for k, v in os.environ.items() if k not in ("MLPIPE_STORE", "MLPIPE_STORE_MODE")}
    done = subprocess.run(
        ["sh", "-c", f"umask 000 && exec {sys.executable} -m mlpipe_jupyter run nb.ipynb"
                     " --workers 1 --json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    root = tmp_path / ".mlpipe"
    modes = modes_under(root)
    assert any(name.endswith("use.ipynb") for name in modes)  # the executed step notebook
    wrong = {name: oct(mode) for name, mode in modes.items()
             if mode != (0o700 if (root / name).is_dir() else 0o600)}
    assert not wrong, wrong
