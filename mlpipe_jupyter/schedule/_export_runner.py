"""Run an exported mlpipe pipeline with plain papermill, one step notebook after another.

Usage: python run_pipeline.py [-p NAME VALUE ...] [--store DIR] [--cwd DIR] [--output DIR]

Each step notebook gets the parameter `_mlpipe`: the artifact store folder, the
references of the inputs it reads (saved by the steps before it), the names of the
outputs to save and the file where it writes their references. This file is copied
into the export folder by `mlpipe export`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def parse_value(text: str) -> object:
    """papermill's -p parsing: int, float, bool, None, else the string."""
    for convert in (int, float):
        try:
            return convert(text)
        except ValueError:
            pass
    return {"True": True, "False": False, "None": None}.get(text, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-p", "--parameters", nargs=2, action="append", default=[],
                        metavar=("NAME", "VALUE"))
    parser.add_argument("--store", default=str(HERE / "store"), help="artifact folder")
    parser.add_argument("--cwd", default=str(HERE), help="working directory of the kernels")
    parser.add_argument("--output", default=str(HERE / "output"), help="executed notebooks")
    args = parser.parse_args(argv)

    import papermill

    spec = json.loads((HERE / "pipeline.json").read_text(encoding="utf-8"))
    params = {**spec["params"], **{k: parse_value(v) for k, v in args.parameters}}
    output = Path(args.output)
    (output / "results").mkdir(parents=True, exist_ok=True)
    saved: dict[str, dict] = {}
    for step in spec["steps"]:
        result = output / "results" / f"{step['name']}.json"
        mlpipe = {
            "store": str(Path(args.store).resolve()),
            "inputs": {var: saved[producer][var] for var, producer in step["inputs"].items()},
            "outputs": step["outputs"],
            "result": str(result.resolve()),
        }
        print(f"step {step['name']} ...", file=sys.stderr, flush=True)
        papermill.execute_notebook(
            str(HERE / step["notebook"]),
            str(output / Path(step["notebook"]).name),
            parameters={**{p: params[p] for p in step["params"]}, "_mlpipe": mlpipe},
            cwd=args.cwd,
            progress_bar=False,
        )
        written = json.loads(result.read_text(encoding="utf-8"))  # {"outputs": ..., "report": ...}
        saved[step["name"]] = written["outputs"] if "report" in written else written
    print(f"done: {len(spec['steps'])} steps, executed notebooks in {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
