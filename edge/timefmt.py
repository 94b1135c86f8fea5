"""One text form for instants: UTC, microseconds, ``Z`` suffix.

Fixed width, so text order is time order in SQLite indexes and in JSON.
"""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def to_utc_text(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime: give device times a zone before storing them")
    return at.astimezone(timezone.utc).strftime(_FORMAT)


def from_utc_text(text: str) -> datetime:
    return datetime.strptime(text, _FORMAT).replace(tzinfo=timezone.utc)


def to_local_text(at: datetime, zone: ZoneInfo) -> str:
    """ISO 8601 in the site's zone with its offset, seconds precision (what people read)."""
    return at.astimezone(zone).isoformat(timespec="seconds")


def device_local_to_utc(naive: datetime, zone: ZoneInfo) -> datetime:
    """A device's naive local time read as the site's zone (devices carry no zone)."""
    if naive.tzinfo is not None:
        raise ValueError("device time already has a zone")
    return naive.replace(tzinfo=zone).astimezone(timezone.utc)
