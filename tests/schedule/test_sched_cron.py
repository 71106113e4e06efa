from __future__ import annotations

from datetime import datetime

import pytest

from mlpipe_jupyter.schedule import cron


@pytest.mark.parametrize(
    "expr, detail",
    [
        ("61 * * * *", "minute must be 0-59, got 61"),
        ("0 24 * * *", "hour must be 0-23, got 24"),
        ("0 0 0 * *", "day of month must be 1-31, got 0"),
        ("0 0 * 13 *", "month must be 1-12, got 13"),
        ("0 0 * * 8", "day of week must be 0-7, got 8"),
        ("0 0 * * funday", "day of week value 'funday' must be a number or a name like sun"),
        ("*/0 * * * *", "minute step must be 1-59, got 0"),
        ("*/1000000000000000000000 * * * *", "minute step must be 1-59, got 100000000000..."),
        ("0 */24 * * *", "hour step must be 1-23, got 24"),
        ("\u0663 * * * *", "minute value '\u0663' must be a number"),  # an Arabic-Indic 3
        ("0 0 31 2 *", "day of month 31 never occurs in February, so it would never fire"),
        ("0 0 30,31 2 *", "day of month 30,31 never occurs in February"),
        ("0 0 31 4,6,9,11 *", "day of month 31 never occurs in April, June, September, November"),
        ("30-10 * * * *", "minute range 30-10 runs backwards"),
        ("* * * *", "expected 5 fields"),
        ("@sometimes", "expected 5 fields"),
    ],
)
def test_bad_cron_names_field_and_range(expr, detail):
    """Each mistake is one line naming the field; nothing that never fires is accepted."""
    with pytest.raises(cron.CronError) as caught:
        cron.normalize(expr)
    assert caught.value.detail.startswith(detail)
    assert str(caught.value).startswith(f"cron '{expr}': ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "expr, text",
    [
        ("0 6 * * *", "every day at 06:00"),
        ("@daily", "every day at 00:00"),
        ("*/15 * * * *", "every 15 minutes"),
        ("* * * * *", "every minute"),
        ("5 * * * *", "every hour at minute 5"),
        ("0 */2 * * *", "every 2 hours at minute 0"),
        ("30 9 * * 1-5", "every weekday at 09:30"),
        ("0 6 * * mon,wed", "every Monday, Wednesday at 06:00"),
        ("0 8,20 * * *", "every day at 08:00 and 20:00"),
        ("0 0 1 * *", "on day 1 of every month at 00:00"),
        ("15 8 25 12 *", "every year on December 25 at 08:15"),
        ("*/10 1-3 * * *", "at times matching '*/10 1-3 * * *'"),
        ("*/1 * * * *", "every minute"),
        ("0 */1 * * *", "every hour at minute 0"),
        # fires at :00 and :45, so not "every 45 minutes"; hours 0, 5, ..., 20, then 0
        ("*/45 * * * *", "at times matching '*/45 * * * *'"),
        ("0 */5 * * *", "at times matching '0 */5 * * *'"),
    ],
)
def test_describe_common_patterns(expr, text):
    assert cron.describe(expr) == text


def test_a_step_that_does_not_divide_the_hour_restarts_at_each_hour():
    from datetime import datetime

    times = cron.next_times("*/45 * * * *", datetime(2026, 1, 1, 9, 1), count=3)
    assert [(t.hour, t.minute) for t in times] == [(9, 45), (10, 0), (10, 45)]


def test_next_times_are_strictly_after_start_in_order():
    start = datetime(2026, 3, 2, 6, 0).astimezone()  # a Monday, exactly at a fire time
    times = cron.next_times("0 6 * * 1-5", start, count=3)
    assert [t.day for t in times] == [3, 4, 5]
    assert all(t.hour == 6 and t.minute == 0 for t in times)


def test_preview_shape():
    shown = cron.preview("@hourly", datetime(2026, 1, 1, 10, 30).astimezone())
    assert shown["cron"] == "0 * * * *"
    assert shown["description"] == "every hour at minute 0"
    assert [t[11:16] for t in shown["next"]] == ["11:00", "12:00", "13:00"]


@pytest.mark.parametrize(
    "expr", ["0 0 29 2 *", "0 0 31 1-3 *", "0 0 31 2 1", "0 0 30 */2 *", "5/15 * * * *"]
)
def test_cron_that_can_fire_is_accepted_and_has_a_next_time(expr):
    assert cron.normalize(expr) == expr
    assert cron.next_time(expr, datetime(2026, 1, 1)) > datetime(2026, 1, 1).astimezone()
