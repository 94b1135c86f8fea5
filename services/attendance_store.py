"""Punches in the store, each once, with their events in the same transaction.

A punch is identified by (machine serial, device time, user id, punch type): the unique key of
``attendance_punches``. Live capture and pulls of the whole log both come through ``ingest``,
so a punch seen live and again in the next pull is stored and published once. A batch that
holds nothing new writes nothing at all (not even an empty transaction).

Trust: the machine's log is append-only, so its order is the order punches were made in. A
punch dated earlier than a punch logged before it (by more than the skew tolerance) was made
after the machine's clock went back - a reset after a power loss - and one dated after the
moment it was read is impossible; both are stored and published flagged, and not used for
shift attendance.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Mapping, Sequence

from drivers.zkteco import Punch
from edge.attendance import DeviceTimes
from edge.events import NewEvent
from edge.timefmt import to_utc_text
from services.attendance_texts import text
from services.runtime import Runtime

_INSERT = ("INSERT INTO attendance_punches (device, device_time, user_id, punch, status, "
           "occurred_at, recorded_at, kind, via, trusted, historical, event_id) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
_KEYS = ("SELECT device_time, user_id, punch FROM attendance_punches WHERE device = ? AND "
         "device_time BETWEEN ? AND ?")
_MARK = ("INSERT INTO attendance_sync (device, records, last_index, last_key, max_time, "
         "updated_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (device) DO UPDATE SET "
         "records = excluded.records, last_index = excluded.last_index, "
         "last_key = excluded.last_key, max_time = excluded.max_time, "
         "updated_at = excluded.updated_at")
_LISTED_IDS = 20  # user ids named in one alert; the count says the rest

Row = tuple[Any, ...]  # as _INSERT takes it
_KIND, _TRUSTED, _HISTORICAL = 7, 9, 10


@dataclass(frozen=True)
class SyncMark:
    """Where the last pull ended: the raw record count, the last readable record and the
    latest trusted device time in log order."""

    device: str
    records: int
    last_index: int
    last_key: str
    max_time: str  # device-local ISO text, '' before any trusted punch


@dataclass(frozen=True)
class Directory:
    guards: Mapping[str, str]  # fingerprint user id -> guard name
    enrolled: frozenset[str]  # user ids the machine knows


@dataclass
class IngestReport:
    seen: int = 0
    new: int = 0
    published: int = 0
    historical: int = 0
    untrusted: int = 0
    unknown: int = 0
    ignored_staff: int = 0
    events: int = 0
    max_time: str = ""
    new_guard_punches: list[str] = field(default_factory=list)  # user ids, for the rules


def _published(row: Row) -> bool:
    """Recent punches of guards (and of staff, when kept) get an event each."""
    return not row[_HISTORICAL] and row[_KIND] != "unknown"


def punch_key(p: Punch) -> str:
    return f"{p.user_id}|{p.timestamp.isoformat()}|{p.punch}"


def source_of(device: str) -> str:
    return f"zk:{device}"


class PunchStore:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.attendance
        self.language = rt.config.site.language
        self.zone = rt.config.site.zone
        self.times = DeviceTimes(self.zone)

    # --- sync marks ----------------------------------------------------------------------

    def mark(self, device: str) -> SyncMark | None:
        with self.rt.db.raw_read() as cur:
            row = cur.execute("SELECT device, records, last_index, last_key, max_time FROM "
                              "attendance_sync WHERE device = ?", (device,)).fetchone()
        return SyncMark(*row) if row else None

    # --- ingesting ---------------------------------------------------------------------------

    def ingest(self, device: str, punches: Sequence[Punch], via: str, directory: Directory,
               max_time: str, read_at: datetime, extra: Sequence[NewEvent] = (),
               mark: SyncMark | None = None, previous: SyncMark | None = None,
               recent: bool = True) -> IngestReport:
        """Store what is new of ``punches`` (in log order), publish it, and commit ``extra``
        events and ``mark`` (its max_time filled in) with it, unless the mark equals
        ``previous``; nothing is written when nothing changed.

        ``recent``: the punches were made since the last pull (live ones, or the tail of a
        log already synced), so an untrusted one is news whatever date it carries; on a
        first sync its date decides, like any other's, whether it is history."""
        report = IngestReport(seen=len(punches))
        rows, report.max_time = self._rows(device, punches, via, directory, max_time, read_at,
                                           recent, report)
        rows = self._fresh(device, rows)
        published, notes = self._events(device, rows, directory, report)
        events = published + list(extra) + notes  # punch events first: their ids go in rows
        if mark is not None:
            mark = replace(mark, max_time=report.max_time)
            mark = None if mark == previous else mark
        if not rows and not events and mark is None:
            return report
        with self.rt.events.writing() as batch:
            recorded = batch.record_many(events)
            # The punch events come first, in the order of the rows they publish.
            for at, event in zip([i for i, row in enumerate(rows) if _published(row)],
                                 recorded):
                rows[at] = rows[at][:-1] + (event.id,)
            batch.cursor.executemany(_INSERT, rows)
            if mark is not None:
                batch.cursor.execute(_MARK, (mark.device, mark.records, mark.last_index,
                                             mark.last_key, mark.max_time,
                                             to_utc_text(self.rt.clock.now())))
        report.events = len(recorded)
        return report

    def _rows(self, device: str, punches: Sequence[Punch], via: str, directory: Directory,
              max_time: str, read_at: datetime, recent: bool, report: IngestReport
              ) -> tuple[list[Row], str]:
        """The rows to store (staff left out unless configured) in ``_INSERT`` order, the
        event id still None, and the running maximum of trusted device times.

        This is the hot loop of a 100,000-record first sync: plain tuples, no calls it can
        avoid."""
        tolerance = timedelta(seconds=self.cfg.skew_alert_s)
        future = to_utc_text(read_at + tolerance)
        horizon = to_utc_text(read_at - timedelta(days=self.cfg.history_days))
        recorded = to_utc_text(self.rt.clock.now())
        running = datetime.fromisoformat(max_time) if max_time else None
        floor = running - tolerance if running else datetime.min
        guards, enrolled = directory.guards, directory.enrolled
        keep_staff = self.cfg.keep_non_guards
        utc_text = self.times.utc_text
        rows: list[Row] = []
        for p in punches:
            t = p.timestamp
            occurred = utc_text(t)
            trusted = occurred <= future and t >= floor
            if trusted and (running is None or t > running):
                running, floor = t, t - tolerance
            user_id = p.user_id
            if user_id in guards:
                kind = "guard"
            elif user_id not in enrolled:
                kind = "unknown"
            elif keep_staff:
                kind = "staff"
            else:
                report.ignored_staff += 1
                continue
            historical = occurred < horizon and (trusted or not recent)
            rows.append((device, t.isoformat(), user_id, p.punch, p.status, occurred, recorded,
                         kind, via, trusted, historical, None))
        return rows, running.isoformat() if running else max_time

    def _fresh(self, device: str, rows: list[Row]) -> list[Row]:
        """The rows not stored yet (nor repeated within the batch)."""
        if not rows:
            return []
        times = [row[1] for row in rows]
        with self.rt.db.raw_read() as cur:
            seen = set(cur.execute(_KEYS, (device, min(times), max(times))))
        fresh = []
        for row in rows:
            key = row[1:4]
            if key not in seen:
                seen.add(key)
                fresh.append(row)
        return fresh

    def _events(self, device: str, rows: list[Row], directory: Directory,
                report: IngestReport) -> tuple[list[NewEvent], list[NewEvent]]:
        """One ``attendance.punch`` per row to publish (in row order); and a summary of the
        history and the alerts."""
        source = source_of(device)
        events = [self._punch_event(source, row, directory) for row in rows if _published(row)]
        notes: list[NewEvent] = []
        history = [row for row in rows if row[_HISTORICAL]]
        unknown = sorted({row[2] for row in rows if row[_KIND] == "unknown"})
        untrusted = [row[1] for row in rows if not row[_TRUSTED]]
        report.new, report.published, report.historical = len(rows), len(events), len(history)
        report.unknown = sum(1 for row in rows if row[_KIND] == "unknown")
        report.untrusted = len(untrusted)
        report.new_guard_punches = [row[2] for row in rows
                                    if row[_KIND] == "guard" and row[_TRUSTED]]
        if history:
            notes.append(NewEvent("attendance.history", source, {
                "device": device, "count": len(history),
                "guard_punches": sum(1 for row in history if row[_KIND] == "guard"),
                "from": min(row[1] for row in history), "to": max(row[1] for row in history)},
                self.times.utc(datetime.fromisoformat(max(row[1] for row in history)))))
        if unknown:
            notes.append(self.alert("unknown_user", device, count=report.unknown,
                                    user_ids=unknown[:_LISTED_IDS]))
        if untrusted:
            notes.append(self.alert("untrusted_punches", device, count=len(untrusted),
                                    first=min(untrusted), last=max(untrusted)))
        return events, notes

    def _punch_event(self, source: str, row: Row, directory: Directory) -> NewEvent:
        device, device_time, user_id, punch, status = row[:5]
        payload: dict[str, Any] = {
            "device": device, "user_id": user_id, "guard": directory.guards.get(user_id),
            "punch": punch, "status": status, "device_time": device_time, "via": row[8],
            "trusted": row[_TRUSTED]}
        return NewEvent("attendance.punch", source, payload,
                        self.times.utc(datetime.fromisoformat(device_time)))

    def alert(self, name: str, device: str, **values: Any) -> NewEvent:
        """An ``attendance.alert`` with its sentence for people in the site's language."""
        shown = {k: (", ".join(map(str, v)) if isinstance(v, list) else v)
                 for k, v in values.items()}
        payload = {"alert": name, "device": device, **values,
                   "text": text(name, self.language, device=device, **shown)}
        return NewEvent("attendance.alert", source_of(device), payload)
