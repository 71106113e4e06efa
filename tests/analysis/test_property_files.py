"""Rule 8: files are dataflow. Static facts (analysis/files.py) and a property:
any topological order of the inferred DAG, with file inputs put back from their
writer as the step runtime does, gives every step the notebook's values."""

from __future__ import annotations

import io
import os
import random
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpipe_jupyter.analysis import analyze
from mlpipe_jupyter.analysis.files import step_files
from mlpipe_jupyter.analysis.model import Cell

NAMES = {"MODEL_PATH": "model.joblib", "DATA_DIR": "data"}


@pytest.mark.parametrize(
    ("code", "reads", "writes"),
    [
        ("joblib.dump(model, MODEL_PATH)", (), ("model.joblib",)),
        ("m = joblib.load(MODEL_PATH)", ("model.joblib",), ()),
        ("df = pd.read_csv('data.csv')", ("data.csv",), ()),
        ("df.to_csv(os.path.join(DATA_DIR, 'out.csv'), index=False)", (), ("data/out.csv",)),
        ("x = open(f'{DATA_DIR}/n.txt').read()", ("data/n.txt",), ()),
        ("with open('log.txt', 'a') as fh:\n    fh.write('1')", (), ("log.txt",)),
        ("np.save('a.npy', arr)\nb = np.load('a.npy')", (), ("a.npy",)),  # its own file
        ("fig.savefig(Path(DATA_DIR) / 'plot.png')", (), ("data/plot.png",)),
        ("p = 'w.txt'\nPath(p).write_text('1')", (), ("w.txt",)),
        ("pickle.dump(obj, open('o.pkl', 'wb'))", (), ("o.pkl",)),
        ("x = open(name).read()", (), ()),  # a computed path: found at run time
        ("json.dump(cfg, fh)", (), ()),  # a handle, not a path
    ],
)
def test_static_file_facts(code: str, reads: tuple[str, ...], writes: tuple[str, ...]) -> None:
    assert step_files((code,), NAMES) == (reads, writes)


def test_a_later_writer_waits_for_the_readers_of_the_file_it_replaces() -> None:
    pipeline = analyze([
        Cell(0, "code", "import pandas as pd"),
        Cell(1, "code", "%%step load\ndf = pd.read_csv('data.csv')"),
        Cell(2, "code", "%%step clean\npd.DataFrame({'x': [0]}).to_csv('data.csv')"),
    ])
    assert [(e.source, e.target, e.vars) for e in pipeline.edges] == [("load", "clean", ())]


def test_file_edge_from_the_nearest_preceding_writer() -> None:
    pipeline = analyze([
        Cell(0, "code", "import joblib\nMODEL_PATH = 'model.joblib'"),
        Cell(1, "code", "%%params\nalpha = 1"),
        Cell(2, "code", "%%step train\nmodel = alpha * 2\njoblib.dump(model, MODEL_PATH)"),
        Cell(3, "code", "%%step retrain\njoblib.dump(alpha * 3, MODEL_PATH)"),
        Cell(4, "code", "%%step score\nprint(joblib.load(MODEL_PATH))"),
    ])
    assert not pipeline.errors
    edges = {(e.source, e.target): e.vars for e in pipeline.edges}
    assert edges == {("retrain", "score"): ("file:model.joblib",)}
    assert pipeline.step("score").file_reads == ("model.joblib",)
    dag = pipeline.to_json()
    assert dag["edges"] == [{"from": "retrain", "to": "score", "vars": ["file:model.joblib"]}]
    from mlpipe_jupyter.analysis.formats import to_dot, to_mermaid

    assert '[style=dashed, label="model.joblib"]' in to_dot(pipeline)
    assert '-.->|"model.joblib"|' in to_mermaid(pipeline)


# -- the property -------------------------------------------------------------------

FILES = ("a.txt", "b.txt", "c.txt")
SETUP = "import os\nDIR = 'store'\nos.makedirs(DIR, exist_ok=True)\n"


def _path_expr(name: str, style: int) -> str:
    """A constant path spelled three ways: literal, joined from a setup constant, f-string."""
    return [f"'{DIR_}/{name}'", f"os.path.join(DIR, '{name}')", f"f'{{DIR}}/{name}'"][style]


DIR_ = "store"

step_strategy = st.tuples(
    st.lists(st.tuples(st.sampled_from(FILES), st.integers(0, 2)), max_size=2),  # reads
    st.lists(st.tuples(st.sampled_from(FILES), st.integers(0, 2)), max_size=2),  # writes
)


def _step_code(k: int, reads: list, writes: list) -> str:
    lines = [f"v{k} = {k}"]
    for name, style in reads:
        lines.append(
            f"v{k} += int(open({_path_expr(name, style)}).read())"
            f" if os.path.exists({_path_expr(name, style)}) else 100"
        )
    for name, style in writes:
        lines.append(f"with open({_path_expr(name, style)}, 'w') as fh:\n    fh.write(str(v{k}))")
    lines.append(f"print({k}, v{k})")
    return "\n".join(lines)


def _run(code: str, namespace: dict) -> str:
    out = io.StringIO()
    with redirect_stdout(out):
        exec(code, namespace)  # noqa: S102 - the generated notebook's own code
    return out.getvalue()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step_strategy, min_size=2, max_size=6), seed=st.integers(0, 10**6))
def test_any_topological_order_gives_the_notebook_values(
    steps: list, seed: int, tmp_path_factory: pytest.TempPathFactory
) -> None:
    codes = [_step_code(k, r, w) for k, (r, w) in enumerate(steps)]
    cells = [Cell(0, "code", SETUP)]
    cells += [Cell(i + 1, "code", f"%%step s{i}\n{code}") for i, code in enumerate(codes)]
    pipeline = analyze(cells)
    assert not pipeline.errors

    here = os.getcwd()
    try:
        os.chdir(tmp_path_factory.mktemp("notebook"))
        ns: dict = {}
        _run(SETUP, ns)
        expected = {f"s{i}": _run(code, ns) for i, code in enumerate(codes)}

        os.chdir(tmp_path_factory.mktemp("pipeline"))
        order = _random_topological_order(pipeline, random.Random(seed))
        written: dict[tuple[str, str], bytes] = {}  # (step, path) -> bytes it wrote
        got = {}
        for name in order:
            step = pipeline.step(name)
            for var, producer in step.inputs:  # the load cell puts file inputs back
                if var.startswith("file:"):
                    Path(var[5:]).write_bytes(written[(producer, var[5:])])
            namespace: dict = {}
            _run(SETUP, namespace)
            got[name] = _run(codes[int(name[1:])], namespace)
            for path in step.file_writes:
                written[(name, path)] = Path(path).read_bytes()
    finally:
        os.chdir(here)
    # the static edges order every reader after its writer and every later writer after
    # the readers of the version it replaces; the put-back gives a reader its writer's bytes
    assert got == expected, (order, codes)


def _random_topological_order(pipeline, rng: random.Random) -> list[str]:  # noqa: ANN001
    parents = {s.name: {e.source for e in pipeline.edges if e.target == s.name}
               for s in pipeline.steps}
    done: list[str] = []
    while len(done) < len(parents):
        ready = [n for n, ps in parents.items() if n not in done and ps <= set(done)]
        done.append(rng.choice(ready))
    return done
