"""Compare what steps did (their `StepReport`s) with the plan (DESIGN rule 10).

Pure: `check` looks at the reports of the steps that succeeded so far and
returns the dependencies the plan missed, each a `Discovery` from the step
that must come first (`writer`) to the one that depends on it (`reader`):

1. files: the reader read a file that a step before it in notebook order
   wrote (the nearest such writer), and the plan has no path between them;
   `stale` when the bytes it read are not the ones that writer wrote;
2. inputs changed: a step changed the value of an input `x`; a later step
   (in notebook order) that reads `x` from the same producer must read it
   from the step that changed it (`rewires`);
3. random state: a step drew from a global generator that an earlier step
   (the nearest) also drew from, without reading that step's end state;
4. folders: the reader listed a folder (`glob`, `os.listdir`) into which a step
   before it in notebook order wrote a file, with no path between them: what
   it listed may have missed the file (always `stale`: a listing keeps only
   a hash of the names).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from mlpipe_jupyter.compile.report import StepReport

FILE = "file:"
RANDOM = "random:"


@dataclass(frozen=True)
class Discovery:
    """`reader` depends on `writer` through `var` ("file:PATH", "random:GEN" or a name)."""

    writer: str
    reader: str
    var: str
    stale: bool = False  # the reader already ran against the wrong ordering
    rewires: bool = False  # the reader's input `var` comes from `writer` now

    def describe(self) -> str:
        """What the run record lists under the reader's "discovered"."""
        return f"{self.var} from {self.writer}"

    def rerun_reason(self) -> str:
        if self.var.startswith(FILE):
            return f"re-run: reads {self.var} written by {self.writer}"
        if self.var.startswith(RANDOM):
            return f"re-run: draws from {self.var} after {self.writer}"
        return f"re-run: reads {self.var} changed by {self.writer}"

    def to_json(self) -> dict[str, str]:
        return {"from": self.writer, "to": self.reader, "var": self.var}


def check(
    positions: Mapping[str, int],
    reports: Mapping[str, StepReport],
    producers: Mapping[str, Mapping[str, str]],
    ancestors: Callable[[str], Collection[str]],
    started: Collection[str],
    known: Collection[tuple[str, str, str]] = (),
    carried: Collection[str] = (),
) -> list[Discovery]:
    """The dependencies the plan missed, in the readers' notebook order.

    `reports`: the steps that succeeded in this run; `producers`: each step's
    `{input: producing step}` as planned so far; `ancestors(step)`: the steps
    it waits for, transitively; `started`: steps decided or run already;
    `known`: (writer, reader, var) found before, never returned again;
    `carried`: the generators whose state the step runtime saves and loads as
    `random:GEN` values, so a reader of one can be re-run from the right state.
    """
    found = [
        *_files(positions, reports, ancestors),
        *_changed_inputs(positions, reports, producers, started),
        *_random(positions, reports, producers, carried),
        *_listings(positions, reports, ancestors),
    ]
    seen = set(known)
    unique = []
    for discovery in sorted(found, key=lambda d: (positions[d.reader], positions[d.writer])):
        triple = (discovery.writer, discovery.reader, discovery.var)
        if triple not in seen:
            seen.add(triple)
            unique.append(discovery)
    return unique


def _nearest_before(
    positions: Mapping[str, int], candidates: Collection[str], reader: str
) -> str | None:
    before = [c for c in candidates if positions[c] < positions[reader]]
    return max(before, key=positions.__getitem__, default=None)


def _files(
    positions: Mapping[str, int],
    reports: Mapping[str, StepReport],
    ancestors: Callable[[str], Collection[str]],
) -> list[Discovery]:
    written = {
        name: {fact.path: fact.sha256 for fact in report.files_written}
        for name, report in reports.items()
    }
    found = []
    for reader, report in reports.items():
        for fact in report.files_read:
            writers = [w for w, paths in written.items() if fact.path in paths]
            writer = _nearest_before(positions, writers, reader)
            if writer is None or writer in ancestors(reader):
                continue
            stale = fact.sha256 != written[writer][fact.path]
            found.append(Discovery(writer, reader, FILE + fact.path, stale=stale))
    return found


def _listings(
    positions: Mapping[str, int],
    reports: Mapping[str, StepReport],
    ancestors: Callable[[str], Collection[str]],
) -> list[Discovery]:
    found = []
    for reader, report in reports.items():
        listed = {fact.path for fact in report.dirs_listed}
        if not listed:
            continue
        for writer, other in reports.items():
            if positions[writer] >= positions[reader] or writer in ancestors(reader):
                continue
            for fact in other.files_written:
                if (posixpath.dirname(fact.path) or ".") in listed:
                    found.append(Discovery(writer, reader, FILE + fact.path, stale=True))
    return found


def _changed_inputs(
    positions: Mapping[str, int],
    reports: Mapping[str, StepReport],
    producers: Mapping[str, Mapping[str, str]],
    started: Collection[str],
) -> list[Discovery]:
    found = []
    for changer, report in reports.items():
        for var in report.inputs_changed:
            source = producers[changer].get(var)
            if source is None:
                continue  # not an input from a step (e.g. a setup name): nothing flows
            for reader, inputs in producers.items():
                if positions[reader] > positions[changer] and inputs.get(var) == source:
                    found.append(Discovery(
                        changer, reader, var, stale=reader in started, rewires=True,
                    ))
    return found


def _random(
    positions: Mapping[str, int],
    reports: Mapping[str, StepReport],
    producers: Mapping[str, Mapping[str, str]],
    carried: Collection[str],
) -> list[Discovery]:
    found = []
    for reader, report in reports.items():
        for generator in report.random:
            var = RANDOM + generator
            drew = [name for name, other in reports.items() if generator in other.random]
            writer = _nearest_before(positions, drew, reader)
            if writer is None or producers[reader].get(var) == writer:
                continue
            moves = generator in carried
            found.append(Discovery(writer, reader, var, stale=moves, rewires=moves))
    return found
