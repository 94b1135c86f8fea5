"""Our ZKDevice driver (over the real pyzk client) against ZKSimulator on 127.0.0.1."""
from __future__ import annotations

import socket
import struct
import threading
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator, Protocol

import pytest
from zk import ZK

from drivers.zkteco import protocol
from drivers.zkteco.device import ZKConfig, ZKDevice
from drivers.zkteco.errors import (DeviceAuthError, DeviceError, DeviceLinkError,
                                   DeviceProtocolError)
from drivers.zkteco.models import Punch
from drivers.zkteco.simulator import ZKSimulator

MakeSim = Callable[..., ZKSimulator]
Device = Callable[..., ZKDevice]
Connect = Callable[..., ZK]
T0 = datetime(2024, 5, 1, 7, 0, 0)


class ManualTime(Protocol):
    def __call__(self) -> datetime: ...
    def advance(self, delta: timedelta) -> None: ...


def scripted_log(sim: ZKSimulator, count: int, extra_ids: tuple[str, ...] = ()) -> None:
    user_ids = [u.user_id for u in sim.store.users()] + list(extra_ids)
    for i in range(count):
        sim.punch(user_ids[i % len(user_ids)], T0 + timedelta(minutes=3 * i), punch=i % 2,
                  status=1 + i % 3)


def as_tuples(punches: list[Punch]) -> list[tuple]:
    return [(p.uid, p.user_id, p.timestamp, p.status, p.punch) for p in punches]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- connecting ---------------------------------------------------------------------------

def test_connect_identity_and_context_manager(zk_sim: ZKSimulator) -> None:
    with ZKDevice(ZKConfig("127.0.0.1", zk_sim.port, timeout=5)) as device:
        assert device.connected
        assert device.serial_number() == "SIM0000000001"
        info = device.info()
        assert (info.device_name, info.platform) == ("posjaga-sim", "ZMM220_TFT")
    assert not device.connected


def test_password_ok(zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim(password=4321)
    assert zk_device(sim, password=4321).serial_number() == "SIM0000000001"


def test_password_that_overflows_pyzk_commkey(zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim(password=262143, session_id=0x4000)
    bare = ZK("127.0.0.1", port=sim.port, timeout=5, password=262143, ommit_ping=True)
    with pytest.raises(struct.error):  # pyzk 0.9 cannot log in to this device at all
        bare.connect()
    assert zk_device(sim, password=262143).serial_number() == "SIM0000000001"


def test_wrong_password_is_an_auth_error(zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim(password=4321)
    with pytest.raises(DeviceAuthError, match=f"127.0.0.1:{sim.port} refused the comm"):
        zk_device(sim, password=1)


def test_refused_auth_is_an_auth_error(zk_sim: ZKSimulator, zk_device: Device) -> None:
    zk_sim.refuse_auth = True
    with pytest.raises(DeviceAuthError):
        zk_device(zk_sim)
    zk_sim.refuse_auth = False
    assert zk_device(zk_sim).connected


def test_nobody_listening_is_a_link_error() -> None:
    port = free_port()
    device = ZKDevice(ZKConfig("127.0.0.1", port, timeout=2))
    with pytest.raises(DeviceLinkError, match=f"127.0.0.1:{port} refused the connection"):
        device.connect()
    with pytest.raises(DeviceLinkError, match="not connected"):
        device.get_time()


def test_config_rejects_hosts_that_are_not_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        ZKConfig("10.0.0.1; rm -rf /")


# --- users and attendance -----------------------------------------------------------------

@pytest.mark.parametrize("user_size", [28, 72])
def test_users_match_pyzk(zk_make_sim: MakeSim, zk_device: Device, zk_pyzk: Connect,
                          user_size: int) -> None:
    sim = zk_make_sim(user_size=user_size)
    sim.add_user(9, "900", "Eko", privilege=14, card=99)
    ours = zk_device(sim).users()
    theirs = zk_pyzk(sim).get_users()
    assert [(u.uid, u.user_id, u.name, u.privilege, u.card, u.group_id) for u in ours] == [
        (u.uid, u.user_id, u.name, u.privilege, u.card, u.group_id) for u in theirs]


@pytest.mark.parametrize("record_size", [40, 16, 8])
@pytest.mark.parametrize("count", [3, 3000])
def test_attendance_matches_pyzk(zk_make_sim: MakeSim, zk_device: Device, zk_pyzk: Connect,
                                 record_size: int, count: int) -> None:
    sim = zk_make_sim(record_size=record_size)
    scripted_log(sim, count, extra_ids=("555",))  # 555 is not enrolled
    log = zk_device(sim).attendance()
    theirs = zk_pyzk(sim).get_attendance()
    assert log.record_size == record_size and log.malformed == []
    assert as_tuples(log.punches) == [
        (int(a.uid), a.user_id, a.timestamp, a.status, a.punch) for a in theirs]
    assert [p.index for p in log.punches] == list(range(count))


def test_progress_reports_each_chunk(zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim()
    sim.fill_log(4000)  # 160,004 bytes: three chunks
    calls: list[tuple[int, int]] = []
    log = zk_device(sim).attendance(lambda done, total: calls.append((done, total)))
    assert len(log.punches) == 4000
    total = 4000 * 40 + 4
    assert calls == [(protocol.MAX_CHUNK, total), (2 * protocol.MAX_CHUNK, total),
                     (total, total), (total, total)]


def test_empty_log(zk_sim: ZKSimulator, zk_device: Device) -> None:
    calls: list[tuple[int, int]] = []
    log = zk_device(zk_sim).attendance(lambda done, total: calls.append((done, total)))
    assert (log.punches, log.malformed, calls) == ([], [], [(0, 0)])


def test_malformed_records_are_counted_with_reasons(zk_sim: ZKSimulator,
                                                    zk_device: Device) -> None:
    scripted_log(zk_sim, 3)
    feb_31 = ((24 * 12 + 1) * 31 + 30) * 86400
    layout = protocol.ATTENDANCE_STRUCTS[40]
    zk_sim.store.append_raw(layout.pack(1, b"101", 1, feb_31, 0, b""))
    zk_sim.store.append_raw(layout.pack(1, b"", 1, protocol.encode_time(T0), 0, b""))
    scripted_log(zk_sim, 2)
    log = zk_device(zk_sim).attendance()
    assert len(log.punches) == 5 and log.malformed_count == 2
    assert [m.index for m in log.malformed] == [3, 4]
    assert "impossible date" in log.malformed[0].reason
    assert "empty user id" in log.malformed[1].reason


def test_hundred_thousand_records_in_one_pull(zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim()
    end = datetime(2024, 5, 1, 17, 0, 0)
    sim.fill_log(100_000, end=end)
    calls: list[tuple[int, int]] = []
    log = zk_device(sim, timeout=30).attendance(lambda d, t: calls.append((d, t)))
    assert len(log.punches) == 100_000 and log.malformed == []
    assert log.punches[-1].timestamp == end
    assert log.punches[0].timestamp == end - timedelta(minutes=7 * 99_999)
    assert calls[-1] == (4_000_004, 4_000_004) and len(calls) == 63


# --- clock --------------------------------------------------------------------------------

def test_get_and_set_time(zk_time: ManualTime, zk_make_sim: MakeSim,
                          zk_device: Device) -> None:
    device = zk_device(zk_make_sim(clock=zk_time))
    assert device.get_time() == zk_time()
    device.set_time(datetime(2030, 1, 2, 3, 4, 5, 999))
    assert device.get_time() == datetime(2030, 1, 2, 3, 4, 5)
    with pytest.raises(ValueError, match="naive"):
        device.set_time(datetime(2030, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(ValueError, match="2000-2099"):
        device.set_time(datetime(2100, 1, 1))


def test_clock_reset_shows_year_2000(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    zk_sim.reset_clock()
    assert device.get_time().year == 2000


def test_drift(zk_time: ManualTime, zk_make_sim: MakeSim, zk_device: Device) -> None:
    sim = zk_make_sim(clock=zk_time)
    device = zk_device(sim)
    sim.clock.drift = 12.0  # gains 12 s a day
    zk_time.advance(timedelta(days=5))
    assert device.get_time() - zk_time() == timedelta(seconds=60)


def test_enable_disable(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    device.disable()
    assert zk_sim.enabled is False
    device.enable()
    assert zk_sim.enabled is True


# --- faults -------------------------------------------------------------------------------

def test_drop_mid_read_is_a_link_error_then_a_fresh_connect_works(
        zk_sim: ZKSimulator, zk_device: Device) -> None:
    zk_sim.fill_log(5000)  # 200,004 bytes: four chunks
    zk_sim.drop_mid_read(after_chunks=1)
    device = zk_device(zk_sim)
    with pytest.raises(DeviceLinkError, match=f"127.0.0.1:{zk_sim.port} dropped"):
        device.attendance()
    assert not device.connected
    assert len(device.connect().attendance().punches) == 5000


def test_garbage_reply_is_a_protocol_error_without_hanging(zk_sim: ZKSimulator,
                                                           zk_device: Device) -> None:
    device = zk_device(zk_sim, timeout=30)  # a hang would show as a 30 s wait, then a link error
    zk_sim.garble(1)
    with pytest.raises(DeviceProtocolError, match="makes no sense while reading the clock"):
        device.get_time()
    assert not device.connected
    assert device.connect().serial_number() == "SIM0000000001"


def test_well_framed_nonsense_is_a_protocol_error(zk_sim: ZKSimulator,
                                                  zk_device: Device) -> None:
    device = zk_device(zk_sim)
    feb_31 = ((24 * 12 + 1) * 31 + 30) * 86400
    zk_sim.garble(1, protocol.encode_frame(protocol.ACK_OK, 1, 1, protocol.U32.pack(feb_31)))
    with pytest.raises(DeviceProtocolError):
        device.get_time()


def test_short_free_sizes_reply_is_not_an_empty_log(zk_sim: ZKSimulator,
                                                    zk_device: Device) -> None:
    """pyzk keeps its old counts (0) when the reply is short; we refuse it instead."""
    zk_sim.fill_log(10)
    device = zk_device(zk_sim)
    zk_sim.garble(1, protocol.encode_frame(protocol.ACK_OK, 1, 1, bytes(12)),
                  command=protocol.CMD_GET_FREE_SIZES)
    with pytest.raises(DeviceProtocolError, match="free-sizes reply is too short"):
        device.attendance()


def test_absurd_buffer_size_is_a_protocol_error(zk_sim: ZKSimulator, zk_device: Device) -> None:
    zk_sim.fill_log(3000)
    device = zk_device(zk_sim)
    zk_sim.garble(1, protocol.encode_frame(protocol.ACK_OK, 1, 1, b"\x00\x00\x00\x00\x7f"),
                  command=protocol.CMD_PREPARE_BUFFER)
    with pytest.raises(DeviceProtocolError, match="reading the attendance log"):
        device.attendance()


def test_silent_device_is_a_link_error(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim, timeout=0.5)
    zk_sim.blackhole = True
    with pytest.raises(DeviceLinkError, match="did not answer in time"):
        device.get_time()


# --- live punches -------------------------------------------------------------------------

def live(device: ZKDevice, stop: threading.Event, errors: list[BaseException],
         poll_s: float = 0.05) -> Iterator[Punch]:
    """Iterate live_punches, recording the error that ends it instead of raising."""
    try:
        yield from device.live_punches(stop, poll_s)
    except DeviceError as exc:
        errors.append(exc)


def stop_event(limit: float = 20) -> threading.Event:
    """A stop flag that also sets itself after ``limit`` seconds, so a lost event fails the
    test instead of hanging it."""
    stop = threading.Event()
    timer = threading.Timer(limit, stop.set)
    timer.daemon = True
    timer.start()
    return stop


def in_background(action: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=action, daemon=True)
    thread.start()
    return thread


def test_live_punches_receive_scripted_punches(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    stop = stop_event()
    when = datetime(2024, 5, 1, 7, 58)

    def people() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        zk_sim.punch("103", when)
        zk_sim.punch("555", when + timedelta(seconds=2), punch=1)

    in_background(people)
    got = []
    for punch in device.live_punches(stop, 0.05):
        got.append(punch)
        if len(got) == 2:
            stop.set()
    assert as_tuples(got) == [(3, "103", when, 1, 0), (555, "555", when + timedelta(seconds=2),
                                                       1, 1)]
    assert device.live_stats.events == 2
    assert device.get_time()  # a clean stop leaves the session usable


@pytest.mark.parametrize("size", protocol.REALTIME_SIZES)
def test_live_understands_every_known_layout(zk_make_sim: MakeSim, zk_device: Device,
                                             size: int) -> None:
    sim = zk_make_sim(realtime_size=size)
    device = zk_device(sim)
    stop = stop_event()
    in_background(lambda: sim.wait_live_clients(1, 10) and sim.punch("103", T0, punch=4))
    for punch in device.live_punches(stop, 0.05):
        assert (punch.uid, punch.user_id, punch.timestamp, punch.punch) == (3, "103", T0, 4)
        stop.set()
    assert device.live_stats.skipped == 0


def test_live_scheduled_punch(zk_time: ManualTime, zk_make_sim: MakeSim,
                              zk_device: Device) -> None:
    sim = zk_make_sim(clock=zk_time)
    at = zk_time() + timedelta(minutes=5)
    sim.schedule([(at, "7", 1)])
    device = zk_device(sim)
    stop = stop_event()

    def time_passes() -> None:
        assert sim.wait_live_clients(1, 10)
        zk_time.advance(timedelta(minutes=6))

    in_background(time_passes)
    for punch in device.live_punches(stop, 0.05):
        assert (punch.uid, punch.user_id, punch.timestamp, punch.punch) == (4, "7", at, 1)
        stop.set()
    assert device.live_stats.events == 1


def test_live_skips_and_counts_odd_payloads(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    stop = stop_event()
    bad_time = bytes(24) + b"\x01\x00" + bytes([24, 13, 40, 0, 0, 0]) + bytes(4)

    def device_sends() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        for size in (0, 9, 20, 40, 60):
            zk_sim.push_raw_event(bytes(range(size)))
        zk_sim.push_raw_event(bad_time)  # 36 bytes, but month 13
        zk_sim.punch("101", T0)

    in_background(device_sends)
    got = []
    for punch in device.live_punches(stop, 0.05):
        got.append(punch)
        stop.set()
    assert [(p.user_id, p.timestamp) for p in got] == [("101", T0)]
    stats = device.live_stats
    assert (stats.events, stats.skipped) == (1, 6)
    assert stats.reasons["unknown 20-byte event payload"] == 1
    assert stats.reasons["undecodable 36-byte event payload"] == 1


def test_live_link_cut_raises(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    stop, errors = stop_event(), []
    in_background(lambda: zk_sim.wait_live_clients(1, 10) and zk_sim.cut_links())
    assert list(live(device, stop, errors)) == []
    assert len(errors) == 1 and isinstance(errors[0], DeviceLinkError)
    assert f"127.0.0.1:{zk_sim.port}" in str(errors[0])
    assert not device.connected


def test_live_after_device_restart_raises_then_reconnect_finds_the_punch(
        zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    stop, errors = stop_event(), []

    def reboot_with_a_punch() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        zk_sim.stop()
        zk_sim.punch("102", T0)  # made while the network was down
        zk_sim.start()

    reboot = in_background(reboot_with_a_punch)
    assert list(live(device, stop, errors)) == []
    assert isinstance(errors[0], DeviceLinkError)
    reboot.join(10)
    assert [p.user_id for p in device.connect().attendance().punches] == ["102"]


def test_live_silent_link_is_detected_by_keepalive(zk_sim: ZKSimulator,
                                                   zk_device: Device) -> None:
    device = zk_device(zk_sim, timeout=0.5, keepalive=0.2)
    stop, errors = stop_event(), []

    def link_dies_silently() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        zk_sim.blackhole = True

    in_background(link_dies_silently)
    assert list(live(device, stop, errors)) == []
    assert isinstance(errors[0], DeviceLinkError)
    assert "stopped answering" in str(errors[0])


def test_keepalive_keeps_a_quiet_healthy_link(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim, timeout=2, keepalive=0.05)
    stop = stop_event()

    def later() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        threading.Event().wait(0.5)  # several keepalive rounds
        zk_sim.punch("103", T0)

    in_background(later)
    for punch in device.live_punches(stop, 0.02):
        assert punch.user_id == "103"
        stop.set()
    assert device.live_stats.skipped == 0


def test_other_requests_wait_for_live_capture(zk_sim: ZKSimulator, zk_device: Device) -> None:
    device = zk_device(zk_sim)
    stop = stop_event()
    in_background(lambda: zk_sim.wait_live_clients(1, 10) and zk_sim.punch("101", T0))
    for _punch in device.live_punches(stop, 0.05):
        with pytest.raises(DeviceError, match="busy with live capture"):
            device.get_time()
        stop.set()
    assert device.get_time()


def test_leaving_live_capture_early_drops_the_connection(zk_sim: ZKSimulator,
                                                        zk_device: Device) -> None:
    device = zk_device(zk_sim)
    in_background(lambda: zk_sim.wait_live_clients(1, 10) and zk_sim.punch("101", T0))
    punches = device.live_punches(stop_event(), 0.05)
    assert next(punches).user_id == "101"
    punches.close()
    assert not device.connected
    assert device.connect().get_time()
