"""Every parser against random bytes: no exception, no tap from garbage, counters add up."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.tags import (
    LineFraming,
    LineOptions,
    Pn532FrameDecoder,
    RDM6300Framing,
    encode_rdm6300_frame,
    parse_passive_target,
    rdm6300_checksum,
)
from drivers.tags.model import FramingStats
from drivers.tags.pn532_emulator import Pn532Emulator
from drivers.tags.pn532_frame import FrameType
from drivers.tags.sim_script import parse_command, parse_script
from drivers.tags.testing import ManualClock

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
chunks = st.lists(st.binary(max_size=200), max_size=12)
rdm_codes = st.binary(min_size=5, max_size=5).map(lambda b: b.hex().upper())
VISIBLE_ASCII = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
RDM_FRAME = re.compile(rb"\x02([0-9A-Fa-f]{10})([0-9A-Fa-f]{2})\x03")


def assert_balanced(stats: FramingStats) -> None:
    assert stats.bytes_in == stats.bytes_accepted + stats.bytes_dropped + stats.pending
    assert min(stats.rejected.values()) >= 0


def valid_rdm_codes(data: bytes) -> set[str]:
    """Codes of the checksum-valid frames anywhere in the bytes (overlaps included)."""
    found = set()
    for start in range(len(data)):
        match = RDM_FRAME.match(data, start)
        if match and rdm6300_checksum(bytes.fromhex(match[1].decode())) == int(match[2], 16):
            found.add(match[1].decode().upper())
    return found


@FUZZ
@given(chunks)
def test_rdm6300_garbage_never_raises_and_only_real_frames_tap(pieces: list[bytes]) -> None:
    framing = RDM6300Framing(hold_s=0.0, clock=ManualClock())
    reads = [read for piece in pieces for read in framing.feed(piece)]
    stats = framing.stats()
    assert_balanced(stats)
    assert stats.pending <= 13
    assert stats.accepted == len(reads)
    assert {r.code for r in reads} <= valid_rdm_codes(b"".join(pieces))


@FUZZ
@given(st.binary(max_size=300), rdm_codes, st.binary(max_size=300), st.integers(1, 20))
def test_rdm6300_finds_a_frame_after_any_garbage(
    before: bytes, code: str, after: bytes, cut: int
) -> None:
    framing = RDM6300Framing(hold_s=0.0, clock=ManualClock())
    stream = before + encode_rdm6300_frame(code) + after
    reads = framing.feed(stream[:cut]) + framing.feed(stream[cut:])
    assert code in {r.code for r in reads}
    assert_balanced(framing.stats())


@FUZZ
@given(chunks, st.floats(0, 5), st.lists(st.floats(0, 2), max_size=12))
def test_rdm6300_folding_counts_add_up(pieces: list[bytes], hold_s: float, steps: list[float]) -> None:
    clock = ManualClock()
    framing = RDM6300Framing(hold_s=hold_s, clock=clock)
    reads = []
    for piece, step in zip(pieces, steps + [0.0] * len(pieces)):
        clock.advance(step)
        reads += framing.feed(piece + encode_rdm6300_frame("62E3086CED"))
    stats = framing.stats()
    assert stats.accepted == len(reads) + stats.folded
    assert_balanced(stats)


def reference_lines(data: bytes, options: LineOptions) -> list[str]:
    """What LineFraming must return, written the obvious way."""
    codes = []
    for line in re.split(rb"[\r\n]", data)[:-1]:
        if not line or len(line) > options.max_len + 8:
            continue
        content = line
        if content[:1] == b"\x02":
            content = content[1:-1] if content.endswith(b"\x03") and len(content) > 1 else content[1:]
        content = content.strip(b" ")
        printable = all(0x20 <= b < 0x7F for b in content)
        if content and printable and options.min_len <= len(content) <= options.max_len:
            codes.append(content.decode())
    return codes


@FUZZ
@given(st.binary(max_size=600), st.integers(1, 40), st.integers(1, 599))
def test_line_framing_matches_the_reference_on_any_bytes(data: bytes, max_len: int, cut: int) -> None:
    options = LineOptions(max_len=max_len)
    framing = LineFraming(options)
    reads = framing.feed(data[:cut]) + framing.feed(data[cut:])
    assert [r.code for r in reads] == reference_lines(data, options)
    stats = framing.stats()
    assert_balanced(stats)
    assert stats.pending <= max_len + 8
    assert stats.accepted == len(reads)


@FUZZ
@given(st.binary(max_size=300), st.text(VISIBLE_ASCII, min_size=1, max_size=30))
def test_line_code_after_garbage_and_a_terminator_is_found(before: bytes, code: str) -> None:
    framing = LineFraming()
    reads = framing.feed(before + b"\n" + code.encode() + b"\r\n")
    assert reads[-1].code == code.strip()


@FUZZ
@given(chunks)
def test_pn532_decoder_never_raises_and_frames_are_checksum_valid(pieces: list[bytes]) -> None:
    decoder = Pn532FrameDecoder()
    frames = [frame for piece in pieces for frame in decoder.feed(piece)]
    stats = decoder.stats()
    assert_balanced(stats)
    assert stats.pending <= 4 + 255 + 1
    assert stats.accepted == len(frames)
    stream = b"".join(pieces)
    for frame in frames:
        assert frame.raw in stream
        if frame.type == FrameType.INFO:
            assert (frame.raw[2] + frame.raw[3]) & 0xFF == 0
            assert sum(frame.raw[4:]) & 0xFF == 0


@FUZZ
@given(st.binary(max_size=40))
def test_target_parser_only_raises_value_error(payload: bytes) -> None:
    try:
        target = parse_passive_target(payload)
    except ValueError:
        return
    assert target is None or len(target.uid) in (4, 7, 10)


@FUZZ
@given(chunks)
def test_chip_model_survives_any_host_bytes(pieces: list[bytes]) -> None:
    chip = Pn532Emulator()
    for piece in [b"\x55\x55" + bytes(14)] + pieces:
        assert isinstance(chip.receive(piece), bytes)


@FUZZ
@given(st.text(max_size=80))
def test_simulator_command_parsers_only_raise_value_error(text: str) -> None:
    for parse in (parse_command, lambda t: parse_script(t.splitlines())):
        try:
            parse(text)
        except ValueError as exc:
            assert "\n" not in str(exc)
