"""Run-time verification (DESIGN rule 10): step reports against the plan.

Machine-level cases drive the `RunMachine` with reports and no cluster; the
`with_discovered` / `load` / `save` cases check that a discovered dependency
is kept per notebook and shapes the next plan; one integration test runs a
notebook whose `score` reads a file `train` writes through a path no static
analysis can see, on a real LocalCluster, twice.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from machine_script import Case, fail, feed, file, make, ok

from mlpipe_jupyter.analysis import Cell, Edge, analyze
from mlpipe_jupyter.cache.store import Store
from mlpipe_jupyter.execute import discovered

OLD, NEW = file("model.joblib", "old"), file("model.joblib", "new")
RERUN_FILE = "re-run: reads file:model.joblib written by train"


CASES = [
    Case("a reader that read the file before its writer re-runs after it", make("train score"),
         [ok("score", files_read=(OLD,)), ok("train", files_written=(NEW,)),
          ok("score", files_read=(NEW,))], [
        ["submit train#1", "submit score#1"],
        ["succeeded score"],
        ["succeeded train", "discovered train->score file:model.joblib",
         f"submit score#2 ({RERUN_FILE})"],
        ["succeeded score [file:model.joblib from train]", "finish succeeded"],
    ]),
    Case("a reader that happened to read the right bytes is kept; the edge is recorded",
         make("train score"),
         [ok("train", files_written=(NEW,)), ok("score", files_read=(NEW,))], [
        ["submit train#1", "submit score#1"],
        ["succeeded train"],
        ["succeeded score [file:model.joblib from train]",
         "discovered train->score file:model.joblib", "finish succeeded"],
    ]),
    Case("the nearest earlier writer is the producer", make("old_train train score"),
         [ok("train", files_written=(NEW,)), ok("score", files_read=(NEW,)),
          ok("old_train", files_written=(OLD,))], [
        ["submit old_train#1", "submit train#1", "submit score#1"],
        ["succeeded train"],
        ["succeeded score [file:model.joblib from train]",
         "discovered train->score file:model.joblib"],
        ["succeeded old_train", "finish succeeded"],
    ]),
    Case("a file the plan already orders is no discovery", make("train score", "train>score"),
         [ok("train", files_written=(NEW,)), ok("score", files_read=(NEW,))], [
        ["submit train#1"], ["succeeded train", "submit score#1"],
        ["succeeded score", "finish succeeded"],
    ]),
    Case("a reader that failed while an earlier step was writing files runs again after it",
         make("train score"),
         [fail("score"), ok("train", files_written=(NEW,)), ok("score", files_read=(NEW,))], [
        ["submit train#1", "submit score#1"],
        [],
        ["succeeded train",
         "submit score#2 (re-run: failed while train (before it in notebook order) wrote files)"],
        ["succeeded score [file:model.joblib from train]",
         "discovered train->score file:model.joblib", "finish succeeded"],
    ]),
    Case("a reader that failed after its racing writer finished runs again at once",
         make("train score"),
         [ok("train", files_written=(NEW,)), fail("score"), ok("score", files_read=(NEW,))], [
        ["submit train#1", "submit score#1"], ["succeeded train"],
        ["submit score#2 (re-run: failed while train (before it in notebook order) wrote files)"],
        ["succeeded score [file:model.joblib from train]",
         "discovered train->score file:model.joblib", "finish succeeded"],
    ]),
    Case("a failure is final when the earlier steps wrote no file", make("train score"),
         [fail("score"), ok("train")], [
        ["submit train#1", "submit score#1"], [],
        ["succeeded train", "failed score: score error", "finish failed"],
    ]),
    Case("what ran downstream of a re-run step is decided again (early cutoff)",
         make("train score report", "score>report", pending="report"),
         [ok("score", files_read=(OLD,)), ("decided", "report", False), ok("report"),
          ok("train", files_written=(NEW,)), ok("score", files_read=(NEW,)),
          ("decided", "report", True)], [
        ["submit train#1", "submit score#1"],
        ["succeeded score", "decide report"], ["submit report#1"], ["succeeded report"],
        ["succeeded train", "discovered train->score file:model.joblib",
         f"submit score#2 ({RERUN_FILE})"],
        ["succeeded score [file:model.joblib from train]", "decide report"],
        ["cached report", "finish succeeded"],
    ]),
    Case("a running downstream step of a re-run step is cancelled, then run again",
         make("train score report", "score>report"),
         [ok("score", files_read=(OLD,)), ok("train", files_written=(NEW,)),
          ok("report", attempt=1), ok("score", files_read=(NEW,)), ("decided", "report", False),
          ok("report")], [
        ["submit train#1", "submit score#1"],
        ["succeeded score", "submit report#1"],
        ["succeeded train", "discovered train->score file:model.joblib", "cancel report",
         f"submit score#2 ({RERUN_FILE})"],
        [],
        ["succeeded score [file:model.joblib from train]", "decide report"],
        ["submit report#2"], ["succeeded report", "finish succeeded"],
    ]),
    Case("an input changed in place: later readers read it from the changer",
         make("a b c", "a>b a>c", inputs={"b": {"x": "a"}, "c": {"x": "a"}}),
         [ok("a"), ok("c"), ok("b", inputs_changed=("x",), saved=("x",)), ok("c")], [
        ["submit a#1"], ["succeeded a", "submit b#1", "submit c#1"], ["succeeded c"],
        ["succeeded b", "discovered b->c x", "submit c#2 (re-run: reads x changed by b)"],
        ["succeeded c [x from b]", "finish succeeded"],
    ]),
    Case("a changer that did not save the input runs again to save it",
         make("a b c", "a>b a>c", inputs={"b": {"x": "a"}, "c": {"x": "a"}}),
         [ok("a"), ok("c"), ok("b", inputs_changed=("x",), saved=()),
          ok("b", inputs_changed=("x",)), ok("c")], [
        ["submit a#1"], ["succeeded a", "submit b#1", "submit c#1"], ["succeeded c"],
        ["discovered b->c x", "submit b#2 +x (re-run: x is read by c)"],
        ["succeeded b", "submit c#2 (re-run: reads x changed by b)"],
        ["succeeded c [x from b]", "finish succeeded"],
    ]),
    Case("a reader not started yet just reads from the changer",
         make("a b d c", "a>b a>c d>c", inputs={"b": {"x": "a"}, "c": {"x": "a"}}),
         [ok("a"), ok("b", inputs_changed=("x",), saved=("x",)), ok("d"), ok("c")], [
        ["submit a#1", "submit d#1"], ["succeeded a", "submit b#1"],
        ["succeeded b", "discovered b->c x"], ["succeeded d", "submit c#1"],
        ["succeeded c [x from b]", "finish succeeded"],
    ]),
    Case("a reader still running when its input is found changed is cancelled and run again",
         make("a b c", "a>b a>c", inputs={"b": {"x": "a"}, "c": {"x": "a"}}),
         [ok("a"), ok("b", inputs_changed=("x",), saved=("x",)), ok("c")], [
        ["submit a#1"], ["succeeded a", "submit b#1", "submit c#1"],
        ["succeeded b", "discovered b->c x", "cancel c",
         "submit c#2 (re-run: reads x changed by b)"],
        ["succeeded c [x from b]", "finish succeeded"],
    ]),
    Case("random state drawn by two unlinked steps: the later one re-runs from the earlier's end",
         make("a b", carried="numpy"),
         [ok("b", random=("numpy",)), ok("a", random=("numpy",), saved=("random:numpy",)),
          ok("b", random=("numpy",))], [
        ["submit a#1", "submit b#1"], ["succeeded b"],
        ["succeeded a", "discovered a->b random:numpy",
         "submit b#2 (re-run: draws from random:numpy after a)"],
        ["succeeded b [random:numpy from a]", "finish succeeded"],
    ]),
    Case("a generator whose state cannot be carried is recorded, not re-run", make("a b"),
         [ok("a", random=("tensorflow",)), ok("b", random=("tensorflow",))], [
        ["submit a#1", "submit b#1"], ["succeeded a"],
        ["succeeded b [random:tensorflow from a]", "discovered a->b random:tensorflow",
         "finish succeeded"],
    ]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_verification(case: Case) -> None:
    assert case.play() == case.expected


def test_rewired_inputs_are_what_the_adapter_asks_for() -> None:
    m = make("a b c", "a>b a>c", inputs={"b": {"x": "a"}, "c": {"x": "a"}})
    m.start()
    for event in [ok("a"), ok("c"), ok("b", inputs_changed=("x",), saved=())]:
        feed(m, event)
    assert m.producer("c", "x") == "b" and m.outputs("b") == ("x",)
    assert m.parents["c"] == {"a", "b"}


# -- kept per notebook, planned up front -------------------------------------------------


def pipeline_of(*sources: str):  # noqa: ANN201
    return analyze([Cell(i, "code", s) for i, s in enumerate(sources)])


SETUP = "import os"
NAME = "''.join(['model', '.txt'])"  # a path no static analysis follows
TRAIN = f"%%step train\nwith open({NAME}, 'w') as fh:\n    fh.write('1')"
SCORE = f"%%step score\nwith open({NAME}) as fh:\n    score = fh.read()"


def test_with_discovered_adds_the_edge_and_keeps_the_order_topological() -> None:
    p = pipeline_of(SETUP, "%%step score0\nprint(1)", TRAIN, SCORE)
    assert not any(e.target == "score" and e.source == "train" for e in p.edges)
    q = discovered.with_discovered(p, [Edge("train", "score", ("file:model.txt",))])
    assert any(e.source == "train" and e.target == "score" and "file:model.txt" in e.vars
               for e in q.edges)
    assert q.order.index("train") < q.order.index("score")
    # Like a file the analysis sees: score's key covers its bytes, train stores it.
    assert ("file:model.txt", "train") in q.step("score").inputs
    assert "file:model.txt" in q.step("score").reads
    assert "file:model.txt" in q.step("train").outputs


def test_with_discovered_rewires_a_changed_input() -> None:
    p = pipeline_of(SETUP, "%%step a\nx = [3, 1]", "%%step b\nprint(sorted(x))",
                    "%%step c\nprint(x)")
    q = discovered.with_discovered(p, [Edge("b", "c", ("x",))])
    assert dict(q.step("c").inputs)["x"] == "b" and "x" in q.step("b").outputs
    assert Edge("b", "c", ("x",)) in q.edges


def test_with_discovered_drops_what_no_longer_fits() -> None:
    p = pipeline_of(SETUP, TRAIN, SCORE)
    stale = [Edge("score", "train", ("file:model.txt",)), Edge("gone", "score", ("file:x",))]
    assert discovered.with_discovered(p, stale) == p


def test_discoveries_are_saved_per_notebook_and_merged(tmp_path: Path) -> None:
    store = Store.open(tmp_path / ".mlpipe")
    notebook = tmp_path / "sub" / "nb.ipynb"
    assert discovered.load(store, notebook) == ()
    discovered.save(store, notebook, [Edge("train", "score", ("file:model.txt",))])
    discovered.save(store, notebook, [Edge("a", "b", ("x",))])
    path = discovered.deps_path(store, notebook)
    assert path == tmp_path / ".mlpipe" / "deps" / "sub--nb.ipynb.json"
    assert json.loads(path.read_text())["deps"] == [
        {"from": "a", "to": "b", "var": "x"},
        {"from": "train", "to": "score", "var": "file:model.txt"},
    ]
    assert discovered.load(store, tmp_path / "other.ipynb") == ()


# -- on a real cluster -------------------------------------------------------------------

COMPUTED = "''.join(['model', '.txt'])"  # the analysis cannot see which file this is
WRITER = (
    "%%step train\ntime.sleep(4)\n"
    f"with open({COMPUTED}, 'w') as fh:\n    fh.write(f'model v{{version}}')"
)
READER = f"%%step score --outputs score\nwith open({COMPUTED}) as fh:\n    score = fh.read()"


def score_of(store_root: Path, record: dict) -> str:
    store = Store.open(store_root)
    entry = store.lookup(record["steps"]["score"]["cache_key"])
    assert entry is not None
    return store.get(entry.outputs["score"])


@pytest.mark.integration
@pytest.mark.parametrize(("stale", "reason"), [
    (True, "re-run: reads file:model.txt written by train"),
    (False, "re-run: failed while train (before it in notebook order) wrote files"),
], ids=["an old file was there", "no file yet"])
def test_a_file_read_through_a_computed_path_is_found_rerun_and_planned_next_time(
    write_notebook, tmp_path: Path, stale: bool, reason: str  # noqa: ANN001
) -> None:
    from mlpipe_jupyter import service

    path = write_notebook(["import time", "%%params\nversion = 1", WRITER, READER])
    assert not any(e.target == "score" for e in analyze_notebook_edges(path))
    if stale:
        (tmp_path / "model.txt").write_text("a stale model from last week")
    store = tmp_path / "store"

    first = service.run(path, {}, store=store, workers=2)
    assert first["status"] == "succeeded", first
    score = first["steps"]["score"]
    assert score["discovered"] == ["file:model.txt from train"]
    assert score["reason"] == reason
    assert score_of(store, first) == "model v1"  # the notebook's value, the first time
    deps = json.loads(discovered.deps_path(Store.open(store), path).read_text())["deps"]
    assert deps == [{"from": "train", "to": "score", "var": "file:model.txt"}]

    second = service.run(path, {"version": 2}, store=store, workers=2)
    assert second["status"] == "succeeded", second
    assert not second["steps"]["score"]["reason"].startswith("re-run")  # ordered up front
    assert second["steps"]["score"]["discovered"] == []
    assert score_of(store, second) == "model v2"


def analyze_notebook_edges(path: Path) -> tuple[Edge, ...]:
    from mlpipe_jupyter.analysis import analyze_notebook

    return analyze_notebook(path).edges


@pytest.mark.integration
def test_an_input_changed_through_a_function_reaches_the_later_reader(
    write_notebook, tmp_path: Path  # noqa: ANN001
) -> None:
    from mlpipe_jupyter import service

    setup = "def take(xs):\n    return getattr(xs, 'pop')(0)"  # mutates its argument unseen
    path = write_notebook([setup, "%%step a\nitems = [3, 1, 2]",
                           "%%step b --outputs head\nhead = take(items)",
                           "%%step c --outputs rest\nrest = list(items)"])
    store = tmp_path / "store"
    record = service.run(path, {}, store=store, workers=2)
    assert record["status"] == "succeeded", record
    assert record["steps"]["c"]["discovered"] == ["items from b"]
    entry = Store.open(store).lookup(record["steps"]["c"]["cache_key"])
    assert Store.open(store).get(entry.outputs["rest"]) == [1, 2]  # as top to bottom
    # Planned with the dependency now: b also outputs items (a new key), but the first run
    # saved it and re-keyed b's entry (rekey.py), so nothing of an unchanged notebook re-runs.
    again = service.run(path, {}, store=store, workers=2)
    assert {n: s["status"] for n, s in again["steps"].items()} == {
        "a": "cached", "b": "cached", "c": "cached",
    }, again
    assert again["steps"]["c"]["discovered"] == []


@pytest.mark.integration
def test_random_state_drawn_inside_a_library_flows_in_notebook_order(
    write_notebook, tmp_path: Path, dask_processes  # noqa: ANN001
) -> None:
    from mlpipe_jupyter import service

    setup = "import numpy as np\nfrom sklearn.utils import shuffle\nnp.random.seed(0)"
    draw = "shuffle(np.arange(10)).tolist()"  # numpy's global state, drawn inside sklearn
    path = write_notebook([setup, f"%%step a --outputs xs\nxs = {draw}",
                           f"%%step b --outputs ys\nys = {draw}"])
    namespace: dict = {}
    exec(f"{setup}\nxs = {draw}\nys = {draw}", namespace)  # noqa: S102 - top to bottom
    assert namespace["xs"] != namespace["ys"]
    store = tmp_path / "store"
    record = service.run(path, {}, store=store, scheduler=dask_processes.address)
    assert record["status"] == "succeeded", record["steps"]
    assert record["steps"]["b"]["discovered"] == ["random:numpy from a"]
    entries = Store.open(store)
    got = {
        var: entries.get(entries.lookup(record["steps"][step]["cache_key"]).outputs[var])
        for step, var in (("a", "xs"), ("b", "ys"))
    }
    assert got == {"xs": namespace["xs"], "ys": namespace["ys"]}
    # Planned with the edge a -> b now (a outputs random:numpy, a new key): the whole run
    # comes from the cache, a re-keyed by the first run, b keyed as it was re-run.
    again = service.run(path, {}, store=store, scheduler=dask_processes.address)
    assert {n: s["status"] for n, s in again["steps"].items()} == {
        "a": "cached", "b": "cached",
    }, again["steps"]


def test_a_folder_listed_before_an_earlier_step_wrote_into_it_is_a_stale_dependency() -> None:
    """`glob('artifacts/*.pkl')` beside the step writing them: the listing may have missed
    them (the corpus' artifact_dir_models printed {} in its first run)."""
    from mlpipe_jupyter.compile.report import FileFact, StepReport
    from mlpipe_jupyter.execute.verify import check

    wrote = StepReport(files_written=(FileFact("artifacts/tree.pkl", 9, 1.0, "a" * 64),))
    listed = StepReport(dirs_listed=(FileFact("artifacts", 0, 1.0, "b" * 64),))
    positions = {"split": 0, "fit": 1, "board": 2}
    found = check(positions, {"fit": wrote, "board": listed},
                  {"fit": {}, "board": {}}, ancestors=lambda _: {"split"}, started={"board"})
    assert [(d.writer, d.reader, d.var, d.stale) for d in found] == [
        ("fit", "board", "file:artifacts/tree.pkl", True)
    ]
    assert check(positions, {"fit": wrote, "board": listed}, {"fit": {}, "board": {}},
                 ancestors=lambda _: {"split", "fit"}, started={"board"}) == []
