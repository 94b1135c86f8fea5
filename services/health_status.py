"""What ``posjaga status`` reads from the store about daemons, devices and the clock.

Daemons: each keeps a heartbeat state ``service/<name>`` (services/health.py), written at least
every ``every_s`` seconds while it runs and once more when it stops. A heartbeat older than
three intervals (plus a minute of slack for a clock step) means the daemon is gone or hung;
whether its process still exists tells which. Devices: the states the device daemons keep
(``reader/<name>``, ``device/zk``, ``lamp``, ``radio``). Clock: the clock's own answer and the
events still flagged as stamped before it was synchronised; those are warnings, not problems:
the events are flagged and corrected by themselves once NTP is reachable.
"""
from __future__ import annotations

import os
import platform
from datetime import datetime
from typing import Any

from edge.timefmt import from_utc_text
from services.health import HEARTBEAT_PREFIX

STALE_INTERVALS = 3
STALE_SLACK_S = 60.0


def daemons(rt: Any, now: datetime, expected: list[str]) -> tuple[list[dict[str, Any]],
                                                                  list[str]]:
    """One row per daemon that ever reported, plus the expected ones that never did."""
    rows, problems = [], []
    seen = set()
    for state in rt.states.all():
        if not state.name.startswith(HEARTBEAT_PREFIX):
            continue
        beat = dict(state.payload)
        name = state.name[len(HEARTBEAT_PREFIX):]
        seen.add(name)
        row = _judge_daemon(name, beat, now, name in expected)
        rows.append(row)
        if row["problem"]:
            problems.append(f"daemon {name}: {row['problem']}")
    for name in expected:
        if name not in seen:
            rows.append({"name": name, "state": "never started", "at": None, "pid": None,
                         "problem": "it has never reported (is its unit enabled?)"})
            problems.append(f"daemon {name}: it has never reported (is its unit enabled?)")
    return sorted(rows, key=lambda r: r["name"]), problems


def _judge_daemon(name: str, beat: dict[str, Any], now: datetime,
                  expected: bool) -> dict[str, Any]:
    at = _time(beat.get("at"))
    age = (now - at).total_seconds() if at else None
    every = float(beat.get("every_s") or 60.0)
    row = {"name": name, "at": beat.get("at"), "pid": beat.get("pid"),
           "detail": beat.get("problem"), "problem": None}
    if not beat.get("running"):
        row["state"] = "stopped"
        if expected:
            row["problem"] = f"stopped ({beat.get('problem') or 'by request'})"
        return row
    if age is None or age > STALE_INTERVALS * every + STALE_SLACK_S:
        alive = _process_alive(beat)
        row["state"] = "hung" if alive else "gone"
        row["problem"] = (f"silent for {age:.0f} s" if age is not None else "no time") + \
            (", though its process is still there (hung?)" if alive
             else "; its process is not running")
        return row
    row["state"] = "running" if beat.get("ok") else "degraded"
    if not beat.get("ok"):
        row["problem"] = beat.get("problem") or "it reports a problem"
    return row


def _process_alive(beat: dict[str, Any]) -> bool:
    if beat.get("host") != (platform.node() or "pi") or not isinstance(beat.get("pid"), int):
        return False
    try:
        os.kill(beat["pid"], 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def devices(rt: Any) -> tuple[list[dict[str, Any]], list[str]]:
    rows: list[dict[str, Any]] = []
    for state in rt.states.all():
        p = dict(state.payload)
        if state.name.startswith("reader/"):
            rows.append({"name": f"tag reader {p.get('reader', state.name[7:])}",
                         "up": bool(p.get("up")), "since": p.get("since"),
                         "detail": p.get("reason") or p.get("url")})
        elif state.name == "device/zk":
            rows.append({"name": f"fingerprint machine {p.get('address')}",
                         "up": p.get("link") == "up", "since": p.get("since"),
                         "detail": p.get("error") or (None if p.get("clock") == "ok"
                                                      else f"clock {p.get('clock')}")})
        elif state.name == "lamp":
            rows.append({"name": "parking lamp", "up": not p.get("fault"),
                         "since": p.get("fault_since"), "detail": p.get("fault")})
        elif state.name == "radio":
            stuck = p.get("stuck") or []
            rows.append({"name": "radio lines", "up": not stuck, "since": p.get("busy_since"),
                         "detail": f"stuck: {', '.join(stuck)}" if stuck else None})
    problems = [f"{r['name']} is down" + (f" ({r['detail']})" if r["detail"] else "")
                for r in rows if not r["up"]]
    return rows, problems


def clock(rt: Any) -> tuple[dict[str, Any], list[str]]:
    synced = getattr(rt.clock, "synced", lambda: None)()
    with rt.db.raw_read() as cur:
        flagged = cur.execute("SELECT count(*) FROM events WHERE clock_synced = 0 "
                              "AND clock_fix_s IS NULL").fetchone()[0]
    info = {"synced": synced, "uncorrected_events": flagged}
    problems = []
    if synced is False:
        problems.append("the clock is not synchronised (no NTP server reachable?); new events "
                        "are flagged and corrected once it is")
    elif flagged:
        problems.append(f"{flagged} events were stamped before the clock was synchronised in "
                        "an earlier boot and could not be corrected (flagged clock_synced false)")
    return info, problems


def _time(text: Any) -> datetime | None:
    try:
        return from_utc_text(text) if isinstance(text, str) else None
    except ValueError:
        return None
