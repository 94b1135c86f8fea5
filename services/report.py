"""The daily security report (SOP steps 10-11): gathered, built, printed, published, uploaded.

* ``ReportMaker`` gathers a report day's events and tables, builds the report
  (edge/report.py) and its PDF (edge/report_pdf.py) and writes both to ``[report] output_dir``.
  Publishing records a ``report.daily`` event (figures only, no names), sets the retained state
  ``report/daily`` to the newest day's full JSON (one retained message, replaced each day, not
  one per day piling up on the broker) and queues the HTTPS upload.
* ``Uploader`` is the upload's store-and-forward: each report waits in ``report_uploads`` until
  the endpoint answered 2xx, retried with exponential backoff across restarts; a 4xx other
  than 408/429 is final and recorded as ``report.upload_failed``.
* ``ReportService`` (the ``report`` daemon) builds the report of each duty day at
  ``[report] time``, sends due uploads and answers the ``report`` command.
"""
from __future__ import annotations

import base64
import hashlib
import json
import logging
import random
import ssl
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from edge.commands import CommandError
from edge.config import ConfigError
from edge.events import Event, NewEvent
from edge.report import ReportInputs, build_report, day_window, guest_view, report_day_of
from edge.roster import parse_shifts
from edge.timefmt import from_utc_text, to_utc_text
from services.records import Records, events_between
from services.runtime import Runtime

log = logging.getLogger(__name__)

STATE, UPLOAD_STATE = "report/daily", "report/upload"
BUILT_MARK = "report_built_through"
SOURCE = "report"
_MISSED_DAYS = 7  # after downtime, the reports of at most this many past days are built
_LONGEST_PAUSE_S = 60.0
_FINAL_STATUSES = range(400, 500)
_RETRY_STATUSES = (408, 429)


class ReportError(ValueError):
    """A report that cannot be built as asked; one sentence."""


@dataclass(frozen=True)
class Built:
    report: dict[str, Any]
    pdf: bytes
    report_id: str

    @property
    def day(self) -> date:
        return date.fromisoformat(self.report["date"])

    @property
    def language(self) -> str:
        return str(self.report["language"])

    def json_text(self) -> str:
        return json.dumps(self.report, ensure_ascii=False, indent=1)

    def file_stem(self) -> str:
        return f"laporan-{self.report['date']}-{self.language}"


class ReportMaker:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.report
        self.zone = rt.config.site.zone
        self.records = Records(rt)
        self.uploader = Uploader(rt)
        self.lock = threading.Lock()  # one build at a time: the daemon and the command

    def language(self, asked: str | None = None) -> str:
        return asked or self.cfg.language or self.rt.config.site.language

    def last_complete_day(self) -> date:
        return report_day_of(self.rt.clock.now(), self.cfg.day_starts, self.zone) \
            - timedelta(days=1)

    def check_day(self, day: date) -> None:
        today = report_day_of(self.rt.clock.now(), self.cfg.day_starts, self.zone)
        if day > today:
            raise ReportError(f"{day} has not begun yet; the latest report day is {today}")

    # --- building --------------------------------------------------------------------------

    def build(self, day: date, language: str | None = None) -> Built:
        self.check_day(day)
        lang = self.language(language)
        with self.lock:
            report = build_report(self.inputs(day, lang))
            # Imported here: fpdf costs ~20 MB resident, and a daemon needs it once a day.
            from edge.report_pdf import render_pdf
            pdf = render_pdf(report, self.zone, lang)
        return Built(report, pdf, str(uuid.uuid4()))

    def inputs(self, day: date, language: str) -> ReportInputs:
        start, end = day_window(day, self.cfg.day_starts, self.zone)
        slack = timedelta(days=2)
        assignments, covered = self._roster(day)
        return ReportInputs(
            site_id=self.rt.config.site.id,
            site_name=self.rt.config.site.name or self.rt.config.site.id,
            day=day, start=start, end=end, zone=self.zone, day_starts=self.cfg.day_starts,
            language=language, generated_at=self.rt.clock.now(),
            events=events_between(self.rt, start - slack, end + slack, slack=timedelta(days=1)),
            shifts=parse_shifts(self.rt.config.roster.shifts), assignments=assignments,
            roster_days=frozenset(covered),
            guests=[guest_view(g) for g in self.records.visits(start, end)],
            inventory=[s.public() for s in self.records.inventory()],
            guest_names=self.records.guest_names(), signers=list(self.cfg.signers))

    def _roster(self, day: date) -> tuple[list[Any], dict[date, int]]:
        from services.roster import RosterStore  # the attendance engineer's store
        assignments, covered = RosterStore.from_runtime(self.rt).effective(
            day - timedelta(days=1), day + timedelta(days=1))
        return list(assignments), dict(covered)

    # --- output ----------------------------------------------------------------------------

    def save(self, built: Built, pdf_path: Path | None = None) -> Path:
        """Write the PDF (and the JSON beside it in the output folder); returns the PDF path."""
        folder = Path(self.cfg.output_dir)
        target = pdf_path or folder / f"{built.file_stem()}.pdf"
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            _write(target, built.pdf)
            if pdf_path is None:
                _write(folder / f"{built.file_stem()}.json", built.json_text().encode())
        except OSError as exc:
            raise ReportError(f"{target}: cannot be written ({exc.strerror or exc})") from None
        return target

    def publish(self, built: Built, pdf_path: Path | None, trigger: str) -> Event:
        """The event, the retained state (newest day only) and the queued upload."""
        text = built.json_text()
        payload = {"date": built.report["date"], "language": built.language,
                   "report_id": built.report_id, "complete": built.report["complete"],
                   "trigger": trigger, "summary": built.report["summary"],
                   "pdf": str(pdf_path) if pdf_path else None,
                   "sha256": hashlib.sha256(text.encode()).hexdigest(),
                   "upload": bool(self.cfg.url)}
        with self.rt.events.writing() as batch:
            event = batch.record_many([NewEvent("report.daily", SOURCE, payload)])[0]
            if self.cfg.url:
                self.uploader.queue(batch.cursor, built)
        current = self.rt.states.get(STATE)
        if current is None or str(current.payload.get("date", "")) <= built.report["date"]:
            self.rt.states.set(STATE, {**built.report, "report_id": built.report_id})
        if self.cfg.url:
            self.uploader.publish_state()
        return event

    def make(self, day: date, language: str | None, trigger: str) -> tuple[Built, Path, Event]:
        built = self.build(day, language)
        path = self.save(built)
        return built, path, self.publish(built, path, trigger)


def _write(path: Path, data: bytes) -> None:
    # Written aside and renamed: a reader never sees half a PDF.
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


# --- the upload outbox -------------------------------------------------------------------------

class Uploader:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.cfg = rt.config.report

    def queue(self, cur: Any, built: Built) -> None:
        body: dict[str, Any] = {"report_id": built.report_id, "report": built.report}
        if self.cfg.upload_pdf:
            body["pdf"] = {"filename": f"{built.file_stem()}.pdf",
                           "content_type": "application/pdf",
                           "base64": base64.b64encode(built.pdf).decode("ascii")}
        now = to_utc_text(self.rt.clock.now())
        cur.execute("INSERT INTO report_uploads (day, language, report_id, body, created_at, "
                    "status, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, 'pending', 0, ?)",
                    (built.report["date"], built.language, built.report_id,
                     json.dumps(body, ensure_ascii=False), now, now))

    def pending(self) -> int:
        with self.rt.db.raw_read() as cur:
            return cur.execute("SELECT COUNT(*) FROM report_uploads WHERE status = 'pending'"
                               ).fetchone()[0]

    def next_due(self) -> datetime | None:
        with self.rt.db.raw_read() as cur:
            row = cur.execute("SELECT MIN(next_attempt_at) FROM report_uploads WHERE status = "
                              "'pending'").fetchone()
        return from_utc_text(row[0]) if row and row[0] else None

    def send_due(self) -> int:
        """Try every upload that is due, oldest first; returns how many were delivered."""
        if not self.cfg.url:
            return 0
        now = to_utc_text(self.rt.clock.now())
        with self.rt.db.raw_read() as cur:
            due = cur.execute("SELECT id, day, report_id, body, attempts FROM report_uploads "
                              "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY id",
                              (now,)).fetchall()
        sent = 0
        for upload_id, day, report_id, body, attempts in due:
            status, error = self._post(body, report_id)
            sent += self._settle(upload_id, day, report_id, attempts + 1, status, error)
            if error and status is None:
                break  # the endpoint is unreachable: the others would fail the same way
        if due:
            self.publish_state()
        return sent

    def _post(self, body: str, report_id: str) -> tuple[int | None, str | None]:
        """The HTTP status (None when no answer) and an error sentence (None on success)."""
        headers = {"Content-Type": "application/json; charset=utf-8",
                   "Idempotency-Key": report_id, "User-Agent": "posjaga"}
        try:
            token = self._token()
        except OSError as exc:
            return None, f"the token file {self.cfg.token_file} cannot be read ({exc.strerror})"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.cfg.url, data=body.encode(), headers=headers,
                                         method="POST")
        context = ssl.create_default_context(cafile=self.cfg.ca_file or None)
        try:
            with urllib.request.urlopen(request, timeout=self.cfg.timeout_s,
                                        context=context) as answer:
                return answer.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, f"the endpoint answered HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError, ssl.SSLError) as exc:
            reason = getattr(exc, "reason", exc)
            return None, f"the endpoint could not be reached ({reason})"

    def _token(self) -> str | None:
        if not self.cfg.token_file:
            return None
        return Path(self.cfg.token_file).read_text(encoding="utf-8").strip() or None

    def _settle(self, upload_id: int, day: str, report_id: str, attempts: int,
                status: int | None, error: str | None) -> int:
        now = self.rt.clock.now()
        final = status in _FINAL_STATUSES and status not in _RETRY_STATUSES
        with self.rt.events.writing() as batch:
            cur = batch.cursor
            if error is None:
                cur.execute("UPDATE report_uploads SET status = 'sent', attempts = ?, "
                            "sent_at = ?, last_error = NULL, body = '' WHERE id = ?",
                            (attempts, to_utc_text(now), upload_id))
                batch.record_many([NewEvent("report.uploaded", SOURCE, {
                    "date": day, "report_id": report_id, "attempts": attempts,
                    "status": status}, now)])
                log.info("report of %s delivered after %d attempts", day, attempts)
                return 1
            if final:
                cur.execute("UPDATE report_uploads SET status = 'failed', attempts = ?, "
                            "last_error = ? WHERE id = ?", (attempts, error[:300], upload_id))
                batch.record_many([NewEvent("report.upload_failed", SOURCE, {
                    "date": day, "report_id": report_id, "attempts": attempts,
                    "status": status, "error": error}, now)])
                log.error("report of %s refused: %s", day, error)
                return 0
            delay = self._delay(attempts)
            cur.execute("UPDATE report_uploads SET attempts = ?, last_error = ?, "
                        "next_attempt_at = ? WHERE id = ?",
                        (attempts, error[:300], to_utc_text(now + timedelta(seconds=delay)),
                         upload_id))
        log.warning("report of %s not delivered (attempt %d): %s; next try in %.0f s", day,
                    attempts, error, delay)
        return 0

    def _delay(self, attempts: int) -> float:
        # Exponential with jitter: posts that lost the same endpoint do not retry in step.
        base = min(self.cfg.retry_max_s, self.cfg.retry_min_s * 2 ** (attempts - 1))
        return base * random.uniform(0.8, 1.0)

    def publish_state(self) -> None:
        with self.rt.db.raw_read() as cur:
            pending = cur.execute(
                "SELECT day, attempts, last_error, next_attempt_at FROM report_uploads "
                "WHERE status = 'pending' ORDER BY id").fetchall()
            sent = cur.execute("SELECT day, sent_at FROM report_uploads WHERE status = 'sent' "
                               "ORDER BY sent_at DESC LIMIT 1").fetchone()
        self.rt.states.set(UPLOAD_STATE, {
            "pending": [{"date": d, "attempts": a, "error": e, "next_attempt_at": n}
                        for d, a, e, n in pending],
            "last_sent": {"date": sent[0], "at": sent[1]} if sent else None})


# --- the daemon and the command ----------------------------------------------------------------

class ReportService:
    name = "report"

    def __init__(self, rt: Runtime) -> None:
        cfg = rt.config.report
        if cfg.url and cfg.token_file and not Path(cfg.token_file).is_file():
            raise ConfigError(f"{rt.config.source}: 'report.token_file' must be a readable "
                              f"file, got {cfg.token_file!r}")
        self.rt = rt
        self.maker = ReportMaker(rt)
        self.heartbeat = time.monotonic()
        rt.router.register("report", self.command)

    def run(self, stop: threading.Event) -> None:
        self.open()
        while not stop.is_set():
            self.step()
            self.heartbeat = time.monotonic()  # services/health.py: the loop turns
            self.rt.clock.wait(stop, self._pause_s())

    def health(self) -> str | None:
        """A report the endpoint has not taken yet is worth a look (posjaga status)."""
        with self.rt.db.raw_read() as cur:
            row = cur.execute("SELECT COUNT(*), MAX(last_error) FROM report_uploads WHERE "
                              "status = 'pending' AND attempts > 0").fetchone()
        if not row or not row[0]:
            return None
        return f"{row[0]} daily report(s) not uploaded yet: {row[1]}"

    def open(self) -> None:
        if self.maker.records.mark(BUILT_MARK) is None:
            # A first start builds no report for the days before it.
            self.maker.records.set_mark(BUILT_MARK, self._last_due_day().isoformat())

    def step(self) -> list[date]:
        """Build the reports that fell due; send due uploads. Returns the days built."""
        built = []
        while (day := self._next_due()) is not None:
            try:
                self.maker.make(day, None, "schedule")
            except ReportError as exc:
                log.error("the report of %s was not built: %s", day, exc)
            self.maker.records.set_mark(BUILT_MARK, day.isoformat())
            built.append(day)
        self.maker.uploader.send_due()
        return built

    def build_at(self, day: date) -> datetime:
        """When the report of ``day`` is due: the first ``time`` after the day ended."""
        _, end = day_window(day, self.maker.cfg.day_starts, self.maker.zone)
        local_end = end.astimezone(self.maker.zone)
        hh, mm = (int(x) for x in self.maker.cfg.time.split(":"))
        at = local_end.replace(hour=hh, minute=mm, second=0, microsecond=0)
        if at < local_end:
            at += timedelta(days=1)
        return at.astimezone(end.tzinfo)

    def _last_due_day(self) -> date:
        day = self.maker.last_complete_day()
        while self.build_at(day) > self.rt.clock.now():
            day -= timedelta(days=1)
        return day

    def _next_due(self) -> date | None:
        mark = date.fromisoformat(self.maker.records.mark(BUILT_MARK) or "1970-01-01")
        last = self._last_due_day()
        if mark >= last:
            return None
        return max(mark + timedelta(days=1), last - timedelta(days=_MISSED_DAYS - 1))

    def _pause_s(self) -> float:
        now = self.rt.clock.now()
        mark = self.maker.records.mark(BUILT_MARK)
        times = [now + timedelta(seconds=_LONGEST_PAUSE_S)]
        if mark:
            times.append(self.build_at(date.fromisoformat(mark) + timedelta(days=1)))
        if (due := self.maker.uploader.next_due()) is not None:
            times.append(due)
        return max(0.05, (min(times) - now).total_seconds())

    def command(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``{"action": "build", "date": "2026-12-04", "language": "en"}`` (date and language
        optional) or ``{"action": "status"}``."""
        unknown = sorted(set(request) - {"action", "date", "language", "transaction"})
        if unknown:
            raise CommandError(f"the report command has an unknown key '{unknown[0]}'; it "
                               "takes 'action', 'date', 'language' and 'transaction'")
        action = request.get("action")
        if action == "status":
            return {"pending_uploads": self.maker.uploader.pending(),
                    "built_through": self.maker.records.mark(BUILT_MARK)}
        if action != "build":
            raise CommandError(f"'action' must be one of build, status; got {json.dumps(action)}")
        day = _command_day(request.get("date"), self.maker.last_complete_day())
        language = request.get("language")
        if language not in (None, "id", "en"):
            raise CommandError(f"'language' must be one of id, en; got {json.dumps(language)}")
        try:
            built, path, event = self.maker.make(day, language, "command")
        except ReportError as exc:
            raise CommandError(str(exc)) from None
        return {"date": built.report["date"], "report_id": built.report_id,
                "complete": built.report["complete"], "pdf": str(path), "event": event.id,
                "upload": bool(self.maker.cfg.url), "report": built.report}


def _command_day(value: Any, default: date) -> date:
    if value is None:
        return default
    if not isinstance(value, str):
        raise CommandError(f"'date' must be a date such as \"2026-12-04\", got {json.dumps(value)}")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"'date' must be a date such as \"2026-12-04\", got "
                           f"{json.dumps(value)}") from None
