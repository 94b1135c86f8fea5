"""The duty roster as pure rules (SOP steps 1-2): shift definitions, the CSV a roster is drawn
up in, and duty blocks - a guard's consecutive shifts joined into one stretch on duty.

No database and no device here; services/roster.py keeps rosters in the store. All instants
are aware UTC datetimes; shift times are wall-clock times in the site's zone, and a shift whose
end is not after its start ends on the next day (a night shift).
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

MAX_ROSTER_DAYS = 92  # a quarter: keeps a roster's approval event well under 64 KiB
_SHIFT = re.compile(r"^\s*([a-z][a-z0-9_-]{0,31})\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$")
_NAME_MAX = 64
_USER_ID = re.compile(r"^[0-9A-Za-z]{1,24}$")  # what the machine's 40-byte record can carry


class RosterError(ValueError):
    """A roster or shift definition that cannot be used; one sentence for a person."""


@dataclass(frozen=True)
class ShiftDef:
    name: str
    start: time
    end: time

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    def span(self, day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """Start and end (UTC) of this shift when it begins on local ``day``."""
        end_day = day + timedelta(days=1) if self.crosses_midnight else day
        start = datetime.combine(day, self.start, zone).astimezone(timezone.utc)
        end = datetime.combine(end_day, self.end, zone).astimezone(timezone.utc)
        return start, end

    def __str__(self) -> str:
        return f"{self.name} {self.start:%H:%M}-{self.end:%H:%M}"


def parse_shift(text: str) -> ShiftDef:
    m = _SHIFT.match(text)
    if not m:
        raise RosterError(f"{text!r} is not a shift such as 'day 07:00-19:00'")
    try:
        start, end = time.fromisoformat(m.group(2).zfill(5)), time.fromisoformat(m.group(3).zfill(5))
    except ValueError:
        raise RosterError(f"{text!r} has a time that is not HH:MM from 00:00 to 23:59") from None
    if start == end:
        raise RosterError(f"{text!r} starts and ends at the same time")
    return ShiftDef(m.group(1), start, end)


def parse_shifts(texts: Iterable[str]) -> dict[str, ShiftDef]:
    shifts: dict[str, ShiftDef] = {}
    for text in texts:
        shift = parse_shift(text)
        if shift.name in shifts:
            raise RosterError(f"the shift name '{shift.name}' is used twice")
        shifts[shift.name] = shift
    if not shifts:
        raise RosterError("at least one shift is needed")
    return shifts


def check_shifts(texts: list[str]) -> str | None:
    """None when ``texts`` define shifts, else what was expected (for config checks)."""
    try:
        parse_shifts(texts)
    except RosterError:
        return ("a list of distinct shifts such as [\"day 07:00-19:00\", \"night 19:00-07:00\"] "
                "(lower-case name, local start-end; an end not after the start is the next day)")
    return None


# --- guards and assignments -------------------------------------------------------------------

def check_guard_name(name: str) -> str:
    name = " ".join(name.split())
    if not name or len(name) > _NAME_MAX or not name.isprintable():
        raise RosterError(f"a guard's name must be 1 to {_NAME_MAX} printable characters, "
                          f"not {name!r}")
    return name


def check_user_id(user_id: str) -> str:
    user_id = user_id.strip()
    if not _USER_ID.match(user_id):
        raise RosterError(f"a fingerprint user id is 1 to 24 letters or digits such as '101', "
                          f"not {user_id!r}")
    return user_id


@dataclass(frozen=True)
class Assignment:
    """One guard on one shift starting on local ``day``."""

    day: date
    shift: str
    guard: str
    user_id: str


@dataclass(frozen=True)
class DutyBlock:
    """A guard's stretch on duty: one shift, or back-to-back shifts joined (day then night),
    since a guard on two touching shifts clocks in once and out once."""

    guard: str
    user_id: str
    shifts: tuple[tuple[date, str], ...]
    start: datetime
    end: datetime

    @property
    def label(self) -> str:
        return "+".join(name for _, name in self.shifts)

    @property
    def day(self) -> date:
        return self.shifts[0][0]

    @property
    def length(self) -> timedelta:
        return self.end - self.start


def duty_blocks(assignments: Iterable[Assignment], shifts: Mapping[str, ShiftDef],
                zone: ZoneInfo) -> list[DutyBlock]:
    """Each guard's assignments as blocks, touching or overlapping shifts joined; sorted by
    start. Assignments to shifts no longer defined are skipped (the config changed)."""
    spans: dict[tuple[str, str], list[tuple[datetime, datetime, date, str]]] = {}
    for a in assignments:
        shift = shifts.get(a.shift)
        if shift is None:
            continue
        start, end = shift.span(a.day, zone)
        spans.setdefault((a.guard, a.user_id), []).append((start, end, a.day, a.shift))
    blocks: list[DutyBlock] = []
    for (guard, user_id), items in spans.items():
        items.sort()
        current: list[tuple[datetime, datetime, date, str]] = []
        for item in items:
            if current and item[0] <= max(c[1] for c in current):
                current.append(item)
                continue
            if current:
                blocks.append(_block(guard, user_id, current))
            current = [item]
        blocks.append(_block(guard, user_id, current))
    blocks.sort(key=lambda b: (b.start, b.guard))
    return blocks


def _block(guard: str, user_id: str, items: list[tuple[datetime, datetime, date, str]]
           ) -> DutyBlock:
    return DutyBlock(guard, user_id, tuple((day, name) for _, _, day, name in items),
                     items[0][0], max(end for _, end, _, _ in items))


# --- the CSV a roster is drawn up in ----------------------------------------------------------

@dataclass(frozen=True)
class CsvRow:
    line: int
    day: date
    shift: str
    guard: str
    user_id: str | None


_COLUMNS = ("date", "shift", "guard")


def parse_roster_csv(text: str, shift_names: Sequence[str], where: str = "the CSV"
                     ) -> list[CsvRow]:
    """Rows of ``date,shift,guard[,user_id]`` (a header line first; '#' lines are comments).

    Raises RosterError naming the line of the first problem.
    """
    numbered = [(n, line) for n, line in enumerate(text.splitlines(), 1)
                if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise RosterError(f"{where} is empty; it needs a header 'date,shift,guard,user_id'")
    header = [h.strip().lower() for h in next(csv.reader([numbered[0][1]]))]
    if tuple(header[:3]) != _COLUMNS or header[3:] not in ([], ["user_id"]):
        raise RosterError(f"{where} must start with the header 'date,shift,guard,user_id' "
                          f"(user_id optional), not {','.join(header)!r}")
    rows = [_row(n, next(csv.reader([line])), shift_names, where) for n, line in numbered[1:]]
    if not rows:
        raise RosterError(f"{where} has a header but no assignments")
    days = sorted({r.day for r in rows})
    if (days[-1] - days[0]).days + 1 > MAX_ROSTER_DAYS:
        raise RosterError(f"{where} spans {days[0]} to {days[-1]}; a roster covers at most "
                          f"{MAX_ROSTER_DAYS} days")
    return rows


def _row(line: int, cells: list[str], shift_names: Sequence[str], where: str) -> CsvRow:
    cells = [c.strip() for c in cells]
    if len(cells) not in (3, 4):
        raise RosterError(f"{where} line {line}: expected 3 or 4 columns "
                          f"(date,shift,guard,user_id), got {len(cells)}")
    try:
        day = date.fromisoformat(cells[0])
    except ValueError:
        raise RosterError(f"{where} line {line}: {cells[0]!r} is not a date such as "
                          "'2026-12-04'") from None
    if cells[1] not in shift_names:
        raise RosterError(f"{where} line {line}: unknown shift {cells[1]!r}; the configured "
                          f"shifts are {', '.join(shift_names)}")
    try:
        guard = check_guard_name(cells[2])
        user_id = check_user_id(cells[3]) if len(cells) == 4 and cells[3] else None
    except RosterError as exc:
        raise RosterError(f"{where} line {line}: {exc}") from None
    return CsvRow(line, day, cells[1], guard, user_id)
