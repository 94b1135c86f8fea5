"""Store-and-forward against a real Mosquitto, with faults done for real."""
from __future__ import annotations

import json
import struct
import threading
import time

import pytest

from edge.clock import SystemClock
from edge.events import NewEvent
from services.broker import Mosquitto, free_port
from services.runtime import open_runtime
from tests.support.mqtt import Recorder
from tests.support.netfault import FaultyLink
from tests.support.running import (ThreadedUplink, kill9, spawn, wait_until, write_config)

ROOT = "posjaga/kpu-palu"


def db_ids(rt) -> list[str]:
    return [e.id for e in rt.events.query()]


def test_events_arrive_in_order_and_are_marked_sent_only_after_ack(broker, recorder,
                                                                   config_for):
    rt = open_runtime(config_for(broker.url), SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        for i in range(100):
            rt.events.record("patrol.tap", "reader-1", {"n": i})
        rt.events.record_many([NewEvent("attendance.punch", "zk-1", {"n": i}) for i in range(400)])
        recorder.wait_for(lambda m: len([x for x in m if "/event/" in x.topic]) >= 500)
        wait_until(lambda: rt.events.backlog() == 0, what="backlog drained")
    finally:
        up.close()
    got = recorder.event_ids()
    assert got == db_ids(rt)  # every event, once, in recording order
    assert all(e.sent_at is not None for e in rt.events.query())
    first = recorder.on_topic(f"{ROOT}/event/patrol/tap")[0].json()
    assert first["kind"] == "patrol.tap" and first["site"] == "kpu-palu"
    assert first["payload"] == {"n": 0} and first["tz"] == "Asia/Makassar"
    rt.close()


def _wal_frames_in_use(db_path) -> int:
    """mxFrame of the WAL-index header (sqlite.org/walformat.html), read without taking part."""
    with open(f"{db_path}-shm", "rb") as shm:
        return struct.unpack_from("=I", shm.read(48), 16)[0]


def test_uplink_checkpoints_the_store_so_daemon_commits_need_not(broker, config_for):
    rt = open_runtime(config_for(broker.url), SystemClock())
    for i in range(150):  # several pages a commit: ~1 000 WAL frames
        rt.events.record("patrol.tap", "reader-1", {"n": i})
    assert _wal_frames_in_use(rt.db.path) > 1000  # no daemon commit checkpointed
    up = ThreadedUplink(rt)
    try:
        def wal_started_afresh() -> bool:
            # A write after a complete checkpoint starts the WAL again from its first frame.
            rt.events.record("patrol.tap", "reader-1", {"n": -1})
            return _wal_frames_in_use(rt.db.path) < 50
        wait_until(wal_started_afresh, 10, "the uplink never checkpointed the WAL")
        assert up.stats.checkpoints >= 1
    finally:
        up.close()
    rt.close()


def test_broker_absent_at_start_nothing_marked_sent_until_it_comes(tmp_path, config_for):
    port = free_port()
    rt = open_runtime(config_for(f"mqtt://127.0.0.1:{port}"), SystemClock())
    for i in range(50):
        rt.events.record("patrol.tap", "reader-1", {"n": i})
    up = ThreadedUplink(rt)
    try:
        wait_until(lambda: up.stats.connect_failures >= 2, what="connection attempts")
        assert rt.events.backlog() == 50
        assert all(e.sent_at is None for e in rt.events.query())
        with Mosquitto(port=port, workdir=tmp_path / "late-broker") as broker:
            rec = Recorder(broker.port)
            try:
                for i in range(50, 60):
                    rt.events.record("patrol.tap", "reader-1", {"n": i})
                wait_until(lambda: rt.events.backlog() == 0, what="backlog drained")
                rec.wait_for(lambda m: len(rec.event_ids()) >= 60)
                assert rec.event_ids() == db_ids(rt)
            finally:
                rec.close()
    finally:
        up.close()
    rt.close()


def _stream(rt, count: int, stop_early: threading.Event | None = None) -> threading.Thread:
    def produce() -> None:
        for i in range(0, count, 5):
            rt.events.record_many([NewEvent("patrol.tap", "reader-1", {"n": j})
                                   for j in range(i, min(count, i + 5))])
            time.sleep(0.002)
    t = threading.Thread(target=produce, daemon=True)
    t.start()
    return t


def _restarts_during_stream(tmp_path, config_for, events: int, restarts: int) -> None:
    # Broker persistence and a persistent subscriber session stand for the supervisor's
    # side, so that what the broker accepted survives its own restarts.
    with Mosquitto(workdir=tmp_path / "b", persistence=True) as broker:
        rec = Recorder(broker.port, "posjaga/#", client_id="supervisor", clean_session=False)
        rt = open_runtime(config_for(broker.url), SystemClock())
        up = ThreadedUplink(rt)
        try:
            up.wait_connected()
            producer = _stream(rt, events)
            for _ in range(restarts):
                wait_until(lambda: rt.events.count() > 0, what="events")
                time.sleep(0.3)
                broker.restart()
            producer.join(events / 100)
            wait_until(lambda: rt.events.backlog() == 0, 60, "backlog drained")
            ids = db_ids(rt)
            rec.wait_for(lambda m: set(ids) <= set(rec.event_ids()), 60)
            assert len(ids) == events
            assert up.stats.connects >= restarts + 1
        finally:
            up.close()
            rec.close()
            rt.close()


def test_broker_restarted_several_times_during_a_stream(tmp_path, config_for):
    _restarts_during_stream(tmp_path, config_for, events=3000, restarts=4)


@pytest.mark.soak
def test_soak_broker_restarted_many_times_during_a_long_stream(tmp_path, config_for):
    _restarts_during_stream(tmp_path, config_for, events=100_000, restarts=25)


def test_broker_killed_mid_stream_every_event_still_acknowledged(tmp_path, config_for):
    with Mosquitto(workdir=tmp_path / "b") as broker:
        rt = open_runtime(config_for(broker.url), SystemClock())
        up = ThreadedUplink(rt)
        try:
            up.wait_connected()
            producer = _stream(rt, 2000)
            for _ in range(3):
                time.sleep(0.2)
                broker.stop(kill=True)
                wait_until(lambda: not up.stats.connected, 10, "the kill was not noticed")
                before = rt.events.count()
                wait_until(lambda: rt.events.count() > before + 20, 10, "recording stalled")
                broker.start()
                up.wait_connected()
            producer.join(60)
            wait_until(lambda: rt.events.backlog() == 0, 60, "backlog drained")
            assert rt.events.count() == 2000
            assert up.stats.connects == 4
        finally:
            up.close()
            rt.close()


def test_uplink_process_sigkilled_mid_stream_loses_nothing(tmp_path, broker, recorder):
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "posjaga.db", broker.url)
    proc = spawn("tests/support/producer.py", str(cfg), "3000")
    try:
        assert proc.stdout.readline().strip() == "ready"
        recorder.wait_for(lambda m: len(recorder.event_ids()) >= 300, 30)
        kill9(proc)  # mid-stream: the producer was still writing
    finally:
        if proc.poll() is None:
            kill9(proc)
    from edge.config import load_config
    rt = open_runtime(load_config(cfg, env={}), SystemClock())
    committed = db_ids(rt)
    assert 300 <= len(committed) < 3000
    assert rt.events.backlog() > 0  # some were committed but never acknowledged
    up = ThreadedUplink(rt)  # "restarted"
    try:
        wait_until(lambda: rt.events.backlog() == 0, 30, "backlog drained after restart")
        recorder.wait_for(lambda m: set(committed) <= set(recorder.event_ids()), 30)
    finally:
        up.close()
        rt.close()


def test_frozen_network_is_detected_and_recovered(tmp_path, broker, recorder, config_for):
    link = FaultyLink(broker.port)
    rt = open_runtime(config_for(f"mqtt://127.0.0.1:{link.port}", mqtt={"keepalive_s": 1}),
                      SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        rt.events.record("patrol.tap", "reader-1", {"n": 0})
        wait_until(lambda: rt.events.backlog() == 0, what="first event sent")
        link.freeze()  # packets stop; no reset, no FIN: only keepalive can tell
        for i in range(1, 20):
            rt.events.record("patrol.tap", "reader-1", {"n": i})
        wait_until(lambda: not up.stats.connected, 20, "the dead link was never noticed")
        assert rt.events.backlog() > 0
        link.cut()
        link.thaw()
        wait_until(lambda: rt.events.backlog() == 0, 30, "backlog drained after thaw")
        recorder.wait_for(lambda m: set(db_ids(rt)) <= set(recorder.event_ids()))
    finally:
        up.close()
        link.close()
        rt.close()


def test_availability_online_offline_and_last_will(tmp_path, broker, recorder):
    cfg = write_config(tmp_path / "posjaga.toml", tmp_path / "posjaga.db", broker.url,
                       keepalive_s=1)
    proc = spawn("tests/support/producer.py", str(cfg), "0")
    try:
        assert proc.stdout.readline().strip() == "ready"
        recorder.wait_for(lambda m: any(x.payload == b"online" for x in
                                        recorder.on_topic(f"{ROOT}/status")))
        kill9(proc)  # no goodbye: the broker must publish the will
        recorder.wait_for(lambda m: recorder.on_topic(f"{ROOT}/status")[-1].payload
                          == b"offline", 15)
    finally:
        if proc.poll() is None:
            kill9(proc)
    late = Recorder(broker.port, f"{ROOT}/status")
    try:
        msgs = late.wait_for(lambda m: len(m) >= 1)
        assert msgs[0].payload == b"offline" and msgs[0].retain
    finally:
        late.close()


def test_clean_stop_says_offline_and_flushes(broker, recorder, config_for):
    rt = open_runtime(config_for(broker.url), SystemClock())
    up = ThreadedUplink(rt)
    up.wait_connected()
    for i in range(30):
        rt.events.record("patrol.tap", "reader-1", {"n": i})
    up.close()
    assert rt.events.backlog() == 0
    recorder.wait_for(lambda m: recorder.on_topic(f"{ROOT}/status")[-1:] != [] and
                      recorder.on_topic(f"{ROOT}/status")[-1].payload == b"offline")
    rt.close()


def test_states_are_retained_and_republished_after_broker_restart(broker, config_for):
    rt = open_runtime(config_for(broker.url), SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        assert rt.states.set("lamp", {"on": True, "mode": "auto"})
        assert not rt.states.set("lamp", {"on": True, "mode": "auto"})  # unchanged
        for attempt in range(2):
            # Once the state has reached anyone, a later subscriber must get it as a
            # retained message from the broker itself.
            probe = Recorder(broker.port, f"{ROOT}/state/#")
            try:
                probe.wait_for(lambda m: len(m) >= 1)
            finally:
                probe.close()
            rec = Recorder(broker.port, f"{ROOT}/state/#")
            try:
                msgs = rec.wait_for(lambda m: len(m) >= 1)
                assert msgs[0].retain and msgs[0].json() == {"mode": "auto", "on": True}
            finally:
                rec.close()
            if attempt == 0:
                broker.restart()  # no persistence: the broker forgot every retained message
                wait_until(lambda: up.stats.connects >= 2, what="reconnect")
    finally:
        up.close()
        rt.close()


def _command(recorder: Recorder, target: str, payload: bytes | str) -> dict:
    before = len(recorder.on_topic(f"{ROOT}/{target}/response"))
    recorder.publish(f"{ROOT}/{target}/set", payload)
    msgs = recorder.wait_for(lambda m: len(recorder.on_topic(f"{ROOT}/{target}/response"))
                             > before)
    return [m for m in msgs if m.topic == f"{ROOT}/{target}/response"][-1].json()


def test_commands_are_answered_and_bad_ones_refused(broker, recorder, config_for):
    rt = open_runtime(config_for(broker.url), SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        wait_until(lambda: up.stats.connects >= 1)
        time.sleep(0.2)  # the subscription to commands is made right after CONNACK
        ok = _command(recorder, "system", json.dumps({"action": "ping", "transaction": 7}))
        assert ok["status"] == "ok" and ok["transaction"] == 7
        assert ok["data"]["site"] == "kpu-palu"
        events_before = rt.events.count()
        for payload, fragment in [(b"\xff\xfe", "not valid JSON"), (b"[1,2]", "JSON object"),
                                  (b'{"action": 3}', "'action' must be text"),
                                  (b'{"action": "reboot"}', "must be one of"),
                                  (b"{}", "has no 'action'"),
                                  (b"x" * 20000, "at most")]:
            answer = _command(recorder, "system", payload)
            assert answer["status"] == "error" and fragment in answer["error"], answer
            assert "Traceback" not in answer["error"]
        unknown = _command(recorder, "coffee", b'{"action": "brew"}')
        assert unknown["status"] == "error" and "unknown command target" in unknown["error"]
        assert rt.events.count() == events_before  # refused commands changed nothing
        assert rt.router.counts["rejected"] == 7
        backlog = _command(recorder, "system", b'{"action": "backlog"}')
        assert backlog == {"status": "ok", "data": {"backlog": 0}}
    finally:
        up.close()
        rt.close()


def test_outage_longer_than_the_memory_queue_drains_in_order(tmp_path, config_for):
    # More events than the uplink keeps announced in memory: the rest must come from the store.
    port = free_port()
    link = FaultyLink(port)
    link.refuse()  # the broker's host is up, the broker is not
    rt = open_runtime(config_for(f"mqtt://127.0.0.1:{link.port}"), SystemClock())
    up = ThreadedUplink(rt)
    try:
        wait_until(lambda: up.stats.connect_failures >= 1, what="connection attempts")
        for i in range(0, 25_000, 500):
            rt.events.record_many([NewEvent("patrol.tap", "reader-1", {"n": j})
                                   for j in range(i, i + 500)])
        with Mosquitto(port=port, workdir=tmp_path / "late") as broker:
            rec = Recorder(broker.port, "posjaga/+/event/#")
            link.admit()  # only now: the subscriber must not miss the first ones
            try:
                rt.events.record("patrol.tap", "reader-1", {"n": 25_000})  # live, after
                wait_until(lambda: rt.events.backlog() == 0, 60, "backlog drained")
                rec.wait_for(lambda m: len(m) >= 25_001, 30)
                assert rec.event_ids() == db_ids(rt)  # each once, in recording order
            finally:
                rec.close()
    finally:
        up.close()
        link.close()
        rt.close()


def test_bursts_larger_than_the_socket_buffers_arrive_whole(tmp_path, broker, recorder,
                                                            config_for):
    # While the link is frozen the kernel's buffers fill and the batched writes are cut
    # short; what the socket did not take must go out, in order, once it drains.
    link = FaultyLink(broker.port, rcvbuf=8192)
    rt = open_runtime(config_for(f"mqtt://127.0.0.1:{link.port}", mqtt={"keepalive_s": 30}),
                      SystemClock())
    up = ThreadedUplink(rt)
    try:
        up.wait_connected()
        link.freeze()
        big = "x" * 50_000
        for i in range(0, 120, 10):
            rt.events.record_many([NewEvent("patrol.tap", "reader-1", {"n": j, "pad": big})
                                   for j in range(i, i + 10)])
        wait_until(lambda: up.stats.published >= 100, 20, "the window never filled")
        wait_until(up.service.uplink.client.want_write, 10, "the kernel took everything")
        link.thaw()
        wait_until(lambda: rt.events.backlog() == 0, 30, "backlog drained")
        recorder.wait_for(lambda m: len(recorder.event_ids()) >= 120, 30)
        assert recorder.event_ids() == db_ids(rt)
        assert all(json.loads(m.payload)["payload"]["pad"] == big
                   for m in recorder.messages if "/event/" in m.topic)
    finally:
        up.close()
        link.close()
        rt.close()
