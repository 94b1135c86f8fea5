"""When patrol rounds are due (SOP step 7: every 3 hours, day and night).

Rounds are aligned to the shifts: each shift start (local time) has a round, then one every
``every_h`` until the next shift starts, so a handover never falls in the middle of a plan that
drifted. A round has four instants, all aware UTC:

- ``opens``: ``early_min`` before it is due, the first moment a tap can start it;
- ``due``: the planned time;
- ``late``: ``grace_min`` after due; a round not complete by then is late;
- ``deadline``: ``deadline_min`` after due, but never after the next round opens; a round not
  complete by then ends incomplete (started) or missed (never started).

So rounds never overlap, and each instant belongs to at most one round. Pure arithmetic on the
site's zone, no clock: callers pass the time.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import TYPE_CHECKING, Iterator
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from edge.config import PatrolPlanConfig

_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")
_DAY = 24 * 60


def parse_hhmm(text: str) -> time | None:
    """'07:00' -> time(7, 0); None for anything else."""
    found = _HHMM.match(text)
    return time(int(found.group(1)), int(found.group(2))) if found else None


def plan_problem(every_h: float, shifts: list[str], early_min: float) -> str | None:
    """Why a plan cannot work (rounds closer together than the early window), else None."""
    starts = sorted({t.hour * 60 + t.minute for t in map(parse_hhmm, shifts) if t})
    every = every_h * 60
    for i, start in enumerate(starts):
        length = (starts[(i + 1) % len(starts)] - start) % _DAY or _DAY
        # The last round of a shift is followed by the next shift's first round.
        tail = length - ((length - 1e-9) // every) * every
        gap = min(every, tail)
        if gap <= early_min:
            return (f"rounds more than early_min ({early_min:g} minutes) apart; the plan puts "
                    f"two rounds {gap:g} minutes apart around the shift at "
                    f"{start // 60:02d}:{start % 60:02d}")
    return None


@dataclass(frozen=True)
class Slot:
    """One planned round."""

    due: datetime
    opens: datetime
    late: datetime
    deadline: datetime
    zone: ZoneInfo

    @property
    def local_due(self) -> datetime:
        return self.due.astimezone(self.zone)

    @property
    def id(self) -> str:
        """Stable and readable: the local due time, '20261204-2200'."""
        return f"{self.local_due:%Y%m%d-%H%M}"

    @property
    def date(self) -> date:
        """The local date the round is due on; its daily report is that date's."""
        return self.local_due.date()


class RoundPlan:
    def __init__(self, cfg: PatrolPlanConfig, zone: ZoneInfo) -> None:
        self.zone = zone
        self._starts = sorted({t for t in map(parse_hhmm, cfg.shifts) if t is not None})
        self._every = timedelta(hours=cfg.every_h)
        self._early = timedelta(minutes=cfg.early_min)
        self._grace = timedelta(minutes=cfg.grace_min)
        self._deadline = timedelta(minutes=cfg.deadline_min)
        self._report_times: dict[date, datetime] = {}  # asked on every tap: worth keeping

    # --- due times ---------------------------------------------------------------------------

    def _dues_of_shifts_starting(self, day: date) -> Iterator[datetime]:
        for i, start in enumerate(self._starts):
            begin = self._local(day, start)
            if i + 1 < len(self._starts):
                end = self._local(day, self._starts[i + 1])
            else:
                end = self._local(day + timedelta(days=1), self._starts[0])
            due = begin
            while due < end:
                yield due
                due += self._every  # in UTC: a DST change does not bend the interval

    def _local(self, day: date, at: time) -> datetime:
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(timezone.utc)

    def _dues_near(self, at: datetime) -> list[datetime]:
        """Due times from the shifts of the day before ``at`` to the day after (local)."""
        day = at.astimezone(self.zone).date()
        found: set[datetime] = set()
        for offset in (-2, -1, 0, 1):
            found.update(self._dues_of_shifts_starting(day + timedelta(days=offset)))
        return sorted(found)

    def _next_due(self, due: datetime) -> datetime:
        after = [d for d in self._dues_near(due) if d > due]
        if after:
            return after[0]
        return min(d for d in self._dues_near(due + timedelta(days=1)) if d > due)

    # --- slots -------------------------------------------------------------------------------

    def slot(self, due: datetime) -> Slot:
        next_opens = self._next_due(due) - self._early
        deadline = min(due + self._deadline, next_opens)
        return Slot(due=due, opens=due - self._early, late=min(due + self._grace, deadline),
                    deadline=deadline, zone=self.zone)

    def next_slot(self, slot: Slot) -> Slot:
        return self.slot(self._next_due(slot.due))

    def first_slot(self, now: datetime) -> Slot:
        """The round to wait for when there is no history: the earliest one that is not late
        yet, so a service installed at 22:40 does not call the 22:00 round late at once."""
        candidates = [d for d in self._dues_near(now) if d <= now]
        slot = self.slot(candidates[-1]) if candidates else self.slot(self._next_due(now))
        while slot.late <= now:
            slot = self.next_slot(slot)
        return slot

    def slots_of_day(self, day: date) -> list[Slot]:
        """Every round due on local date ``day``."""
        noon = datetime.combine(day, time(12), tzinfo=self.zone)
        return [self.slot(d) for d in self._dues_near(noon)
                if d.astimezone(self.zone).date() == day]

    def report_time(self, day: date) -> datetime:
        """When the daily report of ``day`` is final: the day is over and so is its last round."""
        if day not in self._report_times:
            end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.zone)
            last = max((s.deadline for s in self.slots_of_day(day)), default=end)
            self._report_times = {day: max(end.astimezone(timezone.utc), last)}
        return self._report_times[day]
