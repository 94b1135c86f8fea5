"""PN532 frame encoding/decoding and answer parsing, against the frames in the user manual."""

from __future__ import annotations

import pytest

from drivers.tags import Pn532FrameDecoder, encode_command, encode_response, parse_passive_target
from drivers.tags.pn532_frame import ACK_FRAME, ERROR_FRAME, NACK_FRAME, FrameType

IN_LIST_ONE_TYPE_A = bytes.fromhex("0000ff04fcd44a0100e100")
SAM_NORMAL = bytes.fromhex("0000ff05fbd414011401 02 00".replace(" ", ""))


def test_encodes_known_command_frames() -> None:
    assert encode_command(0x4A, b"\x01\x00") == IN_LIST_ONE_TYPE_A
    assert encode_command(0x14, b"\x01\x14\x01") == SAM_NORMAL
    assert encode_command(0x02) == bytes.fromhex("0000ff02fed4022a00")


def test_length_and_data_checksums_hold_for_every_length() -> None:
    for size in (0, 1, 100, 253):
        frame = encode_response(0x4A, bytes(range(size)))
        length, lcs = frame[3], frame[4]
        assert (length + lcs) & 0xFF == 0
        assert sum(frame[5:-1]) & 0xFF == 0


def test_too_long_a_frame_is_refused() -> None:
    with pytest.raises(ValueError):
        encode_command(0x40, bytes(300))


def test_decodes_ack_nack_error_and_information_frames() -> None:
    response = encode_response(0x02, bytes([0x32, 0x01, 0x06, 0x07]))
    frames = Pn532FrameDecoder().feed(ACK_FRAME + NACK_FRAME + ERROR_FRAME + response)
    assert [f.type for f in frames] == [FrameType.ACK, FrameType.NACK, FrameType.ERROR, FrameType.INFO]
    assert (frames[3].tfi, frames[3].data) == (0xD5, bytes([0x03, 0x32, 0x01, 0x06, 0x07]))


def test_decodes_a_frame_fed_one_byte_at_a_time() -> None:
    decoder = Pn532FrameDecoder()
    frames = [f for byte in IN_LIST_ONE_TYPE_A for f in decoder.feed(bytes([byte]))]
    assert [(f.tfi, f.data) for f in frames] == [(0xD4, b"\x4a\x01\x00")]


def test_bad_lcs_and_bad_dcs_are_rejected_and_the_next_frame_still_decodes() -> None:
    bad_lcs = bytearray(IN_LIST_ONE_TYPE_A)
    bad_lcs[4] ^= 0x01
    bad_dcs = bytearray(IN_LIST_ONE_TYPE_A)
    bad_dcs[-2] ^= 0x01
    decoder = Pn532FrameDecoder()
    frames = decoder.feed(bytes(bad_lcs) + bytes(bad_dcs) + ACK_FRAME)
    assert [f.type for f in frames] == [FrameType.ACK]
    stats = decoder.stats()
    assert stats.rejected["checksum"] == 2
    assert stats.bytes_in == stats.bytes_accepted + stats.bytes_dropped + stats.pending


def test_wake_up_fill_is_noise_or_silence_not_frames() -> None:
    decoder = Pn532FrameDecoder()
    assert decoder.feed(b"\x55\x55" + bytes(14) + ACK_FRAME)[0].type == FrameType.ACK
    stats = decoder.stats()
    assert stats.rejected["noise"] == 1
    assert stats.accepted == 1


def test_extended_frames_are_refused_as_length() -> None:
    decoder = Pn532FrameDecoder()
    assert decoder.feed(bytes.fromhex("0000ffffff0001ffd400d400") + ACK_FRAME)[-1].type == FrameType.ACK
    assert decoder.stats().rejected["length"] == 1


@pytest.mark.parametrize("uid", [bytes(range(1, 5)), bytes(range(1, 8)), bytes(range(1, 11))])
def test_parses_targets_with_4_7_and_10_byte_uids(uid: bytes) -> None:
    payload = b"\x01\x01\x00\x44\x00" + bytes([len(uid)]) + uid
    target = parse_passive_target(payload)
    assert target is not None
    assert target.uid == uid
    assert target.uid_hex == uid.hex().upper()


def test_no_target_is_none() -> None:
    assert parse_passive_target(b"\x00") is None


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x01\x01\x00",
        b"\x01\x01\x00\x04\x08\x05\x01\x02\x03\x04\x05",  # 5-byte NFCID
        b"\x01\x01\x00\x04\x08\x07\x01\x02",  # 7 announced, 2 sent
    ],
)
def test_malformed_targets_raise_value_error(payload: bytes) -> None:
    with pytest.raises(ValueError):
        parse_passive_target(payload)
