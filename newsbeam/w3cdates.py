"""W3C datetimes (sitemaps' `lastmod`, news sitemaps' `publication_date`) and RFC 3339 (JSON Feed): pure parsing
to UTC-aware datetimes, None for anything out of range or unreadable."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

# Years outside this range are typos or placeholders (0000-00-00, 9999-12-31), not publication dates.
MIN_YEAR = 1970
MAX_YEAR = 2100

# YYYY, YYYY-MM, YYYY-MM-DD, then optionally THH:MM[:SS[.fraction]] and a zone (Z or +HH:MM, +HHMM, +HH).
# A space instead of 'T' and a missing zone (read as UTC) are common enough in the wild to accept.
_W3C = re.compile(
    r"(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d{1,9}))?)?"
    r"\s*(?P<z>[Zz]|[+-]\d{2}(?::?\d{2})?)?)?)?)?"
)


def parse_w3c_datetime(text: str | None) -> datetime | None:
    """A W3C / ISO 8601 / RFC 3339 date or datetime as an aware UTC datetime; an RFC 822 date (as RSS has) too.

    A date without a time is midnight UTC; a time without a zone is UTC. Anything else, and any year outside
    MIN_YEAR..MAX_YEAR, gives None.
    """
    if not text:
        return None
    value = text.strip()
    if len(value) > 64:
        return None
    match = _W3C.fullmatch(value)
    if match is None:
        return _rfc822(value)
    try:
        parsed = datetime(
            int(match["y"]), int(match["mo"] or 1), int(match["d"] or 1),
            int(match["h"] or 0), int(match["mi"] or 0), int(match["s"] or 0),
            int((match["f"] or "0")[:6].ljust(6, "0")),
            tzinfo=_zone(match["z"]),
        )
    except (ValueError, OverflowError):
        return None
    return _in_range(parsed)


def _zone(text: str | None) -> timezone:
    if not text or text in "Zz":
        return timezone.utc
    sign = -1 if text[0] == "-" else 1
    digits = text[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    if hours > 14 or minutes > 59:
        raise ValueError(f"zone offset out of range: {text}")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _rfc822(value: str) -> datetime | None:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return _in_range(parsed)


def _in_range(parsed: datetime) -> datetime | None:
    try:
        utc = parsed.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None
    return utc if MIN_YEAR <= utc.year < MAX_YEAR else None
