"""The retention policy on its own: which entries a rule chooses (pure, table-driven)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mlpipe_jupyter.cache.retention import (Candidate, Policy, choose, parse_duration,
                                            parse_keep_last, parse_size)
from mlpipe_jupyter.errors import BadInput

DAY = 86400.0
NOW = 100 * DAY


def cand(key: str, project: str = "a.ipynb", step: str = "load", used_days_ago: float = 0,
         artifacts: tuple[str, ...] = (), protected: str | None = None) -> Candidate:
    return Candidate(key, project, step, NOW - used_days_ago * DAY,
                     frozenset(artifacts or (f"art-{key}",)), protected)


@dataclass(frozen=True)
class Case:
    name: str
    candidates: list[Candidate]
    policy: Policy
    chosen: list[str]
    sizes: dict[str, int] | None = None


CASES = [
    Case("keep last 1 per step of each notebook: two notebooks with the same step names",
         [cand("a1", "a.ipynb", "load", 3), cand("a2", "a.ipynb", "load", 1),
          cand("b1", "b.ipynb", "load", 2), cand("b2", "b.ipynb", "report", 5)],
         Policy(keep_last=1), ["a1"]),
    Case("keep last 2", [cand("x1", used_days_ago=3), cand("x2", used_days_ago=2),
                         cand("x3", used_days_ago=1)], Policy(keep_last=2), ["x1"]),
    Case("a protected entry stays on top of the N kept and is never chosen",
         [cand("old", used_days_ago=9, protected="pinned run r1"), cand("mid", used_days_ago=5),
          cand("new", used_days_ago=2), cand("newer", used_days_ago=1)],
         Policy(keep_last=2), ["mid"]),
    Case("older than 30 days, least recently used first",
         [cand("n", used_days_ago=40), cand("m", used_days_ago=31), cand("k", used_days_ago=29),
          cand("p", used_days_ago=90, protected="latest run of a.ipynb")],
         Policy(older_than_s=30 * DAY), ["n", "m"]),
    Case("max size: the least recently used go until the rest fits",
         [cand("o", used_days_ago=3, artifacts=("A",)), cand("p", used_days_ago=2,
                                                             artifacts=("B",)),
          cand("q", used_days_ago=1, artifacts=("C",))],
         Policy(max_size=250), ["o"], {"A": 100, "B": 100, "C": 100}),
    Case("max size: removing an entry whose artifact another keeps frees nothing",
         [cand("o", used_days_ago=3, artifacts=("S",)), cand("p", used_days_ago=2,
                                                             artifacts=("S",)),
          cand("q", used_days_ago=1, artifacts=("C",))],
         Policy(max_size=150), ["o", "p"], {"S": 100, "C": 100}),
    Case("no rules, nothing chosen", [cand("z", used_days_ago=999)], Policy(), []),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_choose(case: Case) -> None:
    sizes = case.sizes or {a: 1 for c in case.candidates for a in c.artifacts}
    chosen = choose(case.candidates, sizes, case.policy, NOW)
    assert [c.key for c in chosen] == case.chosen
    assert all(c.why for c in chosen)


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * DAY), ("12h", 43200), ("90m", 5400),
                                               ("45s", 45), ("2w", 14 * DAY), ("10", 10)])
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "size"), [("50GB", 50 * 10**9), ("500MiB", 500 * 2**20),
                                            ("10kb", 10_000), ("123", 123)])
def test_sizes(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("call", "line"), [
    (lambda: parse_duration("3x"), "--older-than: '3x' is not a duration; write e.g. 30d"),
    (lambda: parse_size("lots"), "--max-size: 'lots' is not a size; write e.g. 50GB"),
    (lambda: parse_keep_last("0"), "--keep-last: 0 keeps nothing; use 1 or more"),
    (lambda: parse_keep_last("two"), "--keep-last: 'two' is not a whole number"),
])
def test_bad_policy_values_are_one_line(call, line: str) -> None:
    with pytest.raises(BadInput) as caught:
        call()
    assert str(caught.value).startswith(line) and "\n" not in str(caught.value)
