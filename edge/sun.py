"""When the parking lamp should be lit in automatic mode: dark, or inside an after-hours window.

"Dark" means between sunset and sunrise at the site's coordinates, as computed by ``astral``
(the sun's upper limb at the horizon, with refraction). After-hours windows are local clock
times ("18:00-22:00", may cross midnight) during which the lamp is lit even in daylight, for
parking after office hours (SOP step 4).

Pure rules: no clock, no I/O; every answer is for an instant the caller passes in.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Literal
from zoneinfo import ZoneInfo

from astral import Observer
from astral.sun import elevation, sunrise, sunset

Cause = Literal["dark", "after_hours", "daylight"]

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
# The sun's centre is this far below the horizon at astral's sunrise and sunset; used only
# where the sun never rises or never sets that day (never in Palu).
_HORIZON_DEG = -0.833
# How far to look for the next switch: windows repeat daily and the sun crosses twice a day.
_LOOKAHEAD_DAYS = 3


@dataclass(frozen=True)
class Window:
    """A daily span of local clock time; ``end`` before ``start`` means it crosses midnight."""

    start: time
    end: time

    @classmethod
    def parse(cls, text: str) -> "Window":
        match = _WINDOW.match(text.strip())
        if not match:
            raise ValueError(f"{text!r} is not a window such as '18:00-22:00'")
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if (h1, m1) == (h2, m2):
            raise ValueError(f"{text!r} starts and ends at the same time")
        return cls(time(h1, m1), time(h2, m2))

    def contains(self, local: datetime) -> bool:
        t = local.time().replace(tzinfo=None)
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


def check_window(text: str) -> str | None:
    """None when ``text`` is a valid window, else what was expected (for config checks)."""
    try:
        Window.parse(text)
    except ValueError:
        return "a local time window such as '18:00-22:00' (may cross midnight, e.g. '22:00-05:30')"
    return None


@dataclass(frozen=True)
class Decision:
    on: bool
    cause: Cause


class LampSchedule:
    """Automatic mode: lit while dark or inside a window; dark wins when both hold."""

    def __init__(self, latitude: float, longitude: float, zone: ZoneInfo,
                 windows: Iterable[Window] = ()) -> None:
        self.observer = Observer(latitude=latitude, longitude=longitude)
        self.zone = zone
        self.windows = tuple(windows)

    def decide(self, at: datetime) -> Decision:
        if self.is_dark(at):
            return Decision(True, "dark")
        local = at.astimezone(self.zone)
        if any(w.contains(local) for w in self.windows):
            return Decision(True, "after_hours")
        return Decision(False, "daylight")

    def is_dark(self, at: datetime) -> bool:
        """True from sunset to sunrise: the latest sun crossing before ``at`` was a sunset."""
        previous = [(t, kind) for t, kind in self._sun_events(at) if t <= at]
        if previous:
            return previous[-1][1] == "sunset"
        # No crossing within two days: polar day or night; ask the sun where it is.
        return elevation(self.observer, at.astimezone(timezone.utc)) < _HORIZON_DEG

    def next_change(self, at: datetime) -> datetime | None:
        """The first instant after ``at`` at which ``decide`` flips, or None within 3 days."""
        now_on = self.decide(at).on
        for edge in self._edges(at):
            if self.decide(edge).on != now_on:
                return edge
        return None

    def sun_times(self, day: date) -> tuple[datetime | None, datetime | None]:
        """Sunrise and sunset of a local date, as aware UTC datetimes (None if it has none)."""
        return self._crossing(sunrise, day), self._crossing(sunset, day)

    # --- internals ---------------------------------------------------------------------------

    def _sun_events(self, at: datetime) -> list[tuple[datetime, str]]:
        day = at.astimezone(self.zone).date()
        events: list[tuple[datetime, str]] = []
        for offset in (-1, 0, 1):
            rise, set_ = self.sun_times(day + timedelta(days=offset))
            events += [(t, k) for t, k in ((rise, "sunrise"), (set_, "sunset")) if t is not None]
        return sorted(events)

    def _crossing(self, func: object, day: date) -> datetime | None:
        try:
            value = func(self.observer, day, tzinfo=self.zone)  # type: ignore[operator]
        except ValueError:  # the sun never rises or never sets on that day here
            return None
        return value.astimezone(timezone.utc)

    def _edges(self, at: datetime) -> list[datetime]:
        """Every sun crossing and window boundary after ``at`` within the lookahead."""
        start = at.astimezone(self.zone).date()
        edges: set[datetime] = set()
        for offset in range(-1, _LOOKAHEAD_DAYS + 1):
            day = start + timedelta(days=offset)
            edges.update(t for t in self.sun_times(day) if t is not None)
            for window in self.windows:
                for clock_time in (window.start, window.end):
                    local = datetime.combine(day, clock_time, tzinfo=self.zone)
                    edges.add(local.astimezone(timezone.utc))
        limit = at + timedelta(days=_LOOKAHEAD_DAYS)
        return sorted(t for t in edges if at < t <= limit)
