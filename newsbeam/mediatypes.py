"""Content-Type values (HTTP headers, archived headers, feed enclosures and attachments): the media type and the
charset parameter, read one way everywhere (pure functions)."""
from __future__ import annotations

from email.message import Message
from typing import Optional


def media_type(value: Optional[str]) -> Optional[str]:
    """'text/HTML; charset=UTF-8' -> 'text/html'; None when the value is absent or names no type."""
    return (value or "").split(";")[0].strip().lower() or None


def charset(value: Optional[str]) -> Optional[str]:
    """The charset parameter, lower-cased ('text/html; charset="UTF-8"' -> 'utf-8'); None when there is none."""
    if not value:
        return None
    message = Message()
    message["content-type"] = value
    found = message.get_param("charset")
    return found.strip().lower() if isinstance(found, str) and found.strip() else None
