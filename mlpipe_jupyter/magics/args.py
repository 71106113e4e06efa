"""argparse for line magics: a bad line becomes one `UsageError` line, never SystemExit."""

from __future__ import annotations

import argparse
import shlex

from IPython.core.error import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        usage = " ".join(self.format_usage().split()[1:])  # argparse wraps it: one line
        raise UsageError(f"{self.prog}: {message}; usage: {usage}")


def parser(prog: str) -> argparse.ArgumentParser:
    """A parser whose errors are `UsageError`s naming `prog`."""
    return _Parser(prog=prog, add_help=False, allow_abbrev=False)


def parse(p: argparse.ArgumentParser, line: str) -> argparse.Namespace:
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise UsageError(f"{p.prog}: cannot split {line!r} ({exc})") from None
    return p.parse_args(words)
