"""REST of partial runs (issue 24): POST dag with a selection returns the plan, POST runs
takes select/exclude/only, bad ones are one-line 400s. The server is real, its execution
backend the fake one (server_helpers.FakeService); retries with real runs are in
tests/execute/test_retry.py."""

from __future__ import annotations

from test_server_routes import call


async def test_dag_with_a_selection_returns_the_plan(jp_fetch, notebook):
    status, dag = await call(jp_fetch, "dag", "POST", {"path": "pipe.ipynb", "select": "+total"})
    assert status == 200
    assert [(r["step"], r["action"]) for r in dag["plan"]["steps"]] == [
        ("load", "run"), ("total", "run")]
    assert dag["plan"]["ms"] >= 0
    _, dag = await call(jp_fetch, "dag", "POST", {"path": "pipe.ipynb", "select": ["load"]})
    assert [(r["step"], r["action"], r["reason"]) for r in dag["plan"]["steps"]] == [
        ("load", "run", "selected: runs even when cached"), ("total", "skipped", "not selected")]
    _, dag = await call(jp_fetch, "dag", "POST", {"path": "pipe.ipynb"})
    assert "plan" not in dag


async def test_post_runs_takes_the_selection(jp_fetch, notebook, service):
    body = {"path": "pipe.ipynb", "select": "+total", "exclude": ["load"]}
    status, _ = await call(jp_fetch, "runs", "POST", body)
    assert status == 202
    request = service.started[-1]["request"]
    assert (request.select, request.exclude, request.only) == (("+total",), ("load",), ())


async def test_bad_selections_are_one_line_400s(jp_fetch, notebook):
    for route, body, fragment in [
        ("dag", {"path": "pipe.ipynb", "select": "totl"},
         "unknown step 'totl' in --select; the closest is 'total'"),
        ("dag", {"path": "pipe.ipynb", "only": "lod"}, "the closest is 'load'"),
        ("runs", {"path": "pipe.ipynb", "select": 3}, "'select' must be step names"),
        ("dag", {"path": "pipe.ipynb", "only": "total"},
         "step 'total' reads numbers from step 'load', which is not selected"),
    ]:
        status, data = await call(jp_fetch, route, "POST", body)
        assert status == 400, (body, data)
        assert fragment in data["message"] and "\n" not in data["message"]
