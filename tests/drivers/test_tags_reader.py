"""TagReader: link states, replug without restart, the iterator API, callbacks and close."""

from __future__ import annotations

import errno
import os
import threading
from typing import Any

import pytest
import serial

from drivers.tags import LinkLost, TagReader, TagReaderConfig, explain
from drivers.tags.simulator import PtyTagReaderSim
from drivers.tags.testing import ManualClock, TapRecorder

FAST: dict[str, Any] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2}
CASES = [("line", "CP-9"), ("rdm6300", "62E3086CED"), ("pn532", "DEADBEEF")]


def fast(url: str, name: str, **options: object) -> TagReaderConfig:
    return TagReaderConfig(url=url, name=name, **FAST, **options)  # type: ignore[arg-type]


def reader_threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == f"tags-{name}"]


@pytest.mark.parametrize(("framing", "code"), CASES)
def test_unplugged_reader_is_reported_down_and_reopened_after_replug(framing: str, code: str) -> None:
    clock, recorder = ManualClock(), TapRecorder()
    with PtyTagReaderSim("gate", framing) as sim:  # type: ignore[arg-type]
        config = fast(sim.url, "gate", framing=framing, pn532_poll_interval_s=0.02)
        with TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link, clock=clock) as reader:
            assert recorder.wait_link(True) is not None
            first_pty = sim.slave_path
            sim.tap(code)
            recorder.wait_taps(1)
            sim.unplug()
            assert not os.path.lexists(sim.path)
            down = recorder.wait_link(False)
            assert down is not None
            assert down.reason.startswith(f"Reader 'gate' on {sim.url} is down: ")
            assert "unplugged?" in down.reason
            # While it stays away the reason follows the retries; the callback heard it once.
            assert recorder.wait_for(lambda: "node is missing" in (reader.stats().down_reason or ""))
            assert "'gate'" in (reader.stats().down_reason or "")
            sim.replug()
            assert os.path.realpath(sim.path) == sim.slave_path
            assert recorder.wait_link(True) is not None
            clock.advance(5.0)  # a new tap of the same card, not a held one
            sim.tap(code)
            taps = recorder.wait_taps(2)
            assert reader.stats().opens == 2
    assert first_pty is not None
    assert [t.code for t in taps] == [code, code]
    assert [event.up for event in recorder.links] == [True, False, True]
    assert reader_threads("gate") == []


def test_missing_port_is_down_with_a_sentence_naming_it(tmp_path: os.PathLike[str]) -> None:
    recorder = TapRecorder()
    url = os.path.join(os.fspath(tmp_path), "usb-nothing-here")
    with TagReader(fast(url, "roof"), on_link=recorder.on_link) as reader:
        event = recorder.wait_link(False)
        assert event is not None
        expected = f"Reader 'roof' on {url} is down: the device node is missing (unplugged?)."
        assert event.reason == expected
        assert "\n" not in event.reason
        assert reader.stats().opens == 0


def test_reader_appears_after_start_without_restart(tmp_path: os.PathLike[str]) -> None:
    recorder = TapRecorder()
    directory = os.fspath(tmp_path)
    with PtyTagReaderSim("late", "line", directory=directory) as sim:
        sim.unplug()
        with TagReader(fast(sim.url, "late"), on_tap=recorder.on_tap, on_link=recorder.on_link):
            assert recorder.wait_link(False) is not None
            sim.replug()
            assert recorder.wait_link(True) is not None
            sim.tap("HELLO")
            assert [t.code for t in recorder.wait_taps(1)] == ["HELLO"]


def test_iterator_api_without_callback_ends_on_close() -> None:
    with PtyTagReaderSim("hall", "line") as sim:
        recorder = TapRecorder()
        reader = TagReader(fast(sim.url, "hall"), on_link=recorder.on_link).start()
        assert recorder.wait_link(True) is not None
        for code in ("A1", "B2", "C3"):
            sim.tap(code)
        first = reader.get(timeout_s=10)
        assert first is not None and first.code == "A1"
        collected: list[str] = []
        for tap in reader:
            collected.append(tap.code)
            if len(collected) == 2:
                reader.close()
    assert collected == ["B2", "C3"]
    assert reader.get(timeout_s=0) is None
    assert reader_threads("hall") == []


def test_full_queue_keeps_the_newest_taps_and_counts_the_rest() -> None:
    with PtyTagReaderSim("hall", "line") as sim:
        recorder = TapRecorder()
        with TagReader(fast(sim.url, "hall"), on_link=recorder.on_link, queue_size=2) as reader:
            assert recorder.wait_link(True) is not None
            sim.write_raw(b"".join(f"T{i}\r".encode() for i in range(5)))
            assert recorder.wait_for(lambda: reader.stats().taps == 5)
            assert reader.stats().dropped_taps == 3
            assert [reader.get(0).code, reader.get(0).code] == ["T3", "T4"]  # type: ignore[union-attr]


def test_failing_callback_is_counted_and_does_not_stop_the_reader() -> None:
    recorder = TapRecorder()

    def flaky(tap: object) -> None:
        recorder.on_tap(tap)  # type: ignore[arg-type]
        if len(recorder.taps) == 1:
            raise RuntimeError("consumer bug")

    with PtyTagReaderSim("hall", "line") as sim:
        with TagReader(fast(sim.url, "hall"), on_tap=flaky, on_link=recorder.on_link) as reader:
            assert recorder.wait_link(True) is not None
            sim.tap("ONE")
            sim.tap("TWO")
            assert [t.code for t in recorder.wait_taps(2)] == ["ONE", "TWO"]
            assert reader.stats().callback_errors == 1
            assert reader.stats().link_up


def test_loop_url_opens_and_close_joins_the_thread() -> None:
    recorder = TapRecorder()
    reader = TagReader(fast("loop://", "loop"), on_link=recorder.on_link).start()
    event = recorder.wait_link(True)
    reader.close()
    reader.close()
    assert event is not None and event.reason == "Reader 'loop' on loop:// is up: listening."
    assert reader_threads("loop") == []


def test_unknown_url_scheme_is_down_not_a_crash() -> None:
    recorder = TapRecorder()
    with TagReader(fast("nosuch://x", "odd"), on_link=recorder.on_link):
        event = recorder.wait_link(False)
    assert event is not None and event.reason.startswith("Reader 'odd' on nosuch://x is down: ")


@pytest.mark.parametrize(
    "kwargs",
    [{"url": ""}, {"url": "/dev/x", "framing": "morse"}, {"url": "/dev/x", "hold_s": -1},
     {"url": "/dev/x", "reconnect_min_s": 5, "reconnect_max_s": 1}, {"url": "/dev/x", "baudrate": 0}],
)
def test_invalid_config_is_refused_in_one_sentence(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"^Reader config for .* is invalid: [^\n]*\.$"):
        TagReaderConfig(**kwargs)  # type: ignore[arg-type]


def test_defaults_follow_the_framing() -> None:
    assert TagReaderConfig(url="/dev/x", framing="pn532").effective_baudrate == 115200
    assert TagReaderConfig(url="/dev/x", framing="rdm6300").effective_hold_s == 1.0
    assert TagReaderConfig(url="/dev/x").effective_hold_s == 0.0
    assert TagReaderConfig(url="/dev/ttyUSB0").reader_name == "/dev/ttyUSB0"


@pytest.mark.parametrize(
    ("exc", "clause"),
    [
        (serial.SerialException(errno.EACCES, "could not open port /dev/ttyUSB0: denied"), "dialout"),
        (serial.SerialException("read failed: [Errno 5] Input/output error"), "I/O error"),
        (serial.SerialException(errno.EBUSY, "could not open port x: busy"), "busy"),
        (serial.SerialException("socket disconnected"), "closed the connection"),
        (serial.SerialException("Could not open port socket://h:1: [Errno 111] refused"), "refused"),
        (LinkLost("The PN532 on /dev/ttyS0 stopped answering."), "the PN532 on /dev/ttyS0 stopped"),
        (serial.SerialException("something odd\nwith a second line"), "something odd"),
    ],
)
def test_errors_become_short_clauses(exc: Exception, clause: str) -> None:
    text = explain(exc)
    assert clause in text
    assert "\n" not in text and not text.endswith(".")
