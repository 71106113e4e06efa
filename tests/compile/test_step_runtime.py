from __future__ import annotations

import json
import threading

import numpy as np
import pytest

from mlpipe_jupyter.cache.store import Store, UnsavableValue
from mlpipe_jupyter.compile.runtime import MissingOutput, StepInputError, load_inputs, save_outputs


@pytest.fixture
def store(tmp_path) -> Store:
    return Store.open(tmp_path / "store")


def config(store: Store, tmp_path, **extra) -> dict:
    return {"store": str(store.root), "inputs": {}, "outputs": [],
            "result": str(tmp_path / "result.json"), "step": "train", **extra}


def test_save_then_load_round_trip(store, tmp_path) -> None:
    cfg = config(store, tmp_path, outputs=["w", "meta"])
    save_outputs(cfg, {"w": np.ones(3), "meta": {"lr": 0.1}, "other": 1})
    refs = json.loads((tmp_path / "result.json").read_text())["outputs"]
    assert sorted(refs) == ["meta", "w"] and refs["w"]["format"] == "npy"
    loaded = load_inputs(config(store, tmp_path, inputs=refs))
    assert loaded["meta"] == {"lr": 0.1} and loaded["w"].tolist() == [1.0, 1.0, 1.0]


def test_no_outputs_still_writes_an_empty_result(store, tmp_path) -> None:
    save_outputs(config(store, tmp_path), {})
    assert json.loads((tmp_path / "result.json").read_text())["outputs"] == {}
    assert load_inputs(config(store, tmp_path)) == {}


def test_missing_output_names_step_and_var(store, tmp_path) -> None:
    with pytest.raises(MissingOutput, match="^step 'train' should bind 'df' but did not"):
        save_outputs(config(store, tmp_path, outputs=["df"]), {})
    assert not (tmp_path / "result.json").exists()


def test_unsavable_output_names_step_var_and_type(store, tmp_path) -> None:
    with pytest.raises(UnsavableValue, match="^step 'fit': output 'lock' of type _thread.lock"):
        save_outputs(config(store, tmp_path, outputs=["lock"]), {"lock": threading.Lock()},
                     step="fit")


def test_corrupt_input_names_the_var(store, tmp_path) -> None:
    ref = store.put("x", np.arange(100))
    store.artifact_path(ref).write_bytes(b"short")
    cfg = config(store, tmp_path, inputs={"x": ref.to_json()})
    expected = "^step 'train': input 'x' cannot be loaded: .*truncated"
    with pytest.raises(StepInputError, match=expected):
        load_inputs(cfg)
    with pytest.raises(StepInputError, match="input 'y' cannot be loaded: bad artifact ref"):
        load_inputs(config(store, tmp_path, inputs={"y": {"key": "k"}}))
