"""Which cache entries a retention policy removes: pure, no I/O.

An entry belongs to a project (the notebook it was made for) and a step; a policy
never compares entries across projects. Entries that something still needs are
protected and never chosen: what the latest run of each notebook (and of each
published version) used, pinned runs, and what a live run holds. Of the rest:

- `keep_last N`: in each (project, step), only the N most recently used stay;
- `older_than`: an entry not used for that long goes;
- `max_size`: while the store's artifacts add up to more than that, the least
  recently used entry goes, and with it the artifacts no remaining entry shares.

Use is the last time a run or a kernel took the entry (a hit refreshes it), else
when it was made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mlpipe_jupyter.errors import BadInput

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_SIZES = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


@dataclass(frozen=True)
class Policy:
    """What a prune keeps; every field None means that rule is off."""

    keep_last: int | None = None
    older_than_s: float | None = None
    max_size: int | None = None

    @property
    def empty(self) -> bool:
        return self.keep_last is None and self.older_than_s is None and self.max_size is None

    def merged(self, other: Policy) -> Policy:
        """`other`'s rules where it sets them, else these (command line over config)."""
        return Policy(
            other.keep_last if other.keep_last is not None else self.keep_last,
            other.older_than_s if other.older_than_s is not None else self.older_than_s,
            other.max_size if other.max_size is not None else self.max_size,
        )

    def describe(self) -> str:
        parts = []
        if self.keep_last is not None:
            parts.append(f"keep last {self.keep_last} per step")
        if self.older_than_s is not None:
            parts.append(f"older than {format_duration(self.older_than_s)}")
        if self.max_size is not None:
            parts.append(f"max size {format_size(self.max_size)}")
        return ", ".join(parts) or "no rules"


@dataclass(frozen=True)
class Candidate:
    """One cache entry as the policy sees it."""

    key: str
    project: str
    step: str
    last_used: float
    artifacts: frozenset[str] = field(default_factory=frozenset)
    protected: str | None = None  # why it must stay, when it must


@dataclass(frozen=True)
class Choice:
    key: str
    why: str  # which rule chose it


def choose(candidates: list[Candidate], sizes: dict[str, int], policy: Policy,
           now: float) -> list[Choice]:
    """The entries `policy` removes, in the order it removes them.

    `sizes` maps every artifact key of the store to its size in bytes (artifacts no
    entry names count toward the total too, until a sweep removes them)."""
    chosen: dict[str, str] = {}
    if policy.keep_last is not None:
        groups: dict[tuple[str, str], list[Candidate]] = {}
        for cand in candidates:
            groups.setdefault((cand.project, cand.step), []).append(cand)
        for group in groups.values():
            newest_first = sorted(group, key=lambda c: (-c.last_used, c.key))
            for cand in newest_first[policy.keep_last:]:
                if not cand.protected:  # a protected one stays even outside the last N
                    chosen.setdefault(cand.key, f"not among the last {policy.keep_last}")
    if policy.older_than_s is not None:
        cutoff = now - policy.older_than_s
        for cand in candidates:
            if not cand.protected and cand.last_used < cutoff:
                chosen.setdefault(cand.key, f"unused for {format_duration(now - cand.last_used)}")
    if policy.max_size is not None:
        _over_size(candidates, sizes, policy.max_size, chosen)
    order = {c.key: (c.last_used, c.key) for c in candidates}
    return [Choice(key, why) for key, why in sorted(chosen.items(), key=lambda kv: order[kv[0]])]


def _over_size(candidates: list[Candidate], sizes: dict[str, int], cap: int,
               chosen: dict[str, str]) -> None:
    refs: dict[str, int] = {}
    for cand in candidates:
        if cand.key not in chosen:
            for art in cand.artifacts:
                refs[art] = refs.get(art, 0) + 1
    live = set(refs)
    total = sum(size for key, size in sizes.items() if key in live)
    for cand in sorted(candidates, key=lambda c: (c.last_used, c.key)):
        if total <= cap:
            return
        if cand.protected or cand.key in chosen:
            continue
        chosen[cand.key] = f"store over {format_size(cap)}"
        for art in cand.artifacts:
            refs[art] -= 1
            if refs[art] == 0:
                total -= sizes.get(art, 0)


def parse_duration(text: str | int | float, what: str = "--older-than") -> float:
    """`30d`, `12h`, `90m`, `45s`, `2w` or a number of seconds -> seconds."""
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        if text < 0:
            raise BadInput(f"{what}: {text} is negative")
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text).lower())
    if not match:
        raise BadInput(f"{what}: {text!r} is not a duration; write e.g. 30d, 12h, 90m or 45s")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def parse_size(text: str | int, what: str = "--max-size") -> int:
    """`50GB`, `500MiB`, `10kb` or a number of bytes -> bytes."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0:
            raise BadInput(f"{what}: {text} is negative")
        return text
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", str(text).lower())
    if not match or match.group(2) not in _SIZES:
        raise BadInput(f"{what}: {text!r} is not a size; write e.g. 50GB, 500MiB or 10kb")
    return int(float(match.group(1)) * _SIZES[match.group(2)])


def parse_keep_last(value: str | int, what: str = "--keep-last") -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise BadInput(f"{what}: {value!r} is not a whole number; write e.g. 3") from None
    if number < 1:
        raise BadInput(f"{what}: {number} keeps nothing; use 1 or more")
    return number


def format_size(size: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def format_duration(seconds: float) -> str:
    if seconds >= 86400:
        return f"{seconds / 86400:.0f}d"
    if seconds >= 3600:
        return f"{seconds / 3600:.0f}h"
    if seconds >= 60:
        return f"{seconds / 60:.0f}m"
    return f"{seconds:.0f}s"
