"""RDM6300Framing: the datasheet frame, checksums, resync, folding; then through a pty."""

from __future__ import annotations

from drivers.tags import RDM6300Framing, TagReader, TagReaderConfig, card_number, encode_rdm6300_frame
from drivers.tags.simulator import PtyTagReaderSim
from drivers.tags.testing import ManualClock, TapRecorder

DATASHEET_FRAME = b"\x02" + b"62E3086CED" + b"08" + b"\x03"
OTHER = "0F00A1B2C3"


def fresh(hold_s: float = 0.0) -> RDM6300Framing:
    return RDM6300Framing(hold_s=hold_s, clock=ManualClock())


def test_datasheet_example_decodes_with_card_number() -> None:
    assert encode_rdm6300_frame("62E3086CED") == DATASHEET_FRAME
    reads = fresh().feed(DATASHEET_FRAME)
    assert [(r.code, r.card_number, r.raw) for r in reads] == [
        ("62E3086CED", 0xE3086CED, DATASHEET_FRAME)
    ]
    assert card_number("62E3086CED") == 3808980205


def test_lower_case_hex_is_accepted_and_normalised() -> None:
    reads = fresh().feed(DATASHEET_FRAME.lower())
    assert [r.code for r in reads] == ["62E3086CED"]


def test_wrong_checksum_is_rejected() -> None:
    framing = fresh()
    assert framing.feed(encode_rdm6300_frame("62E3086CED", checksum=0x09)) == []
    stats = framing.stats()
    assert stats.rejected["checksum"] == 1
    assert stats.accepted == 0


def test_frame_split_byte_by_byte() -> None:
    framing = fresh()
    reads = [read for byte in DATASHEET_FRAME for read in framing.feed(bytes([byte]))]
    assert [r.code for r in reads] == ["62E3086CED"]


def test_resynchronises_after_noise_truncation_and_overlong_frames() -> None:
    framing = fresh()
    stream = (
        b"\xff\x00noise"
        + DATASHEET_FRAME[:6]  # cut off by the next frame's STX
        + encode_rdm6300_frame(OTHER)
        + b"\x02" + b"A" * 20 + b"\x03"  # too long
        + b"\x02123\x03"  # too short
        + b"\x02ABCDZ"  # non-hex inside a frame
        + DATASHEET_FRAME
    )
    assert [r.code for r in framing.feed(stream)] == [OTHER, "62E3086CED"]
    stats = framing.stats()
    assert stats.rejected["length"] == 3
    assert stats.rejected["noise"] >= 2
    assert stats.rejected["checksum"] == 0
    assert stats.bytes_in == stats.bytes_accepted + stats.bytes_dropped + stats.pending


def test_held_card_folds_until_the_hold_time_passes_without_a_sighting() -> None:
    clock = ManualClock()
    framing = RDM6300Framing(hold_s=1.0, clock=clock)
    assert len(framing.feed(DATASHEET_FRAME * 3)) == 1
    for _ in range(5):  # still held: each sighting restarts the window
        clock.advance(0.5)
        assert framing.feed(DATASHEET_FRAME) == []
    clock.advance(1.0)
    assert len(framing.feed(DATASHEET_FRAME)) == 1
    assert framing.stats().folded == 7


def test_another_card_is_never_folded() -> None:
    framing = RDM6300Framing(hold_s=10.0, clock=ManualClock())
    frames = DATASHEET_FRAME + encode_rdm6300_frame(OTHER) + DATASHEET_FRAME
    assert len(framing.feed(frames)) == 3


def rdm_reader(sim: PtyTagReaderSim, recorder: TapRecorder, clock: ManualClock) -> TagReader:
    config = TagReaderConfig(
        url=sim.url, framing="rdm6300", name="stair-b", hold_s=1.0,
        reconnect_min_s=0.05, reconnect_max_s=0.2,
    )
    return TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link, clock=clock)


def test_held_card_through_a_pty_is_one_tap_per_hold() -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with PtyTagReaderSim("stair-b", "rdm6300") as sim, rdm_reader(sim, recorder, clock) as reader:
        assert recorder.wait_link(True) is not None
        sim.hold("62E3086CED", 6)
        assert recorder.wait_for(lambda: reader.stats().frames.accepted == 6)
        clock.advance(2.0)
        sim.hold("62E3086CED", 2)
        assert recorder.wait_for(lambda: reader.stats().frames.accepted == 8)
        stats = reader.stats()
    assert [(t.code, t.kind, t.card_number) for t in recorder.taps] == [
        ("62E3086CED", "em4100", 0xE3086CED)
    ] * 2
    assert stats.frames.folded == 6
    assert stats.taps == 2


def test_corrupt_and_random_noise_through_a_pty_never_tap() -> None:
    clock, recorder = ManualClock(), TapRecorder()
    sim = PtyTagReaderSim("stair-b", "rdm6300", seed=7)
    with sim, rdm_reader(sim, recorder, clock) as reader:
        assert recorder.wait_link(True) is not None
        sim.write_raw(encode_rdm6300_frame("62E3086CED", checksum=0x00))
        sim.garbage(3000)
        sim.tap(OTHER)
        taps = recorder.wait_taps(1)
        stats = reader.stats()
    assert [t.code for t in taps] == [OTHER]
    assert stats.frames.rejected["checksum"] >= 1
    assert stats.frames.accepted == 1
