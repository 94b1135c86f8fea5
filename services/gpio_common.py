"""What the lamp and radio daemons share: pin factory, line levels, times and alert wording."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from typing import Literal, Mapping
from zoneinfo import ZoneInfo

from gpiozero.pins import Factory

from drivers.gpio import make_pin_factory
from edge.clock import Clock
from edge.timefmt import to_utc_text


def pin_factory_for(name: str, given: Factory | None) -> tuple[Factory, bool]:
    """The factory to open devices on and whether we own (and so must close) it.

    A simulator passes its own MockFactory (mock pins exist only in that object); otherwise
    each daemon builds one from the configured name.
    """
    if given is not None:
        return given, False
    return make_pin_factory(name), True


def input_levels(active: Literal["high", "low"], internal_pull: bool) -> tuple[bool | None, bool | None]:
    """gpiozero's ``pull_up`` and ``active_state`` for an input active at ``active``.

    The internal pull always rests the line at its idle level, so a disconnected cable reads
    idle (docs/gpio.md); without it an external resistor does that and gpiozero must be told
    the active level instead.
    """
    active_high = active == "high"
    if internal_pull:
        return (not active_high), None
    return None, active_high


def wall_at(clock: Clock, mono: float) -> datetime:
    """The wall time at which the clock's monotonic reading was ``mono`` (as best known now)."""
    return clock.now() - timedelta(seconds=clock.monotonic() - mono)


def utc_text(at: datetime | None) -> str | None:
    return None if at is None else to_utc_text(at)


def local_day_end(day: date, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local date ``day`` ends."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(timezone.utc)


def seconds_since_local_midnight(at: datetime, zone: ZoneInfo) -> float:
    local = at.astimezone(zone)
    midnight = datetime.combine(local.date(), time(0), tzinfo=zone)
    return (local - midnight).total_seconds()


def say(texts: Mapping[str, str], language: str, **values: object) -> str:
    """An alert in the site's language (Indonesian unless 'en' is configured)."""
    return texts.get(language, texts["id"]).format(**values)


def span_text(seconds: float, language: str) -> str:
    """A limit as people say it: '2 menit' / '2 minutes', '45 detik' / '45 seconds'."""
    if seconds >= 60 and seconds % 60 == 0:
        n, unit = int(seconds // 60), ("menit", "minute")
    else:
        n, unit = round(seconds), ("detik", "second")  # type: ignore[assignment]
    if language == "en":
        return f"{n} {unit[1]}{'' if n == 1 else 's'}"
    return f"{n} {unit[0]}"
