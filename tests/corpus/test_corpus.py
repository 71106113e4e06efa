"""Every corpus notebook: a pipeline run prints what a top-to-bottom run prints.

For each notebook in tests/corpus/notebooks/ (written by make_corpus.py):
1. it runs top to bottom with papermill (in-process, cwd = a temporary copy of
   its folder);
2. it runs as a pipeline through the SDK (`mlp.load(path).run(...)`), in another copy, on one Dask
   cluster shared by the whole module (two worker processes, each advertising
   GPU=1 so a `--gpu 1` step is placeable; it falls back to the CPU);
3. for every cell of every step, the text the step's cell showed in its
   executed step notebook (stdout, `text/plain` of results and displays, a
   marker per image) equals what the same cell showed top to bottom;
4. a second run is fully cached, and the cached displays of each step are the
   top-to-bottom text of that step's cells;
5. the live kernel never shows a stale value (issue 19): a top-to-bottom papermill run
   in the pipeline's folder, with the pipeline's store, prints what a run with no store
   prints (`mlpipe:` lines dropped): for a notebook with a numeric parameter, after that
   parameter changed (`papermill -p`: the steps that read it re-run, the others
   restore); for one with local modules, after they were edited; else as it is (every
   step restores). Data changes are held to the same in tests/never_stale/.

Comparing printed text is what a user does: each notebook prints the values
that matter, rounded to 6 decimals. `%time` lines are dropped (timings).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import pytest

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "notebooks"
NAMES = sorted(p.name for p in CORPUS.iterdir() if (p / f"{p.name}.ipynb").is_file())

pytestmark = pytest.mark.integration

TIMING = re.compile(r"^(CPU times|Wall time):.*$\n?", re.MULTILINE)


# -- text of outputs ---------------------------------------------------------------------------

def _joined(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def output_text(output: dict[str, Any]) -> str:
    """What a person reads in one output: stdout, text/plain, a marker for an image."""
    kind = output.get("output_type")
    if kind == "stream":
        return TIMING.sub("", _joined(output.get("text", ""))) if output.get("name") == "stdout" \
            else ""
    if kind == "error":
        return f"[error {output.get('ename')}: {output.get('evalue')}]\n"
    data = output.get("data", {})
    parts = [f"[{mime}]\n" for mime in sorted(data) if mime.startswith("image/")]
    if "text/plain" in data:
        parts.append(_joined(data["text/plain"]).rstrip("\n") + "\n")
    return "".join(parts)


def cells_text(outputs: list[dict[str, Any]]) -> str:
    return "".join(output_text(o) for o in outputs)


# -- the two ways of running -------------------------------------------------------------------

def top_to_bottom(path: Path) -> dict[int, str]:
    """Source cell index -> the text it showed in a papermill run (cwd = its folder)."""
    import papermill

    out = path.with_name("executed.ipynb")
    papermill.execute_notebook(str(path), str(out), kernel_name="python3", cwd=str(path.parent),
                               progress_bar=False)
    nb = json.loads(out.read_text(encoding="utf-8"))
    return {i: cells_text(cell.get("outputs", [])) for i, cell in enumerate(nb["cells"])
            if cell["cell_type"] == "code"}


def kernel_run(path: Path, store: Path | None, parameters: dict[str, Any] | None = None,
               ) -> dict[int, str]:
    """Source cell index -> text, of a papermill run (with `store` as MLPIPE_STORE, so the
    kernel restores from it; None: no store) with `parameters`; `mlpipe:` lines dropped."""
    import papermill

    out = path.with_name("kernel-executed.ipynb")
    saved = os.environ.pop("MLPIPE_STORE", None)
    if store is not None:
        os.environ["MLPIPE_STORE"] = str(store)
    try:
        papermill.execute_notebook(str(path), str(out), kernel_name="python3",
                                   cwd=str(path.parent), progress_bar=False,
                                   parameters=parameters or {})
    finally:
        os.environ.pop("MLPIPE_STORE", None)
        if saved is not None:
            os.environ["MLPIPE_STORE"] = saved
    nb = json.loads(out.read_text(encoding="utf-8"))
    own = [c for c in nb["cells"]
           if "injected-parameters" not in c.get("metadata", {}).get("tags", [])]
    return {i: "".join(ln for ln in cells_text(c.get("outputs", [])).splitlines(keepends=True)
                       if not ln.startswith("mlpipe: "))
            for i, c in enumerate(own) if c["cell_type"] == "code"}


def changed_parameter(path: Path) -> dict[str, Any] | None:
    """A new value for the notebook's first int or float parameter (+1, or x1.5), or None."""
    import mlpipe_jupyter as mlp

    for name, value in mlp.load(path).params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        return {name: value + 1 if isinstance(value, int) else value * 1.5}
    return None


def stale_differences(name: str, what: str, expected: dict[int, str],
                      got: dict[int, str]) -> list[str]:
    return [f"{name}: {what}: cell {i} differs\n  top to bottom, empty store:\n"
            f"{_show(expected.get(i, ''))}\n  with the store:\n{_show(got.get(i, ''))}"
            for i in sorted(set(expected) | set(got)) if expected.get(i) != got.get(i)]


def dry_differences(name: str, planned: dict[str, str], record: dict[str, Any]) -> list[str]:
    """Issue 24: `--dry` (`Pipeline.plan`) is what the following run does."""
    does = {"run": ("succeeded",), "cached": ("cached",), "skipped": ("skipped",)}
    return [f"{name}: step '{step}': the plan said {action}, the run"
            f" {record['steps'].get(step, {}).get('status')}"
            for step, action in planned.items()
            if record["steps"].get(step, {}).get("status") not in does[action]]


def run_pipeline(path: Path, store: Path, scheduler: str) -> dict[str, Any]:
    """The run record of a pipeline run through the SDK (`mlp.load(path).run(...)`)."""
    import mlpipe_jupyter as mlp

    return mlp.load(path).run(store=store, scheduler=scheduler).record


def step_cell_texts(notebook: str) -> dict[int, str]:
    """Source cell index -> text, for the step's own cells of an executed step notebook."""
    nb = json.loads(Path(notebook).read_text(encoding="utf-8"))
    found = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("mlpipe", {})
        if meta.get("role") == "step":
            found[int(meta["cell"])] = cells_text(cell.get("outputs", []))
    return found


def step_cells(path: Path) -> dict[str, tuple[int, ...]]:
    """Step name -> the source cells it consists of (the %%step cell and its body cells)."""
    import mlpipe_jupyter as mlp

    return {step.name: tuple(step.cells or (step.cell,)) for step in mlp.load(path).steps}


# -- comparison --------------------------------------------------------------------------------

def _show(text: str) -> str:
    return "\n".join("    | " + line for line in (text.rstrip("\n") or "<nothing>").split("\n"))


def differences(name: str, expected: dict[int, str], record: dict[str, Any],
                cells: dict[str, tuple[int, ...]]) -> list[str]:
    problems = []
    for step, indices in cells.items():
        info = record["steps"].get(step)
        if info is None or info.get("status") != "succeeded":
            status = info.get("status") if info else "missing"
            why = (info.get("error") or info.get("reason")) if info else "not in the run record"
            problems.append(f"{name}: step '{step}' {status}: {why}")
            continue
        got = step_cell_texts(info["notebook"])
        for index in indices:
            if got.get(index) != expected.get(index):
                problems.append(
                    f"{name}: step '{step}', cell {index} differs\n"
                    f"  top to bottom:\n{_show(expected.get(index, ''))}\n"
                    f"  pipeline:\n{_show(got.get(index, '<cell not in the step notebook>'))}"
                )
    return problems


def cached_differences(name: str, expected: dict[int, str], record: dict[str, Any],
                       cells: dict[str, tuple[int, ...]], store: Path) -> list[str]:
    from mlpipe_jupyter.cache.store import Store

    the_store = Store.open(store)
    problems = []
    for step, indices in cells.items():
        info = record["steps"].get(step) or {}
        if info.get("status") != "cached":
            problems.append(f"{name}: second run: step '{step}' was {info.get('status')}"
                            f" ({info.get('reason')}), not cached")
            continue
        entry = the_store.lookup(info["cache_key"])
        shown = cells_text(entry.displays) if entry is not None else "<no cache entry>"
        want = "".join(expected.get(i, "") for i in indices)
        if shown != want:
            problems.append(f"{name}: second run: step '{step}' cached displays differ\n"
                            f"  top to bottom:\n{_show(want)}\n  cached:\n{_show(shown)}")
    return problems


# -- fixtures and tests ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """One Dask cluster for the whole corpus: 2 worker processes, both placeable for --gpu 1."""
    from distributed import LocalCluster

    saved = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"  # the workers' kernels inherit it
    try:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=":0", resources={"GPU": 1},
                          silence_logs=40) as local:
            yield local
    finally:
        if saved is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = saved


def test_corpus_is_large_enough_and_generated_from_its_sources() -> None:
    sys.path.insert(0, str(HERE))
    try:
        import make_corpus
    finally:
        sys.path.remove(str(HERE))
    stale = [str(p.relative_to(HERE)) for p, text in make_corpus.rendered().items()
             if not p.exists() or p.read_text(encoding="utf-8") != text]
    assert not stale, f"run tests/corpus/make_corpus.py; stale: {stale}"
    assert len(NAMES) >= 25 and sorted(make_corpus.NOTEBOOKS) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_pipeline_prints_what_top_to_bottom_prints(
    name: str, tmp_path: Path, cluster: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLPIPE_STORE", raising=False)
    monkeypatch.setenv("MPLBACKEND", "Agg")
    started = time.monotonic()
    plain, piped = tmp_path / "top_to_bottom", tmp_path / "pipeline"
    shutil.copytree(CORPUS / name, plain)
    shutil.copytree(CORPUS / name, piped)
    path, store = piped / f"{name}.ipynb", tmp_path / "store"
    cells = step_cells(path)
    import mlpipe_jupyter as mlp

    planned = mlp.load(path).plan(store=store).actions()  # --dry, before each run
    # The plain run goes alongside the pipeline: a chain of steps leaves a worker idle.
    with ThreadPoolExecutor(1) as pool:
        plain_run = pool.submit(top_to_bottom, plain / f"{name}.ipynb")
        record = run_pipeline(path, store, cluster.scheduler_address)
        expected = plain_run.result()
    first = time.monotonic()
    problems = differences(name, expected, record, cells)
    problems += dry_differences(name, planned, record)
    if record["status"] != "succeeded" or problems:
        pytest.fail(f"{name}: pipeline run {record['status']}\n" + "\n".join(problems),
                    pytrace=False)

    planned = mlp.load(path).plan(store=store).actions()
    again = run_pipeline(path, store, cluster.scheduler_address)
    problems = cached_differences(name, expected, again, cells, store)
    problems += dry_differences(name, planned, again)
    if again["status"] != "succeeded" or problems:
        pytest.fail(f"{name}: second run {again['status']}\n" + "\n".join(problems),
                    pytrace=False)
    done = time.monotonic()

    # 5. the live kernel: the notebook run top to bottom with the pipeline's store, after
    # a parameter change where it has a numeric one (its other steps restore), else as is
    change = changed_parameter(path)
    modules = sorted(p.relative_to(piped) for p in piped.rglob("*.py"))
    if change is None and modules:  # a local module edited: the steps importing it re-run
        for folder in (plain, piped):
            for module in modules:
                with open(folder / module, "a", encoding="utf-8") as fh:
                    fh.write("\nMLPIPE_CORPUS_EDIT = 1\n")
        problems = stale_differences(name, "kernel run with the store, modules edited",
                                     kernel_run(plain / f"{name}.ipynb", None),
                                     kernel_run(path, store))
    elif change is None:
        problems = stale_differences(name, "kernel run with the store", expected,
                                     kernel_run(path, store))
    else:
        problems = stale_differences(name, f"kernel run with the store, -p {change}",
                                     kernel_run(plain / f"{name}.ipynb", None, change),
                                     kernel_run(path, store, change))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    print(f"{name}: {done - started:.1f} s (both runs {first - started:.1f} s,"
          f" cached run {done - first:.1f} s, kernel runs {time.monotonic() - done:.1f} s)")
