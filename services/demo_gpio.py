"""The lamp and radio share of ``posjaga demo``: mock pins driven by a scripted post.

Mock pins live in one process and one factory object, so the daemons must open their devices
on the simulator's factory. The runner builds services from the runtime alone, so this part
takes ``lamp`` and ``radio`` out of the runner's list and runs the two daemons itself, on
``GpioSimulator.factory``, in the scene's thread group. The script: radio calls come and go
(one folded kerchunk, one stuck PTT), a supervisor switches the lamp on and back to auto through
the broker, a bulb dies and is replaced; the lamp follows dusk whenever the demo clock passes it.
"""
from __future__ import annotations

import json
import threading
import uuid
from pathlib import Path
from typing import Any, Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from drivers.gpio import COS, PTT, GpioSimulator
from edge.config import parse_mqtt_url
from edge.timefmt import from_utc_text
from services.lamp import LampService
from services.radio import RadioService

Say = Callable[[str], None]
SUPERVISOR = "Danru Andi (demo)"


class GpioDemo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.sim: GpioSimulator | None = None

    def configure(self, data: dict[str, Any]) -> None:
        data.setdefault("gpio", {})["pin_factory"] = "mock"
        data.setdefault("lamp", {})["feedback"] = True
        enabled = data.setdefault("services", {}).get("enabled", [])
        data["services"]["enabled"] = [n for n in enabled if n not in ("lamp", "radio")]

    def scene(self, rt: Any, stop: threading.Event, say: Say) -> None:
        if rt.config.gpio.pin_factory != "mock" or \
                {"lamp", "radio"} & set(rt.config.services.enabled):
            say("gpio demo skipped: it needs pin_factory 'mock' and runs lamp and radio itself")
            return
        wait = lambda seconds: rt.clock.wait(stop, seconds)  # noqa: E731 - simulated time
        self.sim = sim = GpioSimulator(sleep=lambda s: wait(s) and None)
        daemons = [LampService(rt, pin_factory=sim.factory),
                   RadioService(rt, pin_factory=sim.factory)]
        threads = [threading.Thread(target=d.run, args=(stop,), name=f"demo-{d.name}",
                                    daemon=True) for d in daemons]
        for t in threads:
            t.start()
        try:
            self._script(rt, sim, stop, wait, say)
        finally:
            stop.wait()
            for t in threads:
                t.join(10)

    def close(self) -> None:
        sim, self.sim = self.sim, None
        if sim is not None:
            sim.factory.close()

    # --- the script (simulated time) ---------------------------------------------------------

    def _script(self, rt: Any, sim: GpioSimulator, stop: threading.Event,
                wait: Callable[[float], bool], say: Say) -> None:
        if wait(5):
            return
        lamp = rt.states.get("lamp")
        if lamp is not None and lamp.payload.get("next_change"):
            at = rt.local(from_utc_text(lamp.payload["next_change"]))
            say(f"lamp: mode {lamp.payload['mode']}, {'on' if lamp.payload['on'] else 'off'}; "
                f"the schedule switches it next at {at:%H:%M} local")
        steps: list[tuple[str, Callable[[], None]]] = [
            ("radio: a call comes in (squelch open 8 s)", lambda: sim.carrier(8)),
            ("radio: the guard answers (PTT 5 s)", lambda: sim.key_ptt(5)),
            ("radio: a kerchunk (0.2 s): counted as chatter, not logged", lambda: sim.carrier(0.2)),
            (f"supervisor: lamp on ({SUPERVISOR})", lambda: self._command(rt, "on")),
            ("lamp: the bulb burns out (feedback alert follows)", sim.break_bulb),
            ("lamp: the bulb is replaced", sim.repair),
            ("radio: the PTT sticks for 150 s (alert after 120 s)", lambda: sim.key_ptt(150)),
            (f"supervisor: lamp back to auto ({SUPERVISOR})", lambda: self._command(rt, "auto")),
        ]
        for text, action in steps:
            say(text)
            action()
            if wait(60):
                return
        while not wait(900):  # then a call every quarter of an hour, for as long as it runs
            sim.set_line(COS, True)
            if wait(6):
                return
            sim.set_line(COS, False)
            if wait(3):
                return
            sim.pulse(PTT, 4)

    def _command(self, rt: Any, mode: str) -> None:
        """Through the broker, as a supervisor's phone would send it."""
        url = parse_mqtt_url(rt.config.mqtt.url)
        client = mqtt.Client(CallbackAPIVersion.VERSION2,
                             client_id=f"demo-lamp-{uuid.uuid4().hex[:6]}")
        if url.username:
            client.username_pw_set(url.username, url.password)
        client.connect(url.host, url.port)
        client.loop_start()
        try:
            body = {"mode": mode, "by": SUPERVISOR, "transaction": f"demo-lamp-{mode}"}
            client.publish(rt.topics.command("lamp"), json.dumps(body), qos=1) \
                .wait_for_publish(10)
        finally:
            client.disconnect()
            client.loop_stop()


def make_gpio_demo(folder: Path) -> GpioDemo:
    return GpioDemo(folder)
