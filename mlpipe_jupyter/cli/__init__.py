"""The `mlpipe` command: each subcommand module registers itself here.

A subcommand module has `register(subparsers)`, which adds its parsers and sets
`func` on each to a callable `(args) -> int`. Modules keep their heavy imports
inside those callables so that `mlpipe dag` answers fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

from ..errors import BadInput, MlpipeError, StepFailed

SUBCOMMAND_MODULES = ("dag", "run", "pipelines", "cluster", "store")
EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2


class CliError(BadInput):
    """Bad input of the command line: printed as one line on stderr, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line on stderr (exit 2) like every other."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"{self.prog}: {message}; see {self.prog} --help\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="mlpipe",
        description="Run a Jupyter notebook of %%step cells as a pipeline.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMAND_MODULES:
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_BAD_INPUT
    _interrupt_on_termination()
    try:
        return int(args.func(args) or 0)
    except StepFailed as exc:
        print(f"mlpipe: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except MlpipeError as exc:  # the one translation: each line of the message, exit 2
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"mlpipe: {line}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("mlpipe: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `mlpipe runs | head`: the reader left, that is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK


def _interrupt_on_termination() -> None:
    """SIGTERM and SIGHUP stop a command as Ctrl-C does: a run is recorded cancelled,
    its steps stopped and its cluster closed, instead of the process vanishing."""
    import signal

    def interrupt(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            try:
                signal.signal(getattr(signal, name), interrupt)
            except ValueError:  # not the main thread (an embedding caller): leave it
                pass


if __name__ == "__main__":
    sys.exit(main())
