"""The run-state machine, driven with no cluster: table-driven event scripts.

Each case names the steps (notebook order), the edges, and a script of
events; the machine's actions come back as short lines a person can read
("submit b#1", "skip d: upstream 'b' failed", "finish failed").
"""

from __future__ import annotations

import pytest
from machine_script import Case, corrupt, fail, feed, make, ok

from mlpipe_jupyter.execute.events import Failure


CASES = [
    Case("chain", make("a b", "a>b"), [ok("a"), ok("b")], [
        ["submit a#1"], ["succeeded a", "submit b#1"], ["succeeded b", "finish succeeded"],
    ]),
    Case("independent steps start together", make("a b c", "a>c b>c"),
         [ok("b"), ok("a"), ok("c")], [
        ["submit a#1", "submit b#1"], ["succeeded b"], ["succeeded a", "submit c#1"],
        ["succeeded c", "finish succeeded"],
    ]),
    Case("a retry succeeds", make("a b", "a>b", retries={"a": 2}), [fail("a"), ok("a"), ok("b")], [
        ["submit a#1"], ["retry a#2: a error"], ["succeeded a", "submit b#1"],
        ["succeeded b", "finish succeeded"],
    ]),
    Case("retries run out", make("a b", "a>b", retries={"a": 1}), [fail("a"), fail("a")], [
        ["submit a#1"], ["retry a#2: a error"],
        ["failed a: a error", "skip b: upstream 'a' failed", "finish failed"],
    ]),
    Case("a timeout fails with no retries", make("a"), [fail("a", Failure.TIMEOUT)], [
        ["submit a#1"], ["failed a: a timeout", "finish failed"],
    ]),
    Case("a timeout is retried", make("a", retries={"a": 1}),
         [fail("a", Failure.TIMEOUT), ok("a")], [
        ["submit a#1"], ["retry a#2: a timeout"], ["succeeded a", "finish succeeded"],
    ]),
    Case("a cancelled attempt is not retried", make("a", retries={"a": 3}),
         [fail("a", Failure.CANCELLED)], [
        ["submit a#1"], ["failed a: a cancelled", "finish cancelled"],
    ]),
    # the step's kernel saw the run's cancel before the coordinator did: the run is cancelled
    Case("a step cancelled first cancels the run", make("a b c", "a>b b>c", retries={"b": 2}),
         [ok("a"), fail("b", Failure.CANCELLED)], [
        ["submit a#1"], ["succeeded a", "submit b#1"],
        ["failed b: b cancelled", "skip c: run cancelled", "finish cancelled"],
    ]),
    Case("a lost worker fails the step, or retries it", make("a b", retries={"b": 1}),
         [fail("a", Failure.WORKER_LOST), fail("b", Failure.WORKER_LOST), ok("b")], [
        ["submit a#1", "submit b#1"], ["failed a: a worker-lost"], ["retry b#2: b worker-lost"],
        ["succeeded b", "finish failed"],
    ]),
    Case("a failed branch skips its downstream, other branches go on",
         make("a b c d e f", "a>b a>c b>d c>e d>f"),
         [ok("a"), fail("b"), ok("c"), ok("e")], [
        ["submit a#1"], ["succeeded a", "submit b#1", "submit c#1"],
        ["failed b: b error", "skip d: upstream 'b' failed", "skip f: upstream 'b' failed"],
        ["succeeded c", "submit e#1"], ["succeeded e", "finish failed"],
    ]),
    Case("cancel stops what runs and skips the rest", make("a b c", "a>c b>c"),
         [ok("a"), ("cancel",), ok("b")], [
        ["submit a#1", "submit b#1"], ["succeeded a"],
        ["cancel b", "skip b: run cancelled", "skip c: run cancelled", "finish cancelled"],
        [],
    ]),
    Case("early cutoff: upstream re-ran with the same outputs",
         make("a b c", "a>b b>c", pending="b c"),
         [ok("a"), ("decided", "b", True), ("decided", "c", False), ok("c")], [
        ["submit a#1"], ["succeeded a", "decide b"], ["cached b", "decide c"], ["submit c#1"],
        ["succeeded c", "finish succeeded"],
    ]),
    Case("steps the plan cached do not run", make("a b c", "a>b a>c", cached="a b"), [ok("c")], [
        ["submit c#1"], ["succeeded c", "finish succeeded"],
    ]),
    Case("everything cached finishes at once", make("a b", "a>b", cached="a b"), [], [
        ["finish succeeded"],
    ]),
    Case("an input that fails its checksum re-runs its cached producer, then the reader",
         make("a b c", "a>b b>c", cached="a", inputs={"b": {"x": "a"}, "c": {"y": "b"}}),
         [corrupt("b", "x"), ok("a"), ok("b"), ok("c")], [
        ["submit b#1"],
        ["invalidate a (x, read by b)",
         "submit a#1 (re-run: artifact of x from step 'a' failed its checksum)"],
        ["succeeded a",
         "submit b#2 (re-run: its input x from step 'a' failed its checksum)"],
        ["succeeded b", "submit c#1"], ["succeeded c", "finish succeeded"],
    ]),
    Case("a second checksum failure of the same input fails the reader in one line",
         make("a b c", "a>b b>c", cached="a", inputs={"b": {"x": "a"}, "c": {"y": "b"}},
              retries={"b": 2}),
         [corrupt("b", "x"), ok("a"), corrupt("b", "x")], [
        ["submit b#1"],
        ["invalidate a (x, read by b)",
         "submit a#1 (re-run: artifact of x from step 'a' failed its checksum)"],
        ["succeeded a",
         "submit b#2 (re-run: its input x from step 'a' failed its checksum)"],
        ["failed b: step 'b': input 'x' from step 'a' failed its checksum again after 'a'"
         " re-ran; the store may be failing: check its disk",
         "skip c: upstream 'b' failed", "finish failed"],
    ]),
    Case("a checksum failure re-runs the producer and re-decides its other readers",
         make("a b c", "a>b a>c", cached="a c", inputs={"b": {"x": "a"}, "c": {"x": "a"}}),
         [corrupt("b", "x"), ok("a"), ("decided", "c", True), ok("b")], [
        ["submit b#1"],
        ["invalidate a (x, read by b)",
         "submit a#1 (re-run: artifact of x from step 'a' failed its checksum)"],
        ["succeeded a", "submit b#2 (re-run: its input x from step 'a' failed its checksum)",
         "decide c"],
        ["cached c"], ["succeeded b", "finish succeeded"],
    ]),
    Case("a superseded attempt is ignored", make("a", retries={"a": 1}),
         [fail("a"), ok("a", attempt=1), ok("a")], [
        ["submit a#1"], ["retry a#2: a error"], [], ["succeeded a", "finish succeeded"],
    ]),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_machine(case: Case) -> None:
    assert case.play() == case.expected


def test_the_run_status_follows_the_steps() -> None:
    m = make("a b", "a>b")
    m.start()
    feed(m, fail("a"))
    assert m.finished == "failed"
    assert [m.status(n) for n in "ab"] == ["failed", "skipped"]
