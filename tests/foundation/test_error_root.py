"""Every exception class mlpipe defines is an `MlpipeError` (one root, one translation per
front end: the CLI's one line and exit code, the server's status, the magics' UsageError)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import mlpipe_jupyter
from mlpipe_jupyter.errors import MlpipeError

SKIP = {"mlpipe_jupyter.__main__", "mlpipe_jupyter.schedule._export_runner"}
#: translations of an MlpipeError for one front end, not errors of their own
TRANSLATIONS = {"mlpipe_jupyter.server.errors.MlpipeHTTPError"}


def _modules():
    for info in pkgutil.walk_packages(mlpipe_jupyter.__path__, "mlpipe_jupyter."):
        if info.name in SKIP:
            continue
        yield importlib.import_module(info.name)


def test_every_exception_class_is_under_the_root() -> None:
    outside = sorted(
        f"{module.__name__}.{name}"
        for module in _modules()
        for name, value in vars(module).items()
        if inspect.isclass(value) and issubclass(value, BaseException)
        and value.__module__ == module.__name__ and not issubclass(value, MlpipeError)
    )
    assert set(outside) == TRANSLATIONS, f"exceptions outside MlpipeError: {outside}"
