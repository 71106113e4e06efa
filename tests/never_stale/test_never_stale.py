"""A cache hit is never stale (issue 8, DESIGN "What a cache hit promises").

Each case is what a user hit: run the pipeline, change something the steps
depend on that the notebook's code does not show, run again. What every step
prints must equal a top-to-bottom papermill run of the same notebook in the same
state, before and after the change, and the step that re-ran says why, naming
the file, module or package.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import pytest

from stale_helpers import Folder, printed, statuses

pytestmark = pytest.mark.integration


def _bump_mtime(path: Path) -> None:
    later = time.time() + 5
    os.utime(path, (later, later))


def check(
    folder: Folder, tmp: Path, change: Callable[[], None], reasons: dict[str, str],
    args: tuple[str, ...] = (), parameters: dict | None = None,
) -> dict:
    folder.write()
    before = folder.run(*args)
    assert set(statuses(before).values()) == {"succeeded"}
    assert printed(before) == folder.papermill(tmp, parameters)
    again = folder.run(*args)
    assert set(statuses(again).values()) == {"cached"}
    change()
    after = folder.run(*args)
    for step, reason in reasons.items():
        assert after["steps"][step]["status"] == "succeeded", after["steps"][step]
        assert reason in after["steps"][step]["reason"], after["steps"][step]["reason"]
    assert printed(after) == folder.papermill(tmp, parameters)
    assert printed(after) != printed(before)  # the change mattered: the old result was stale
    return after


def test_changed_csv_read_by_pd_read_csv(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    (nb / "data.csv").write_text("x\n1\n2\n")
    folder = Folder(nb, ["import pandas as pd", "%%step load\ndf = pd.read_csv('data.csv')",
                         "%%step total\nprint(int(df.x.sum()))"])

    def change() -> None:  # a touch first: no change, nothing re-runs
        _bump_mtime(nb / "data.csv")
        assert set(statuses(folder.run()).values()) == {"cached"}
        (nb / "data.csv").write_text("x\n10\n20\n")

    check(folder, tmp_path, change, {"load": "file data.csv changed"})


def test_changed_parquet_read_by_pd_read_parquet(tmp_path: Path) -> None:
    import pandas as pd

    nb = tmp_path / "nb"
    nb.mkdir()
    pd.DataFrame({"x": [1, 2]}).to_parquet(nb / "data.parquet")
    folder = Folder(nb, ["import pandas as pd",
                         "%%step load\ndf = pd.read_parquet('data.parquet')",
                         "%%step total\nprint(int(df.x.sum()))"])
    check(folder, tmp_path, lambda: pd.DataFrame({"x": [5, 6]}).to_parquet(nb / "data.parquet"),
          {"load": "file data.parquet changed"})


def test_changed_array_read_by_np_load_and_a_deleted_one(tmp_path: Path) -> None:
    import numpy as np

    nb = tmp_path / "nb"
    nb.mkdir()
    np.save(nb / "a.npy", np.arange(3))
    folder = Folder(nb, ["import numpy as np", "%%step load\narr = np.load('a.npy')",
                         "%%step total\nprint(int(arr.sum()))"])
    check(folder, tmp_path, lambda: np.save(nb / "a.npy", np.arange(10)),
          {"load": "file a.npy changed"})


def test_changed_file_at_a_parameter_path(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    (nb / "inputs").mkdir(parents=True)
    (nb / "inputs" / "n.txt").write_text("4")
    folder = Folder(nb, [
        "import os", "%%params\ndata_dir = 'inputs'",
        "%%step load\nn = int(open(os.path.join(data_dir, 'n.txt')).read())",
        "%%step show\nprint(n * 2)",
    ])
    check(folder, tmp_path, lambda: (nb / "inputs" / "n.txt").write_text("21"),
          {"load": "file inputs/n.txt changed"})


def test_glob_sees_a_changed_part_and_a_new_one(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    (nb / "parts").mkdir(parents=True)
    for i in range(2):
        (nb / "parts" / f"{i}.csv").write_text(f"x\n{i + 1}\n")
    folder = Folder(nb, [
        "import pandas as pd\nfrom glob import glob",
        "%%step load\ndf = pd.concat([pd.read_csv(p) for p in sorted(glob('parts/*.csv'))])",
        "%%step total\nprint(int(df.x.sum()))",
    ])
    check(folder, tmp_path, lambda: (nb / "parts" / "1.csv").write_text("x\n50\n"),
          {"load": "file parts/1.csv changed"})
    (nb / "parts" / "2.csv").write_text("x\n100\n")  # a new part: the listing changed
    after = folder.run()
    assert after["steps"]["load"]["reason"] == "files in parts changed"
    assert printed(after) == folder.papermill(tmp_path)


@pytest.mark.parametrize("edited", ["consts.py", "helpers.py"])
def test_changed_local_module_imported_by_setup(tmp_path: Path, edited: str) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    (nb / "helpers.py").write_text("from consts import K\n\ndef scale(x):\n    return x * K\n")
    (nb / "consts.py").write_text("K = 2\n")
    folder = Folder(nb, ["from helpers import scale", "%%step load\nv = scale(5)",
                         "%%step show\nprint(v)"])

    def change() -> None:
        if edited == "consts.py":
            (nb / "consts.py").write_text("K = 3\n")
        else:
            (nb / "helpers.py").write_text(
                "from consts import K\n\ndef scale(x):\n    return x * K + 1\n")

    check(folder, tmp_path, change, {"load": f"module {edited[:-3]} changed"})


def test_file_passed_between_steps_orders_them_and_keys_the_reader(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    folder = Folder(nb, [
        "import joblib\nMODEL_PATH = 'model.joblib'",
        "%%params\nalpha = 1",
        "%%step train\nmodel = {'w': alpha * 2}\njoblib.dump(model, MODEL_PATH)",
        "%%step score\nm = joblib.load(MODEL_PATH)\nprint('score', m['w'] * 10)",
    ])
    folder.write()
    first = folder.run()  # ordered: score after train, no FileNotFoundError
    assert statuses(first) == {"train": "succeeded", "score": "succeeded"}
    assert printed(first) == folder.papermill(tmp_path)
    seven = folder.run("-p", "alpha", "7")
    assert statuses(seven) == {"train": "succeeded", "score": "succeeded"}
    assert seven["steps"]["score"]["reason"] == "file model.joblib changed (written by train)"
    assert printed(seven) == folder.papermill(tmp_path, {"alpha": 7})
    # the writer is cached but its file is gone; a reader that runs gets it put back
    (nb / "model.joblib").unlink()
    folder.sources[3] += "\nprint('again')"
    folder.write()
    back = folder.run("-p", "alpha", "7")
    assert statuses(back) == {"train": "cached", "score": "succeeded"}
    assert printed(back)["score"] == "score 140\nagain\n"


def test_changed_installed_package_version(tmp_path: Path, monkeypatch) -> None:
    site = tmp_path / "site"
    (site / "tinydist").mkdir(parents=True)
    (site / "tinydist" / "__init__.py").write_text("SCALE = 3\n")
    info = site / "tinydist-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydist\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("tinydist\n")
    monkeypatch.setenv("PYTHONPATH", str(site))  # the CLI, its workers and kernels see it
    nb = tmp_path / "nb"
    nb.mkdir()
    folder = Folder(nb, [
        "import tinydist\nfrom importlib.metadata import version",
        "%%step load\nv = (version('tinydist'), tinydist.SCALE)",
        "%%step show\nprint(v)",
    ])

    def change() -> None:
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tinydist\nVersion: 1.1\n")

    check(folder, tmp_path, change, {"load": "package tinydist 1.0 -> 1.1"})


def test_declared_inputs_cover_what_no_one_can_see(tmp_path: Path) -> None:
    nb = tmp_path / "nb"
    nb.mkdir()
    (nb / "n.txt").write_text("3")
    folder = Folder(nb, [  # a child process reads the file: not the kernel, so --inputs
        "import subprocess",
        "%%step load --inputs n.txt\n"
        "n = int(subprocess.run(['cat', 'n.txt'], capture_output=True, text=True).stdout)",
        "%%step show\nprint(n + 1)",
    ])
    check(folder, tmp_path, lambda: (nb / "n.txt").write_text("30"),
          {"load": "file n.txt changed"})
