"""The demo's attendance part: its scripted day, on a clock 5000 times faster than real time,
through the simulator, the real driver and the store, yields the outcomes it promises."""
from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from edge.clock import ScaledClock
from edge.config import config_from_mapping
from services.attendance import AttendanceService
from services.attendance_demo import AttendanceDemo
from services.runtime import open_runtime
from tests.support.running import wait_until

ZONE = ZoneInfo("Asia/Makassar")


def test_the_scripted_day(tmp_path: Path) -> None:
    part = AttendanceDemo(tmp_path)
    data = {"site": {"id": "kpu-palu"}, "store": {"url": f"sqlite:///{tmp_path}/p.db"}}
    part.configure(data)
    data["attendance"]["check_s"] = 600.0  # 0.12 s of real time at this speed
    # 18:30: the day shift (S0) is on, the night shift (S1) and the next day (S2) follow.
    clock = ScaledClock(5000, datetime(2026, 12, 4, 18, 30, tzinfo=ZONE))
    rt = open_runtime(config_from_mapping(data, "<demo>", env={}), clock)
    stop = threading.Event()
    said: list[str] = []
    service = AttendanceService(rt)
    threads = [threading.Thread(target=service.run, args=(stop,), daemon=True),
               threading.Thread(target=part.scene, args=(rt, stop, said.append), daemon=True)]
    for t in threads:
        t.start()
    try:
        def outcomes() -> set[tuple[str, str, int | None]]:
            return {(e.payload["guard"], e.payload["outcome"], e.payload["minutes"])
                    for e in rt.events.query(kind="attendance.shift")}
        wait_until(lambda: ("Fajar", "absent", None) in outcomes(), 30,
                   f"the scripted day did not finish: {sorted(outcomes())}")
        assert outcomes() >= {("Ani", "on_time", None), ("Budi", "on_time", None),
                              ("Citra", "on_time", None), ("Citra", "double", None),
                              ("Dedi", "late", 25), ("Dedi", "left_early", 40),
                              ("Budi", "no_clock_out", None), ("Eko", "on_time", None)}
        punched = {e.payload["user_id"] for e in rt.events.query(kind="attendance.punch")}
        assert "201" not in punched  # the member of staff is not a guard: not kept
        assert any("roster approved" in line for line in said)
    finally:
        stop.set()
        for t in threads:
            t.join(15)
        part.close()
        rt.close()
