"""Shift attendance as pure rules (SOP step 3): punches held against the approved roster.

Given a guard's duty blocks (edge/roster.py), their punches and the time, ``evaluate`` says
for each block whether the guard came on time or late, was absent, left early or never
clocked out, and which punches were doubles or outside any shift. It is a function of its
inputs, so the service can run it again whenever something changes (a punch recovered after a
link cut, a roster change, the clock passing a deadline) and publish only what moved.

``known_until`` is how far the punches are known to be complete: while the link to the
machine is down, nobody is declared absent for a deadline the Pi could not see.

How a block is read (docs/attendance.md has the figures):

* window: from ``early_in`` before the start to ``late_out`` after the end; a punch in no
  window of the guard is *unscheduled* (only on days an approved roster covers);
* a punch less than ``double_punch`` after the guard's previous counted punch is a *double*
  and otherwise ignored;
* clock-in: the first punch, if it falls before the block's midpoint; on time up to
  ``late_grace`` after the start (inclusive), else late by whole minutes, rounded up;
  no clock-in by ``absent_after`` after the start: absent;
* clock-out: the last later punch, if it is past the midpoint or keyed as check-out (1);
  before ``end - early_leave_grace``: left early (decided at that moment, when no later punch
  can change it); no clock-out by ``late_out`` after the end: no clock-out.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from edge.roster import DutyBlock
from edge.timefmt import device_local_to_utc, to_utc_text

CHECK_OUT = 1  # the machine's punch state for "check-out"

OUTCOMES = ("on_time", "late", "absent", "left_early", "no_clock_out", "unscheduled", "double")


@dataclass(frozen=True)
class Rules:
    early_in: timedelta = timedelta(minutes=120)
    late_grace: timedelta = timedelta(minutes=10)
    absent_after: timedelta = timedelta(minutes=60)
    early_leave_grace: timedelta = timedelta(minutes=5)
    late_out: timedelta = timedelta(minutes=180)
    double_punch: timedelta = timedelta(minutes=5)

    @classmethod
    def from_minutes(cls, **minutes: float) -> "Rules":
        return cls(**{name: timedelta(minutes=value) for name, value in minutes.items()})

    def window(self, block: DutyBlock) -> tuple[datetime, datetime]:
        return block.start - self.early_in, block.end + self.late_out


@dataclass(frozen=True, order=True)
class PunchFact:
    at: datetime  # the machine's time, converted to UTC
    user_id: str
    punch: int = 0


@dataclass(frozen=True)
class Outcome:
    kind: str
    slot: str  # one per fact: 'in', 'out', 'double <utc>', 'unscheduled <utc>'
    user_id: str
    guard: str
    at: datetime  # when it became true: the punch, or the deadline that passed
    block: DutyBlock | None = None
    minutes: int | None = None
    punch_at: datetime | None = None

    @property
    def anchor(self) -> datetime:
        """With ``user_id`` and ``slot``, what identifies this fact across evaluations."""
        return self.block.start if self.block is not None else self.at

    @property
    def signature(self) -> str:
        punch = to_utc_text(self.punch_at) if self.punch_at else ""
        return f"{self.kind}|{self.minutes if self.minutes is not None else ''}|{punch}"


@dataclass(frozen=True)
class DutyEntry:
    block: DutyBlock
    status: str  # expected, on_duty, left, absent
    since: datetime | None = None


@dataclass
class Evaluation:
    outcomes: list[Outcome] = field(default_factory=list)
    duty: list[DutyEntry] = field(default_factory=list)


def evaluate(blocks: Sequence[DutyBlock], punches: Mapping[str, Sequence[PunchFact]],
             guards: Mapping[str, str], covered: set[date], now: datetime,
             known_until: datetime, rules: Rules, zone: ZoneInfo) -> Evaluation:
    """Outcomes and the duty picture at ``now``.

    ``punches``: each guard's trusted punches by user id; ``guards``: user id -> name;
    ``covered``: local days an approved roster covers (unscheduled punches only count there).
    """
    known = min(now, known_until)
    by_user: dict[str, list[DutyBlock]] = {}
    for block in blocks:
        by_user.setdefault(block.user_id, []).append(block)
    result = Evaluation()
    for user_id, facts in punches.items():
        kept, doubles = split_doubles(sorted(facts), rules.double_punch)
        mine = by_user.get(user_id, [])
        assigned: dict[DutyBlock, list[PunchFact]] = {b: [] for b in mine}
        name = guards.get(user_id, user_id)
        for p in kept:
            block = nearest_block(mine, p.at, rules)
            if block is not None:
                assigned[block].append(p)
            elif p.at.astimezone(zone).date() in covered:
                result.outcomes.append(Outcome("unscheduled", f"unscheduled {to_utc_text(p.at)}",
                                               user_id, name, p.at, punch_at=p.at))
        for p in doubles:
            block = nearest_block(mine, p.at, rules)
            if block is not None:
                result.outcomes.append(Outcome("double", f"double {to_utc_text(p.at)}", user_id,
                                               name, p.at, block, punch_at=p.at))
        for block, facts_in in assigned.items():
            _assess(block, facts_in, now, known, rules, result)
    for user_id, mine in by_user.items():
        if user_id not in punches:
            for block in mine:
                _assess(block, [], now, known, rules, result)
    result.outcomes.sort(key=lambda o: (o.at, o.user_id, o.slot))
    result.duty.sort(key=lambda d: (d.block.start, d.block.guard))
    return result


def split_doubles(facts: Sequence[PunchFact], window: timedelta
                  ) -> tuple[list[PunchFact], list[PunchFact]]:
    """Sorted punches of one person -> (counted, doubles): a double comes less than ``window``
    after the previous counted punch."""
    kept: list[PunchFact] = []
    doubles: list[PunchFact] = []
    for p in facts:
        if kept and p.at - kept[-1].at < window:
            doubles.append(p)
        else:
            kept.append(p)
    return kept, doubles


def nearest_block(blocks: Iterable[DutyBlock], at: datetime, rules: Rules) -> DutyBlock | None:
    """The block whose window holds ``at``; of several, the one whose shift time is nearest."""
    best: tuple[timedelta, datetime] | None = None
    found: DutyBlock | None = None
    for block in blocks:
        opens, closes = rules.window(block)
        if not opens <= at < closes:
            continue
        distance = max(block.start - at, at - block.end, timedelta(0))
        if best is None or (distance, block.start) < best:
            best, found = (distance, block.start), block
    return found


def _assess(block: DutyBlock, facts: list[PunchFact], now: datetime, known: datetime,
            rules: Rules, result: Evaluation) -> None:
    mid = block.start + block.length / 2
    clock_in = facts[0] if facts and facts[0].at < mid else None
    later = facts[1:] if clock_in else []
    last = later[-1] if later else None
    clock_out = last if last and (last.at >= mid or last.punch == CHECK_OUT) else None
    add = result.outcomes.append
    absent_at = block.start + rules.absent_after
    if clock_in is not None:
        late = clock_in.at - (block.start + rules.late_grace)
        if late <= timedelta(0):
            add(Outcome("on_time", "in", block.user_id, block.guard, clock_in.at, block,
                        punch_at=clock_in.at))
        else:
            add(Outcome("late", "in", block.user_id, block.guard, clock_in.at, block,
                        _minutes(clock_in.at - block.start), clock_in.at))
    elif known >= absent_at:
        add(Outcome("absent", "in", block.user_id, block.guard, absent_at, block))
    leave_by = block.end - rules.early_leave_grace
    if clock_in is not None and clock_out is not None and clock_out.at < leave_by \
            and known >= leave_by:
        add(Outcome("left_early", "out", block.user_id, block.guard, clock_out.at, block,
                    _minutes(block.end - clock_out.at), clock_out.at))
    elif clock_in is not None and clock_out is None and known >= block.end + rules.late_out:
        add(Outcome("no_clock_out", "out", block.user_id, block.guard,
                    block.end + rules.late_out, block))
    _duty(block, clock_in, clock_out, now, known >= absent_at, rules, result)


def _duty(block: DutyBlock, clock_in: PunchFact | None, clock_out: PunchFact | None,
          now: datetime, absent: bool, rules: Rules, result: Evaluation) -> None:
    opens = block.start - rules.early_in
    current = block.start <= now < block.end
    early_on_duty = clock_in is not None and clock_out is None and opens <= now < block.end
    if not (current or early_on_duty):
        return
    if clock_in is None:
        entry = DutyEntry(block, "absent" if absent else "expected")
    elif clock_out is not None and clock_out.at <= now:
        entry = DutyEntry(block, "left", clock_out.at)
    else:
        entry = DutyEntry(block, "on_duty", clock_in.at)
    result.duty.append(entry)


def _minutes(delta: timedelta) -> int:
    return max(1, math.ceil(delta.total_seconds() / 60))


class DeviceTimes:
    """Naive device-local times to UTC, fast enough for a 100,000-record log.

    The zone's offset is looked up once per device-local hour with
    ``edge.timefmt.device_local_to_utc`` and reused within it; zones change offset on the
    hour, so this gives the same answer as converting each record.
    """

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._offsets: dict[datetime, timedelta] = {}
        # The hour looked up last: a log is in time order, so most records fall in it.
        self._hour = (datetime.max, datetime.min, timedelta(0))

    def utc(self, naive: datetime) -> datetime:
        return (naive - self._offset(naive)).replace(tzinfo=timezone.utc)

    def utc_text(self, naive: datetime) -> str:
        """The store's fixed-width UTC text (edge.timefmt.to_utc_text) of a device time."""
        return (naive - self._offset(naive)).isoformat(timespec="microseconds") + "Z"

    def _offset(self, naive: datetime) -> timedelta:
        start, end, offset = self._hour
        if start <= naive < end:
            return offset
        hour = naive.replace(minute=0, second=0, microsecond=0)
        found = self._offsets.get(hour)
        if found is None:
            if len(self._offsets) > 50_000:  # a long-running service: keep it bounded
                self._offsets.clear()
            found = hour - device_local_to_utc(hour, self.zone).replace(tzinfo=None)
            self._offsets[hour] = found
        self._hour = (hour, hour + timedelta(hours=1), found)
        return found
