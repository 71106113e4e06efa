"""Bad request bodies on every POST/PATCH route: 400, JSON, one line naming the field.

A real Jupyter server (execution faked: nothing here should get as far as a run).
"""

from __future__ import annotations

import json
import time

import pytest
from test_server_routes import call

from mlpipe_jupyter.schedule import publish, schedules

DEEP = "[" * 100_000 + "]" * 100_000
DEEP_IN_PARAMS = '{"path": "pipe.ipynb", "params": {"x": ' + "[" * 100 + "]" * 100 + "}}"

BODY_ROUTES = [("dag", "POST"), ("runs", "POST"), ("pipelines", "POST"),
               ("pipelines/daily/runs", "POST"), ("schedules", "POST"),
               ("schedules/daily", "PATCH")]  # fmt: skip


@pytest.fixture
def published(notebook, service):
    publish.publish(notebook, "daily", service.store_root)
    schedules.add(service.store_root, "daily", "0 6 * * *", now=time.time())


def assert_one_line_400(status: int, answer: dict, *words: str) -> None:
    assert status == 400, answer
    message = answer["message"]
    assert "\n" not in message and "Traceback" not in message, message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(("route", "method"), BODY_ROUTES)
@pytest.mark.parametrize(
    ("body", "words"),
    [
        (DEEP, ["nested too deeply"]),
        ("[1, 2]", ["must be a JSON object", "array"]),
        ('"text"', ["must be a JSON object", "string"]),
        ("12", ["must be a JSON object", "number"]),
        ("null", ["must be a JSON object", "null"]),
        ("{bad json", ["not valid JSON"]),
        ('{"x": NaN}', ["not valid JSON", "NaN"]),
        ('{"nonsense": 1}', ["unknown field 'nonsense'", "the fields are"]),
    ],
    ids=["deep", "array", "string", "number", "null", "syntax", "nan", "unknown-field"],
)
async def test_every_body_route_rejects_bad_bodies(jp_fetch, published, route, method, body, words):
    status, answer = await call(jp_fetch, route, method, body)
    assert_one_line_400(status, answer, *words)


@pytest.mark.parametrize(
    ("route", "body", "words"),
    [
        ("pipelines/daily/runs", {"version": 10**30}, ["'version'", "1 to 2147483647", "10000"]),
        ("pipelines/daily/runs", {"version": -1}, ["'version'", "got -1"]),
        ("pipelines/daily/runs", {"version": 0}, ["'version'"]),
        ("pipelines/daily/runs", {"version": 1.5}, ["'version'", "got 1.5"]),
        ("pipelines/daily/runs", {"version": True}, ["'version'", "got true"]),
        ("pipelines/daily/runs", {"version": "2"}, ["'version'", 'got "2"']),
        ("pipelines/daily/runs", {"params": [1]}, ["'params'"]),
        ("schedules", {"name": "n", "cron": "* * * * *", "pipeline": "daily",
                       "version": 2**40}, ["'version'"]),  # fmt: skip
        ("schedules", {"name": 5, "cron": "* * * * *"}, ["'name'", "string"]),
        ("schedules", {"name": "n", "cron": ["*"]}, ["'cron'", "string"]),
        ("runs", {"path": "pipe.ipynb", "no_cache": 1}, ["'no_cache'", "true or false"]),
        ("runs", {"path": 7}, ["path", "string"]),
        ("runs", {"path": "pipe\u0000.ipynb"}, ["path", "NUL"]),
        ("runs", {"path": "a" * 5000 + ".ipynb"}, ["path", "too long"]),
        ("runs", {"path": "pipe.ipynb", "params": {"1x": 1}}, ["'1x'", "identifier"]),
        ("runs", {"path": "pipe.ipynb", "scheduler": 99}, ["'scheduler'"]),
        ("pipelines", {"path": "pipe.ipynb", "name": {"a": 1}}, ["'name'", "string"]),
        ("dag", {"cells": 5}, ["cells"]),
    ],
)
async def test_bad_fields_name_the_field(jp_fetch, published, route, body, words):
    status, answer = await call(jp_fetch, route, "POST", body)
    assert_one_line_400(status, answer, *words)


async def test_patch_schedule_needs_a_boolean(jp_fetch, published):
    for body, words in (({}, ["'paused'"]), ({"paused": "yes"}, ["'paused'", "true or false"])):
        status, answer = await call(jp_fetch, "schedules/daily", "PATCH", body)
        assert_one_line_400(status, answer, *words)


async def test_json_nested_within_the_limit_is_fine(jp_fetch, notebook, service):
    status, answer = await call(jp_fetch, "runs", "POST", DEEP_IN_PARAMS)
    assert status == 400 and "nested too deeply" in answer["message"]
    shallow = json.loads('{"path": "pipe.ipynb", "params": {"scale": [[[1]]]}}')
    status, answer = await call(jp_fetch, "runs", "POST", shallow)
    assert status == 202, answer


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "99999999999999999999", "²"])
async def test_bad_limit_on_get_runs(jp_fetch, limit):
    status, answer = await call(jp_fetch, "runs", params={"limit": limit})
    assert_one_line_400(status, answer, "limit", "1 to 10000")


async def test_a_message_with_percent_signs_is_not_doubled(jp_fetch):
    status, answer = await call(jp_fetch, "no%20such")
    assert status == 404 and "%%" not in answer["message"], answer
