"""A server's `Retry-After` (RFC 9110 §10.2.3): read as seconds, and carried as an absolute time in a dead letter's
detail, both halves of that note in one place: the fetcher writes it, the state's retry schedule reads it back
(pure functions; `now` is the caller's clock)."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from typing import Optional

_NOTE = "; not before "
_NOTE_TIME = re.compile(re.escape(_NOTE) + r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)")
_LONGEST_WISH = 366 * 86400.0  # a wish beyond a year is a year (it cannot overflow a date)


def seconds_to_wait(value: str, now: datetime) -> Optional[float]:
    """Seconds from `now` a Retry-After value (delay-seconds or an HTTP date) asks for; None when unreadable."""
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return max(0.0, (moment - now).total_seconds())


def not_before_note(retry_after: Optional[str], now: datetime) -> str:
    """`; not before 2026-12-01T16:20:00Z` for a Retry-After header, else ''."""
    seconds = seconds_to_wait(retry_after, now) if retry_after else None
    if seconds is None:
        return ""
    moment = now + timedelta(seconds=min(seconds, _LONGEST_WISH))
    return f"{_NOTE}{moment:%Y-%m-%dT%H:%M:%SZ}"


def not_before_of(detail: Optional[str]) -> Optional[datetime]:
    """The time a server asked not to be asked again before, as `not_before_note` wrote it into a detail."""
    match = _NOTE_TIME.search(detail or "")
    return datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) if match else None
