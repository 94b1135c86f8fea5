"""The guest book, equipment, handover and report share of ``posjaga demo``.

On the demo's (fast) clock: the equipment checklist with a broken HT, an extinguisher whose
inspection is overdue (alerted by the records daemon at once), two guests arriving and leaving
and one still inside, a duty-log entry, a handover confirmed by the incoming guard, and at the
end the daily security report of the day so far (PDF and JSON in the demo folder, JSON
retained on the broker as state ``report/daily``).
"""
from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable

from edge.records import Problem, RecordError, guest_entry
from services.records import Records

Say = Callable[[str], None]

ITEMS = [
    {"id": "HT-1", "kind": "ht", "name": "HT Motorola 1", "location": "Pos jaga"},
    {"id": "HT-2", "kind": "ht", "name": "HT Motorola 2", "location": "Pos jaga"},
    {"id": "SENTER-1", "kind": "flashlight", "name": "Senter", "location": "Pos jaga"},
    {"id": "TONGKAT-1", "kind": "baton", "name": "Tongkat", "location": "Pos jaga"},
    {"id": "LAMPU-P", "kind": "parking_lamp", "name": "Lampu parkir", "location": "Halaman"},
    {"id": "APAR-01", "kind": "extinguisher", "name": "APAR Lobi", "location": "Lobi lantai 1",
     "type": "powder 3 kg", "next_inspection": "2026-01-15"},
    {"id": "APAR-02", "kind": "extinguisher", "name": "APAR Gudang",
     "location": "Gudang logistik", "type": "CO2 5 kg", "next_inspection": "2099-01-01"},
]


class RecordsDemo:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def configure(self, data: dict[str, Any]) -> None:
        data.setdefault("equipment", {"items": ITEMS})
        data.setdefault("report", {"output_dir": str(self.folder / "laporan")})

    def scene(self, rt: Any, stop: threading.Event, say: Say) -> None:
        records = Records(rt)
        minutes = 60.0  # one simulated minute, in seconds of the demo clock
        steps: list[tuple[float, Callable[[], str]]] = [
            (3, lambda: self._checklist(records)),
            (5, lambda: self._guest_in(records, "Rahmat Hidayat", "Bawaslu Kota Palu",
                                       "Rapat koordinasi", "Kasubag Umum")),
            (10, lambda: self._guest_in(records, "Maria Lamba", None, "Antar surat",
                                        "Bagian Umum")),
            (15, lambda: self._log(records)),
            (30, lambda: self._guest_out(records, 0)),
            (40, lambda: self._guest_out(records, 0)),
            (45, lambda: self._guest_in(records, "Yusuf Tandi", "PLN", "Perbaikan listrik",
                                        "Kasubag Umum")),
            (50, lambda: self._handover(records)),
            (52, lambda: self._confirm(records)),
            (60, lambda: self._report(rt)),
        ]
        elapsed = 0.0
        for at_minute, action in steps:
            if rt.clock.wait(stop, (at_minute - elapsed) * minutes):
                return
            elapsed = at_minute
            try:
                say(f"records: {action()}")
            except (RecordError, ValueError) as exc:
                say(f"records: not done: {exc}")

    def _checklist(self, records: Records) -> str:
        records.check("Ani", [Problem("HT-2", "broken", "antena patah")])
        return ("Ani's equipment checklist: HT-2 broken (alert); APAR-01's inspection is "
                "overdue (alert raised by the records daemon)")

    def _guest_in(self, records: Records, name: str, org: str | None, purpose: str,
                  host: str) -> str:
        guest = records.sign_in(guest_entry(name, org, purpose, host, None), "Ani")
        return f"guest {name} signs in, badge {guest.badge} (the event names only the badge)"

    def _guest_out(self, records: Records, index: int) -> str:
        inside = records.inside()
        guest = records.sign_out(inside[index].badge, "Ani")
        return f"guest {guest.name} signs out ({guest.badge})"

    def _log(self, records: Records) -> str:
        records.add_entry("Truk logistik datang, dibongkar di gudang", "Ani")
        return "Ani writes in the duty log (Buku Mutasi)"

    def _handover(self, records: Records) -> str:
        records.start_handover("Ani", "Budi", "HT-2 menunggu perbaikan")
        return "Ani offers the handover to Budi"

    def _confirm(self, records: Records) -> str:
        event = records.confirm_handover("Budi")
        inside = len(event.payload["guests_inside"])
        return f"Budi confirms the handover ({inside} guest still inside, recorded with it)"

    def _report(self, rt: Any) -> str:
        from services.report import ReportMaker

        maker = ReportMaker(rt)
        today = maker.last_complete_day() + timedelta(days=1)
        built, path, _ = maker.make(today, None, "demo")
        return (f"the daily security report of {today} so far: {path} (retained JSON on "
                f"state/report/daily; complete={built.report['complete']})")

    def close(self) -> None:
        pass


def make_records_demo(folder: Path) -> RecordsDemo:
    return RecordsDemo(folder)


__all__ = ["RecordsDemo", "make_records_demo"]
