"""The run record is one shape (`mlpipe_jupyter/record.py`); every other spelling of it is
checked here: the SQL columns of a real `mlpipe.db`, the fields a step event may carry,
the SDK's `StepInfo`, the REST answer in `docs/openapi.yaml`, and `js/types.ts`."""

from __future__ import annotations

import dataclasses
import re
import sqlite3
from pathlib import Path

import pytest
import yaml

from mlpipe_jupyter.execute import runner
from mlpipe_jupyter.execute.records import Records
from mlpipe_jupyter.record import RUN_FIELDS, STEP_FIELDS, RunRecord, StepRecord
from mlpipe_jupyter.sdk.run import StepInfo

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = yaml.safe_load((ROOT / "docs" / "openapi.yaml").read_text("utf-8"))
TYPES = (ROOT / "js" / "types.ts").read_text("utf-8")


def _columns(path: Path, table: str) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}


def _ts_fields(interface: str) -> set[str]:
    body = re.search(r"export interface " + interface + r" \{(.*?)\n\}", TYPES, re.S)
    assert body, f"js/types.ts has no interface {interface}"
    return set(re.findall(r"^\s+(\w+)\??:", body.group(1), re.M))


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("records")
    records = Records(folder)
    run_id = records.create_run("nb.ipynb", {"k": 1}, ["a"])
    records.update_step(run_id, "a", status="succeeded", metrics={"auc": 0.9}, threads=2)
    return Path(records.path)


def test_sql_stores_every_field(database) -> None:
    assert set(STEP_FIELDS) <= _columns(database, "steps")
    assert set(RUN_FIELDS) <= _columns(database, "runs")


def test_a_stored_record_has_exactly_the_shape(database) -> None:
    record = Records(database.parent).list_runs()[0]
    full = Records(database.parent).get_run(record["run_id"])
    assert set(full["steps"]["a"]) == set(STEP_FIELDS)
    assert set(full) - {"steps"} == set(RUN_FIELDS)
    # the shape's own constructors take what the store gives back
    step = StepRecord(**full["steps"]["a"])
    assert step.metrics == {"auc": 0.9} and step.threads == 2
    assert RunRecord(**{**full, "steps": {}}).params == {"k": 1}


def test_the_orchestrator_records_every_field_but_status() -> None:
    assert runner._RECORD_FIELDS == set(STEP_FIELDS) - {"status"}


def test_the_sdk_step_view_has_every_field() -> None:
    names = {f.name for f in dataclasses.fields(StepInfo)}
    assert set(STEP_FIELDS) <= names


def test_openapi_documents_every_field() -> None:
    schemas = OPENAPI["components"]["schemas"]
    assert set(STEP_FIELDS) <= set(schemas["StepRecord"]["properties"])
    assert set(RUN_FIELDS) | {"steps"} <= set(schemas["RunRecord"]["properties"])


def test_typescript_has_every_field() -> None:
    assert set(STEP_FIELDS) <= _ts_fields("IStepRun")
    assert set(RUN_FIELDS) | {"steps"} <= _ts_fields("IRunRecord")
