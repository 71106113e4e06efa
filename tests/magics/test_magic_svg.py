"""The pure-Python DAG layout and its SVG drawing."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mlpipe_jupyter.analysis import Pipeline, analyze, cells_from_json, read_cells
from mlpipe_jupyter.magics.layout import layers, layout, route_edges
from mlpipe_jupyter.magics.svg import render_svg, resources_label

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"

SVG = "{http://www.w3.org/2000/svg}"


def pipeline(*sources: str) -> Pipeline:
    return analyze(cells_from_json([{"cell_type": "code", "source": s} for s in sources]))


def notebook(name: str) -> Pipeline:
    return analyze(read_cells(NOTEBOOKS / name))


def test_fanout_layers_in_notebook_order() -> None:
    assert layers(notebook("fanout.ipynb")) == [
        ["prepare"],
        ["branch_mean", "branch_std", "branch_quantiles", "branch_histogram"],
        ["combine"],
    ]


def test_layers_follow_the_longest_path() -> None:
    p = pipeline("%%step a\nx = 1", "%%step b\ny = x", "%%step c\nz = x + y")
    assert layers(p) == [["a"], ["b"], ["c"]]


def test_children_sit_near_their_parents() -> None:
    p = pipeline("%%step a\nx = 1", "%%step b\ny = 1", "%%step from_b\nv = y", "%%step from_a\nu = x")
    assert layers(p) == [["a", "b"], ["from_a", "from_b"]]


def test_skip_edges_run_on_lanes_below_the_nodes() -> None:
    p = notebook("breast_cancer.ipynb")
    boxes = layout(p, lambda name: 80.0)
    routes, bottom = route_edges(p, boxes)
    node_bottom = max(b.y + b.h for b in boxes.values())
    laned = {(r.edge.source, r.edge.target) for r in routes if r.label_y > node_bottom}
    assert laned == {("features", "evaluate"), ("features", "report"), ("train", "report")}
    assert bottom > node_bottom
    ys = [r.label_y for r in routes if (r.edge.source, r.edge.target) in laned]
    assert len(set(ys)) == 3  # one lane each


def test_edge_ends_are_spread_over_the_node_side() -> None:
    p = notebook("fanout.ipynb")
    routes, _ = route_edges(p, layout(p, lambda name: 80.0))
    starts = {r.path.split(" C ")[0] for r in routes if r.edge.source == "prepare"}
    assert len(starts) == 4


def test_svg_is_well_formed_and_shows_steps_resources_and_edges() -> None:
    text = render_svg(notebook("breast_cancer.ipynb"), title="breast_cancer.ipynb")
    root = ET.fromstring(text)
    steps = [g.get("data-step") for g in root.iter(f"{SVG}g") if g.get("class") == "mlpipe-step"]
    assert steps == ["load", "clean", "features", "train", "evaluate", "report"]
    words = [t.text for t in root.iter(f"{SVG}text")]
    assert "GPU 1" in words and "cpu=1 memory=1GB retries=1" in words
    assert "X_train, y_train" in words and "device, model" in words
    assert words[0].startswith("breast_cancer.ipynb · 6 steps · params: lr=0.1")


def test_svg_is_deterministic() -> None:
    p = notebook("fanout.ipynb")
    assert render_svg(p) == render_svg(notebook("fanout.ipynb"))


def test_errors_are_readable_lines_and_mark_the_node() -> None:
    text = render_svg(analyze(read_cells(NOTEBOOKS / "fixtures" / "cycle.ipynb")))
    root = ET.fromstring(text)
    words = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert any(w.startswith("error: step 'a' (cell 2): steps form a cycle") for w in words)
    assert "after" in words  # the dashed --after edge, routed back below
    assert 'stroke="#c62828"' in text


def test_long_labels_are_cut_and_text_is_escaped() -> None:
    p = pipeline(
        "%%step a\nalpha_value_one = 1\nbeta_value_two = 2",
        "%%step b\nc = alpha_value_one + beta_value_two",
        "%%step broken\nx = <",
    )
    root = ET.fromstring(render_svg(p, title="<draft> & co"))  # parses: text is escaped
    words = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert words[0].startswith("<draft> & co · 3 steps")
    assert "alpha_value_one, beta…" in words
    assert any("broken" in w and w.startswith("error:") for w in words)


def test_empty_pipeline_says_what_to_do() -> None:
    root = ET.fromstring(render_svg(pipeline("x = 1")))
    assert any("no %%step cells yet" in (t.text or "") for t in root.iter(f"{SVG}text"))


def test_resources_label_leaves_gpus_to_the_badge() -> None:
    p = pipeline("%%step t --gpu 2 --cpu 4 --memory 8GB --timeout 60 --no-cache\nx = 1")
    assert resources_label(p.steps[0]) == "cpu=4 memory=8GB timeout=60s no-cache"
