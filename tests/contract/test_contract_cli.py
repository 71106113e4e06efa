"""`mlpipe dag` as a user runs it: exit codes, streams, and each --format's syntax."""

from __future__ import annotations

import re
from typing import Any

import pytest

from contract_helpers import cell, mlpipe, mlpipe_inline

PIPELINE = [
    "# setup\nCONFIG = {'k': 0}\nimport os",
    cell("lr = 0.1", tags=("parameters",)),
    "%%step end --gpu 1 --cpu 2 --memory 8GB --retries 2 --timeout 3600\nCONFIG['k'] = 1\nx = lr",
    "%%step graph --no-cache\ny = x",
    "%%step style --after end --outputs z\nz = 'a \"quoted\" <b>|&</b>' + str(y)",
    "%%step subgraph\nprint(z)",
]


def test_json_has_the_design_keys_with_their_types(write_nb: Any) -> None:
    result = mlpipe("dag", write_nb(PIPELINE), "--format", "json")
    assert result.code == 0, result.err
    data = result.json()
    assert {"steps", "edges", "params", "warnings"} <= set(data)
    assert data["params"] == {"lr": 0.1}
    design_keys = {"name", "cell", "reads", "binds", "outputs", "params", "resources",
                   "retries", "timeout", "cache"}
    for step in data["steps"]:
        assert design_keys <= set(step), step
        assert isinstance(step["cell"], int)
        for key in ("reads", "binds", "outputs", "params"):
            assert isinstance(step[key], list) and all(isinstance(n, str) for n in step[key])
        assert set(step["resources"]) == {"cpu", "gpu", "memory"}
        assert isinstance(step["cache"], bool) and isinstance(step["retries"], int)
    end = data["steps"][0]
    assert (end["name"], end["cell"]) == ("end", 2)  # cells are 0-based in JSON
    assert end["resources"] == {"cpu": 2, "gpu": 1, "memory": 8_000_000_000}
    assert (end["retries"], end["timeout"], end["cache"]) == (2, 3600, True)
    assert end["params"] == ["lr"] and end["outputs"] == ["x"]
    graph = data["steps"][1]
    assert graph["cache"] is False
    assert graph["resources"] == {"cpu": None, "gpu": 0, "memory": None}
    assert graph["timeout"] is None
    assert data["steps"][2]["outputs"] == ["z"]
    for edge in data["edges"]:
        assert set(edge) == {"from", "to", "vars"} and isinstance(edge["vars"], list)
    assert {"from": "end", "to": "style", "vars": []} in data["edges"]
    assert len(data["warnings"]) == 1 and "CONFIG" in data["warnings"][0]


def test_text_lists_steps_edges_and_warnings(write_nb: Any) -> None:
    result = mlpipe("dag", write_nb(PIPELINE))
    assert result.code == 0
    assert "1. end (cell 3)" in result.out  # 1-based for people
    assert "end -> graph: x" in result.out
    assert "assigns into setup name 'CONFIG'" in result.out
    assert "gpu=1" in result.out


def test_errors_exit_2_one_line_each_on_stderr(write_nb: Any) -> None:
    nb = write_nb(["%%step a\nx = 1", "%%step a\ny = 2", "%%step c\nprint(nope)"])
    for fmt, command in (("text", mlpipe), ("json", mlpipe), ("dot", mlpipe_inline),
                         ("mermaid", mlpipe_inline)):
        result = command("dag", nb, "--format", fmt)
        assert result.code == 2, fmt
        lines = result.err.splitlines()
        assert lines == [
            "mlpipe: step 'a' (cell 2): duplicate step name 'a'; give each %%step a unique name",
            "mlpipe: step 'c' (cell 3): name 'nope' is read but nothing before it binds it;"
            " define it in an earlier step or in setup",
        ], fmt


@pytest.mark.parametrize("args, fragment", [
    (["missing.ipynb"], "does not exist"),
    (["--format", "yaml", "x.ipynb"], "invalid choice"),
    ([], "notebook"),
])
def test_bad_input_exits_2(args: list[str], fragment: str) -> None:
    result = mlpipe_inline("dag", *args)
    assert result.code == 2 and fragment in result.err


def test_not_a_notebook_exits_2(tmp_path: Any) -> None:
    (tmp_path / "junk.ipynb").write_text("{not json")
    (tmp_path / "v3.ipynb").write_text('{"nbformat": 3, "worksheets": []}')
    for name in ("junk.ipynb", "v3.ipynb", "."):
        result = (mlpipe if name == "." else mlpipe_inline)("dag", tmp_path / name)
        assert result.code == 2 and result.err.startswith("mlpipe: "), name
        assert len(result.err.strip().splitlines()) == 1, name


# -- dot ------------------------------------------------------------------------
_DOT_ID = r'"(?:[^"\\]|\\.)*"'
_DOT_ATTRS = rf'\[(?:\s*\w+\s*=\s*(?:{_DOT_ID}|[\w.#]+)\s*,?)*\s*\]'
_DOT_STATEMENT = re.compile(
    rf'^\s*(?:(?P<graph>rankdir=LR)|(?:node|edge)\s*{_DOT_ATTRS}'
    rf'|(?P<node>{_DOT_ID})\s*(?:{_DOT_ATTRS})?'
    rf'|(?P<src>{_DOT_ID})\s*->\s*(?P<dst>{_DOT_ID})\s*(?:{_DOT_ATTRS})?);$'
)


def parse_dot(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    """A strict little reader of the dot subset a digraph of boxes needs."""
    lines = text.strip().splitlines()
    assert re.match(r'^digraph \w+ \{$', lines[0]), lines[0]
    assert lines[-1] == "}"
    nodes: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for line in lines[1:-1]:
        match = _DOT_STATEMENT.match(line)
        assert match, f"not a dot statement: {line!r}"
        if match["node"]:
            nodes.add(match["node"])
        if match["src"]:
            edges.add((match["src"], match["dst"]))
    return nodes, edges


def test_dot_is_valid_and_quotes_every_id(write_nb: Any) -> None:
    result = mlpipe("dag", write_nb(PIPELINE), "--format", "dot")
    assert result.code == 0
    nodes, edges = parse_dot(result.out)
    assert nodes == {'"end"', '"graph"', '"style"', '"subgraph"'}  # dot keywords, quoted
    assert ('"end"', '"graph"') in edges and ('"style"', '"subgraph"') in edges
    assert all(a in nodes and b in nodes for a, b in edges)
    assert "warning" in result.err and "warning" not in result.out


# -- mermaid ------------------------------------------------------------------------
MERMAID_KEYWORDS = {"end", "graph", "flowchart", "subgraph", "style", "class", "classDef",
                    "click", "linkStyle", "direction", "default", "call", "href", "interpolate"}
_M_ID = r"[A-Za-z][A-Za-z0-9_]*"
_M_LABEL = r'"[^"]*"'
_M_NODE = re.compile(rf"^\s*(?P<id>{_M_ID})\[(?P<label>{_M_LABEL})\]$")
_M_EDGE = re.compile(
    rf"^\s*(?P<src>{_M_ID})\s*(?:-->\|(?P<label>{_M_LABEL})\||-\.->)\s*(?P<dst>{_M_ID})$")
_M_CLASSDEF = re.compile(r"^\s*classDef \w+ [\w#:,.-]+$")
_M_CLASS = re.compile(rf"^\s*class {_M_ID}(?:,{_M_ID})* \w+$")


def parse_mermaid(text: str) -> tuple[dict[str, str], list[tuple[str, str, str | None]]]:
    """Node ids -> labels, and edges, of a `flowchart LR`; fails on any other line."""
    lines = text.strip().splitlines()
    assert lines[0] == "flowchart LR"
    nodes: dict[str, str] = {}
    edges: list[tuple[str, str, str | None]] = []
    for line in lines[1:]:
        if node := _M_NODE.match(line):
            nodes[node["id"]] = node["label"][1:-1]
        elif edge := _M_EDGE.match(line):
            label = edge["label"][1:-1] if edge["label"] else None
            edges.append((edge["src"], edge["dst"], label))
        else:
            assert _M_CLASSDEF.match(line) or _M_CLASS.match(line), f"bad line: {line!r}"
    return nodes, edges


def test_mermaid_is_valid_with_safe_ids_for_keyword_names(write_nb: Any) -> None:
    result = mlpipe("dag", write_nb(PIPELINE), "--format", "mermaid")
    assert result.code == 0
    nodes, edges = parse_mermaid(result.out)
    assert not set(nodes) & MERMAID_KEYWORDS
    assert all(n.lower() not in MERMAID_KEYWORDS for n in nodes)
    names = {label.split(" ")[0]: node for node, label in nodes.items()}
    assert set(names) == {"end", "graph", "style", "subgraph"}
    assert (names["end"], names["graph"], "x") in edges
    assert (names["end"], names["style"], None) in edges  # --after: dotted
    assert all(a in nodes and b in nodes for a, b, _ in edges)
