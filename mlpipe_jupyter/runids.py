"""What a run id may be: checked wherever one comes in from outside.

Run ids name folders (`<store>/runs/<run_id>/`) and Dask task keys, so one given
by a caller (a `--request` file, `RunRequest.build(run_id=)`, `mlp.get_run`,
`GET runs/ID`, `mlpipe runs show`) must be a plain name: `../x` would write
outside `runs/`. The ids mlpipe makes (`records.new_run_id`,
`20261122-093012-ab12cd`) always pass.
"""

from __future__ import annotations

import re

from .errors import BadInput

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


def check_run_id(run_id: object) -> str:
    """`run_id` when it is a plain name; `BadInput` (one line) otherwise."""
    if isinstance(run_id, str) and RUN_ID.fullmatch(run_id):
        return run_id
    shown = repr(run_id)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    raise BadInput(
        f"{shown} is not a run id: a run id is letters, digits, '-' and '_' (at most 64,"
        " starting with a letter or digit), as in 20261122-093012-ab12cd"
    )
