"""Rules 9 and 6 end to end: every step prints in the pipeline what it prints top to bottom.

Each case runs as a pipeline (real LocalCluster, real kernels, via the SDK's
`service.run`) and top to bottom with papermill, and compares each step's printed
values. The two runs share nothing (separate folders, no store for papermill).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests_hidden_helpers import notebook_file, pipeline_prints, top_to_bottom_prints

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]


def both_ways(tmp_path: Path, cells: list[str]) -> tuple[dict[str, str], dict[str, str], dict]:
    for folder in ("pipeline", "plain"):
        (tmp_path / folder).mkdir()
    piped, record = pipeline_prints(notebook_file(tmp_path / "pipeline" / "nb.ipynb", cells),
                                    tmp_path / "store")
    plain = top_to_bottom_prints(notebook_file(tmp_path / "plain" / "nb.ipynb", cells))
    return piped, plain, record


CASES = {
    "numpy seeded in setup": [
        "import numpy as np\nnp.random.seed(0)",
        "%%step a\na = np.random.randn(3)\nprint('a', a.tolist())",
        "%%step b\nb = np.random.randn(3)\nprint('b', b.tolist())",
    ],
    "random seeded in setup": [
        "import random\nrandom.seed(7)",
        "%%step a\nprint('a', random.random())",
        "%%step b\nprint('b', random.random(), random.randint(0, 10**9))",
    ],
    "a step seeds, a later step draws": [
        "import numpy as np",
        "%%step s1\nnp.random.seed(0)\nfirst = np.random.rand()\nprint('s1', first)",
        "%%step other\nprint('other', 1 + 1)",
        "%%step later\nprint('later', np.random.rand(2).tolist())",
    ],
    "draws through a helper from setup": [
        "import numpy as np\nnp.random.seed(3)\ndef noise(n):\n    return np.random.normal(size=n)",
        "%%step a\nprint('a', noise(2).tolist())",
        "%%step b\nprint('b', noise(2).tolist())",
    ],
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_step_prints_what_it_prints_top_to_bottom(case: str, tmp_path: Path) -> None:
    piped, plain, _ = both_ways(tmp_path, CASES[case])
    assert all(plain.values()), plain  # every step printed something
    assert piped == plain


def test_a_library_draw_is_found_at_run_time(tmp_path: Path) -> None:
    cells = [
        "import numpy as np\nnp.random.seed(0)\nfrom sklearn.utils import shuffle",
        "%%step a\nprint('a', np.random.randint(1000))",
        "%%step b\nprint('b', shuffle(list(range(8))))",
    ]
    piped, plain, record = both_ways(tmp_path, cells)
    assert piped == plain, record["steps"]
    assert record["steps"]["b"]["discovered"] == ["random:numpy from a"]  # rule 10 re-ran it


def test_an_input_changed_through_a_helper_is_reported_and_reaches_later_readers(
        tmp_path: Path) -> None:
    cells = [
        "def grow(items):\n    items.append(len(items))",  # the analysis cannot see inside
        "%%step make\nitems = [10]\nprint('make', items)",
        "%%step use\ngrow(items)\nprint('use', items)",
        "%%step after\nprint('after', items)",
    ]
    piped, plain, record = both_ways(tmp_path, cells)
    result = tmp_path / "store" / "runs" / record["run_id"] / "use.result.json"
    import json

    report = json.loads(result.read_text("utf-8"))["report"]
    assert report["inputs_changed"] == ["items"]
    assert piped == plain, record["steps"]


def test_an_unseeded_step_is_marked_in_mlpipe_dag_json(tmp_path: Path) -> None:
    import json
    import subprocess
    import sys

    path = notebook_file(tmp_path / "nb.ipynb", [
        "import numpy as np\nimport random",
        "%%step roll\nx = np.random.rand()",
        "%%step seeded\nrandom.seed(1)\ny = random.random()",
    ])
    done = subprocess.run([sys.executable, "-m", "mlpipe_jupyter", "dag", str(path),
                           "--format", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    marks = {s["name"]: s["nondeterministic"] for s in data["steps"]}
    assert marks == {"roll": "draws from numpy.random, never seeded", "seeded": None}
    assert [w.split(":")[0] for w in data["warnings"]] == ["step 'roll' (cell 3)"]
    assert data["errors"] == []
