"""The event envelope: what every fingerprint punch, checkpoint tap or lamp switch becomes.

An event keeps two times apart: ``occurred_at`` is when it happened by the device's own clock
(or the Pi's when the device has none) and ``recorded_at`` is when the Pi stored it. Both are UTC;
the envelope carries the site's zone so a reader can show local time. See docs/events.md.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

from edge.timefmt import to_utc_text

ENVELOPE_VERSION = 1
MAX_PAYLOAD_BYTES = 64 * 1024
_KIND = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


class EventError(ValueError):
    """An event a service tried to record is malformed (a bug in that service, not bad input)."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """What a service hands to the log; ids and the Pi's time are added when it is recorded."""

    kind: str
    source: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    occurred_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    site: str
    kind: str
    source: str
    occurred_at: datetime
    recorded_at: datetime
    payload: Mapping[str, Any]
    seq: int | None = None
    sent_at: datetime | None = None
    clock_synced: bool | None = None  # the Pi's clock when stamped (edge/timesync.py)
    clock_fix_s: float | None = None  # seconds added once the clock was synchronised

    @property
    def branch(self) -> str:
        return self.kind.split(".", 1)[0]

    def envelope(self, tz: str) -> dict[str, Any]:
        return {
            "v": ENVELOPE_VERSION, "id": self.id, "site": self.site, "kind": self.kind,
            "source": self.source, "occurred_at": to_utc_text(self.occurred_at),
            "recorded_at": to_utc_text(self.recorded_at), "tz": tz,
            "clock_synced": self.clock_synced,
            **({} if self.clock_fix_s is None else {"clock_fix_s": self.clock_fix_s}),
            "payload": dict(self.payload),
        }


def validate_new(item: NewEvent) -> str:
    """Check a new event and return its payload as JSON text."""
    if not isinstance(item.kind, str) or len(item.kind) > 64 or not _KIND.match(item.kind):
        raise EventError(f"event kind {item.kind!r} is not of the form 'branch.name' "
                         "(lower-case, dot-separated, at most 64 characters)")
    if not isinstance(item.source, str) or not 0 < len(item.source) <= 128 \
            or not item.source.isprintable():
        raise EventError(f"event source {item.source!r} must be 1 to 128 printable characters")
    if item.occurred_at is not None and item.occurred_at.tzinfo is None:
        raise EventError(f"event {item.kind}: occurred_at must carry a zone")
    if not isinstance(item.payload, Mapping):
        raise EventError(f"event {item.kind}: payload must be a mapping")
    try:
        text = json.dumps(item.payload, ensure_ascii=False, separators=(",", ":"),
                          allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise EventError(f"event {item.kind}: payload is not plain JSON ({exc})") from None
    if len(text.encode()) > MAX_PAYLOAD_BYTES:
        raise EventError(f"event {item.kind}: payload over {MAX_PAYLOAD_BYTES} bytes")
    return text


_CLOCK = {None: "null", True: "true", False: "false", 0: "false", 1: "true"}


def envelope_text(event_id: str, site: str, kind: str, source: str, occurred_at: str,
                  recorded_at: str, tz: str, payload_text: str, clock_synced: Any = None,
                  clock_fix_s: float | None = None) -> str:
    """The envelope as JSON straight from stored text, without re-parsing the payload.

    id, site, kind and the times are validated ASCII forms, so only source and tz need escaping.
    """
    fix = "" if clock_fix_s is None else f'"clock_fix_s":{clock_fix_s!r},'
    return (f'{{"v":{ENVELOPE_VERSION},"id":"{event_id}","site":"{site}","kind":"{kind}",'
            f'"source":{json.dumps(source, ensure_ascii=False)},"occurred_at":"{occurred_at}",'
            f'"recorded_at":"{recorded_at}","tz":{json.dumps(tz)},'
            f'"clock_synced":{_CLOCK[clock_synced]},{fix}"payload":{payload_text}}}')
