"""PN532 over HSU: the real driver and real pyserial against the simulated chip on a pty."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import serial

from drivers.tags import PN532, Pn532ErrorFrame, Pn532Timeout, TagReader, TagReaderConfig, Target
from drivers.tags.pn532 import (
    CMD_GET_FIRMWARE_VERSION,
    CMD_IN_LIST_PASSIVE_TARGET,
    CMD_RF_CONFIGURATION,
    CMD_SAM_CONFIGURATION,
)
from drivers.tags.simulator import PtyTagReaderSim
from drivers.tags.testing import ManualClock, TapRecorder

UID7 = "04A1B2C3D4E5F6"
Sim = PtyTagReaderSim
Port = serial.SerialBase


@pytest.fixture
def tags_chip() -> Iterator[PtyTagReaderSim]:
    with PtyTagReaderSim("desk", "pn532") as sim:
        yield sim


@pytest.fixture
def tags_port(tags_chip: PtyTagReaderSim) -> Iterator[serial.SerialBase]:
    port = serial.serial_for_url(tags_chip.url, baudrate=115200, timeout=0.02)
    yield port
    port.close()


def driver(port: serial.SerialBase, response_timeout_s: float = 0.5) -> PN532:
    return PN532(port, ack_timeout_s=0.15, response_timeout_s=response_timeout_s)


def test_handshake_wakes_and_configures_before_polling(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port)
    firmware = pn532.begin()
    assert str(firmware) == "PN532 firmware 1.6"
    assert tags_chip.pn532.commands == [
        CMD_SAM_CONFIGURATION, CMD_GET_FIRMWARE_VERSION, CMD_RF_CONFIGURATION
    ]
    assert pn532.read_passive_target() is None
    assert tags_chip.pn532.commands[-1] == CMD_IN_LIST_PASSIVE_TARGET


@pytest.mark.parametrize("uid", ["DEADBEEF", UID7, "0102030405060708090A"])
def test_reads_4_7_and_10_byte_uids(tags_chip: Sim, tags_port: Port, uid: str) -> None:
    pn532 = driver(tags_port)
    pn532.begin()
    tags_chip.tap(uid)
    target = pn532.read_passive_target()
    assert isinstance(target, Target)
    assert target.uid_hex == uid
    assert pn532.read_passive_target() is None  # a tap answers one poll only


def test_an_asleep_chip_ignores_commands_until_woken(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port)
    with pytest.raises(Pn532Timeout, match=tags_chip.url):
        pn532.sam_configuration()  # no wake-up preamble sent
    assert tags_chip.pn532.commands == []
    pn532.begin()
    assert tags_chip.pn532.commands[0] == CMD_SAM_CONFIGURATION


def test_bad_response_checksum_is_recovered_with_a_nack(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port, response_timeout_s=0.2)
    pn532.begin()
    tags_chip.pn532.corrupt_next_responses(1)
    tags_chip.tap("DEADBEEF")
    target = pn532.read_passive_target()
    assert target is not None and target.uid_hex == "DEADBEEF"
    assert pn532.counters["nacks_sent"] == 1


def test_error_frame_raises_and_the_next_poll_works(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port)
    pn532.begin()
    tags_chip.pn532.error_next_responses(1)
    with pytest.raises(Pn532ErrorFrame, match="error frame"):
        pn532.read_passive_target()
    tags_chip.tap(UID7)
    target = pn532.read_passive_target()
    assert target is not None and target.uid_hex == UID7


def test_silent_chip_times_out_with_a_one_sentence_message(tags_chip: Sim, tags_port: Port) -> None:
    tags_chip.pn532.responsive = False
    with pytest.raises(Pn532Timeout) as caught:
        driver(tags_port).begin()
    message = str(caught.value)
    assert message == f"The PN532 on {tags_chip.url} did not acknowledge command 0x14."


def test_unbounded_poll_is_answered_when_a_card_arrives(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port, response_timeout_s=10.0)
    pn532.wake()
    pn532.sam_configuration()  # MaxRetries left at 0xFF: the chip waits for a card
    result: list[Target | None] = []
    poll = threading.Thread(target=lambda: result.append(pn532.read_passive_target()))
    poll.start()
    recorder = TapRecorder()
    assert recorder.wait_for(lambda: CMD_IN_LIST_PASSIVE_TARGET in tags_chip.pn532.commands)
    tags_chip.tap("DEADBEEF")
    poll.join(15)
    assert [t.uid_hex for t in result if t] == ["DEADBEEF"]


def test_unanswered_poll_is_aborted_and_the_chip_stays_usable(tags_chip: Sim, tags_port: Port) -> None:
    pn532 = driver(tags_port, response_timeout_s=0.1)
    pn532.wake()
    pn532.sam_configuration()
    with pytest.raises(Pn532Timeout, match="did not answer command 0x4A"):
        pn532.read_passive_target()
    pn532.set_passive_retries(1)
    tags_chip.tap(UID7)
    target = pn532.read_passive_target()
    assert target is not None and target.uid_hex == UID7


def pn532_reader(sim: PtyTagReaderSim, recorder: TapRecorder, clock: ManualClock) -> TagReader:
    config = TagReaderConfig(
        url=sim.url, framing="pn532", name="desk", location="Front desk", hold_s=1.0,
        reconnect_min_s=0.05, reconnect_max_s=0.2, pn532_poll_interval_s=0.02,
        pn532_ack_timeout_s=0.1, pn532_response_timeout_s=0.2,
    )
    return TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link, clock=clock)


def test_card_held_on_the_reader_is_one_tap(tags_chip: PtyTagReaderSim) -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with pn532_reader(tags_chip, recorder, clock) as reader:
        event = recorder.wait_link(True)
        assert event is not None and "PN532 firmware 1.6" in event.reason
        tags_chip.present(UID7)
        assert recorder.wait_for(lambda: reader.stats().frames.folded >= 5)
        tags_chip.remove()
        clock.advance(2.0)
        tags_chip.hold("DEADBEEF", 3)
        assert recorder.wait_for(lambda: tags_chip.pn532.cards_waiting == 0)
        taps = recorder.wait_taps(2)
    assert [(t.code, t.kind, t.location) for t in taps] == [
        (UID7, "nfc-a", "Front desk"), ("DEADBEEF", "nfc-a", "Front desk")
    ]


def test_silent_chip_is_reported_down_then_recovers(tags_chip: PtyTagReaderSim) -> None:
    clock, recorder = ManualClock(), TapRecorder()
    tags_chip.pn532.responsive = False
    with pn532_reader(tags_chip, recorder, clock) as reader:
        down = recorder.wait_link(False)
        assert down is not None
        assert down.reason == (
            f"Reader 'desk' on {tags_chip.url} is down: the PN532 on {tags_chip.url} "
            "did not acknowledge command 0x14."
        )
        tags_chip.pn532.responsive = True
        assert recorder.wait_link(True) is not None
        tags_chip.tap(UID7)
        assert [t.code for t in recorder.wait_taps(1)] == [UID7]
        assert not reader.stats().down_reason


def test_chip_that_stops_answering_mid_session_is_woken_again(tags_chip: PtyTagReaderSim) -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with pn532_reader(tags_chip, recorder, clock) as reader:
        assert recorder.wait_link(True) is not None
        tags_chip.pn532.responsive = False
        down = recorder.wait_link(False)
        assert down is not None and "stopped answering" in down.reason
        tags_chip.pn532.responsive = True
        assert recorder.wait_link(True) is not None
        tags_chip.tap("DEADBEEF")
        assert [t.code for t in recorder.wait_taps(1)] == ["DEADBEEF"]
        assert reader.stats().opens >= 2


def test_line_noise_towards_the_host_does_not_stop_polling(tags_chip: PtyTagReaderSim) -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with pn532_reader(tags_chip, recorder, clock) as reader:
        assert recorder.wait_link(True) is not None
        # A header whose LEN swallows the next real answer, then every byte value.
        tags_chip.garbage(bytes.fromhex("00ff05fbd54b010203 0000ff1011") + bytes(range(256)))
        tags_chip.tap(UID7)
        assert [t.code for t in recorder.wait_taps(1)] == [UID7]
        assert reader.stats().frames.rejected_total >= 1
