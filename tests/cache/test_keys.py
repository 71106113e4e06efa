from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpipe_jupyter.analysis.model import StepOptions
from mlpipe_jupyter.cache.keys import (
    explain,
    json_value,
    key_ingredients,
    key_reasons,
    normalize_code,
    step_params,
    step_key,
)

from keyed_pipeline import make_pipeline

UPSTREAM = {"df": "a" * 64}


def train_key(pipeline, params=None, inputs=None) -> str:
    return step_key(pipeline.step("train"), pipeline, params or {}, inputs or UPSTREAM)


@pytest.mark.parametrize(
    "edited",
    [
        "model = df * lr  # scale by the learning rate",
        "# a comment line\n\nmodel = df * lr\n\n",
        "model = df * lr   \n",
        "model = (df * lr)",
        "model=df*lr",
    ],
)
def test_comment_blank_and_format_edits_keep_the_key(edited: str) -> None:
    assert train_key(make_pipeline(train=edited)) == train_key(make_pipeline())


@pytest.mark.parametrize(
    "changed",
    [
        {"train": "model = df * lr * 2"},
        {"setup": "import math\nimport os"},
        {"params": {"lr": 0.5}},
    ],
)
def test_code_setup_and_default_changes_change_the_key(changed: dict) -> None:
    assert train_key(make_pipeline(**changed)) != train_key(make_pipeline())


def test_parameter_value_and_upstream_key_change_the_key(pipeline) -> None:
    base = train_key(pipeline)
    assert train_key(pipeline, params={"lr": 0.2}) != base
    assert train_key(pipeline, params={"lr": 0.1}) == base
    assert train_key(pipeline, inputs={"df": "b" * 64}) != base


def test_resource_options_do_not_change_the_key() -> None:
    heavy = StepOptions(gpu=1, cpu=4, memory=8 * 10**9, retries=3, timeout=60, cache=False)
    assert train_key(make_pipeline(train_options=heavy)) == train_key(make_pipeline())


def test_key_is_sha256_hex_and_stable(pipeline) -> None:
    key = train_key(pipeline)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == train_key(make_pipeline())


def test_missing_input_key_names_step_and_producer(pipeline) -> None:
    with pytest.raises(ValueError, match="step 'train': no artifact key for input 'df' .*'load'"):
        step_key(pipeline.step("train"), pipeline, {}, {})


def test_magic_lines_are_masked_so_comments_still_do_not_count() -> None:
    plain = normalize_code("%matplotlib inline\nx = 1")
    assert plain == normalize_code("%matplotlib inline  \n# note\nx = 1  # one")
    assert plain != normalize_code("%matplotlib widget\nx = 1")


def test_unparsable_code_falls_back_to_a_comment_filter() -> None:
    assert normalize_code("x = = 1\n# c\n\n") == normalize_code("x = = 1")
    assert normalize_code("x = = 1") != normalize_code("x = = 2")


def test_parameter_types_stay_apart(pipeline) -> None:
    keys = {train_key(pipeline, params={"lr": v}) for v in (1, 1.0, True, "1", None)}
    assert len(keys) == 5


def test_json_value_is_plain_json_or_a_repr() -> None:
    assert json_value((1, 2)) == [1, 2]
    assert json_value({1, 2}) == {"repr": "{1, 2}"}


def ingredients(pipeline, params=None, inputs=None):
    return key_ingredients(pipeline.step("train"), pipeline, params or {}, inputs or UPSTREAM)


def test_reasons_name_what_changed(pipeline) -> None:
    old = ingredients(pipeline)
    assert key_reasons(None, old) == ["no cache entry"]
    assert key_reasons(old, ingredients(pipeline)) == []
    assert key_reasons(old, ingredients(make_pipeline(train="model = df"))) == ["code changed"]
    assert key_reasons(old, ingredients(make_pipeline(setup="import os"))) == ["setup changed"]
    assert key_reasons(old, ingredients(pipeline, params={"lr": 1})) == ["parameter lr changed"]
    assert key_reasons(old, ingredients(pipeline, inputs={"df": "c" * 64})) == [
        "upstream load changed"
    ]
    both = ingredients(make_pipeline(train="model = df"), params={"lr": 1})
    assert explain(old, both) == "code changed; parameter lr changed"


def test_ingredients_round_trip_through_json(pipeline) -> None:
    from mlpipe_jupyter.cache.keys import KeyIngredients

    original = ingredients(pipeline, params={"lr": [1, 2]})
    again = KeyIngredients.from_json(original.to_json())
    assert again == original
    assert again.key() == original.key() == train_key(pipeline, {"lr": [1, 2]})


LINES = ["import os", "x = 1", "def f(a):", "    return a + x", "y = f(2)", "if y:", "    z = [y]"]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(LINES)), st.sampled_from(
    ["", "# note", "   ", "# TODO: tune"])), max_size=8))
def test_inserting_comments_and_blank_lines_never_changes_the_code(inserts) -> None:
    lines = list(LINES)
    for position, extra in sorted(inserts, reverse=True):
        lines.insert(position, extra)
    assert normalize_code("\n".join(lines)) == normalize_code("\n".join(LINES))


def test_errors_survive_pickling() -> None:
    import pickle
    from pathlib import Path

    from mlpipe_jupyter.cache.serializers import UnsavableValue
    from mlpipe_jupyter.cache.store import CorruptArtifact
    from mlpipe_jupyter.compile.runtime import MissingOutput, StepInputError
    from mlpipe_jupyter.execute.records import RunNotFound

    for error in (UnsavableValue("g", "generator", "no", "s"), CorruptArtifact(Path("/a"), "x"),
                  StepInputError("s", "v", "r"), MissingOutput("s", "v"), RunNotFound("r")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error) and str(again) == str(error)


def test_parameters_read_by_setup_count_for_every_step() -> None:
    reading = make_pipeline(setup="import math\nSEED = seed * 2", params={"lr": 0.1, "seed": 1})
    load = reading.step("load")
    assert step_params(load, reading) == ("seed",)
    assert step_params(reading.step("train"), reading) == ("lr", "seed")
    assert step_key(load, reading, {"seed": 2}, {}) != step_key(load, reading, {}, {})
    assert step_params(load, make_pipeline(params={"lr": 0.1, "seed": 1})) == ()


@pytest.mark.parametrize(
    "value",
    [{"b", "a", "c"}, frozenset({3, 1}), set(), frozenset(), {"k": {2, 1}}, [(1,), ()], 1.5],
)
def test_literal_repr_is_sorted_for_sets_and_evaluates_back(value) -> None:
    from mlpipe_jupyter.cache.keys import literal_repr

    text = literal_repr(value)
    assert eval(text) == value
    assert literal_repr({"c", "a", "b"}) == "{'a', 'b', 'c'}"
