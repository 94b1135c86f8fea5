"""Wire-format encoders/decoders, checked against pyzk 0.9's own code and fuzzed."""
from __future__ import annotations

import socket
import struct
from datetime import datetime
from typing import Callable

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from zk import base as pyzk_base

from drivers.zkteco import attlog, protocol
from drivers.zkteco.live import LiveLink, LiveTiming
from drivers.zkteco.models import LiveStats
from drivers.zkteco.protocol import (AttendanceRecord, FrameBuffer, ProtocolError,
                                     RealtimeEvent, UserRecord)

FUZZ = settings(max_examples=200, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
device_times = st.datetimes(min_value=datetime(2000, 1, 1),
                            max_value=datetime(2099, 12, 31, 23, 59, 59)).map(
    lambda d: d.replace(microsecond=0))


def pyzk_client() -> pyzk_base.ZK:
    client = pyzk_base.ZK("127.0.0.1", ommit_ping=True)
    client._ZK__sock.close()
    return client


def zkemsdk_checksum(data: bytes) -> int:
    """A line-by-line transcription of in_chksum() from zkemsdk.c."""
    total, i = 0, 0
    while len(data) - i > 1:
        total += data[i] | data[i + 1] << 8
        if total > 0xFFFF:
            total -= 0xFFFF
        i += 2
    if len(data) - i:
        total += data[i]
    while total > 0xFFFF:
        total -= 0xFFFF
    return ~total & 0xFFFF


# --- checksum and framing -----------------------------------------------------------------

@FUZZ
@given(st.binary(max_size=300))
def test_checksum_is_zkemsdk_and_pyzk_sends_one_less(data: bytes) -> None:
    ours = protocol.checksum(data)
    assert ours == zkemsdk_checksum(data)
    theirs = struct.unpack("<H", pyzk_client()._ZK__create_checksum(list(data)))[0]
    assert (ours - theirs) % 0xFFFF == 1  # pyzk's routine alone is off by one...


@FUZZ
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFE),
       st.binary(max_size=40))
def test_pyzk_sends_valid_checksums(command: int, session: int, reply: int,
                                    payload: bytes) -> None:
    """...but it checksums the header with the previous reply id, so the slips cancel."""
    packet = protocol.decode_packet(
        pyzk_client()._ZK__create_header(command, payload, session, reply))
    assert packet.reply_id == (reply + 1) % 0xFFFF
    assert protocol.packet_checksum_ok(packet)


@FUZZ
@given(st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF),
       st.binary(max_size=100))
def test_frame_round_trip(command: int, session: int, reply: int, payload: bytes) -> None:
    packet = protocol.decode_frame(protocol.encode_frame(command, session, reply, payload))
    assert (packet.command, packet.session_id, packet.reply_id, packet.payload) == (
        command, session, reply, payload)
    assert protocol.packet_checksum_ok(packet)


def test_pyzk_headers_decode_with_the_incremented_reply_id() -> None:
    client = pyzk_client()
    raw = client._ZK__create_tcp_top(client._ZK__create_header(1000, b"", 0, 0xFFFE))
    packet = protocol.decode_frame(raw)
    assert (packet.command, packet.session_id, packet.reply_id) == (1000, 0, 0)


def test_frame_buffer_splits_joined_and_partial_frames() -> None:
    stream = b"".join(protocol.encode_frame(c, 1, c, bytes(c % 7)) for c in range(10))
    frames = FrameBuffer()
    got = []
    for i in range(0, len(stream), 5):
        frames.feed(stream[i:i + 5])
        while (packet := frames.next_frame()) is not None:
            got.append(packet.command)
    assert got == list(range(10)) and len(frames) == 0


def test_frame_buffer_resyncs_after_garbage() -> None:
    frames = FrameBuffer()
    frames.feed(b"junk!junk" + protocol.encode_frame(2000, 1, 2))
    with pytest.raises(ProtocolError):
        frames.next_frame()
    assert frames.resync() == 9
    assert frames.next_frame().command == 2000


# --- comm key, time -----------------------------------------------------------------------

def reversed_bits(value: int) -> int:
    return int(f"{value:032b}"[::-1], 2)


@FUZZ
@given(st.integers(0, 999_999), st.integers(0, 0xFFFF), st.integers(0, 255))
def test_commkey_matches_pyzk(password: int, session: int, ticks: int) -> None:
    key = protocol.make_commkey(password, session, ticks)
    assert protocol.commkey_matches(key, password, session)
    if reversed_bits(password) + session < 2**32:  # else pyzk overflows, see below
        assert key == pyzk_base.make_commkey(password, session, ticks)


def test_pyzk_commkey_overflows_where_the_device_wraps() -> None:
    """pyzk packs bit-reversed password + session into a u32 without zkemsdk's wrap."""
    with pytest.raises(struct.error):
        pyzk_base.make_commkey(262143, 0x4000)
    # 0xFFFFC000 + 0x4000 wraps to 0, the key of password 0 in session 0.
    assert protocol.make_commkey(262143, 0x4000) == pyzk_base.make_commkey(0, 0)
    assert protocol.commkey_matches(protocol.make_commkey(262143, 0x4000), 262143, 0x4000)


@FUZZ
@given(st.integers(0, 999_999), st.integers(0, 999_999), st.integers(0, 0xFFFF))
def test_commkey_rejects_other_passwords(password: int, other: int, session: int) -> None:
    if password != other:
        assert not protocol.commkey_matches(protocol.make_commkey(other, session),
                                            password, session)


@FUZZ
@given(device_times)
def test_time_matches_pyzk(when: datetime) -> None:
    value = protocol.encode_time(when)
    client = pyzk_client()
    assert value == client._ZK__encode_time(when)
    assert protocol.decode_time(value) == client._ZK__decode_time(struct.pack("<I", value))
    assert protocol.decode_time(value) == when


def test_time_refuses_years_the_device_cannot_hold() -> None:
    with pytest.raises(ValueError, match="2000-2099"):
        protocol.encode_time(datetime(2100, 1, 1))


def test_impossible_device_date_is_a_protocol_error() -> None:
    feb_31 = ((24 * 12 + 1) * 31 + 30) * 86400
    with pytest.raises(ProtocolError, match="impossible date"):
        protocol.decode_time(feb_31)


# --- records ------------------------------------------------------------------------------

names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", max_size=8).map(str.strip)


@FUZZ
@given(st.integers(1, 0xFFFF), st.integers(0, 2**32 - 1), names, st.integers(0, 14),
       st.integers(0, 2**32 - 1), st.sampled_from([28, 72]))
def test_user_round_trip(uid: int, user_id: int, name: str, privilege: int, card: int,
                         size: int) -> None:
    group = "0" if size == 28 else ""
    user = UserRecord(uid, str(user_id), name, privilege, "", card, group)
    assert protocol.unpack_user(protocol.pack_user(user, size)) == user


@FUZZ
@given(st.integers(0, 0xFFFF), st.integers(0, 2**32 - 1), device_times, st.integers(0, 255),
       st.integers(0, 255), st.sampled_from([8, 16, 40]))
def test_attendance_round_trip(uid: int, user_id: int, when: datetime, status: int,
                               punch: int, size: int) -> None:
    record = AttendanceRecord(uid, str(user_id), when, status, punch)
    back = protocol.unpack_attendance(protocol.pack_attendance(record, size))
    expected = {8: (uid, ""), 16: (0, str(user_id)), 40: (uid, str(user_id))}[size]
    assert (back.uid, back.user_id, back.timestamp, back.status, back.punch) == (
        *expected, when, status, punch)


@FUZZ
@given(st.integers(0, 0xFFFF), device_times, st.integers(0, 255), st.integers(0, 255),
       st.sampled_from(protocol.REALTIME_SIZES))
def test_realtime_round_trip(user_id: int, when: datetime, status: int, punch: int,
                             size: int) -> None:
    event = RealtimeEvent(str(user_id), status, punch, when)
    payload = protocol.encode_realtime(event, size)
    assert len(payload) == size
    assert protocol.decode_realtime(payload) == event


def test_realtime_36_is_the_layout_pyzk_parses() -> None:
    when = datetime(2024, 5, 1, 7, 58, 3)
    payload = protocol.encode_realtime(RealtimeEvent("103", 1, 0, when), 36)
    user_id, status, punch, timehex, _ = struct.unpack("<24sBB6s4s", payload)
    assert user_id.rstrip(b"\x00") == b"103" and (status, punch) == (1, 0)
    assert pyzk_client()._ZK__decode_timehex(timehex) == when


@pytest.mark.parametrize("size", [0, 9, 11, 20, 33, 40, 51, 53, 100])
def test_realtime_unknown_lengths_are_protocol_errors(size: int) -> None:
    with pytest.raises(ProtocolError, match="no known layout"):
        protocol.decode_realtime(bytes(size))


def test_free_sizes_sit_where_pyzk_reads_them() -> None:
    payload = protocol.encode_free_sizes(protocol.FreeSizes(4, 0, 1234, 3000, 3000, 100000))
    fields = struct.unpack("20i", payload[:80])
    assert (fields[4], fields[6], fields[8], fields[15], fields[16]) == (4, 0, 1234, 3000,
                                                                         100000)


# --- fuzz: random bytes never escape as anything but ProtocolError -----------------------

def only_protocol_errors(call: Callable[..., object], *args: object) -> None:
    try:
        call(*args)
    except ProtocolError:
        pass


@FUZZ
@given(st.binary(max_size=120))
def test_fuzz_single_decoders(data: bytes) -> None:
    only_protocol_errors(protocol.decode_packet, data)
    only_protocol_errors(protocol.decode_frame, data)
    only_protocol_errors(protocol.unpack_user, data)
    only_protocol_errors(protocol.unpack_attendance, data)
    only_protocol_errors(protocol.decode_realtime, data)
    only_protocol_errors(protocol.decode_timehex, data[:6])
    only_protocol_errors(protocol.decode_free_sizes, data)
    only_protocol_errors(protocol.split_buffer, data)


@FUZZ
@given(st.binary(min_size=28, max_size=28) | st.binary(min_size=72, max_size=72),
       st.sampled_from(["utf-8", "latin-1", "ascii"]))
def test_fuzz_user_records(data: bytes, encoding: str) -> None:
    only_protocol_errors(protocol.unpack_user, data, encoding)


@FUZZ
@given(st.integers(0, 2**32 - 1))
def test_fuzz_any_u32_time(value: int) -> None:
    only_protocol_errors(protocol.decode_time, value)


@FUZZ
@given(st.binary(max_size=400), st.sampled_from([8, 16, 40]))
def test_fuzz_attendance_body_is_counted_not_raised(body: bytes, size: int) -> None:
    log = attlog.parse_attendance(body, size, [], "utf-8")
    assert len(log.punches) + log.malformed_count == len(body) // size + bool(len(body) % size)


@FUZZ
@given(st.binary(max_size=300), st.integers(-3, 20))
def test_fuzz_user_buffer(buffer: bytes, count: int) -> None:
    only_protocol_errors(attlog.parse_users, buffer, count, "utf-8")


@FUZZ
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_frame_buffer(chunks: list[bytes]) -> None:
    frames = FrameBuffer(max_length=64)
    for chunk in chunks:
        frames.feed(chunk)
        while True:
            try:
                if frames.next_frame() is None:
                    break
            except ProtocolError:
                frames.resync()


@FUZZ
@given(st.lists(st.binary(max_size=60) | st.binary(max_size=60).map(
    lambda p: protocol.encode_frame(protocol.CMD_REG_EVENT, 1, 0, p)), max_size=6))
def test_fuzz_live_stream_is_counted_not_raised(pieces: list[bytes]) -> None:
    """Whatever arrives on a live connection, LiveLink only counts, skips and acknowledges."""
    ours, device = socket.socketpair()
    with ours, device:
        stats = LiveStats()
        link = LiveLink(ours, 1, LiveTiming(timeout=5, keepalive=60), "utf-8", stats)
        device.sendall(b"".join(pieces))
        events = list(link.poll(0.05))
        assert stats.events == len(events)
