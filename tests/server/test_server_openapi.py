"""docs/openapi.yaml documents exactly the routes and methods the handlers serve."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from mlpipe_jupyter.server.handlers import ROUTES, SEGMENT, NotFoundHandler

SPEC = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
METHODS = ("get", "post", "patch", "put", "delete")


def test_every_served_route_is_documented_and_nothing_else():
    documented = {(p, m) for p, item in SPEC["paths"].items() for m in item if m in METHODS}
    served = set()
    for route, handler in ROUTES:
        if handler is NotFoundHandler:
            continue
        shape = re.compile("^/" + route.replace(SEGMENT, r"\{\w+\}") + "$")
        [path] = [p for p in SPEC["paths"] if shape.match(p)]
        served |= {(path, m) for m in METHODS if m in vars(handler)}
    assert served == documented
    assert SPEC["openapi"].startswith("3.")
