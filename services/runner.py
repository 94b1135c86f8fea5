"""Running daemons: one thread each, in one process; stop on a signal or when one fails."""
from __future__ import annotations

import logging
import os
import platform
import threading
from typing import Callable, Protocol

from edge.sdnotify import Notifier
from edge.timesync import ClockWatch
from services.command_link import CommandLink, needs_link
from services.health import Monitor
from services.runtime import Runtime

log = logging.getLogger(__name__)


class Service(Protocol):
    name: str

    def run(self, stop: threading.Event) -> None: ...


def _uplink(rt: Runtime) -> Service:
    from services.uplink import UplinkService
    return UplinkService(rt)


def _lamp(rt: Runtime) -> Service:
    from services.lamp import LampService
    return LampService(rt)


def _radio(rt: Runtime) -> Service:
    from services.radio import RadioService
    return RadioService(rt)


def _patrol(rt: Runtime) -> Service:
    from services.patrol import PatrolService
    return PatrolService(rt)


def _attendance(rt: Runtime) -> Service:
    from services.attendance import AttendanceService
    return AttendanceService(rt)


def _records(rt: Runtime) -> Service:
    from services.records import RecordsService
    return RecordsService(rt)


def _report(rt: Runtime) -> Service:
    from services.report import ReportService
    return ReportService(rt)


# Factories import their modules lazily: a process loads only what its services use.
SERVICES: dict[str, Callable[[Runtime], Service]] = {
    "uplink": _uplink,
    "attendance": _attendance,
    "lamp": _lamp,
    "radio": _radio,
    "patrol": _patrol,
    "records": _records,
    "report": _report,
}


class UnknownService(ValueError):
    pass


def check_names(names: list[str]) -> None:
    unknown = [n for n in names if n not in SERVICES]
    if unknown:
        raise UnknownService(f"unknown service '{unknown[0]}'; known services: "
                             f"{', '.join(sorted(SERVICES))}")


def process_source(host: str, services: list[str]) -> str:
    """The source of a process's own events: ``posjaga@pi`` for the whole post in one process,
    ``posjaga@pi/patrol`` for one daemon of several (systemd's ``posjaga@patrol``), so that
    ``posjaga status`` lists each process's last start or stop."""
    names = sorted(set(services) & set(SERVICES))
    if not names or names == sorted(SERVICES):
        return f"posjaga@{host}"
    return f"posjaga@{host}/{'+'.join(names)}"


def run_services(rt: Runtime, names: list[str], stop: threading.Event,
                 extra: list[Service] | None = None, notifier: Notifier | None = None) -> int:
    """Run until ``stop`` is set (exit 0) or a service dies (exit 1, so systemd restarts us).

    Tells systemd READY=1 once every service is up and WATCHDOG=1 while every one is alive,
    and keeps each service's heartbeat state (services/health.py)."""
    check_names(names)
    services = [SERVICES[n](rt) for n in names] + list(extra or [])
    if needs_link(rt, names):  # command handlers but no uplink here: receive commands ourselves
        services.append(CommandLink(rt, names))
    source = process_source(platform.node() or "pi", [s.name for s in services])
    rt.events.record("system.started", source, {"services": [s.name for s in services],
                                                 "pid": os.getpid()})
    inner = threading.Event()
    failed: list[str] = []
    threads = [threading.Thread(target=_guard, args=(s, inner, stop, failed), name=s.name,
                                daemon=True) for s in services]
    monitor = Monitor(rt.states, rt.clock, notifier or Notifier())
    clock_watch = ClockWatch(rt.events, rt.clock)
    for s, t in zip(services, threads):
        t.start()
        monitor.watch(s, t)
    log.info("running: %s", ", ".join(s.name for s in services))
    while not stop.is_set() and not failed:
        monitor.tick()
        clock_watch.tick()
        # Look often until READY went out: systemd and the benchmarks wait for it.
        stop.wait(0.5 if monitor.is_ready else 0.01)
    reason = f"service {failed[0]} failed" if failed else "stopped"
    monitor.stopped(reason)
    # Recorded before the uplink stops, so it still goes out in the uplink's final flush.
    rt.events.record("system.stopped", source, {"reason": reason,
                                                 "services": [s.name for s in services]})
    inner.set()
    for t in threads:
        t.join(15)
    return 1 if failed else 0


def _guard(service: Service, inner: threading.Event, outer: threading.Event,
           failed: list[str]) -> None:
    try:
        service.run(inner)
    except Exception as exc:
        if _is_ours(exc):
            # Our own errors are phrased for a person: the sentence is enough.
            log.error("service %s failed: %s", service.name, exc)
        else:
            log.exception("service %s failed", service.name)
        failed.append(service.name)
        outer.set()
    else:
        if not inner.is_set():
            log.error("service %s ended by itself", service.name)
            failed.append(service.name)
            outer.set()


def _is_ours(exc: BaseException) -> bool:
    return type(exc).__module__.split(".")[0] in ("edge", "drivers", "services")
