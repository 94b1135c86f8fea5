"""The patrol share of ``posjaga demo``: three simulated readers and a guard's scripted night.

Readers, each a pty opened by the real patrol daemon: a handheld QR scanner (``pemindai``), a
125 kHz reader fixed at the store room (``gudang``) and the post's NFC badge reader (``pos``).
The demo's plan has a round every hour (the SOP's is 3 hours) so a short demo shows several.
On the demo's (fast) clock:

1. Budi badges in and walks a complete round: the chairman's room has its electronics left on,
   the meeting room's window does not lock, a drink bottle's barcode gets scanned by mistake,
   the store room's door was unlocked.
2. The scanner's cable is pulled for five minutes and plugged back (the reader is reopened).
3. The next round starts late (late alert) and is walked too fast once (a signal).
4. The round after that stops halfway: a guest at the gate (incomplete, missing rooms named).
5. Then a complete round every hour until the demo ends.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable
from zoneinfo import ZoneInfo

from edge.timefmt import from_utc_text

if TYPE_CHECKING:
    from drivers.tags.simulator import PtyTagReaderSim

Say = Callable[[str], None]

CHECKPOINTS = [
    {"id": "CP-01", "name": "Lobi", "room": "Lantai 1", "tags": ["KPU-CP-01"]},
    {"id": "CP-02", "name": "Ruang Ketua", "room": "Lantai 2", "tags": ["KPU-CP-02"]},
    {"id": "CP-03", "name": "Ruang Rapat", "room": "Lantai 2", "tags": ["KPU-CP-03"]},
    {"id": "CP-04", "name": "Gudang Logistik", "room": "Belakang", "tags": ["KPU-CP-04"]},
]
# Ids as on the fingerprint machine (the attendance demo's roster), so the duty state agrees.
BUDI_NFC, BUDI_FOB = "04A1B2C3D4E5F6", "62E3086CED"
GUARDS = [{"id": "102", "name": "Budi", "badges": [BUDI_NFC, BUDI_FOB]},
          {"id": "101", "name": "Ani", "badges": ["04C0FFEE112233"]}]
OUTCOMES = [
    {"code": "KPU-AMAN", "state": "secure"},
    {"code": "KPU-ELEK", "state": "electronics_off"},
    {"code": "KPU-PINTU", "state": "door_locked"},
    {"code": "KPU-M-JENDELA", "state": "problem", "note": "Jendela tidak bisa dikunci"},
]
BOTTLE = "8992761002015"


class PatrolDemo:
    def __init__(self, folder: Path) -> None:
        from drivers.tags.simulator import PtyTagReaderSim

        self.folder = folder
        self.scanner = PtyTagReaderSim("pemindai", "line")
        self.store_room = PtyTagReaderSim("gudang", "rdm6300")
        self.post = PtyTagReaderSim("pos", "pn532")

    @property
    def sims(self) -> list[PtyTagReaderSim]:
        return [self.scanner, self.store_room, self.post]

    def configure(self, data: dict[str, Any]) -> None:
        zone = ZoneInfo(data.get("site", {}).get("timezone", "Asia/Makassar"))
        # The first round is due three minutes after the demo starts.
        first = datetime.now(zone) + timedelta(minutes=3)
        data["patrol"] = {
            "readers": [
                {"name": "pemindai", "url": self.scanner.url, "framing": "line"},
                {"name": "gudang", "url": self.store_room.url, "framing": "rdm6300",
                 "checkpoint": "CP-04", "location": "Gudang Logistik"},
                {"name": "pos", "url": self.post.url, "framing": "pn532", "location": "Pos jaga"},
            ],
            "checkpoints": CHECKPOINTS, "guards": GUARDS, "outcomes": OUTCOMES,
            "plan": {"every_h": 1.0, "shifts": [f"{first:%H:%M}"], "early_min": 10,
                     "grace_min": 20, "deadline_min": 45},
        }

    def close(self) -> None:
        for sim in self.sims:
            sim.close()

    # --- the night -----------------------------------------------------------------------------

    def scene(self, rt: Any, stop: threading.Event, say: Say) -> None:
        urls = {r.url for r in rt.config.patrol.readers}
        if "patrol" not in rt.config.services.enabled or self.scanner.url not in urls:
            say("patrol demo skipped: it needs the patrol service on its own simulated readers")
            return
        night = _Night(rt, stop, say, self)
        for walk in (night.complete_with_findings, night.cable_pulled, night.late_and_hurried,
                     night.stopped_halfway):
            if not walk():
                return
        while night.quiet_round():
            pass


class _Night:
    """The guard's walk, on the demo's clock; each step returns False once the demo stops."""

    def __init__(self, rt: Any, stop: threading.Event, say: Say, demo: PatrolDemo) -> None:
        self.rt, self.stop, self.say, self.demo = rt, stop, say, demo

    def wait(self, seconds: float) -> bool:
        return not self.rt.clock.wait(self.stop, seconds)

    def until(self, at: datetime) -> bool:
        return self.wait(max(0.0, (at - self.rt.clock.now()).total_seconds()))

    def next_round(self) -> dict[str, datetime] | None:
        """The times of the round the daemon waits for next (from its retained state)."""
        while not self.stop.is_set():
            found = self.rt.states.get("patrol")
            current = found.payload["round"] if found else None
            if current and current["status"] == "pending":
                return {k: from_utc_text(current[f"{k}_at"]) for k in ("opens", "due", "late",
                                                                        "deadline")}
            self.wait(30)
        return None

    def scan(self, code: str, walk_s: float = 0.0) -> bool:
        if walk_s and not self.wait(walk_s):
            return False
        self.demo.scanner.tap(code)
        return self.wait(10)  # the next scan comes a moment later

    def visit(self, checkpoint: int, walk_s: float, *outcomes: str) -> bool:
        if not self.scan(CHECKPOINTS[checkpoint]["tags"][0], walk_s):
            return False
        return all(self.scan(code) for code in outcomes)

    def badge_in(self) -> bool:
        self.demo.post.tap(BUDI_NFC)
        return self.wait(60)

    def complete_with_findings(self) -> bool:
        times = self.next_round()
        if times is None or not self.until(times["due"] - timedelta(minutes=5)):
            return False
        self.say("patrol: Budi badges in at the post and starts the round")
        if not (self.badge_in() and self.visit(0, 60, "KPU-AMAN")):
            return False
        self.say("patrol: the chairman's room had its electronics on; Budi switches them off")
        if not self.visit(1, 180, "KPU-ELEK"):
            return False
        self.say("patrol: a drink bottle's barcode gets scanned by mistake (an unknown tag)")
        if not (self.scan(BOTTLE, 60) and self.visit(2, 120, "KPU-M-JENDELA")):
            return False
        self.say("patrol: the meeting room's window does not lock (a finding); on to the store "
                 "room, where Budi taps his 125 kHz fob on the fixed reader")
        if not self.wait(180):
            return False
        self.demo.store_room.tap(BUDI_FOB)
        return self.wait(20) and self.scan("KPU-PINTU")

    def cable_pulled(self) -> bool:
        if not self.wait(300):
            return False
        self.say("patrol: the scanner's cable is pulled for five minutes")
        self.demo.scanner.unplug()
        ok = self.wait(300)
        self.demo.scanner.replug()
        self.say("patrol: the scanner is plugged back in; the daemon reopens it by itself")
        return ok

    def late_and_hurried(self) -> bool:
        times = self.next_round()
        if times is None or not self.until(times["late"] + timedelta(minutes=5)):
            return False
        self.say("patrol: the round starts late, and one walk is far too fast")
        return (self.badge_in() and self.visit(0, 60) and self.visit(1, 120)
                and self.visit(2, 5) and self.visit(3, 120))

    def stopped_halfway(self) -> bool:
        times = self.next_round()
        if times is None or not self.until(times["due"]):
            return False
        self.say("patrol: a round that stops halfway (a guest at the gate): it ends incomplete")
        return self.badge_in() and self.visit(0, 60) and self.visit(1, 120)

    def quiet_round(self) -> bool:
        times = self.next_round()
        if times is None or not self.until(times["due"] - timedelta(minutes=2)):
            return False
        return self.badge_in() and all(self.visit(n, 120, "KPU-AMAN") for n in range(4))


def make_patrol_demo(folder: Path) -> PatrolDemo:
    return PatrolDemo(folder)
