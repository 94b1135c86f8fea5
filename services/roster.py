"""The duty roster in the store (SOP steps 1-2).

Guards are linked to their user id on the fingerprint machine. A roster is drawn up as a draft
(imported from CSV or edited day by day), then approved by a supervisor; only approved rosters
are enforced, and for a day covered by several the one approved last counts. Every change is an
event committed in the same transaction as the change itself: ``roster.guard``,
``roster.draft``, ``roster.approved`` and, for an approved roster, ``roster.changed``.
"""
from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from edge.clock import Clock
from edge.events import NewEvent
from edge.roster import (MAX_ROSTER_DAYS, Assignment, CsvRow, RosterError, check_guard_name,
                         check_user_id)
from edge.store import EventBatch, EventLog
from edge.db import Database
from edge.timefmt import from_utc_text, to_utc_text

SOURCE = "roster"

DayPlan = dict[str, dict[str, list[str]]]  # day -> shift -> guard names


@dataclass(frozen=True)
class Guard:
    id: int
    name: str
    user_id: str


@dataclass(frozen=True)
class RosterInfo:
    id: int
    status: str
    first_day: date
    last_day: date
    source: str
    created_at: datetime
    approved_at: datetime | None
    approved_by: str | None
    entries: int

    def summary(self) -> dict[str, Any]:
        return {"roster": self.id, "status": self.status, "from": self.first_day.isoformat(),
                "to": self.last_day.isoformat(), "entries": self.entries,
                "source": self.source, "approved_by": self.approved_by,
                "approved_at": to_utc_text(self.approved_at) if self.approved_at else None}


@dataclass(frozen=True)
class Change:
    roster: RosterInfo
    day: date
    shift: str
    before: list[str]
    after: list[str]

    @property
    def changed(self) -> bool:
        return self.before != self.after


class RosterStore:
    def __init__(self, db: Database, events: EventLog, clock: Clock,
                 shift_names: Sequence[str]) -> None:
        self.db = db
        self.events = events
        self.clock = clock
        self.shift_names = list(shift_names)

    @classmethod
    def from_runtime(cls, rt: Any) -> "RosterStore":
        from edge.roster import parse_shifts
        return cls(rt.db, rt.events, rt.clock, list(parse_shifts(rt.config.roster.shifts)))

    # --- guards ------------------------------------------------------------------------------

    def guards(self) -> list[Guard]:
        with self.db.raw_read() as cur:
            rows = cur.execute("SELECT id, name, user_id FROM guards ORDER BY name").fetchall()
        return [Guard(*row) for row in rows]

    def link_guard(self, name: str, user_id: str, by: str | None = None) -> Guard:
        """Add a guard or change the fingerprint user id a guard is linked to."""
        name, user_id = check_guard_name(name), check_user_id(user_id)
        with self.events.writing() as batch:
            guard = self._link(batch, name, user_id, by)
        return guard

    def _link(self, batch: EventBatch, name: str, user_id: str, by: str | None) -> Guard:
        cur = batch.cursor
        holder = cur.execute("SELECT name FROM guards WHERE user_id = ?", (user_id,)).fetchone()
        if holder is not None and holder[0] != name:
            raise RosterError(f"fingerprint user id {user_id} is already linked to guard "
                              f"'{holder[0]}'")
        row = cur.execute("SELECT id, user_id FROM guards WHERE name = ?", (name,)).fetchone()
        now = to_utc_text(self.clock.now())
        if row is not None and row[1] == user_id:
            return Guard(row[0], name, user_id)
        if row is None:
            cur.execute("INSERT INTO guards (name, user_id, updated_at) VALUES (?, ?, ?)",
                        (name, user_id, now))
            guard = Guard(cur.lastrowid or 0, name, user_id)
        else:
            cur.execute("UPDATE guards SET user_id = ?, updated_at = ? WHERE id = ?",
                        (user_id, now, row[0]))
            guard = Guard(row[0], name, user_id)
        batch.record_many([NewEvent("roster.guard", SOURCE, {
            "guard": name, "user_id": user_id, "before": row[1] if row else None, "by": by})])
        return guard

    # --- drafts ------------------------------------------------------------------------------

    def draft(self) -> RosterInfo | None:
        with self.db.raw_read() as cur:
            return _info(cur, "status = 'draft'", ())

    def info(self, roster_id: int) -> RosterInfo | None:
        with self.db.raw_read() as cur:
            return _info(cur, "id = ?", (roster_id,))

    def import_csv(self, rows: Sequence[CsvRow], source: str, by: str | None = None
                   ) -> RosterInfo:
        """Replace the draft (if any) by the rows of a CSV; guards with a user id are linked."""
        _check_csv_links(rows)
        with self.events.writing() as batch:
            cur = batch.cursor
            for name, user_id in sorted({(r.guard, r.user_id) for r in rows if r.user_id}):
                self._link(batch, name, user_id, by)
            ids = self._guard_ids(cur, {r.guard for r in rows})
            replaced = self._discard_draft(cur)
            days = sorted({r.day for r in rows})
            roster_id = self._new_roster(cur, days[0], days[-1], source[:200])
            entries = {(r.day.isoformat(), r.shift, ids[r.guard]) for r in rows}
            cur.executemany("INSERT INTO roster_entries (roster_id, day, shift, guard_id) "
                            "VALUES (?, ?, ?, ?)", [(roster_id, *e) for e in sorted(entries)])
            info = _info(cur, "id = ?", (roster_id,))
            assert info is not None
            batch.record_many([NewEvent("roster.draft", SOURCE, {
                **_brief(info), "action": "import", "replaces": replaced, "by": by})])
        return info

    def edit(self, day: date, shift: str, add: Iterable[str] = (), remove: Iterable[str] = (),
             by: str | None = None) -> Change:
        """Put guards on or take them off one shift. The draft covering ``day`` is edited;
        else the approved roster covering it (which needs ``by``: who authorised the change);
        else the draft is extended to ``day`` (or a new one begun)."""
        if shift not in self.shift_names:
            raise RosterError(f"unknown shift {shift!r}; the configured shifts are "
                              f"{', '.join(self.shift_names)}")
        add = [check_guard_name(n) for n in add]
        remove = [check_guard_name(n) for n in remove]
        try:
            with self.events.writing() as batch:
                return self._edit(batch, day, shift, add, remove, by)
        except _Unchanged as nothing:
            return nothing.change  # rolled back: not even an empty draft is left behind

    def _edit(self, batch: EventBatch, day: date, shift: str, add: list[str],
              remove: list[str], by: str | None) -> Change:
        cur = batch.cursor
        ids = self._guard_ids(cur, set(add) | set(remove))
        roster = self._edit_target(cur, day, by)
        before = _names(cur, roster.id, day, shift)
        for name in remove:
            cur.execute("DELETE FROM roster_entries WHERE roster_id = ? AND day = ? AND "
                        "shift = ? AND guard_id = ?", (roster.id, day.isoformat(), shift,
                                                       ids[name]))
        for name in add:
            cur.execute("INSERT OR IGNORE INTO roster_entries (roster_id, day, shift, "
                        "guard_id) VALUES (?, ?, ?, ?)",
                        (roster.id, day.isoformat(), shift, ids[name]))
        after = _names(cur, roster.id, day, shift)
        change = Change(roster, day, shift, before, after)
        if not change.changed:
            raise _Unchanged(change)
        kind = "roster.changed" if roster.status == "approved" else "roster.draft"
        payload: dict[str, Any] = {"roster": roster.id, "day": day.isoformat(),
                                   "shift": shift, "before": before, "after": after,
                                   "by": by}
        if kind == "roster.draft":
            payload["action"] = "edit"
        batch.record_many([NewEvent(kind, SOURCE, payload)])
        return change

    def approve(self, by: str) -> RosterInfo:
        """The supervisor approves the draft: from now on it is enforced."""
        by = " ".join(by.split())
        if not by or len(by) > 64 or not by.isprintable():
            raise RosterError("the approver's name must be 1 to 64 printable characters")
        with self.events.writing() as batch:
            cur = batch.cursor
            draft = _info(cur, "status = 'draft'", ())
            if draft is None:
                raise RosterError("there is no draft roster to approve; import one with "
                                  "'posjaga roster import FILE.csv' or edit one")
            if draft.entries == 0:
                raise RosterError(f"draft roster #{draft.id} has no assignments to approve")
            now = self.clock.now()
            cur.execute("UPDATE rosters SET status = 'approved', approved_at = ?, "
                        "approved_by = ? WHERE id = ?", (to_utc_text(now), by, draft.id))
            info = _info(cur, "id = ?", (draft.id,))
            assert info is not None
            batch.record_many([NewEvent("roster.approved", SOURCE, {
                **_brief(info), "by": by, "days": _plan(cur, info.id)}, now)])
        return info

    # --- reading -----------------------------------------------------------------------------

    def plan(self, roster_id: int) -> DayPlan:
        with self.db.raw_read() as cur:
            return _plan(cur, roster_id)

    def effective(self, first: date, last: date) -> tuple[list[Assignment], dict[date, int]]:
        """The approved assignments of local days ``first``..``last`` and, for each day an
        approved roster covers, that roster's id (the one approved last wins)."""
        with self.db.raw_read() as cur:
            rosters = cur.execute(
                "SELECT id, first_day, last_day FROM rosters WHERE status = 'approved' AND "
                "first_day <= ? AND last_day >= ? ORDER BY approved_at, id",
                (last.isoformat(), first.isoformat())).fetchall()
            chosen: dict[date, int] = {}
            for roster_id, lo, hi in rosters:
                day = max(first, date.fromisoformat(lo))
                while day <= min(last, date.fromisoformat(hi)):
                    chosen[day] = roster_id
                    day += timedelta(days=1)
            if not chosen:
                return [], {}
            marks = ",".join("?" * len(set(chosen.values())))
            rows = cur.execute(
                "SELECT e.roster_id, e.day, e.shift, g.name, g.user_id FROM roster_entries e "
                f"JOIN guards g ON g.id = e.guard_id WHERE e.roster_id IN ({marks}) AND "
                "e.day BETWEEN ? AND ? ORDER BY e.day, e.shift, g.name",
                (*sorted(set(chosen.values())), first.isoformat(), last.isoformat())).fetchall()
        assignments = [Assignment(date.fromisoformat(day), shift, name, user_id)
                       for roster_id, day, shift, name, user_id in rows
                       if chosen.get(date.fromisoformat(day)) == roster_id]
        return assignments, chosen

    # --- helpers -----------------------------------------------------------------------------

    def _guard_ids(self, cur: sqlite3.Cursor, names: set[str]) -> dict[str, int]:
        ids: dict[str, int] = {}
        for name in sorted(names):
            row = cur.execute("SELECT id FROM guards WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise RosterError(f"guard '{name}' is not linked to a fingerprint user id; "
                                  f"run 'posjaga roster guard \"{name}\" --user-id N' or give "
                                  "a user_id column in the CSV")
            ids[name] = row[0]
        return ids

    def _discard_draft(self, cur: sqlite3.Cursor) -> int | None:
        row = cur.execute("SELECT id FROM rosters WHERE status = 'draft'").fetchone()
        if row is None:
            return None
        cur.execute("UPDATE rosters SET status = 'discarded' WHERE id = ?", (row[0],))
        return row[0]

    def _new_roster(self, cur: sqlite3.Cursor, first: date, last: date, source: str) -> int:
        cur.execute("INSERT INTO rosters (status, first_day, last_day, source, created_at) "
                    "VALUES ('draft', ?, ?, ?, ?)", (first.isoformat(), last.isoformat(),
                                                     source, to_utc_text(self.clock.now())))
        return cur.lastrowid or 0

    def _edit_target(self, cur: sqlite3.Cursor, day: date, by: str | None) -> RosterInfo:
        text = day.isoformat()
        draft = _info(cur, "status = 'draft'", ())
        if draft is not None and draft.first_day <= day <= draft.last_day:
            return draft
        approved = _info(cur, "status = 'approved' AND first_day <= ? AND last_day >= ?",
                         (text, text), order="approved_at DESC, id DESC")
        if approved is not None:
            if not by:
                raise RosterError(f"{text} is in approved roster #{approved.id}; changing it "
                                  "needs --by NAME (who authorised the change)")
            return approved
        if draft is None:
            self._new_roster(cur, day, day, "cli")
        else:
            first, last = min(draft.first_day, day), max(draft.last_day, day)
            if (last - first).days + 1 > MAX_ROSTER_DAYS:
                raise RosterError(f"adding {text} would make draft roster #{draft.id} longer "
                                  f"than {MAX_ROSTER_DAYS} days; approve it first")
            cur.execute("UPDATE rosters SET first_day = ?, last_day = ? WHERE id = ?",
                        (first.isoformat(), last.isoformat(), draft.id))
        found = _info(cur, "status = 'draft'", ())
        assert found is not None
        return found


class _Unchanged(Exception):
    def __init__(self, change: Change) -> None:
        super().__init__("nothing to change")
        self.change = change


def _check_csv_links(rows: Sequence[CsvRow]) -> None:
    by_name: dict[str, str] = {}
    by_user: dict[str, str] = {}
    for r in rows:
        if r.user_id is None:
            continue
        if by_name.setdefault(r.guard, r.user_id) != r.user_id:
            raise RosterError(f"line {r.line}: guard '{r.guard}' has user id {r.user_id} here "
                              f"but {by_name[r.guard]} above")
        if by_user.setdefault(r.user_id, r.guard) != r.guard:
            raise RosterError(f"line {r.line}: user id {r.user_id} is given to '{r.guard}' "
                              f"here but to '{by_user[r.user_id]}' above")


def _info(cur: sqlite3.Cursor, where: str, args: tuple[Any, ...],
          order: str = "id DESC") -> RosterInfo | None:
    row = cur.execute(
        "SELECT id, status, first_day, last_day, source, created_at, approved_at, approved_by, "
        "(SELECT COUNT(*) FROM roster_entries e WHERE e.roster_id = rosters.id) "
        f"FROM rosters WHERE {where} ORDER BY {order} LIMIT 1", args).fetchone()
    if row is None:
        return None
    rid, status, first, last, source, created, approved_at, approved_by, entries = row
    return RosterInfo(rid, status, date.fromisoformat(first), date.fromisoformat(last), source,
                      from_utc_text(created), from_utc_text(approved_at) if approved_at else None,
                      approved_by, entries)


def _names(cur: sqlite3.Cursor, roster_id: int, day: date, shift: str) -> list[str]:
    rows = cur.execute("SELECT g.name FROM roster_entries e JOIN guards g ON g.id = e.guard_id "
                       "WHERE e.roster_id = ? AND e.day = ? AND e.shift = ? ORDER BY g.name",
                       (roster_id, day.isoformat(), shift)).fetchall()
    return [name for (name,) in rows]


def _plan(cur: sqlite3.Cursor, roster_id: int) -> DayPlan:
    plan: DayPlan = {}
    for day, shift, name in cur.execute(
            "SELECT e.day, e.shift, g.name FROM roster_entries e JOIN guards g ON "
            "g.id = e.guard_id WHERE e.roster_id = ? ORDER BY e.day, e.shift, g.name",
            (roster_id,)):
        plan.setdefault(day, {}).setdefault(shift, []).append(name)
    return plan


def _brief(info: RosterInfo) -> dict[str, Any]:
    return {"roster": info.id, "from": info.first_day.isoformat(),
            "to": info.last_day.isoformat(), "entries": info.entries}
