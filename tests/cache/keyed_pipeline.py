"""A tiny two-step pipeline built by hand (the analysis is tested on its own)."""

from __future__ import annotations

from typing import Any

from mlpipe_jupyter.analysis.model import Cell, Pipeline, Step, StepOptions


def make_pipeline(
    *,
    setup: str = "import math",
    load: str = "df = make(3)",
    train: str = "model = df * lr",
    params: dict[str, Any] | None = None,
    train_options: StepOptions | None = None,
) -> Pipeline:
    cells = (
        Cell(0, "code", setup),
        Cell(1, "code", "%%params\nlr = 0.1"),
        Cell(2, "code", f"%%step load\n{load}"),
        Cell(3, "code", f"%%step train\n{train}"),
    )
    first = Step("load", 2, (2,), load, StepOptions(), (), ("df",), (), ("df",))
    second = Step(
        "train", 3, (3,), train, train_options or StepOptions(),
        reads=("df",), binds=("model",), params=("lr",), outputs=("model",),
        inputs=(("df", "load"),),
    )
    return Pipeline(
        steps=(first, second), edges=(), params=params or {"lr": 0.1},
        setup_source=setup, setup_cells=(0,), cells=cells, order=("load", "train"),
    )

