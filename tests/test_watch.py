"""posjaga watch: what a supervisor sees live, with QoS 1 repeats dropped by id."""
from __future__ import annotations

import io
import json
import threading

from edge.clock import SystemClock
from services.runtime import open_runtime
from services.watch import Watcher
from tests.support.mqtt import Recorder
from tests.support.running import ThreadedUplink, wait_until


def test_watch_shows_each_event_once_in_local_time(broker, config_for) -> None:
    config = config_for(broker.url)
    rt = open_runtime(config, SystemClock())
    out = io.StringIO()
    ready, stop = threading.Event(), threading.Event()
    watcher = Watcher(config, out=out, on_ready=ready.set)
    thread = threading.Thread(target=watcher.run, args=(stop,), daemon=True)
    thread.start()
    up = ThreadedUplink(rt)
    pub = Recorder(broker.port, "nothing/#")
    try:
        assert ready.wait(10)
        up.wait_connected()
        event = rt.events.record("patrol.tap", "reader-1", {"code": "CP-07"})
        rt.states.set("lamp", {"on": True})
        wait_until(lambda: "CP-07" in out.getvalue() and "state/lamp" in out.getvalue())
        # A redelivery of the same event (as after a crash) must not show twice.
        wait_until(lambda: rt.events.backlog() == 0)
        envelope = event.envelope("Asia/Makassar")
        pub.publish("posjaga/kpu-palu/event/patrol/tap", json.dumps(envelope, default=str))
        pub.publish("posjaga/kpu-palu/event/patrol/tap", b"garbage")
        wait_until(lambda: "unreadable event" in out.getvalue())
    finally:
        stop.set()
        thread.join(5)
        up.close()
        pub.close()
        rt.close()
    text = out.getvalue()
    assert text.count("CP-07") == 1
    local = event.occurred_at.astimezone(config.site.zone).strftime("%Y-%m-%d %H:%M:%S")
    assert local in text  # shown in the site's zone (WITA), not UTC
    assert "[status] (retained) online" in text or "[status] online" in text
