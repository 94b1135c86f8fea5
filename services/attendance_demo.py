"""The attendance share of ``posjaga demo``: a simulated fingerprint machine, an approved roster
of six guards and a scripted day of punches on the demo's (fast) clock.

Around the shift running when the demo starts (S0) and the next two (S1, S2):
Ani and Budi clock in for S0 (punched at once when S0 began before the demo, stamped with
their past times),
Citra clocks in early for S1 and presses twice, Dedi comes 25 minutes late and leaves 40
minutes early, Ani clocks out, Budi forgets to (no clock-out three hours after S0 ends),
a member of staff who is not a guard clocks in (kept out of the records), Eko clocks in for
S2 and Fajar never comes (absent an hour after S2 starts).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Callable
from zoneinfo import ZoneInfo

from drivers.zkteco.simulator import ZKSimulator
from edge.clock import Clock, SystemClock
from edge.roster import CsvRow, ShiftDef, parse_shifts
from services.roster import RosterStore

GUARDS = [("101", "Ani"), ("102", "Budi"), ("103", "Citra"), ("104", "Dedi"), ("105", "Eko"),
          ("106", "Fajar")]
STAFF = [("201", "Staf Keuangan"), ("202", "Staf Umum")]
SERIAL = "CKJ3210012345"
APPROVER = "Kasubag Umum dan Logistik"

Say = Callable[[str], None]


def device_time_source(clock: Callable[[], Clock], zone: ZoneInfo) -> Callable[[], datetime]:
    """A simulator time source following an edge clock (naive, in the site's zone), so a
    scaled demo clock speeds the machine's clock up too."""
    return lambda: clock().now().astimezone(zone).replace(tzinfo=None)


def enrol(sim: ZKSimulator, users: list[tuple[str, str]], first_uid: int = 1) -> None:
    for n, (user_id, name) in enumerate(users, first_uid):
        sim.add_user(n, user_id, name)


@dataclass(frozen=True)
class Scripted:
    at: datetime  # UTC
    user_id: str
    punch: int
    say: str


@dataclass(frozen=True)
class Instance:
    day: date
    shift: ShiftDef
    start: datetime
    end: datetime


def shift_instances(shifts: dict[str, ShiftDef], zone: ZoneInfo, now: datetime,
                    count: int = 3) -> list[Instance]:
    """The shift running at ``now`` (or the next one) and those after it, in order."""
    today = now.astimezone(zone).date()
    found = []
    for offset in (-1, 0, 1, 2):
        day = today + timedelta(days=offset)
        for shift in shifts.values():
            start, end = shift.span(day, zone)
            if end > now:
                found.append(Instance(day, shift, start, end))
    found.sort(key=lambda i: i.start)
    return found[:count]


def script(s0: Instance, s1: Instance, s2: Instance) -> list[Scripted]:
    m = timedelta(minutes=1)
    return sorted([
        Scripted(s0.start - 5 * m, "101", 0, "Ani clocks in for S0 (on time)"),
        Scripted(s0.start + 3 * m, "102", 0, "Budi clocks in 3 min after the start "
                 "(within the grace time: on time)"),
        Scripted(s1.start - 10 * m, "103", 0, "Citra clocks in early for S1"),
        Scripted(s1.start - 9 * m, "103", 0, "Citra presses again a minute later "
                 "(a double punch)"),
        Scripted(s0.end + 4 * m, "101", 1, "Ani clocks out after S0; Budi forgets to"),
        Scripted(s1.start + 25 * m, "104", 0, "Dedi clocks in 25 min late"),
        Scripted(s1.start + 70 * m, "201", 0, "a member of staff (not a guard) clocks in: "
                 "not kept"),
        Scripted(s1.end - 40 * m, "104", 1, "Dedi leaves 40 min before S1 ends"),
        Scripted(s2.start - 15 * m, "105", 0, "Eko clocks in for S2; Fajar will not come"),
        Scripted(s1.end + 2 * m, "103", 1, "Citra clocks out after S1"),
    ], key=lambda item: item.at)


class AttendanceDemo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._clock: Clock = SystemClock()
        self._zone = ZoneInfo("Asia/Makassar")
        self.sim = ZKSimulator(clock=device_time_source(lambda: self._clock, self._zone),
                               serial_number=SERIAL)
        enrol(self.sim, GUARDS + STAFF)
        self.sim.start()

    def configure(self, data: dict[str, Any]) -> None:
        self._zone = ZoneInfo(data.get("site", {}).get("timezone", "Asia/Makassar"))
        data["attendance"] = {"host": self.sim.host, "port": self.sim.port, "timeout_s": 5.0,
                              "reconnect_min_s": 5.0, "reconnect_max_s": 60.0,
                              "poll_s": 900.0, "check_s": 30.0}

    def scene(self, rt: Any, stop: threading.Event, say: Say) -> None:
        if rt.config.attendance.port != self.sim.port:
            say("attendance: the configuration names its own fingerprint machine; no script")
            return
        self._clock = rt.clock
        self.sim.clock.set(rt.clock.now().astimezone(self._zone).replace(tzinfo=None))
        shifts = parse_shifts(rt.config.roster.shifts)
        instances = shift_instances(shifts, self._zone, rt.clock.now())
        if len(instances) < 3:
            say("attendance: fewer than three shifts ahead; no script")
            return
        self._approve_roster(rt, instances, say)
        for item in script(*instances):
            if rt.clock.wait(stop, (item.at - rt.clock.now()).total_seconds()):
                return
            local = item.at.astimezone(self._zone).replace(tzinfo=None)
            say(f"attendance {local:%H:%M}: {item.say}")
            self.sim.punch(item.user_id, local, item.punch)

    def _approve_roster(self, rt: Any, instances: list[Instance], say: Say) -> None:
        store = RosterStore.from_runtime(rt)
        pairs = [GUARDS[0:2], GUARDS[2:4], GUARDS[4:6]]
        rows = [CsvRow(0, inst.day, inst.shift.name, name, user_id)
                for inst, pair in zip(instances, pairs) for user_id, name in pair]
        store.import_csv(rows, "demo", by="Danru (demo)")
        store.approve(APPROVER)
        names = "; ".join(f"{i.shift.name} {i.day}: {', '.join(n for _, n in p)}"
                          for i, p in zip(instances, pairs))
        say(f"attendance: roster approved by the {APPROVER}: {names}")

    def close(self) -> None:
        self.sim.close()


def make_attendance_demo(folder: Path) -> AttendanceDemo:
    return AttendanceDemo(folder)


__all__ = ["AttendanceDemo", "device_time_source", "enrol", "make_attendance_demo",
           "shift_instances"]
