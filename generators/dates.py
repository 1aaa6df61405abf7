"""The "current" date and time of a sample, and how the system message states it.

Stub on the `realism` branch (the `values` branch owns this module and adds relative-date rendering);
only `sample_now` and `today_line` are relied on here.
"""

from __future__ import annotations

import datetime as dt
import random

_START = dt.datetime(2025, 6, 2, 0, 0)  # samples' "now" falls within 2025-06-02 .. 2027-01-31
_SPAN_DAYS = 609
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def sample_now(rng: random.Random) -> dt.datetime:
    """A "current" date-time for one sample: a day in a fixed span, 07:00-22:59, whole minutes.

    >>> sample_now(random.Random(0)).year in (2025, 2026, 2027)
    True
    """
    day = int(rng.random() * _SPAN_DAYS)
    minute = 7 * 60 + int(rng.random() * 16 * 60)
    return _START + dt.timedelta(days=day, minutes=minute)


def today_line(now: dt.datetime) -> str:
    """The system message's statement of the current date and time.

    >>> today_line(dt.datetime(2026, 3, 3, 9, 40))
    'Today is Tuesday, 3 March 2026, 09:40.'
    """
    # Tables, not strftime (10 µs a call, and locale-dependent).
    return (f"Today is {_WEEKDAYS[now.weekday()]}, {now.day} {_MONTHS[now.month - 1]} {now.year}, "
            f"{now.hour:02d}:{now.minute:02d}.")
