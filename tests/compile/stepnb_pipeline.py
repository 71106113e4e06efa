"""A pipeline built by hand: setup, params, a step with a body cell that displays."""

from __future__ import annotations

from mlpipe_jupyter.analysis.model import Cell, Pipeline, Step, StepOptions

CELLS = (
    Cell(0, "code", "import numpy as np\n\nSCALE = 2"),
    Cell(1, "code", "%%params\nlr = 0.5\nepochs = 3"),
    Cell(2, "code", "%%step load --cpu 1\nx = np.arange(4)"),
    Cell(3, "markdown", "## Train"),
    Cell(4, "code", "%%step train --outputs w\nw = x * lr * SCALE\nprint('trained', w.sum())"),
    Cell(5, "code", "w.mean()  # scratch cell: shows a value"),
)


def make_pipeline(train_outputs: tuple[str, ...] = ("w",)) -> Pipeline:
    load = Step("load", 2, (2,), "x = np.arange(4)", StepOptions(cpu=1), (), ("x",), (), ("x",))
    train = Step(
        "train", 4, (4, 5),
        "w = x * lr * SCALE\nprint('trained', w.sum())\n\nw.mean()  # scratch cell: shows a value",
        StepOptions(outputs=("w",)), reads=("x",), binds=("w",), params=("lr",),
        outputs=train_outputs, inputs=(("x", "load"),),
    )
    return Pipeline(
        steps=(load, train), edges=(), params={"lr": 0.5, "epochs": 3},
        setup_source="import numpy as np\n\nSCALE = 2", setup_cells=(0,), cells=CELLS,
        order=("load", "train"),
    )

