"""LineFraming: pure parsing, then through a real pty with a real TagReader."""

from __future__ import annotations

from typing import Any

import pytest

from drivers.tags import LineFraming, LineOptions, TagReader, TagReaderConfig
from drivers.tags.simulator import PtyTagReaderSim
from drivers.tags.testing import ManualClock, TapRecorder


def codes(framing: LineFraming, data: bytes) -> list[str]:
    return [read.code for read in framing.feed(data)]


@pytest.mark.parametrize("terminator", [b"\r", b"\n", b"\r\n"])
def test_each_terminator_ends_a_code_and_crlf_gives_no_empty_code(terminator: bytes) -> None:
    framing = LineFraming()
    assert codes(framing, b"CP-001" + terminator + b"123456" + terminator) == ["CP-001", "123456"]
    stats = framing.stats()
    assert stats.accepted == 2
    assert stats.rejected_total == 0


def test_crlf_split_across_reads_gives_no_empty_code() -> None:
    framing = LineFraming()
    assert codes(framing, b"A1\r") == ["A1"]
    assert codes(framing, b"\nB2\r") == ["B2"]
    assert codes(framing, b"\n") == []
    assert framing.stats().rejected_total == 0


def test_code_split_over_many_reads() -> None:
    framing = LineFraming()
    pieces = [b"\x02QR", b"-CHE", b"CKPOINT-7\x03", b"\r\n"]
    found = [code for piece in pieces for code in codes(framing, piece)]
    assert found == ["QR-CHECKPOINT-7"]


def test_stx_prefix_and_etx_suffix_are_stripped_and_raw_is_kept() -> None:
    reads = LineFraming().feed(b"\x02ABC123\x03\r")
    assert [(r.code, r.raw) for r in reads] == [("ABC123", b"\x02ABC123\x03")]


def test_stx_is_kept_as_content_when_stripping_is_off() -> None:
    framing = LineFraming(LineOptions(strip_stx=False))
    assert codes(framing, b"\x02ABC\r") == []
    assert framing.stats().rejected["non_printable"] == 1


def test_non_printable_content_is_a_bad_frame() -> None:
    framing = LineFraming()
    assert codes(framing, b"AB\x00C\r\xff\xfe\n\x1b[0m\rOK\r") == ["OK"]
    stats = framing.stats()
    assert stats.rejected["non_printable"] == 3
    assert stats.accepted == 1


def test_length_limits() -> None:
    framing = LineFraming(LineOptions(min_len=4, max_len=8))
    assert codes(framing, b"abc\rabcd\rabcdefgh\rabcdefghi\r") == ["abcd", "abcdefgh"]
    assert framing.stats().rejected["length"] == 2


def test_overflow_is_counted_once_and_the_next_line_is_clean() -> None:
    framing = LineFraming(LineOptions(max_len=8))
    assert codes(framing, b"X" * 500) == []
    assert framing.stats().pending <= 8 + 8
    assert codes(framing, b"Y" * 500 + b"\rNEXT\r") == ["NEXT"]
    stats = framing.stats()
    assert stats.rejected["overflow"] == 1
    assert stats.bytes_in == stats.bytes_accepted + stats.bytes_dropped + stats.pending


def test_wiegand_converter_formats() -> None:
    framing = LineFraming()
    assert codes(framing, b"1A2B3C\r0012345678\r\n") == ["1A2B3C", "0012345678"]


def test_repeats_fold_only_when_a_hold_time_is_set() -> None:
    clock = ManualClock()
    folding = LineFraming(hold_s=1.0, clock=clock)
    assert codes(folding, b"A\rA\rA\r") == ["A"]
    clock.advance(1.5)
    assert codes(folding, b"A\r") == ["A"]
    assert folding.stats().folded == 2
    assert codes(LineFraming(), b"A\rA\r") == ["A", "A"]


def test_reset_drops_a_partial_line_as_too_short() -> None:
    framing = LineFraming()
    framing.feed(b"PARTIAL")
    framing.reset()
    assert codes(framing, b"\rFULL\r") == ["FULL"]
    assert framing.stats().rejected["length"] == 1


def test_invalid_options_are_refused_in_one_sentence() -> None:
    with pytest.raises(ValueError, match="min_len"):
        LineOptions(min_len=10, max_len=5)


FAST: dict[str, Any] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2}


def line_reader(sim: PtyTagReaderSim, recorder: TapRecorder, **options: object) -> TagReader:
    config = TagReaderConfig(
        url=sim.url, framing="line", name="lobby", location="Lobby east door",
        **FAST, **options,  # type: ignore[arg-type]
    )
    return TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link)


@pytest.mark.parametrize(("terminator", "stx"), [(b"\r", False), (b"\n", True), (b"\r\n", True)])
def test_scanner_codes_arrive_through_a_pty(terminator: bytes, stx: bool) -> None:
    recorder = TapRecorder()
    with PtyTagReaderSim("lobby", "line", terminator=terminator, stx=stx) as sim:
        with line_reader(sim, recorder) as reader:
            assert recorder.wait_link(True) is not None
            sim.tap("CP-LOBBY-01")
            sim.tap("QR:https://example.invalid/cp/7")
            taps = recorder.wait_taps(2)
            stats = reader.stats()
    assert [t.code for t in taps] == ["CP-LOBBY-01", "QR:https://example.invalid/cp/7"]
    assert {(t.reader, t.kind, t.location) for t in taps} == {("lobby", "line", "Lobby east door")}
    assert stats.frames.rejected_total == 0


def test_double_scans_through_a_pty_fold_when_a_hold_time_is_set() -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with PtyTagReaderSim("lobby", "line") as sim:
        config = TagReaderConfig(url=sim.url, name="lobby", hold_s=2.0, **FAST)
        with TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link, clock=clock) as reader:
            assert recorder.wait_link(True) is not None
            sim.hold("CP-7", 3)
            assert recorder.wait_for(lambda: reader.stats().frames.accepted == 3)
            clock.advance(3.0)
            sim.tap("CP-7")
            taps = recorder.wait_taps(2)
            stats = reader.stats()
    assert [t.code for t in taps] == ["CP-7", "CP-7"]
    assert stats.frames.folded == 2


def test_corrupt_lines_through_a_pty_are_counted_not_tapped() -> None:
    recorder = TapRecorder()
    with PtyTagReaderSim("lobby", "line") as sim:
        with line_reader(sim, recorder) as reader:
            assert recorder.wait_link(True) is not None
            sim.garbage(b"\x01\x7f\xff\r" + b"Z" * 200 + b"\r\n")
            sim.tap("AFTER-NOISE")
            taps = recorder.wait_taps(1)
            assert recorder.wait_for(lambda: reader.stats().frames.rejected_total == 2)
            stats = reader.stats()
    assert [t.code for t in taps] == ["AFTER-NOISE"]
    assert stats.frames.rejected["non_printable"] == 1
    assert stats.frames.rejected["overflow"] == 1
    assert stats.taps == 1
