"""The unmodified pyzk 0.9 client against ZKSimulator over TCP on 127.0.0.1."""
from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Callable, Protocol

import pytest
from zk import ZK
from zk.exception import ZKErrorResponse

from drivers.zkteco import protocol
from drivers.zkteco.simulator import ZKSimulator

MakeSim = Callable[..., ZKSimulator]
Connect = Callable[..., ZK]
T0 = datetime(2024, 5, 1, 7, 0, 0)


class ManualTime(Protocol):
    def __call__(self) -> datetime: ...
    def advance(self, delta: timedelta) -> None: ...


def scripted_log(sim: ZKSimulator, count: int) -> list[tuple[str, datetime, int, int]]:
    """Punch ``count`` times by the enrolled users; returns what pyzk should read back."""
    expected = []
    user_ids = [u.user_id for u in sim.store.users()]
    for i in range(count):
        user_id = user_ids[i % len(user_ids)]
        when = T0 + timedelta(minutes=3 * i)
        sim.punch(user_id, when, punch=i % 2, status=1 + i % 3)
        expected.append((user_id, when, 1 + i % 3, i % 2))
    return expected


def test_connect_and_identity(zk_sim: ZKSimulator, zk_pyzk: Connect) -> None:
    client = zk_pyzk(zk_sim)
    assert client.is_connect
    assert client.get_serialnumber() == "SIM0000000001"
    assert client.get_device_name() == "posjaga-sim"
    assert client.get_platform() == "ZMM220_TFT"
    assert client.get_firmware_version().startswith("Ver ")
    assert client.get_mac() == "00:17:61:00:00:01"
    assert client.disconnect()


def test_password_accepted(zk_make_sim: MakeSim, zk_pyzk: Connect) -> None:
    sim = zk_make_sim(password=123456)
    assert zk_pyzk(sim, password=123456).get_serialnumber() == "SIM0000000001"


def test_wrong_password_rejected(zk_make_sim: MakeSim, zk_pyzk: Connect) -> None:
    sim = zk_make_sim(password=123456)
    with pytest.raises(ZKErrorResponse, match="Unauthenticated"):
        zk_pyzk(sim, password=654321)


def test_refused_auth_rejects_even_without_password(zk_sim: ZKSimulator,
                                                    zk_pyzk: Connect) -> None:
    zk_sim.refuse_auth = True
    with pytest.raises(ZKErrorResponse, match="Unauthenticated"):
        zk_pyzk(zk_sim)


def test_free_sizes_match_the_store(zk_sim: ZKSimulator, zk_pyzk: Connect,
                                    zk_users: list[tuple[int, str, str]]) -> None:
    scripted_log(zk_sim, 9)
    client = zk_pyzk(zk_sim)
    client.read_sizes()
    assert (client.users, client.records, client.fingers) == (len(zk_users), 9, 0)


@pytest.mark.parametrize("user_size", [28, 72])
def test_users(zk_make_sim: MakeSim, zk_pyzk: Connect, user_size: int,
               zk_users: list[tuple[int, str, str]]) -> None:
    sim = zk_make_sim(user_size=user_size)
    sim.add_user(9, "900", "Eko", privilege=14, card=123456)
    users = zk_pyzk(sim).get_users()
    got = [(u.uid, u.user_id, u.name, u.privilege, u.card) for u in users]
    assert got == [(uid, user_id, name, 0, 0) for uid, user_id, name in zk_users] + [
        (9, "900", "Eko", 14, 123456)]


# 3 records come back inline as DATA; the others need more than one 0xFFC0-byte chunk.
@pytest.mark.parametrize(("record_size", "count"), [
    (40, 3), (16, 3), (8, 3), (40, 2000), (16, 4200), (8, 8200)])
def test_attendance(zk_make_sim: MakeSim, zk_pyzk: Connect, record_size: int,
                    count: int) -> None:
    sim = zk_make_sim(record_size=record_size)
    expected = scripted_log(sim, count)
    assert count < 10 or count * record_size + 4 > protocol.MAX_CHUNK
    records = zk_pyzk(sim).get_attendance()
    assert [(a.user_id, a.timestamp, a.status, a.punch) for a in records] == expected


def test_large_log_is_read_in_several_chunks(zk_make_sim: MakeSim, zk_pyzk: Connect) -> None:
    sim = zk_make_sim(record_size=16)
    expected = scripted_log(sim, 9000)  # 144,004 bytes: three READ_BUFFER chunks
    records = zk_pyzk(sim).get_attendance()
    assert len(records) == 9000
    assert (records[-1].user_id, records[-1].timestamp) == expected[-1][:2]


def test_get_and_set_time(zk_time: ManualTime, zk_make_sim: MakeSim, zk_pyzk: Connect) -> None:
    sim = zk_make_sim(clock=zk_time)
    client = zk_pyzk(sim)
    assert client.get_time() == zk_time()
    client.set_time(datetime(2031, 12, 31, 23, 59, 58))
    zk_time.advance(timedelta(seconds=5))
    assert client.get_time() == datetime(2032, 1, 1, 0, 0, 3)


def test_clock_reset_and_drift(zk_time: ManualTime, zk_make_sim: MakeSim,
                               zk_pyzk: Connect) -> None:
    sim = zk_make_sim(clock=zk_time, drift=-43.0)
    client = zk_pyzk(sim)
    zk_time.advance(timedelta(days=2))
    assert client.get_time() == T0 + timedelta(days=2, minutes=30, seconds=-86)
    sim.reset_clock()
    assert client.get_time() == datetime(2000, 1, 1)


def test_enable_disable(zk_sim: ZKSimulator, zk_pyzk: Connect) -> None:
    client = zk_pyzk(zk_sim)
    client.disable_device()
    assert zk_sim.enabled is False
    client.enable_device()
    assert zk_sim.enabled is True


def test_unknown_command_answers_ack_unknown_and_session_survives(
        zk_sim: ZKSimulator, zk_pyzk: Connect) -> None:
    client = zk_pyzk(zk_sim)
    with pytest.raises(ZKErrorResponse, match="Can't open door"):
        client.unlock()  # CMD_UNLOCK is not simulated
    assert client.get_serialnumber() == "SIM0000000001"


def test_unauthenticated_commands_are_refused_on_the_wire(zk_make_sim: MakeSim) -> None:
    sim = zk_make_sim(password=1)
    with socket.create_connection(("127.0.0.1", sim.port), timeout=5) as raw:
        raw.sendall(protocol.encode_frame(protocol.CMD_CONNECT, 0, 0))
        connect = protocol.decode_frame(raw.recv(16))
        raw.sendall(protocol.encode_frame(protocol.CMD_GET_TIME, connect.session_id, 1))
        reply = protocol.decode_frame(raw.recv(1024))
    assert (connect.command, reply.command, reply.reply_id) == (
        protocol.ACK_UNAUTH, protocol.ACK_UNAUTH, 1)


def test_replies_carry_nothing_extra(zk_sim: ZKSimulator) -> None:
    """pyzk reads each reply with one recv sized for it; trailing bytes would shift the next."""
    with socket.create_connection(("127.0.0.1", zk_sim.port), timeout=5) as raw:
        raw.sendall(protocol.encode_frame(protocol.CMD_CONNECT, 0, 0))
        assert len(raw.recv(4096)) == 16
        raw.sendall(protocol.encode_frame(protocol.CMD_ENABLEDEVICE, 1, 1))
        assert len(raw.recv(4096)) == 16
        assert select.select([raw], [], [], 0.2)[0] == []


def test_restart_keeps_the_log(zk_sim: ZKSimulator, zk_pyzk: Connect) -> None:
    expected = scripted_log(zk_sim, 5)
    zk_sim.restart()
    records = zk_pyzk(zk_sim).get_attendance()
    assert [(a.user_id, a.timestamp, a.status, a.punch) for a in records] == expected


def run_pyzk_live(client: ZK, wanted: int, max_idle: int = 10) -> list:
    """Drive pyzk's live_capture until ``wanted`` events or ``max_idle`` empty timeouts."""
    got: list = []
    idle = 0
    for event in client.live_capture(new_timeout=1):
        if event is None:
            idle += 1
            if idle >= max_idle:
                client.end_live_capture = True
            continue
        got.append(event)
        if len(got) >= wanted:
            client.end_live_capture = True
    return got


def test_live_capture_receives_punches(zk_sim: ZKSimulator, zk_pyzk: Connect) -> None:
    client = zk_pyzk(zk_sim)
    when = datetime(2024, 5, 1, 7, 58, 0)

    def people() -> None:
        assert zk_sim.wait_live_clients(1, 10)
        zk_sim.punch("103", when, punch=0)
        zk_sim.punch("7", when + timedelta(seconds=1), punch=1)

    threading.Thread(target=people, daemon=True).start()
    got = run_pyzk_live(client, 2)
    assert [(a.uid, a.user_id, a.timestamp, a.punch) for a in got] == [
        (3, "103", when, 0), (4, "7", when + timedelta(seconds=1), 1)]
    assert client.get_serialnumber() == "SIM0000000001"  # reg_event(0) left a clean session


@pytest.mark.parametrize("size", [12, 32, 52])  # the other lengths pyzk 0.9 parses
def test_live_capture_with_other_event_layouts(zk_make_sim: MakeSim, zk_pyzk: Connect,
                                               size: int) -> None:
    sim = zk_make_sim(realtime_size=size)
    client = zk_pyzk(sim)
    when = datetime(2024, 5, 1, 8, 1, 2)
    threading.Thread(target=lambda: sim.wait_live_clients(1, 10) and sim.punch("101", when),
                     daemon=True).start()
    got = run_pyzk_live(client, 1)
    assert [(a.uid, a.user_id, a.timestamp) for a in got] == [(1, "101", when)]


def test_scheduled_punch_fires_when_the_device_clock_gets_there(
        zk_time: ManualTime, zk_make_sim: MakeSim, zk_pyzk: Connect) -> None:
    sim = zk_make_sim(clock=zk_time)
    at = zk_time() + timedelta(minutes=28)
    sim.schedule([(at, "102", 0)])
    client = zk_pyzk(sim)

    def time_passes() -> None:
        assert sim.wait_live_clients(1, 10)
        zk_time.advance(timedelta(minutes=30))

    threading.Thread(target=time_passes, daemon=True).start()
    got = run_pyzk_live(client, 1)
    assert [(a.user_id, a.timestamp) for a in got] == [("102", at)]
    assert sim.pending_punches() == 0


def test_exit_closes_the_connection(zk_sim: ZKSimulator) -> None:
    client = ZK("127.0.0.1", port=zk_sim.port, timeout=5, ommit_ping=True)
    client.connect()
    client.disconnect()
    with socket.create_connection(("127.0.0.1", zk_sim.port), timeout=5) as raw:
        raw.sendall(protocol.encode_frame(protocol.CMD_EXIT, 0, 0))
        assert protocol.decode_frame(raw.recv(16)).command == protocol.ACK_OK
        assert raw.recv(16) == b""


def read_line(stream: IO[str], timeout: float = 20) -> str:
    ready, _, _ = select.select([stream], [], [], timeout)
    assert ready, "simulator printed nothing"
    return stream.readline()


def test_cli_serves_until_ctrl_c() -> None:
    root = Path(__file__).resolve().parents[2]
    code = "import sys; from drivers.zkteco.simulator import cli; sys.exit(cli(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--port", "0", "--users", "3", "--records", "20",
         "--record-size", "16", "--user-size", "28", "--punch", "3@2024-05-01T07:58/1"],
        cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        banner = read_line(proc.stdout)
        assert "listening on 127.0.0.1:" in banner
        port = int(banner.split("127.0.0.1:")[1].split()[0])
        client = ZK("127.0.0.1", port=port, timeout=5, ommit_ping=True)
        client.connect()
        for _ in range(50):  # the scripted punch lies in the past, so it fires at once
            if client.read_sizes() and client.records == 21:
                break
            threading.Event().wait(0.1)
        records = client.get_attendance()
        client.disconnect()
        assert len(records) == 21
        assert (records[-1].user_id, records[-1].timestamp, records[-1].punch) == (
            "3", datetime(2024, 5, 1, 7, 58), 1)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert "punch by user 3 at 2024-05-01 07:58:00" in out
    assert "connected, session" in out
