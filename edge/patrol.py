"""Patrol rounds (SOP step 7) as pure rules: what a tap means and how a round ends.

No device, store, thread or clock here. The service hands in each tap with the wall and
monotonic time it happened at, and the current time now and then; it gets back the events to
record and a state to keep, from which a restarted service picks up (``PatrolBook.start``).

A round goes pending -> in_progress (its first checkpoint tap) -> complete (every checkpoint
visited), incomplete (its deadline passed with checkpoints missing) or missed (never started).
A round not complete by its late time raises a late alert and stays open. See docs/patrol.md
for the events, the state and what the anti-cheating signals can and cannot prove.
"""
from __future__ import annotations

import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Literal, Mapping, Protocol, Sequence
from zoneinfo import ZoneInfo

from edge.config import (PatrolCheckpointConfig, PatrolConfig, PatrolGuardConfig,
                         PatrolOutcomeConfig)
from edge.events import NewEvent
from edge.patrol_plan import RoundPlan, Slot
from edge.patrol_text import names, say, state_note, when
from edge.timefmt import from_utc_text, to_utc_text

log = logging.getLogger(__name__)

SOURCE = "patrol"
Ref = dict[str, Any]
OnDuty = Callable[[], Sequence[Ref]]  # asked only when a tap has no badge to go by


class Logged(Protocol):
    """An event as the log gives it back (edge.events.Event); only these are read."""

    kind: str
    payload: Mapping[str, Any]
    occurred_at: datetime


def _nobody() -> Sequence[Ref]:
    return ()


def tap_source(reader: str) -> str:
    return f"tags:{reader}"


def normalize_code(code: str) -> str:
    """Codes compare without surrounding blanks and case: '62e3086ced' is '62E3086CED'."""
    return code.strip().upper()


# --- configuration cross-checks ------------------------------------------------------------

def patrol_problem(cfg: PatrolConfig) -> str | None:
    """The first inconsistency between the [patrol] tables, as a clause naming the key."""
    for check in (_unique_names, _unique_codes, _reader_checkpoints, _unique_orders):
        if (problem := check(cfg)):
            return problem
    return None


def _first_repeat(values: Sequence[str]) -> int | None:
    seen: set[str] = set()
    for i, value in enumerate(values):
        if value in seen:
            return i
        seen.add(value)
    return None


def _unique_names(cfg: PatrolConfig) -> str | None:
    tables = (("readers", "name", [r.name for r in cfg.readers]),
              ("checkpoints", "id", [c.id for c in cfg.checkpoints]),
              ("guards", "id", [g.id for g in cfg.guards]))
    for table, key, values in tables:
        if (i := _first_repeat(values)) is not None:
            return (f"'patrol.{table}[{i + 1}].{key}' must be unique; {values[i]!r} is "
                    "already used")
    return None


def _unique_codes(cfg: PatrolConfig) -> str | None:
    owner: dict[str, str] = {}
    entries = ([(f"patrol.checkpoints[{i}].tags", c.tags, f"checkpoint {c.id}")
                for i, c in enumerate(cfg.checkpoints, 1)]
               + [(f"patrol.guards[{i}].badges", g.badges, f"guard {g.id}")
                  for i, g in enumerate(cfg.guards, 1)]
               + [(f"patrol.outcomes[{i}].code", [o.code], "another outcome code")
                  for i, o in enumerate(cfg.outcomes, 1)])
    for key, codes, who in entries:
        for code in codes:
            norm = normalize_code(code)
            if norm in owner:
                return (f"'{key}' must not repeat {code!r}, which already belongs to "
                        f"{owner[norm]}; each code must mean one thing")
            owner[norm] = who
    return None


def _reader_checkpoints(cfg: PatrolConfig) -> str | None:
    ids = {c.id for c in cfg.checkpoints}
    for i, reader in enumerate(cfg.readers, 1):
        if reader.checkpoint and reader.checkpoint not in ids:
            return (f"'patrol.readers[{i}].checkpoint' must be the id of a checkpoint, got "
                    f"{reader.checkpoint!r}; known: {', '.join(sorted(ids)) or 'none'}")
    return None


def _unique_orders(cfg: PatrolConfig) -> str | None:
    orders = [str(c.order) for c in cfg.checkpoints if c.order]
    if (i := _first_repeat(orders)) is not None:
        return (f"'patrol.checkpoints' must give each 'order' once; {orders[i]} is used twice "
                "(0 means any time)")
    return None


# --- what a code is ------------------------------------------------------------------------

@dataclass(frozen=True)
class Resolved:
    kind: Literal["checkpoint", "badge", "outcome", "unknown"]
    checkpoint: PatrolCheckpointConfig | None = None
    guard: PatrolGuardConfig | None = None
    outcome: PatrolOutcomeConfig | None = None


UNKNOWN = Resolved("unknown")


class Catalog:
    """Every code we issued: checkpoint tags, guards' badges, the outcome sheet."""

    def __init__(self, cfg: PatrolConfig) -> None:
        self.route = list(cfg.checkpoints)
        self.checkpoints = {c.id: c for c in cfg.checkpoints}
        self.guards = {g.id: g for g in cfg.guards}
        self._codes: dict[str, Resolved] = {}
        for cp in cfg.checkpoints:
            self._add(cp.tags, Resolved("checkpoint", checkpoint=cp))
        for guard in cfg.guards:
            self._add(guard.badges, Resolved("badge", guard=guard))
        for outcome in cfg.outcomes:
            self._add([outcome.code], Resolved("outcome", outcome=outcome))

    def _add(self, codes: Sequence[str], meaning: Resolved) -> None:
        for code in codes:
            self._codes[normalize_code(code)] = meaning

    def resolve(self, code: str, card_number: int | None = None) -> Resolved:
        """What ``code`` means; an EM4100 fob may also be listed by its printed number."""
        found = self._codes.get(normalize_code(code))
        if found is None and card_number is not None:
            found = self._codes.get(str(card_number)) or self._codes.get(f"{card_number:010d}")
        return found or UNKNOWN


def checkpoint_ref(cp: PatrolCheckpointConfig) -> Ref:
    return {"id": cp.id, "name": cp.name, "room": cp.room}


def guard_ref(guard_id: str, name: str | None, via: str) -> Ref:
    return {"id": guard_id, "name": name, "via": via}


def guards_on_duty(payload: Mapping[str, Any] | None,
                   known: Mapping[str, PatrolGuardConfig]) -> list[Ref]:
    """The guards a duty state lists: ``{"guards": [{"id": "3", "name": "Budi"}, "4"]}``.

    Anything else in the state is ignored; names fall back to [[patrol.guards]].
    """
    listed = payload.get("guards") if isinstance(payload, Mapping) else None
    refs: list[Ref] = []
    for item in listed if isinstance(listed, list) else []:
        guard_id = item.get("id") if isinstance(item, Mapping) else item
        if not isinstance(guard_id, (str, int)) or isinstance(guard_id, bool):
            continue
        name = item.get("name") if isinstance(item, Mapping) else None
        config = known.get(str(guard_id))
        refs.append(guard_ref(str(guard_id), name or (config.name if config else None), "duty"))
    return refs


# --- taps and rounds -----------------------------------------------------------------------

@dataclass(frozen=True)
class TapIn:
    """A tap as the rules see it: which reader, what code, when (wall and monotonic)."""

    reader: str
    code: str
    tag_kind: str
    at: datetime
    mono: float
    location: str | None = None
    fixed_checkpoint: str | None = None  # the reader is mounted at this checkpoint
    card_number: int | None = None
    raw_hex: str = ""


@dataclass
class Visit:
    checkpoint: str
    at: datetime
    reader: str
    guard: Ref | None
    outcomes: list[str] = field(default_factory=list)


@dataclass
class Round:
    slot: Slot
    status: Literal["pending", "in_progress"] = "pending"
    started_at: datetime | None = None
    guard: Ref | None = None  # set by a badge scan; otherwise taps go to the guard on duty
    late: bool = False
    visits: dict[str, Visit] = field(default_factory=dict)
    signals: Counter[str] = field(default_factory=Counter)
    findings: list[Ref] = field(default_factory=list)
    # Memory only: a restarted service does not judge the first walk after the restart.
    last_checkpoint: str | None = None
    last_mono: float | None = None


@dataclass
class _Context:
    """The checkpoint an outcome code scanned on this reader next applies to."""

    round: str
    day: date
    checkpoint: str
    mono: float
    guard: Ref | None  # who visited the room records its state


@dataclass
class Tally:
    """One local day's share of the daily security report."""

    day: date
    partial: bool = False
    rounds: list[Ref] = field(default_factory=list)
    findings: list[Ref] = field(default_factory=list)
    signals: Counter[str] = field(default_factory=Counter)
    unknown_tags: int = 0

    def payload(self) -> Ref:
        return {"date": self.day.isoformat(), "partial": self.partial, "rounds": self.rounds,
                "findings": self.findings, "signals": dict(sorted(self.signals.items())),
                "unknown_tags": self.unknown_tags}

    @classmethod
    def from_payload(cls, data: Mapping[str, Any]) -> Tally:
        return cls(date.fromisoformat(data["date"]), bool(data.get("partial")),
                   list(data.get("rounds", [])), list(data.get("findings", [])),
                   Counter(data.get("signals", {})), int(data.get("unknown_tags", 0)))


def _utc(at: datetime | None) -> str | None:
    return None if at is None else to_utc_text(at)


class PatrolBook:
    """The rules of one site's patrol; the service owns one and feeds it taps and time.

    ``start`` comes first: it picks the round to wait for (from the stored state or the plan).
    """

    round: Round

    def __init__(self, cfg: PatrolConfig, zone: ZoneInfo, language: str) -> None:
        self.cfg = cfg
        self.zone = zone
        self.language = language
        self.catalog = Catalog(cfg)
        self.plan = RoundPlan(cfg.plan, zone)
        self.last_round: Ref | None = None
        self.last_start: datetime | None = None
        self.reported_through: date = date.min
        self.days: dict[date, Tally] = {}
        self._last_visit: _Context | None = None
        self._visits_at: dict[str, _Context] = {}  # by checkpoint, for fixed readers
        self._recent: dict[str, deque[float]] = {}

    # --- life cycle ------------------------------------------------------------------------

    def start(self, stored: Mapping[str, Any] | None, now: datetime,
              since: Sequence[Logged] = ()) -> list[NewEvent]:
        """Continue from a stored state (or begin afresh) and settle what fell due meanwhile.

        ``since`` are the patrol events logged after that state was written, oldest first: the
        state is written once taps pause, so a power cut can leave it behind the log, and
        these bring it up to date (see ``replay``). Whatever ends here ended while the service
        was not running: it says so.
        """
        if stored is not None and self._restore(stored):
            self.replay(since)
            return self._advance(now, service_down=True)
        self.round = Round(self.plan.first_slot(now))
        today = now.astimezone(self.zone).date()
        self.reported_through = today - timedelta(days=1)
        self._tally(today).partial = True  # rounds before the first start are not known
        return self._advance(now, service_down=False)

    def tick(self, now: datetime) -> list[NewEvent]:
        """Late alerts, rounds that end and daily reports due by ``now``."""
        return self._advance(now, service_down=False)

    def next_wakeup(self) -> datetime:
        """The next instant at which ``tick`` has something to do."""
        rnd = self.round
        times = [rnd.slot.deadline, self.plan.report_time(self.reported_through
                                                          + timedelta(days=1))]
        if self._late_pending(rnd):
            times.append(rnd.slot.late)
        return min(times)

    # --- taps ------------------------------------------------------------------------------

    def tap(self, tap: TapIn, on_duty: OnDuty = _nobody) -> list[NewEvent]:
        """Record what one tap means. Every tap becomes a ``patrol.tap`` event, whatever it is;
        doubts are signals on it, never a reason to drop it."""
        out = self.tick(tap.at)
        found = self.catalog.resolve(tap.code, tap.card_number)
        signals = self._burst(tap)
        payload: Ref = {"reader": tap.reader, "code": tap.code, "tag_kind": tap.tag_kind,
                        "location": tap.location, "resolved": found.kind}
        caused: list[NewEvent] = []
        handlers: dict[str, Callable[..., None]] = {
            "checkpoint": self._on_checkpoint, "badge": self._on_badge,
            "outcome": self._on_outcome, "unknown": self._on_unknown}
        handlers[found.kind](tap, found, on_duty, payload, signals, caused)
        payload["signals"] = signals
        self._count_signals(tap, payload, signals)
        rnd = self.round
        if rnd.status == "in_progress" and not self._remaining(rnd):
            caused += self._finish(rnd, "complete", tap.at, service_down=False)
        return out + [NewEvent("patrol.tap", tap_source(tap.reader), payload, tap.at)] + caused

    def _on_checkpoint(self, tap: TapIn, found: Resolved, on_duty: OnDuty, payload: Ref,
                       signals: list[Ref], caused: list[NewEvent]) -> None:
        assert found.checkpoint is not None
        if tap.fixed_checkpoint and tap.fixed_checkpoint != found.checkpoint.id:
            # The tag of one room read by the reader mounted in another: moved or copied.
            signals.append({"signal": "wrong_place", "reader_checkpoint": tap.fixed_checkpoint})
        self._visit(found.checkpoint, tap, None, on_duty, payload, signals, caused)

    def _on_badge(self, tap: TapIn, found: Resolved, on_duty: OnDuty, payload: Ref,
                  signals: list[Ref], caused: list[NewEvent]) -> None:
        assert found.guard is not None
        guard = guard_ref(found.guard.id, found.guard.name, "badge")
        if tap.fixed_checkpoint:
            self._visit(self.catalog.checkpoints[tap.fixed_checkpoint], tap, guard, on_duty,
                        payload, signals, caused)
            return
        payload["guard"] = guard
        rnd = self.round
        if rnd.status == "in_progress" or self._start_problem(rnd, tap.at) is None:
            rnd.guard = guard  # the round is open: its taps are this guard's from now on
            payload["round"] = rnd.slot.id
        else:
            payload["round"] = None

    def _on_outcome(self, tap: TapIn, found: Resolved, on_duty: OnDuty, payload: Ref,
                    signals: list[Ref], caused: list[NewEvent]) -> None:
        outcome = found.outcome
        assert outcome is not None
        note = outcome.note or state_note(outcome.state, self.language)
        payload["outcome"] = {"code": outcome.code, "state": outcome.state, "note": note}
        ctx = self._outcome_context(tap)
        if ctx is None:
            signals.append({"signal": "outcome_without_checkpoint"})
            payload["round"] = None
            return
        ctx.mono = tap.mono  # several outcome codes for one room may follow each other
        cp = self.catalog.checkpoints[ctx.checkpoint]
        who = ctx.guard or self._who(None, on_duty, payload)
        payload["guard"] = who
        payload.update(checkpoint=checkpoint_ref(cp), round=ctx.round)
        visit = self.round.visits.get(cp.id) if self.round.slot.id == ctx.round else None
        if visit is not None:
            visit.outcomes.append(outcome.state)
        if outcome.state != "secure":
            caused.append(self._finding(ctx, cp, outcome.state, outcome.code, note, who, tap.at))

    def _outcome_context(self, tap: TapIn) -> _Context | None:
        """The room an outcome code is about, if visited recently enough: a fixed reader's
        own room, else the room last visited on any reader (one guard walks a round, maybe
        with a fob on a fixed reader and the outcome sheet on a handheld scanner)."""
        ctx = (self._visits_at.get(tap.fixed_checkpoint) if tap.fixed_checkpoint
               else self._last_visit)
        if ctx is not None and tap.mono - ctx.mono <= self.cfg.outcome_window_s:
            return ctx
        return None

    def _on_unknown(self, tap: TapIn, found: Resolved, on_duty: OnDuty, payload: Ref,
                    signals: list[Ref], caused: list[NewEvent]) -> None:
        signals.append({"signal": "foreign_code"})
        payload["raw_hex"] = tap.raw_hex
        rnd = self.round
        payload["round"] = rnd.slot.id if rnd.status == "in_progress" else None
        self._tally(tap.at.astimezone(self.zone).date()).unknown_tags += 1

    def _visit(self, cp: PatrolCheckpointConfig, tap: TapIn, guard: Ref | None,
               on_duty: OnDuty, payload: Ref, signals: list[Ref],
               caused: list[NewEvent]) -> None:
        rnd = self.round
        payload["checkpoint"] = checkpoint_ref(cp)
        if rnd.status == "pending":
            if (problem := self._start_problem(rnd, tap.at)) is not None:
                signals.append(problem)
                payload["round"] = None
                return
            rnd.status, rnd.started_at, self.last_start = "in_progress", tap.at, tap.at
            payload["starts_round"] = True
        if guard is not None and rnd.guard is None:
            rnd.guard = guard  # a badge on a fixed reader signs the guard in too
        payload["round"] = rnd.slot.id
        who = self._who(guard, on_duty, payload)
        first = cp.id not in rnd.visits
        payload["first_visit"] = first
        signals += self._walk_signals(rnd, cp, tap, first)
        if first:
            rnd.visits[cp.id] = Visit(cp.id, tap.at, tap.reader, who)
        rnd.last_checkpoint, rnd.last_mono = cp.id, tap.mono
        self._last_visit = self._visits_at[cp.id] = _Context(rnd.slot.id, rnd.slot.date, cp.id,
                                                             tap.mono, who)

    def _who(self, guard: Ref | None, on_duty: OnDuty, payload: Ref) -> Ref | None:
        """The guard a tap is attributed to: a badge, the round's badge, else the one on duty."""
        who = guard or self.round.guard
        if who is None:
            duty = on_duty()
            who = duty[0] if len(duty) == 1 else None
            if len(duty) > 1:
                payload["on_duty"] = [ref["id"] for ref in duty]  # several: cannot tell which
        payload["guard"] = who
        return who

    def _start_problem(self, rnd: Round, at: datetime) -> Ref | None:
        """Why a tap at ``at`` cannot start the pending round, or None."""
        if at < rnd.slot.opens:
            return {"signal": "outside_round", "next_round": rnd.slot.id,
                    "opens_at": to_utc_text(rnd.slot.opens)}
        spacing = timedelta(minutes=self.cfg.plan.min_spacing_min)
        if spacing and self.last_start is not None and at < self.last_start + spacing:
            return {"signal": "too_soon", "earliest": to_utc_text(self.last_start + spacing)}
        return None

    def _walk_signals(self, rnd: Round, cp: PatrolCheckpointConfig, tap: TapIn,
                      first: bool) -> list[Ref]:
        found: list[Ref] = []
        if rnd.last_checkpoint not in (None, cp.id) and rnd.last_mono is not None:
            walk = tap.mono - rnd.last_mono
            least = self.cfg.min_walk_s if cp.min_walk_s is None else cp.min_walk_s
            if walk < least:
                found.append({"signal": "too_fast", "from": rnd.last_checkpoint,
                              "walk_s": round(walk, 1), "min_walk_s": least})
        if first and self.cfg.plan.order == "ordered" and cp.order:
            expected = min((c for c in self._remaining(rnd) if c.order),
                           key=lambda c: c.order, default=None)
            if expected is not None and expected.id != cp.id:
                found.append({"signal": "out_of_order", "expected": expected.id})
        return found

    def _burst(self, tap: TapIn) -> list[Ref]:
        recent = self._recent.setdefault(tap.reader, deque(maxlen=self.cfg.burst_taps))
        recent.append(tap.mono)
        if len(recent) == recent.maxlen and tap.mono - recent[0] <= self.cfg.burst_window_s:
            return [{"signal": "burst", "taps": len(recent),
                     "window_s": self.cfg.burst_window_s}]
        return []

    def _count_signals(self, tap: TapIn, payload: Ref, signals: list[Ref]) -> None:
        if not signals:
            return
        kinds = Counter(s["signal"] for s in signals)
        self._tally(tap.at.astimezone(self.zone).date()).signals.update(kinds)
        if payload.get("round") == self.round.slot.id:
            self.round.signals.update(kinds)

    # --- findings --------------------------------------------------------------------------

    def _finding(self, ctx: _Context, cp: PatrolCheckpointConfig, state: str, code: str,
                 note: str, who: Ref | None, at: datetime) -> NewEvent:
        room = f" ({cp.room})" if cp.room else ""
        message = say("finding", self.language, checkpoint=cp.name, room=room, note=note)
        item = {"round": ctx.round, "checkpoint": cp.id, "name": cp.name, "room": cp.room,
                "state": state, "note": note, "at": to_utc_text(at),
                "guard": who["name"] if who else None}
        self._tally(ctx.day).findings.append(item)
        if self.round.slot.id == ctx.round:
            self.round.findings.append(item)
        elif self.last_round is not None and self.last_round["round"] == ctx.round:
            self.last_round["findings"].append(item)  # scanned after the round completed
        return NewEvent("patrol.finding", SOURCE, {
            "round": ctx.round, "checkpoint": checkpoint_ref(cp), "state": state, "code": code,
            "note": note, "guard": who, "message": message}, at)

    # --- time passing ----------------------------------------------------------------------

    def _late_pending(self, rnd: Round) -> bool:
        return not rnd.late and rnd.slot.late < rnd.slot.deadline

    def _advance(self, now: datetime, service_down: bool) -> list[NewEvent]:
        """Everything due by ``now``, in time order (a round ending at the instant its day's
        report is due comes first, so the report includes it)."""
        out: list[NewEvent] = []
        while True:
            rnd = self.round
            day = self.reported_through + timedelta(days=1)
            report_at = self.plan.report_time(day)
            round_at = rnd.slot.late if self._late_pending(rnd) else rnd.slot.deadline
            if round_at <= now and round_at <= report_at:
                if self._late_pending(rnd):
                    out.append(self._late(rnd, service_down))
                else:
                    ending = "missed" if rnd.status == "pending" else "incomplete"
                    out += self._finish(rnd, ending, rnd.slot.deadline, service_down)
            elif report_at <= now:
                out.append(self._daily(day, report_at))
                self.reported_through = day
            else:
                return out

    def _remaining(self, rnd: Round) -> list[PatrolCheckpointConfig]:
        return [cp for cp in self.catalog.route if cp.id not in rnd.visits]

    def _late(self, rnd: Round, service_down: bool) -> NewEvent:
        rnd.late = True
        missing = [checkpoint_ref(cp) for cp in self._remaining(rnd)]
        message = say("late", self.language, due=when(rnd.slot.due, self.zone),
                      grace=f"{self.cfg.plan.grace_min:g}", names=names(missing))
        return self._alert("late", rnd, missing, message, rnd.slot.late, service_down)

    def _alert(self, kind: str, rnd: Round, missing: list[Ref], message: str, at: datetime,
               service_down: bool) -> NewEvent:
        payload: Ref = {"alert": kind, "severity": "warning", "round": rnd.slot.id,
                        "due_at": to_utc_text(rnd.slot.due), "status": rnd.status,
                        "missing": missing, "guard": self._round_guard(rnd), "message": message}
        if service_down:
            payload["service_down"] = True
        return NewEvent("patrol.alert", SOURCE, payload, at)

    def _round_guard(self, rnd: Round) -> Ref | None:
        if rnd.guard is not None:
            return rnd.guard
        first = min(rnd.visits.values(), key=lambda v: v.at, default=None)
        return first.guard if first else None

    def _finish(self, rnd: Round, outcome: str, at: datetime,
                service_down: bool) -> list[NewEvent]:
        missing = [checkpoint_ref(cp) for cp in self._remaining(rnd)]
        guard = self._round_guard(rnd)
        payload: Ref = {
            "round": rnd.slot.id, "date": rnd.slot.date.isoformat(), "outcome": outcome,
            "late": rnd.late, "due_at": to_utc_text(rnd.slot.due),
            "deadline_at": to_utc_text(rnd.slot.deadline), "started_at": _utc(rnd.started_at),
            "ended_at": to_utc_text(at), "duration_s": (
                round((at - rnd.started_at).total_seconds(), 1) if rnd.started_at else None),
            "guard": guard, "visited": [
                {"id": v.checkpoint, "name": self._name(v.checkpoint), "at": to_utc_text(v.at)}
                for v in rnd.visits.values()],
            "missing": missing, "findings": list(rnd.findings),
            "signals": dict(sorted(rnd.signals.items())), "order": self.cfg.plan.order}
        if service_down:
            payload["service_down"] = True
        events = [NewEvent("patrol.round", SOURCE, payload, at)]
        if outcome != "complete":
            events.append(self._ending_alert(rnd, outcome, missing, at, service_down))
        summary = {"round": rnd.slot.id, "due": f"{rnd.slot.local_due:%H:%M}",
                   "outcome": outcome, "late": rnd.late,
                   "guard": guard["name"] if guard else None,
                   "missing": [m["name"] for m in missing], "service_down": service_down}
        self._tally(rnd.slot.date).rounds.append(summary)
        self.last_round = {**summary, "ended_at": to_utc_text(at),
                           "findings": list(rnd.findings)}
        self.round = Round(self.plan.next_slot(rnd.slot))
        return events

    def _ending_alert(self, rnd: Round, outcome: str, missing: list[Ref], at: datetime,
                      service_down: bool) -> NewEvent:
        key = "missed_unobserved" if outcome == "missed" and service_down else outcome
        message = say(key, self.language, due=when(rnd.slot.due, self.zone),
                      deadline=when(rnd.slot.deadline, self.zone), count=len(missing),
                      names=names(missing))
        return self._alert(outcome, rnd, missing, message, at, service_down)

    def _name(self, checkpoint_id: str) -> str:
        cp = self.catalog.checkpoints.get(checkpoint_id)
        return cp.name if cp else checkpoint_id

    def _tally(self, day: date) -> Tally:
        # What arrives for a day whose report has gone out (an outcome code scanned after the
        # last round of the day ended) goes into the next report rather than nowhere.
        day = max(day, self.reported_through + timedelta(days=1))
        if day not in self.days:
            self.days[day] = Tally(day)
        return self.days[day]

    def _daily(self, day: date, at: datetime) -> NewEvent:
        tally = self.days.pop(day, None) or Tally(day)
        counts = Counter(r["outcome"] for r in tally.rounds)
        figures = {"rounds": len(tally.rounds), "complete": counts["complete"],
                   "late": sum(1 for r in tally.rounds
                               if r["late"] and r["outcome"] == "complete"),
                   "incomplete": counts["incomplete"], "missed": counts["missed"],
                   "findings": len(tally.findings)}
        message = say("daily", self.language, date=f"{day:%d/%m/%Y}", **figures)
        return NewEvent("patrol.daily", SOURCE,
                        {**tally.payload(), "counts": figures, "message": message}, at)

    # --- catching up with the log ----------------------------------------------------------

    def replay(self, logged: Iterable[Logged]) -> None:
        """Apply events this book said before a restart, as they were decided then.

        Taps are not judged again: the guard on duty, the walk timer and the bursts were
        decided when they happened and are in the payloads. Events of other rounds than the
        one being followed change only the day's tallies, as they did then."""
        for event in logged:
            apply = self._replayers.get(event.kind)
            if apply is not None:
                try:
                    apply(self, event.payload, event.occurred_at)
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    log.warning("a logged %s cannot be replayed (%s: %s); skipped", event.kind,
                                type(exc).__name__, exc)

    def _replay_tap(self, p: Mapping[str, Any], at: datetime) -> None:
        rnd = self.round
        current = p.get("round") == rnd.slot.id
        cp = (p.get("checkpoint") or {}).get("id")
        if current and p.get("starts_round") and rnd.status == "pending":
            rnd.status, rnd.started_at, self.last_start = "in_progress", at, at
        if current and p["resolved"] == "badge" and p.get("guard"):
            if cp is None:
                rnd.guard = p["guard"]  # a badge on a handheld: the round's guard from now on
            elif rnd.guard is None:
                rnd.guard = p["guard"]  # a badge on a fixed reader signs the guard in too
        if current and cp in self.catalog.checkpoints:
            if p["resolved"] == "outcome":
                if cp in rnd.visits:
                    rnd.visits[cp].outcomes.append(p["outcome"]["state"])
            elif p.get("first_visit") and cp not in rnd.visits:
                rnd.visits[cp] = Visit(cp, at, p["reader"], p.get("guard"))
        day = at.astimezone(self.zone).date()
        if p["resolved"] == "unknown":
            self._tally(day).unknown_tags += 1
        kinds = Counter(signal["signal"] for signal in p.get("signals", []))
        if kinds:
            self._tally(day).signals.update(kinds)
            if current:
                rnd.signals.update(kinds)

    def _replay_finding(self, p: Mapping[str, Any], at: datetime) -> None:
        cp, who, round_id = p["checkpoint"], p.get("guard"), p["round"]
        item = {"round": round_id, "checkpoint": cp["id"], "name": cp["name"],
                "room": cp.get("room"), "state": p["state"], "note": p["note"],
                "at": to_utc_text(at), "guard": who["name"] if who else None}
        self._tally(datetime.strptime(round_id[:8], "%Y%m%d").date()).findings.append(item)
        if self.round.slot.id == round_id:
            self.round.findings.append(item)
        elif self.last_round is not None and self.last_round["round"] == round_id:
            self.last_round["findings"].append(item)

    def _replay_alert(self, p: Mapping[str, Any], at: datetime) -> None:
        if p["alert"] == "late" and p["round"] == self.round.slot.id:
            self.round.late = True

    def _replay_round(self, p: Mapping[str, Any], at: datetime) -> None:
        if p["round"] == self.round.slot.id:
            self._finish(self.round, p["outcome"], at, bool(p.get("service_down")))

    def _replay_daily(self, p: Mapping[str, Any], at: datetime) -> None:
        day = date.fromisoformat(p["date"])
        if day == self.reported_through + timedelta(days=1):
            self._daily(day, at)
            self.reported_through = day

    _replayers: dict[str, Callable[[PatrolBook, Mapping[str, Any], datetime], None]] = {
        "patrol.tap": _replay_tap, "patrol.finding": _replay_finding,
        "patrol.alert": _replay_alert, "patrol.round": _replay_round,
        "patrol.daily": _replay_daily}
    REPLAYED = frozenset(_replayers)  # the kinds ``replay`` applies; others change nothing

    # --- the stored state ------------------------------------------------------------------

    def state(self) -> Ref:
        rnd = self.round
        return {
            "round": {
                "id": rnd.slot.id, "date": rnd.slot.date.isoformat(), "status": rnd.status,
                "due_at": to_utc_text(rnd.slot.due), "opens_at": to_utc_text(rnd.slot.opens),
                "late_at": to_utc_text(rnd.slot.late),
                "deadline_at": to_utc_text(rnd.slot.deadline), "late": rnd.late,
                "started_at": _utc(rnd.started_at), "guard": rnd.guard,
                "visited": [{"id": v.checkpoint, "name": self._name(v.checkpoint),
                             "at": to_utc_text(v.at), "reader": v.reader, "guard": v.guard,
                             "outcomes": v.outcomes} for v in rnd.visits.values()],
                "remaining": [checkpoint_ref(cp) for cp in self._remaining(rnd)],
                "signals": dict(sorted(rnd.signals.items())), "findings": rnd.findings,
            },
            "last_round": self.last_round,
            "last_start_at": _utc(self.last_start),
            "reported_through": self.reported_through.isoformat(),
            "days": [t.payload() for _, t in sorted(self.days.items())],
        }

    def _restore(self, stored: Mapping[str, Any]) -> bool:
        """Take the round and the unreported days from a stored state; False if unusable."""
        try:
            saved = stored["round"]
            slot = Slot(due=from_utc_text(saved["due_at"]), opens=from_utc_text(saved["opens_at"]),
                        late=from_utc_text(saved["late_at"]),
                        deadline=from_utc_text(saved["deadline_at"]), zone=self.zone)
            rnd = Round(slot, status="in_progress" if saved["status"] == "in_progress"
                        else "pending", started_at=_parse(saved.get("started_at")),
                        guard=saved.get("guard"), late=bool(saved.get("late")),
                        signals=Counter(saved.get("signals", {})),
                        findings=list(saved.get("findings", [])))
            for v in saved.get("visited", []):
                if v["id"] in self.catalog.checkpoints:  # a checkpoint since removed is gone
                    rnd.visits[v["id"]] = Visit(v["id"], from_utc_text(v["at"]), v["reader"],
                                                v.get("guard"), list(v.get("outcomes", [])))
            days = {t.day: t for t in map(Tally.from_payload, stored.get("days", []))}
            reported = date.fromisoformat(stored["reported_through"])
            last_start = _parse(stored.get("last_start_at"))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            log.warning("the stored patrol state cannot be used (%s: %s); starting afresh",
                        type(exc).__name__, exc)
            return False
        self.round, self.days, self.reported_through = rnd, days, reported
        self.last_start, self.last_round = last_start, stored.get("last_round")
        return True


def _parse(text: Any) -> datetime | None:
    return from_utc_text(text) if isinstance(text, str) else None
