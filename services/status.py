"""``posjaga status``: is the post healthy? One screen, or JSON for scripts."""
from __future__ import annotations

import shutil
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from edge.config import Config, ConfigError
from edge.mqtt import make_client
from edge.timefmt import to_utc_text
from services.runtime import Runtime

STALE_BACKLOG = timedelta(minutes=10)
LOW_DISK_FRACTION = 0.05


@dataclass
class Health:
    site: str
    now: str
    broker: dict[str, Any]
    backlog: int
    oldest_unsent: str | None
    store: dict[str, Any]
    last_events: list[dict[str, Any]]
    daemons: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    clock: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # shown, but not a reason for exit 1

    @property
    def ok(self) -> bool:
        return not self.problems


def probe_broker(config: Config, topic: str, timeout: float = 3.0) -> dict[str, Any]:
    """Connect, read the retained uplink status, leave. Never raises."""
    try:
        client, url = make_client(config.mqtt, f"posjaga-status-{uuid.uuid4().hex[:8]}")
    except ConfigError as exc:
        return {"url": config.mqtt.url, "reachable": False, "uplink": None, "error": str(exc)}
    result: dict[str, Any] = {"url": url.redacted(), "reachable": False, "uplink": None}
    got = threading.Event()

    def on_connect(c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
        if reason.is_failure:
            result["error"] = f"refused: {reason}"
            got.set()
            return
        result["reachable"] = True
        c.subscribe(topic, qos=1)

    def on_message(c: Any, u: Any, msg: Any) -> None:
        result["uplink"] = msg.payload.decode("utf-8", errors="replace")
        got.set()

    client.on_connect, client.on_message = on_connect, on_message
    try:
        client.connect(url.host, url.port, keepalive=10)
    except OSError as exc:
        result["error"] = f"unreachable: {exc.strerror or exc}"
        return result
    client.loop_start()
    got.wait(timeout)
    client.disconnect()
    client.loop_stop()
    return result


def gather(rt: Runtime) -> Health:
    cfg = rt.config
    now = rt.clock.now()
    broker = (probe_broker(cfg, rt.topics.status) if cfg.mqtt.url
              else {"url": None, "reachable": False, "uplink": None,
                    "error": "no broker configured"})
    oldest = rt.events.oldest_unsent()
    health = Health(site=cfg.site.id, now=to_utc_text(now), broker=broker,
                    backlog=rt.events.backlog(),
                    oldest_unsent=to_utc_text(oldest) if oldest else None,
                    store=_store_info(rt), last_events=[
                        {"source": e.source, "kind": e.kind, "id": e.id,
                         "recorded_at": to_utc_text(e.recorded_at)}
                        for e in rt.events.last_per_source()])
    _judge(health, oldest, now)
    from services import health_status

    health.daemons, problems = health_status.daemons(rt, now, cfg.services.enabled)
    health.problems += problems
    health.devices, problems = health_status.devices(rt)
    health.problems += problems
    # The clock corrects itself once NTP is reachable (edge/timesync.py): a warning only.
    health.clock, health.warnings = health_status.clock(rt)
    return health


def _store_info(rt: Runtime) -> dict[str, Any]:
    path = rt.db.path
    info: dict[str, Any] = {"url": rt.db.url, "schema": rt.db.current_revision()}
    if path is not None:
        info["bytes"] = sum(p.stat().st_size for p in path.parent.glob(path.name + "*")
                            if p.is_file())
        usage = shutil.disk_usage(path.parent)
        info["disk_free_bytes"], info["disk_total_bytes"] = usage.free, usage.total
    return info


def _judge(h: Health, oldest: datetime | None, now: datetime) -> None:
    if not h.broker.get("reachable"):
        h.problems.append(f"broker {h.broker.get('url')} is not reachable "
                          f"({h.broker.get('error', 'no answer')})")
    elif h.broker.get("uplink") != "online":
        h.problems.append("the uplink is not online (is 'posjaga run' running?)")
    if oldest is not None and now - oldest > STALE_BACKLOG:
        h.problems.append(f"{h.backlog} events wait to be sent, the oldest since "
                          f"{to_utc_text(oldest)}")
    free, total = h.store.get("disk_free_bytes"), h.store.get("disk_total_bytes")
    if free is not None and total and free / total < LOW_DISK_FRACTION:
        h.problems.append(f"only {free // 2**20} MiB of disk left for the store")


def render(h: Health, rt: Runtime) -> str:
    zone = rt.config.site.zone
    from edge.timefmt import from_utc_text

    def local(text: str | None) -> str:
        return "-" if not text else f"{from_utc_text(text).astimezone(zone):%Y-%m-%d %H:%M:%S}"

    b = h.broker
    lines = [f"site      {h.site} ({rt.config.site.timezone}), now {local(h.now)}",
             f"broker    {b.get('url')}: " + ("reachable" if b.get("reachable")
                                             else f"NOT reachable ({b.get('error', '?')})")
             + (f", uplink {b.get('uplink') or 'unknown'}" if b.get("reachable") else ""),
             f"backlog   {h.backlog} unsent" + (f", oldest {local(h.oldest_unsent)}"
                                                 if h.oldest_unsent else ""),
             f"store     {h.store.get('url')}, schema {h.store.get('schema')}"]
    if "disk_free_bytes" in h.store:
        lines.append(f"disk      {h.store['disk_free_bytes'] // 2**20} MiB free of "
                     f"{h.store['disk_total_bytes'] // 2**20} MiB; store "
                     f"{h.store['bytes'] // 1024} KiB")
    lines.append("daemons:")
    lines += [f"  {d['name']:<24} {d['state']:<10} last heard {local(d['at'])}"
              + (f", pid {d['pid']}" if d.get("pid") else "")
              + (f": {d['problem'] or d.get('detail')}" if d["problem"] or d.get("detail")
                 else "") for d in h.daemons] or ["  (none has reported yet)"]
    lines.append("devices:")
    lines += [f"  {d['name']:<32} {'up' if d['up'] else 'DOWN'}"
              + (f" ({d['detail']})" if d["detail"] else "") for d in h.devices] \
        or ["  (no device state yet)"]
    synced = h.clock.get("synced")
    lines.append("clock     " + {True: "synchronised", False: "NOT synchronised",
                                 None: "synchronisation unknown"}[synced]
                 + (f"; {h.clock['uncorrected_events']} events flagged, not corrected"
                    if h.clock.get("uncorrected_events") else ""))
    lines.append("last event per source:")
    lines += [f"  {e['source']:<24} {e['kind']:<24} {local(e['recorded_at'])}"
              for e in h.last_events] or ["  (none yet)"]
    lines.append("health    " + ("OK" if h.ok else "NEEDS ATTENTION"))
    lines += [f"  - {problem}" for problem in h.problems]
    lines += [f"  ! {warning}" for warning in h.warnings]
    return "\n".join(lines)
