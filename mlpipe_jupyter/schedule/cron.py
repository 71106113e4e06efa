"""Cron expressions: validation with one-line messages, fire times, a readable description.

Five standard fields (minute hour day-of-month month day-of-week) or one of the
macros `@hourly @daily @midnight @weekly @monthly @yearly @annually`. Times are the
machine's local time, as cron uses. croniter computes the fire times; the checks
here exist so that a mistake is reported as "minute must be 0-59, got 61" rather
than croniter's "out of range".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from .errors import BadInput

MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
MONTH_NAMES = (
    "January", "February", "March", "April", "May", "June", "July",
    "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()  # symbolic values, the first one worth `low`


FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day of month", 1, 31),
    Field("month", 1, 12, MONTHS),
    Field("day of week", 0, 7, DAYS),
)
_ITEM = re.compile(r"^(?P<range>\*|[^/-]+(?:-[^/-]+)?)(?:/(?P<step>[^/]+))?$")


class CronError(BadInput):
    """A cron expression that cannot be used; `detail` says which field and why."""

    def __init__(self, expr: str, detail: str) -> None:
        super().__init__(f"cron '{expr}': {detail}")
        self.expr = expr
        self.detail = detail


def normalize(expr: str) -> str:
    """The five-field form of `expr` (macros expanded); CronError when invalid."""
    text = " ".join(str(expr).split())
    fields = MACROS.get(text.lower(), text).split(" ")
    if len(fields) != 5:
        raise CronError(
            expr,
            f"expected 5 fields (minute hour day-of-month month day-of-week) or a macro "
            f"like @daily, got {len(fields) if text else 0}",
        )
    for field, value in zip(FIELDS, fields):
        for item in value.split(","):
            _check_item(expr, field, item)
    _check_fires(expr, fields)
    return " ".join(fields)


#: The most days each month can have (February in a leap year).
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_fires(expr: str, fields: list[str]) -> None:
    """Refuse day-of-month/month pairs that never occur, like `0 0 31 2 *`.

    With a day-of-week restriction cron fires on either match, so only a
    day-of-week of `*` can make the expression never fire.
    """
    _, _, dom, month, dow = fields
    if dow != "*" or dom == "*":
        return
    days = _expand(FIELDS[2], dom)
    months = _expand(FIELDS[3], month)
    if not any(day <= MONTH_DAYS[m - 1] for m in months for day in days):
        names = ", ".join(MONTH_NAMES[m - 1] for m in sorted(months))
        raise CronError(
            expr, f"day of month {dom} never occurs in {names}, so it would never fire"
        )


def _expand(field: Field, value: str) -> set[int]:
    """The values a checked field matches (`1-10/3` -> {1, 4, 7, 10})."""
    found: set[int] = set()
    for item in value.split(","):
        match = _ITEM.match(item)
        assert match is not None  # checked by _check_item
        step = int(match["step"]) if match["step"] else 1
        if match["range"] == "*":
            low, high = field.low, field.high
        else:
            bounds = [_value("", field, part) for part in match["range"].split("-")]
            low, high = bounds[0], bounds[-1]
            if len(bounds) == 1 and match["step"] is not None:
                high = field.high  # `5/15`: from 5 to the end, every 15
        found.update(range(low, high + 1, step))
    return found


def _check_item(expr: str, field: Field, item: str) -> None:
    match = _ITEM.match(item)
    if not match:
        raise CronError(expr, f"{field.name} '{item}' is not a value, range or step")
    if match["step"] is not None:
        step = _number(expr, field, match["step"], what="step")
        if not 1 <= step <= field.high:
            shown = match["step"] if len(match["step"]) <= 12 else match["step"][:12] + "..."
            raise CronError(expr, f"{field.name} step must be 1-{field.high}, got {shown}")
    if match["range"] == "*":
        return
    bounds = [_value(expr, field, part) for part in match["range"].split("-")]
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        raise CronError(expr, f"{field.name} range {item} runs backwards")


def _value(expr: str, field: Field, text: str) -> int:
    if field.names and text.lower() in field.names:
        return field.names.index(text.lower()) + field.low
    value = _number(expr, field, text, what="value")
    if not field.low <= value <= field.high:
        raise CronError(expr, f"{field.name} must be {field.low}-{field.high}, got {value}")
    return value


def _number(expr: str, field: Field, text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()):
        names = f" or a name like {field.names[0]}" if field.names and what == "value" else ""
        raise CronError(expr, f"{field.name} {what} '{text}' must be a number{names}")
    return int(text)


def next_times(expr: str, after: datetime | None = None, count: int = 3) -> list[datetime]:
    """The next `count` fire times strictly after `after` (default now), local time."""
    from croniter import croniter  # 60 ms: only where times are computed

    start = (after or datetime.now()).astimezone()
    it = croniter(normalize(expr), start)
    return [it.get_next(datetime) for _ in range(count)]


def next_time(expr: str, after: datetime | None = None) -> datetime:
    return next_times(expr, after, 1)[0]


def describe(expr: str) -> str:
    """A person's reading of common patterns ("every day at 06:00"), else the expression."""
    minute, hour, dom, month, dow = normalize(expr).split(" ")
    fallback = f"at times matching '{' '.join(expr.split())}'"
    if (dom, month) != ("*", "*") and dow != "*":
        return fallback
    when = _time_of_day(minute, hour)
    if when is None:
        return fallback
    if (dom, month, dow) == ("*", "*", "*"):
        return when
    if not when.startswith("every day at "):
        return fallback  # "every 5 minutes" on Mondays: rare, keep it exact
    at = when.removeprefix("every day ")
    if dow != "*" and (dom, month) == ("*", "*"):
        days = _days(dow)
        return f"every {days} {at}" if days else fallback
    if dom.isdigit() and month == "*":
        return f"on day {dom} of every month {at}"
    if dom.isdigit() and month.isdigit():
        return f"every year on {MONTH_NAMES[int(month) - 1]} {dom} {at}"
    return fallback


def _even_step(value: str, span: int) -> int | None:
    """N of `*/N` when it divides `span` (60 minutes, 24 hours), else None.

    `*/45` fires at minutes 0 and 45, 15 minutes apart at the hour: "every 45
    minutes" would be wrong, so such a step is described by the expression itself.
    """
    if not value.startswith("*/"):
        return None
    step = int(value[2:])
    return step if span % step == 0 else None


def _time_of_day(minute: str, hour: str) -> str | None:
    if (minute, hour) == ("*", "*"):
        return "every minute"
    if hour == "*" and (every := _even_step(minute, 60)):
        return "every minute" if every == 1 else f"every {every} minutes"
    if minute.isdigit() and (hour == "*" or _even_step(hour, 24) == 1):
        return f"every hour at minute {int(minute)}"
    if minute.isdigit() and (every := _even_step(hour, 24)):
        return f"every {every} hours at minute {int(minute)}"
    if minute.isdigit() and all(h.isdigit() for h in hour.split(",")):
        times = [f"{int(h):02d}:{int(minute):02d}" for h in hour.split(",")]
        return "every day at " + " and ".join(times)
    return None


def _days(dow: str) -> str | None:
    lowered = dow.lower()
    if lowered in ("1-5", "mon-fri"):
        return "weekday"
    if lowered in ("0,6", "6,0", "sat,sun", "sun,sat"):
        return "Saturday and Sunday"
    names = []
    for item in lowered.split(","):
        if item.isdigit():
            names.append(DAY_NAMES[int(item) % 7])
        elif item in DAYS:
            names.append(DAY_NAMES[DAYS.index(item)])
        else:
            return None
    return ", ".join(names)


def preview(expr: str, after: datetime | None = None, count: int = 3) -> dict[str, object]:
    """What the UI and `schedule add` show: the normalized form, a description, next times."""
    return {
        "cron": normalize(expr),
        "description": describe(expr),
        "next": [t.isoformat(timespec="minutes") for t in next_times(expr, after, count)],
    }
