"""A team cache: keys never hold absolute paths or user names, so copies of a project in
different folders (or machines) compute the same keys."""

from __future__ import annotations

import getpass
import json
import shutil
from pathlib import Path

from nbfiles import write_notebook

from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.cache.keys import key_ingredients
from mlpipe_jupyter.execute.planner import param_values
from mlpipe_jupyter.service import runnable

CELLS = [
    "import json\nfrom pkg import tools",
    "%%params\nscale = 2",
    "%%step load --inputs data/*.csv\nrows = open('data/train.csv').read().split()",
    "%%step fit\nimport helpers\nmodel = helpers.fit(rows, scale) + tools.bias()\n"
    "open('model.json', 'w').write(json.dumps(model))",
    "%%step report\nsummary = json.loads(open('model.json').read())",
]


def project(folder: Path) -> Path:
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "train.csv").write_text("a\nb\nc\n")
    (folder / "helpers.py").write_text("def fit(rows, scale):\n    return len(rows) * scale\n")
    (folder / "pkg").mkdir()
    (folder / "pkg" / "__init__.py").write_text("")
    (folder / "pkg" / "tools.py").write_text("def bias():\n    return 1\n")
    return write_notebook(folder / "pipeline.ipynb", CELLS)


def keys_of(notebook: Path, store: Store) -> dict[str, tuple[str, dict]]:
    """Each step's key and ingredients, its inputs read from upstream as fixed artifact keys."""
    pipeline = runnable(notebook)
    params = param_values(pipeline, {})
    found = {}
    for step in pipeline.steps:
        inputs = {var: "f" * 64 for var in step.reads}
        ingredients = key_ingredients(
            step, pipeline, params, inputs, base=notebook.parent, store_dir=store.hash_dir
        )
        found[step.name] = (ingredients.key(), ingredients.to_json())
    return found


def test_two_copies_in_different_folders_compute_the_same_keys(tmp_path: Path) -> None:
    alice = project(tmp_path / "home" / "alice" / "work" / "churn")
    bob = tmp_path / "srv" / "bob" / "checkout"
    shutil.copytree(alice.parent, bob)
    store = Store.open(tmp_path / "shared-store")
    mine, theirs = keys_of(alice, store), keys_of(bob / alice.name, store)
    assert mine and mine.keys() == theirs.keys()
    for name in mine:
        assert mine[name][0] == theirs[name][0], name
    # the ingredients name the local modules and the declared file by their project paths
    load, fit = mine["load"][1], mine["fit"][1]
    assert load["files"] == {"data/train.csv": load["files"]["data/train.csv"]}
    assert {"helpers", "pkg.tools"} <= set(fit["modules"])
    text = json.dumps(mine)
    for needle in (str(tmp_path), "alice", str(Path.home()), f"/{getpass.getuser()}/"):
        assert needle not in text, needle


def test_a_changed_local_module_in_one_copy_changes_only_its_key(tmp_path: Path) -> None:
    alice = project(tmp_path / "a" / "project")
    bob = tmp_path / "b" / "project"
    shutil.copytree(alice.parent, bob)
    (bob / "helpers.py").write_text("def fit(rows, scale):\n    return len(rows) * scale + 1\n")
    store = Store.open(tmp_path / "store")
    mine, theirs = keys_of(alice, store), keys_of(bob / alice.name, store)
    assert mine["load"][0] == theirs["load"][0]
    assert mine["fit"][0] != theirs["fit"][0]


def test_an_absolute_input_is_keyed_by_its_own_path_wherever_the_project_is(tmp_path) -> None:
    from mlpipe_jupyter.cache.files import HashCache, declared_files

    shared = tmp_path / "mnt" / "shared"
    shared.mkdir(parents=True)
    (shared / "train.csv").write_text("1\n")
    near, deep = tmp_path / "p", tmp_path / "a" / "b" / "c" / "p"
    near.mkdir()
    deep.mkdir(parents=True)
    pattern = str(shared / "*.csv")
    mine = declared_files([pattern], near, HashCache(None))
    theirs = declared_files([pattern], deep, HashCache(None))
    assert mine == theirs == {str(shared / "train.csv"): mine[str(shared / "train.csv")]}
