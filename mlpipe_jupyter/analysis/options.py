"""Parse the argument line of `%%step` and `%%params` into frozen options.

Shared by the magics (which turn `StepLineError` into IPython's `UsageError`)
and the static analysis (which turns it into an `AnalysisError`).
"""

from __future__ import annotations

import re
import shlex
import unicodedata

from ..errors import BadInput
from .model import StepOptions

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgtp]?i?b?)\s*$", re.IGNORECASE)
_UNITS = {
    "": 1, "b": 1,
    "k": 10**3, "kb": 10**3, "kib": 2**10,
    "m": 10**6, "mb": 10**6, "mib": 2**20,
    "g": 10**9, "gb": 10**9, "gib": 2**30,
    "t": 10**12, "tb": 10**12, "tib": 2**40,
    "p": 10**15, "pb": 10**15, "pib": 2**50,
}

STEP_USAGE = (
    "%%step NAME [--after STEP ...] [--gpu N] [--cpu N] [--memory SIZE] "
    "[--retries N] [--timeout SECONDS] [--no-cache] [--cache always|never] [--outputs VAR ...]"
    " [--inputs PATH ...]"
    " [--kernel KERNELSPEC] [--metrics VAR ...]"
    " [--uses NOTEBOOK.ipynb:STEP|NAME@VERSION:STEP [--rename OLD=NEW] [--param NAME=VALUE]]"
)

#: A kernelspec name as Jupyter allows it (`jupyter kernelspec install --name`).
_KERNEL_NAME = re.compile(r"^[a-z0-9._-]+$", re.IGNORECASE)


class StepLineError(BadInput):
    """A `%%step` line that cannot be used; the message is one line with the fix.

    `step` is the step's name when the line has a valid one (the error is in an option).
    """

    def __init__(self, message: str, step: str | None = None) -> None:
        super().__init__(message)
        self.step = step


def parse_size(text: str) -> int:
    """`8GB` -> 8_000_000_000, `512MiB` -> 536_870_912; a plain number is bytes."""
    match = _SIZE.match(text)
    if not match or match.group(2).lower() not in _UNITS:
        raise StepLineError(
            f"--memory {text!r} is not a size; write it like 512MB, 8GB or 2GiB"
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


#: The largest value each numeric option accepts: beyond it is a typo, not a request.
MAXIMUM = {"--gpu": 64, "--cpu": 4096, "--retries": 100, "--timeout": 7 * 24 * 3600}


def _number(option: str, text: str, *, integer: bool, minimum: float) -> float:
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "a whole number" if integer else "a number"
        raise StepLineError(f"{option} {text!r} is not {kind}; write e.g. {option} 2") from None
    if value != value or value in (float("inf"), float("-inf")):  # nan, inf
        raise StepLineError(f"{option} {text!r} is not a finite number; write e.g. {option} 2")
    if value < minimum:
        raise StepLineError(f"{option} must be at least {minimum:g}, got {text}")
    if value > MAXIMUM[option]:
        shown = text if len(text) <= 12 else text[:12] + "..."
        raise StepLineError(f"{option} must be at most {MAXIMUM[option]:g}, got {shown}")
    return value


def _identifier(option: str, text: str) -> str:
    """`text` as Python spells the name (NFKC, like the parser), if it is an identifier."""
    if not text.isidentifier():
        raise StepLineError(
            f"{option} {text!r} is not a Python identifier; use letters, digits and _"
        )
    return unicodedata.normalize("NFKC", text)


def _kernel_name(text: str) -> str:
    """A kernelspec name (letters, digits, `.`, `_`, `-`, as `jupyter kernelspec` allows)."""
    if not _KERNEL_NAME.match(text):
        raise StepLineError(
            f"--kernel {text!r} is not a kernelspec name; use the NAME that"
            " `jupyter kernelspec list` shows (letters, digits, . _ -)"
        )
    return text.lower()


def parse_step_line(line: str) -> tuple[str, StepOptions]:
    """Parse what follows `%%step` into (name, options).

    Raises `StepLineError` with one line naming the option and the fix.
    """
    try:
        words = shlex.split(line, comments=True)
    except ValueError as exc:
        raise StepLineError(f"cannot split the %%step line ({exc}); usage: {STEP_USAGE}") from None
    if not words or words[0].startswith("-"):
        raise StepLineError(f"a step needs a name, as in %%step load; usage: {STEP_USAGE}")
    name = _identifier("step name", words[0])
    try:
        return name, _options(name, words[1:])
    except StepLineError as exc:
        exc.step = name
        raise


def _list_value(words: list[str], i: int, inline: str) -> tuple[list[str], int]:
    """The words of a list option at `words[i]` (`--after a b`, `--after=a`), up to the
    next option; and the index after them."""
    items = [inline] if inline else []
    i += 1
    while i < len(words) and not words[i].startswith("--"):
        items.append(words[i])
        i += 1
    return items, i


def _options(name: str, words: list[str]) -> StepOptions:
    """The options after the step name (`words` without the name)."""
    after: list[str] = []
    outputs: list[str] = []
    inputs: list[str] = []
    metrics: list[str] = []
    values: dict[str, object] = {}
    reuse: dict[str, list[tuple[str, str]]] = {"uses": [], "rename": [], "param": []}
    i = 0
    while i < len(words):
        word = words[i]
        option, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        if option == "--no-cache":
            values["cache"] = False
            i += 1
            continue
        if option == "--cache":  # never: as --no-cache; always: reuse what no check can see
            # (a calendar read keys on nothing, an opaque step is reused): StepOptions.cache
            # is then "always" (truthy, so every `if step.options.cache` still holds)
            text = inline or (words[i + 1] if i + 1 < len(words) else "")
            if text not in ("always", "never"):
                raise StepLineError("--cache takes always or never, as in --cache always")
            values["cache"] = "always" if text == "always" else False
            i += 1 if inline else 2
            continue
        if option == "--inputs":  # file paths or globs, relative to the notebook
            items, i = _list_value(words, i, inline)
            if not items:
                raise StepLineError("--inputs needs at least one path, as in --inputs data.csv")
            inputs.extend(items)
            continue
        if option == "--metrics":  # variables whose final values are the step's metrics
            items, i = _list_value(words, i, inline)
            if not items:
                raise StepLineError("--metrics needs at least one name, as in --metrics auc")
            for item in items:
                for part in filter(None, item.split(",")):
                    metrics.append(_identifier(option, part))
            continue
        if option in ("--after", "--outputs"):
            items, i = _list_value(words, i, inline)
            if not items:
                raise StepLineError(f"{option} needs at least one name, as in {option} load")
            target = after if option == "--after" else outputs
            for item in items:
                for part in filter(None, item.split(",")):
                    target.append(_identifier(option, part))
            continue
        if option in ("--uses", "--uses-digest", "--rename", "--param"):  # issue 25 (uses.py)
            i = _reuse_option(option, words, i, inline, reuse)
            continue
        if option not in ("--gpu", "--cpu", "--memory", "--retries", "--timeout", "--kernel"):
            if not word.startswith("-"):
                raise StepLineError(
                    f"unexpected {word!r} after the step name; a step has one name"
                    f" (usage: {STEP_USAGE})"
                )
            raise StepLineError(f"unknown option {option}; usage: {STEP_USAGE}")
        if inline:
            text = inline
            i += 1
        else:
            if i + 1 >= len(words) or words[i + 1].startswith("--"):
                example = "py311-torch" if option == "--kernel" else "2"
                raise StepLineError(f"{option} needs a value, as in {option} {example}")
            text = words[i + 1]
            i += 2
        if option == "--kernel":
            values["kernel"] = _kernel_name(text)
        elif option == "--gpu":
            values["gpu"] = int(_number(option, text, integer=True, minimum=0))
        elif option == "--cpu":
            values["cpu"] = _number(option, text, integer=False, minimum=0)
        elif option == "--memory":
            values["memory"] = parse_size(text)
        elif option == "--retries":
            values["retries"] = int(_number(option, text, integer=True, minimum=0))
        else:
            values["timeout"] = _number(option, text, integer=False, minimum=0.001)
    if name in after:
        raise StepLineError(f"--after {name}: a step cannot run after itself")
    values.update(_reuse_values(reuse))
    return StepOptions(
        after=tuple(dict.fromkeys(after)),
        outputs=tuple(dict.fromkeys(outputs)),
        inputs=tuple(dict.fromkeys(inputs)),
        **({"metrics": tuple(dict.fromkeys(metrics))} if metrics else {}),
        **values,  # type: ignore[arg-type]
    )


def _reuse_option(option: str, words: list[str], i: int, inline: str,
                  reuse: dict[str, list[tuple[str, str]]]) -> int:  # fmt: skip
    """`--uses REF`, `--rename OLD=NEW`, `--param NAME=VALUE` (issue 25, analysis/uses.py)
    and `--uses-digest SHA` (written by uses.expand); the index after the option."""
    if inline:
        text, i = inline, i + 1
    elif i + 1 < len(words) and not words[i + 1].startswith("--"):
        text, i = words[i + 1], i + 2
    else:
        example = {"--uses": "prep.ipynb:clean", "--rename": "df=raw_df",
                   "--param": "threshold=0.5", "--uses-digest": "SHA"}[option]
        raise StepLineError(f"{option} needs a value, as in {option} {example}")
    if option in ("--uses", "--uses-digest"):
        reuse["uses"].append((option, text))
        return i
    left, sep, right = text.partition("=")
    if not sep or not right:
        raise StepLineError(f"{option} {text!r}: write {option} NAME=VALUE")
    left = _identifier(option, left)
    if option == "--rename":
        right = _identifier(option, right)
    reuse["rename" if option == "--rename" else "param"].append((left, right))
    return i


def _reuse_values(reuse: dict[str, list[tuple[str, str]]]) -> dict[str, object]:
    uses = dict(reuse["uses"])
    if not uses.get("--uses"):
        if reuse["rename"] or reuse["param"]:
            raise StepLineError("--rename and --param go with --uses NOTEBOOK.ipynb:STEP")
        return {}
    return {"uses": uses["--uses"], "uses_digest": uses.get("--uses-digest", ""),
            "renames": tuple(reuse["rename"]), "uses_params": tuple(reuse["param"])}
