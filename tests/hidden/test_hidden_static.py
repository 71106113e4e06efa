"""Rule 9 statically: the global random generators flow in notebook order (mlpipe dag)."""

from __future__ import annotations

import pytest

from mlpipe_jupyter.analysis import analyze, cells_from_json


def dag(*sources: str):
    return analyze(cells_from_json([{"cell_type": "code", "source": s} for s in sources]))


def edges(pipeline) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(e.source, e.target, e.vars) for e in pipeline.edges}


@pytest.mark.parametrize(
    ("setup", "first", "second", "label"),
    [
        ("import numpy as np\nnp.random.seed(0)", "a = np.random.randn(3)",
         "b = np.random.randn(3)", "random:numpy"),
        ("import random\nrandom.seed(0)", "a = random.random()", "b = random.random()",
         "random:random"),
        ("from numpy.random import rand, seed\nseed(1)", "a = rand()", "b = rand(2)",
         "random:numpy"),
        ("import numpy.random as npr\nnpr.seed(1)", "a = npr.normal()",
         "xs = [1, 2]\nnpr.shuffle(xs)", "random:numpy"),
        ("import numpy as np\nnp.random.seed(0)\ndef noise():\n    return np.random.rand()",
         "a = noise()", "b = noise()", "random:numpy"),  # through a function
    ],
)
def test_a_later_consumer_reads_the_previous_consumers_state(setup, first, second, label) -> None:
    pipeline = dag(setup, f"%%step a\n{first}", f"%%step b\n{second}")
    assert edges(pipeline) == {("a", "b", (label,))}
    assert pipeline.step("b").inputs == ((label, "a"),)
    assert label in pipeline.step("a").outputs
    assert [s.nondeterministic for s in pipeline.steps] == [None, None]
    assert pipeline.warnings == ()


def test_generators_that_do_not_touch_global_state_make_no_edge() -> None:
    pipeline = dag("import numpy as np\nimport random",
                   "%%step a\nrng = np.random.default_rng(0)\nx = rng.random()",
                   "%%step b\nr = random.Random(0)\ny = r.random()\ns = np.random.RandomState(1)")
    assert pipeline.edges == () and pipeline.warnings == ()


def test_a_step_that_seeds_first_does_not_read_the_state_before_it() -> None:
    pipeline = dag("import numpy as np", "%%step a\nx = np.random.rand()",
                   "%%step s1\nnp.random.seed(0)\ny = np.random.rand()",
                   "%%step later\nz = np.random.rand()")
    assert edges(pipeline) == {("s1", "later", ("random:numpy",))}
    assert pipeline.step("a").nondeterministic == "draws from numpy.random, never seeded"
    assert pipeline.step("s1").nondeterministic is None
    assert pipeline.step("later").nondeterministic is None
    assert len(pipeline.warnings) == 1 and pipeline.warnings[0].startswith(
        "step 'a' (cell 2): draws from numpy.random, which nothing seeded")


def test_unseeded_draws_are_marked_not_refused_in_the_dag_json() -> None:
    pipeline = dag("import random", "%%step roll\nx = random.randint(1, 6)",
                   "%%step again\nrandom.seed()\ny = random.random()")
    data = pipeline.to_json()
    assert data["errors"] == []
    by_name = {s["name"]: s for s in data["steps"]}
    assert by_name["roll"]["nondeterministic"] == "draws from random, never seeded"
    assert by_name["again"]["nondeterministic"] == "draws from random, never seeded"  # seed()
    assert len(data["warnings"]) == 2


def test_torch_and_tensorflow_are_seen_where_imported() -> None:
    pipeline = dag("import torch\nimport tensorflow as tf\ntorch.manual_seed(0)",
                   "%%step a\nx = torch.randn(2)", "%%step b\ny = torch.rand(2)",
                   "%%step c\nz = tf.random.normal([2])")
    assert edges(pipeline) == {("a", "b", ("random:torch",))}
    assert pipeline.step("c").nondeterministic == "draws from tensorflow, never seeded"
