"""The ``posjaga`` command.

Exit status: 0 success; 1 a runtime failure, or ``status`` found something that needs a person;
2 a usage or configuration error (one sentence on stderr, nothing changed); 130 interrupted.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import signal
import sys
import threading
from datetime import datetime, timedelta, timezone
from typing import Any, Sequence

from edge.clock import Clock, ScaledClock, SystemClock
from edge.config import Config, ConfigError, load_config
from edge.db import StoreError
from services.broker import BrokerError
from edge.timefmt import to_utc_text

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class CliError(Exception):
    """A mistake on the command line, told in one sentence (exit 2)."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help()
        return EXIT_USAGE
    try:
        return args.func(args)
    except (ConfigError, CliError) as exc:
        print(f"posjaga: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (StoreError, BrokerError) as exc:
        print(f"posjaga: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="posjaga", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", "-c", help="the configuration file (default: $POSJAGA_CONFIG "
                   "or /etc/posjaga/posjaga.toml)")
    sub = p.add_subparsers(title="commands", metavar="COMMAND")

    run = sub.add_parser("run", help="run daemons (all configured ones by default)")
    run.add_argument("services", nargs="*", metavar="SERVICE")
    run.add_argument("--speed", type=_positive_float, default=1.0,
                     help="run simulated time this many times faster (demo and tests)")
    run.set_defaults(func=cmd_run)

    ev = sub.add_parser("events", help="read the local event log",
                        description="Read the local event log, oldest first, times in the "
                        "site's zone. A '*' after the time marks an event the broker has not "
                        "acknowledged yet. --since/--until select by the Pi's recording time.")
    ev.add_argument("--since", help="a local date/time ('2026-12-04', '2026-12-04 08:00') or "
                    "an age ('30m', '6h', '2d')")
    ev.add_argument("--until", help="as --since; events before this")
    ev.add_argument("--kind", help="an event kind ('attendance.punch') or branch ('patrol')")
    ev.add_argument("--source", help="only events of this source")
    ev.add_argument("--limit", type=int, help="at most this many events")
    ev.add_argument("--json", action="store_true", help="one JSON object a line")
    ev.set_defaults(func=cmd_events)

    w = sub.add_parser("watch", help="show live events from the broker")
    w.add_argument("--kind", help="only this kind or branch")
    w.add_argument("--json", action="store_true", help="print each event's JSON envelope")
    w.add_argument("--all-sites", action="store_true", help="every site on the broker")
    w.set_defaults(func=cmd_watch)

    st = sub.add_parser("status", help="is the post healthy? (exit 1 when it needs a person)")
    st.add_argument("--json", action="store_true")
    st.set_defaults(func=cmd_status)

    db = sub.add_parser("db", help="database maintenance")
    dbs = db.add_subparsers(title="actions", metavar="ACTION")
    up = dbs.add_parser("upgrade", help="apply schema migrations (keeps every row)")
    up.set_defaults(func=cmd_db_upgrade)

    cf = sub.add_parser("config", help="configuration")
    cfs = cf.add_subparsers(title="actions", metavar="ACTION")
    chk = cfs.add_parser("check", help="validate the configuration file and say what it sets")
    chk.set_defaults(func=cmd_config_check)

    sim = sub.add_parser("sim", help="simulators of the post's devices (no hardware needed)")
    sims = sim.add_subparsers(title="devices", metavar="DEVICE")
    # The driver's shell parses its own options (--relay-pin ...; --help shows them).
    sg = sims.add_parser("gpio", add_help=False, prefix_chars="\0",
                         help="parking-lamp relay and radio lines on gpiozero mock pins")
    sg.add_argument("args", nargs=argparse.REMAINDER)
    sg.set_defaults(func=cmd_sim_gpio)
    stg = sims.add_parser("tags", add_help=False, prefix_chars="\0",
                          help="checkpoint tag readers (QR, 125 kHz, NFC) on pseudo-terminals")
    stg.add_argument("args", nargs=argparse.REMAINDER)
    stg.set_defaults(func=cmd_sim_tags)
    from services import attendance_cli, roster_cli
    attendance_cli.add_sim_parser(sims)
    roster_cli.add_parser(sub)
    from services import records_cli, report_cli
    records_cli.add_parser(sub)
    report_cli.add_parser(sub)

    from services import bench, demo
    bench.add_parser(sub)
    demo.add_parser(sub)
    return p


# --- helpers -------------------------------------------------------------------------------

def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def configure_logging(config: Config | None, level: str | None = None) -> None:
    name = (level or (config.log.level if config else "info")).upper()
    # Under systemd the journal stamps time itself.
    fmt = ("%(levelname)s %(name)s: %(message)s" if os.environ.get("JOURNAL_STREAM")
           else "%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.basicConfig(level=getattr(logging, name), format=fmt, stream=sys.stderr)


def load(args: argparse.Namespace) -> Config:
    return load_config(args.config)


def install_stop_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: Any) -> None:
        stop.set()
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


_AGE = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_when(text: str, zone: Any, now: datetime, option: str) -> datetime:
    """A local date/time in the site's zone, or an age back from now."""
    if (m := _AGE.match(text.strip())):
        return now - timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise CliError(f"{option} {text!r} is neither a date/time such as '2026-12-04 08:00' "
                       "nor an age such as '6h'") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone)
    return value.astimezone(timezone.utc)


# --- commands ------------------------------------------------------------------------------

def cmd_run(args: argparse.Namespace) -> int:
    from services.runner import check_names, run_services, UnknownService
    from services.runtime import open_runtime

    from services.command_link import config_for_account

    config = config_for_account(load(args))  # a unit may name the daemon's own broker account
    names = args.services or config.services.enabled
    try:
        check_names(names)
    except UnknownService as exc:
        raise CliError(str(exc)) from None
    configure_logging(config)
    clock: Clock = SystemClock() if args.speed == 1.0 else ScaledClock(args.speed)
    stop = threading.Event()
    install_stop_signals(stop)
    rt = open_runtime(config, clock)
    try:
        return run_services(rt, names, stop)
    finally:
        rt.close()


def cmd_events(args: argparse.Namespace) -> int:
    from services.runtime import open_existing

    config = load(args)
    if args.limit is not None and args.limit <= 0:
        raise CliError("--limit must be a positive whole number")
    rt = open_existing(config, SystemClock())
    zone, now = config.site.zone, rt.clock.now()
    since = parse_when(args.since, zone, now, "--since") if args.since else None
    until = parse_when(args.until, zone, now, "--until") if args.until else None
    try:
        for e in rt.events.query(since=since, until=until, kind=args.kind, source=args.source,
                                 limit=args.limit):
            if args.json:
                row = e.envelope(config.site.timezone)
                row["seq"] = e.seq
                row["sent_at"] = to_utc_text(e.sent_at) if e.sent_at else None
                print(json.dumps(row, ensure_ascii=False))
            else:
                local = e.occurred_at.astimezone(zone)
                mark = " " if e.sent_at else "*"
                payload = json.dumps(dict(e.payload), ensure_ascii=False)
                print(f"{local:%Y-%m-%d %H:%M:%S}{mark} {e.kind:<24} {e.source:<20} {payload}")
    finally:
        rt.close()
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from services.watch import Watcher

    config = load(args)
    configure_logging(config, "warning")
    watcher = Watcher(config, as_json=args.json, kind=args.kind, all_sites=args.all_sites)
    if not args.json:
        print(f"# watching {watcher.filter} on {watcher.url.redacted()} (Ctrl-C to stop)",
              flush=True)
    stop = threading.Event()
    install_stop_signals(stop)
    watcher.run(stop)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    from services.runtime import open_existing
    from services.status import gather, render

    config = load(args)
    configure_logging(config, "error")
    rt = open_existing(config, SystemClock())
    try:
        health = gather(rt)
    finally:
        rt.close()
    if args.json:
        print(json.dumps(health.__dict__ | {"ok": health.ok}, indent=2, ensure_ascii=False))
    else:
        print(render(health, rt))
    return EXIT_OK if health.ok else EXIT_FAILURE


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    from edge.db import Database

    config = load(args)
    db = Database(config.store.url, config.store.busy_timeout_s)
    before = db.current_revision()
    db.migrate()
    print(f"schema {before or 'empty'} -> {db.current_revision()} ({config.store.url})")
    db.close()
    return EXIT_OK


def cmd_config_check(args: argparse.Namespace) -> int:
    from edge.config import parse_mqtt_url

    config = load(args)
    broker = parse_mqtt_url(config.mqtt.url).redacted() if config.mqtt.url else "none"
    print(f"{config.source}: valid; site {config.site.id} ({config.site.timezone}); "
          f"store {config.store.url}; broker {broker}; "
          f"services {', '.join(config.services.enabled)}")
    return EXIT_OK


def cmd_sim_gpio(args: argparse.Namespace) -> int:
    from drivers.gpio.simulator import cli

    return cli(list(args.args))


def cmd_sim_tags(args: argparse.Namespace) -> int:
    from drivers.tags.simulator import cli

    return cli(list(args.args))


if __name__ == "__main__":  # pragma: no cover
    # Through the imported module: commands in other modules raise services.cli.CliError,
    # which is not this __main__ copy's CliError under "python -m services.cli".
    from services.cli import main as _main
    sys.exit(_main())
