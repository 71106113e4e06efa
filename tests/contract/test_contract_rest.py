"""`POST /mlpipe/api/dag` on a real Jupyter server with the real service."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from contract_helpers import mlpipe_inline, notebook

CELLS = ["import math", "%%params\nscale = 2", "%%step end\nx = math.pi * scale",
         "%%step graph --gpu 1\ny = x"]


async def post_dag(jp_fetch: Any, body: Any, **kw: Any) -> tuple[int, Any]:
    text = body if isinstance(body, str) else json.dumps(body)
    try:
        response = await jp_fetch("mlpipe", "api", "dag", method="POST", body=text, **kw)
    except HTTPClientError as exc:
        assert exc.response is not None
        if exc.code != 403:  # refused before any mlpipe code runs
            assert exc.response.headers["Content-Type"].startswith("application/json")
        return exc.code, json.loads(exc.response.body or b"null")
    return response.code, json.loads(response.body)


def without_cache_state(dag: dict[str, Any]) -> dict[str, Any]:
    steps = [{k: v for k, v in s.items() if k != "cache_state"} for s in dag["steps"]]
    return {**dag, "steps": steps}


async def test_unsaved_cells_give_the_cli_json(jp_fetch: Any, tmp_path: Path) -> None:
    cells = [{"source": c, "tags": []} for c in CELLS]
    status, dag = await post_dag(jp_fetch, {"cells": cells})
    assert status == 200
    path = tmp_path / "same.ipynb"
    path.write_text(json.dumps(notebook(CELLS)))
    assert dag == mlpipe_inline("dag", path, "--format", "json").json()
    assert dag["steps"][1]["resources"]["gpu"] == 1 and dag["params"] == {"scale": 2}


async def test_cells_with_list_sources_tags_and_cell_types(jp_fetch: Any) -> None:
    cells = [{"source": ["%%step a\n", "x = 1\n"], "tags": []},
             {"source": "x = undefined()", "tags": ["mlpipe:skip"]},
             {"source": "%%step nope\nz = 1", "cell_type": "markdown"},
             {"source": "lr = 0.5", "tags": ["parameters"]},
             {"source": ["%%step b\n", "y = x * lr"]}]
    status, dag = await post_dag(jp_fetch, {"cells": cells})
    assert status == 200, dag
    assert dag["edges"] == [{"from": "a", "to": "b", "vars": ["x"]}]
    assert dag["steps"][1]["params"] == ["lr"] and dag["errors"] == []


async def test_saved_notebook_by_path(jp_fetch: Any, jp_root_dir: Path, tmp_path: Path) -> None:
    (jp_root_dir / "sub").mkdir()
    (jp_root_dir / "sub" / "pipe.ipynb").write_text(json.dumps(notebook(CELLS)))
    status, dag = await post_dag(jp_fetch, {"path": "sub/pipe.ipynb"})
    assert status == 200
    other = tmp_path / "copy.ipynb"
    other.write_text(json.dumps(notebook(CELLS)))
    assert without_cache_state(dag) == mlpipe_inline("dag", other, "--format", "json").json()


async def test_analysis_errors_answer_200_with_one_line_errors(jp_fetch: Any) -> None:
    cells = [{"source": "%%step a\nx = 1"}, {"source": "%%step a\ny = nope"}]
    status, dag = await post_dag(jp_fetch, {"cells": cells})
    assert status == 200
    assert [e["message"] for e in dag["errors"]] == [
        "step 'a' (cell 2): duplicate step name 'a'; give each %%step a unique name"]


@pytest.mark.parametrize("body, code, fragment", [
    ("{oops", 400, "not valid JSON"),
    ("[]", 400, "JSON object"),
    ({}, 400, "'cells'"),
    ({"cells": [{"source": None}]}, 400, "source"),
    ({"cells": [{"source": "x", "cell_type": "sql"}]}, 400, "cell_type"),
    ({"path": "../outside.ipynb"}, 400, "outside the server root"),
    ({"path": "/etc/passwd"}, 400, "outside the server root"),
    ({"path": "sub/../../x.ipynb"}, 400, "outside the server root"),
    ({"cells": [], "path": "../../etc"}, 400, "outside the server root"),
    ({"path": "absent.ipynb"}, 404, "not found"),
    ({"path": 7}, 400, "path"),
])
async def test_bad_requests_are_json_errors(jp_fetch: Any, body: Any, code: int,
                                            fragment: str) -> None:
    status, data = await post_dag(jp_fetch, body)
    assert status == code, data
    assert fragment in data["message"] and "\n" not in data["message"]


async def test_no_token_is_refused(jp_fetch: Any) -> None:
    status, _ = await post_dag(jp_fetch, {"cells": []}, headers={"Authorization": ""})
    assert status == 403
