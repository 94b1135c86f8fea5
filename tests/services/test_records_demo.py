"""The demo's share for the books: its scripted hour ends with the day's report."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from edge.clock import ScaledClock
from edge.config import config_from_mapping
from services.records import RecordsService
from services.records_demo import make_records_demo
from services.report import STATE
from services.runtime import open_runtime


def test_the_demo_hour_records_everything_and_ends_with_the_report(tmp_path: Path) -> None:
    part = make_records_demo(tmp_path)
    data: dict[str, Any] = {"site": {"id": "kpu-palu", "name": "Sekretariat KPU Kota Palu"},
                            "store": {"url": f"sqlite:///{tmp_path}/posjaga.db"}}
    part.configure(data)
    # 7200 times faster: the demo's scripted hour in half a real second.
    rt = open_runtime(config_from_mapping(data, "<demo>", env={}), ScaledClock(7200))
    RecordsService(rt).open()
    said: list[str] = []
    part.scene(rt, threading.Event(), said.append)
    part.close()
    assert not any("not done" in line for line in said), said
    assert said[-1].startswith("records: the daily security report of ")
    kinds = [e.kind for e in rt.events.query()]
    for kind in ("equipment.check", "equipment.alert", "guest.signed_in", "guest.signed_out",
                 "dutylog.entry", "handover.started", "handover.confirmed", "report.daily"):
        assert kind in kinds, kind
    (report,) = [e for e in rt.events.query(kind="report.daily")]
    assert Path(report.payload["pdf"]).read_bytes().startswith(b"%PDF")
    state = rt.states.get(STATE)
    assert state is not None and state.payload["guests"]["counts"]["inside_at_end"] == 1
    rt.close()
