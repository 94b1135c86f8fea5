"""``posjaga demo``: the whole post on simulators, with live events on screen.

It starts a private Mosquitto when no broker is configured, runs every service in this process
against simulated devices, drives a scripted guard's day, and shows what a supervisor
subscribed to the broker would see (through the broker, not a shortcut).
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Protocol

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.clock import Clock, ScaledClock, SystemClock
from edge.config import Config, config_from_mapping, load_config, parse_mqtt_url

DEMO_DIR = Path("var/demo")

Say = Callable[[str], None]


class DemoPart(Protocol):
    """One device area's share of the demo (each device service adds one to DEMO_PARTS)."""

    def configure(self, data: dict[str, Any]) -> None:
        """Adjust the demo's configuration before it is validated (simulated device URLs,
        pin factory 'mock', scripted users...)."""

    def scene(self, rt: Any, stop: threading.Event, say: Say) -> None:
        """Drive the simulators through the scripted day until ``stop`` (a thread of its own;
        use ``rt.clock`` so --speed applies)."""

    def close(self) -> None:
        """Stop the simulators."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the whole post on simulators with live events")
    p.add_argument("--speed", type=float, default=60.0,
                   help="simulated time runs this many times faster (default 60: a guard's "
                        "day in 24 minutes)")
    p.add_argument("--duration", type=float, default=None,
                   help="stop after this many real seconds (default: run until Ctrl-C)")
    p.add_argument("--dir", type=Path, default=DEMO_DIR,
                   help=f"where the demo keeps its store and broker (default {DEMO_DIR})")
    p.set_defaults(func=cmd_demo)


def demo_config(args: argparse.Namespace, parts: list[DemoPart]) -> Config:
    if args.config:
        return load_config(args.config)
    from services.runner import SERVICES
    data: dict[str, Any] = {
        "site": {"id": "kpu-palu", "name": "Sekretariat KPU Kota Palu (demo)"},
        "store": {"url": f"sqlite:///{args.dir.resolve()}/posjaga.db"},
        "services": {"enabled": sorted(SERVICES)}, "mqtt": {"poll_s": 0.1}}
    for part in parts:
        part.configure(data)
    return config_from_mapping(data, "<demo>")


def cmd_demo(args: argparse.Namespace) -> int:
    from services.broker import Mosquitto
    from services.cli import CliError, configure_logging, install_stop_signals

    if args.speed <= 0 or (args.duration is not None and args.duration <= 0):
        raise CliError("--speed and --duration must be greater than 0")
    args.dir.mkdir(parents=True, exist_ok=True)
    parts = [make(args.dir.resolve()) for make in DEMO_PARTS]
    config = demo_config(args, parts)
    configure_logging(config, "warning")
    broker = None
    if not config.mqtt.url:
        broker = Mosquitto(workdir=args.dir.resolve() / "mosquitto").start()
        config = replace(config, mqtt=replace(config.mqtt, url=broker.url))
        print(f"# started a private Mosquitto: {broker.url} "
              f"(try: mosquitto_sub -p {broker.port} -t 'posjaga/#' -v)", flush=True)
    stop = threading.Event()
    install_stop_signals(stop)
    if args.duration:
        threading.Timer(args.duration, stop.set).start()
    try:
        return run_demo(config, ScaledClock(args.speed) if args.speed != 1 else SystemClock(),
                        stop, parts)
    finally:
        stop.set()
        for part in parts:
            part.close()
        if broker is not None:
            broker.stop()


def run_demo(config: Config, clock: Clock, stop: threading.Event,
             parts: list[DemoPart] | None = None, out: Any = sys.stdout) -> int:
    from services.runner import run_services
    from services.runtime import open_runtime
    from services.watch import Watcher

    def say(text: str) -> None:
        print(f"# {text}", file=out, flush=True)

    ready = threading.Event()
    watcher = Watcher(config, out=out, on_ready=ready.set)
    watch_thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    watch_thread.start()
    if not ready.wait(15):
        say("the live view could not subscribe to the broker")
        return 1
    rt = open_runtime(config, clock)
    say(f"site {config.site.id}, store {config.store.url}, services "
        f"{', '.join(config.services.enabled)}")
    scenes = [threading.Thread(target=scene, args=(rt, stop, say), daemon=True)
              for scene in [supervisor_ping] + [p.scene for p in parts or []]]
    for t in scenes:
        t.start()
    try:
        return run_services(rt, config.services.enabled, stop)
    finally:
        watch_thread.join(5)
        rt.close()


def supervisor_ping(rt: Any, stop: threading.Event, say: Say) -> None:
    """A supervisor checks the post is alive: the command and its answer cross the broker."""
    if stop.wait(2):
        return
    url = parse_mqtt_url(rt.config.mqtt.url)
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"demo-sup-{uuid.uuid4().hex[:6]}")
    client.connect(url.host, url.port)
    client.loop_start()
    say("supervisor sends: system ping")
    client.publish(rt.topics.command("system"),
                   json.dumps({"action": "ping", "transaction": "demo-1"}), qos=1)
    say("supervisor sends a malformed command (it is refused, nothing changes)")
    client.publish(rt.topics.command("system"), "switch everything on", qos=1)
    time.sleep(1)
    client.disconnect()
    client.loop_stop()


from services.demo_gpio import make_gpio_demo  # noqa: E402 - the parts import services
from services.attendance_demo import make_attendance_demo  # noqa: E402
from services.patrol_demo import make_patrol_demo  # noqa: E402
from services.records_demo import make_records_demo  # noqa: E402

# Each device area adds a factory here: it gets the demo's folder and returns its DemoPart.
DEMO_PARTS: list[Callable[[Path], DemoPart]] = [make_gpio_demo, make_attendance_demo,
                                                make_patrol_demo]
DEMO_PARTS.append(make_records_demo)
