"""The pty simulator itself and its CLI, checked with the real TagReader on the other end."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from drivers.tags import TagReader, TagReaderConfig
from drivers.tags.simulator import PtyTagReaderSim, cli, parse_command, parse_script
from drivers.tags.testing import TapRecorder

FAST: dict[str, Any] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2}


def test_stable_path_is_a_symlink_to_the_current_pty(tmp_path: Path) -> None:
    with PtyTagReaderSim("gate 1", "rdm6300", directory=str(tmp_path)) as sim:
        assert Path(sim.path).parent == tmp_path
        assert os.path.islink(sim.path)
        assert os.path.realpath(sim.path) == sim.slave_path
        sim.unplug()
        assert not os.path.lexists(sim.path) and sim.slave_path is None
        with pytest.raises(RuntimeError, match="unplugged"):
            sim.tap("62E3086CED")
        sim.replug()
        assert os.path.realpath(sim.path) == sim.slave_path
    assert not os.path.lexists(sim.path)
    assert tmp_path.exists()  # a folder we were given is left in place


def test_own_temp_folder_is_removed_on_close() -> None:
    sim = PtyTagReaderSim("x")
    folder = Path(sim.path).parent
    sim.close()
    assert not folder.exists()


def test_encodings_and_misuse() -> None:
    with PtyTagReaderSim("a", "line", terminator=b"\r", stx=True) as line:
        assert line.encode("CP-1") == b"\x02CP-1\r"
        assert line.encode("CP-1", terminator=b"\n", stx=False) == b"CP-1\n"
        with pytest.raises(ValueError, match="not pn532"):
            line.present("DEADBEEF")
    with PtyTagReaderSim("b", "pn532") as chip:
        with pytest.raises(ValueError, match="4, 7 or 10 bytes"):
            chip.tap("0102")
        with pytest.raises(ValueError, match="4, 7 or 10 bytes"):
            chip.tap("not hex")
    with PtyTagReaderSim("c", "rdm6300") as em:
        with pytest.raises(ValueError, match="10 hex chars"):
            em.tap("62E3086CEZ")
    with pytest.raises(ValueError, match="not 'morse'"):
        PtyTagReaderSim("d", "morse")  # type: ignore[arg-type]


def test_seeded_garbage_is_reproducible() -> None:
    first, second = PtyTagReaderSim("a", "rdm6300", seed=3), PtyTagReaderSim("b", "rdm6300", seed=3)
    with first, second:
        assert first.garbage(64) == second.garbage(64)
        assert first.garbage(b"\x01\x02") == b"\x01\x02"


def test_replay_taps_in_order_with_delays_or_times() -> None:
    recorder = TapRecorder()
    slept: list[float] = []
    now = [0.0]

    def fake_sleep(seconds: float) -> None:
        slept.append(round(seconds, 6))
        now[0] += seconds

    with PtyTagReaderSim("patrol", "line") as sim:
        config = TagReaderConfig(url=sim.url, name="patrol", **FAST)
        with TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link):
            assert recorder.wait_link(True) is not None
            assert sim.replay([(0.5, "CP-1"), (0.0, "CP-2"), (2.0, "CP-3")], sleep=fake_sleep) == 3
            by_time = [(1.0, "CP-4"), (4.0, "CP-5")]
            assert sim.replay(by_time, timing="time", sleep=fake_sleep, clock=lambda: now[0]) == 2
            taps = recorder.wait_taps(5)
    assert [t.code for t in taps] == ["CP-1", "CP-2", "CP-3", "CP-4", "CP-5"]
    assert slept == [0.5, 2.0, 1.0, 3.0]


def test_script_language() -> None:
    steps = parse_script(["# patrol", "", "+0.5 CP-1", "2 @gate !hold 62E3086CED 3", "+0 !unplug"])
    seen = [(s.seconds, s.relative, s.command.action, s.command.reader, s.command.args) for s in steps]
    assert seen == [
        (0.5, True, "tap", None, ("CP-1",)),
        (2.0, False, "hold", "gate", ("62E3086CED", "3")),
        (0.0, True, "unplug", None, ()),
    ]
    spaced = parse_command("QR code with spaces")
    assert spaced is not None and spaced.args == ("QR code with spaces",)
    with pytest.raises(ValueError, match="line 1"):
        parse_script(["soon CP-1"])
    with pytest.raises(ValueError):
        parse_command("!hold CP-1")


def test_cli_typed_codes_reach_a_real_reader(tmp_path: Path) -> None:
    read_end, write_end = os.pipe()
    out = io.StringIO()
    with os.fdopen(read_end, "r") as stdin, os.fdopen(write_end, "w") as typing:
        argv = ["--dir", str(tmp_path), "--reader", "gate:line", "--reader", "stairs:rdm6300",
                "--terminator", "cr"]
        result: list[int] = []
        runner = threading.Thread(target=lambda: result.append(cli(argv, stdin=stdin, stdout=out)))
        runner.start()
        gate = tmp_path / "usb-posjaga_sim_line_gate-if00-port0"
        stairs = tmp_path / "usb-posjaga_sim_rdm6300_stairs-if00-port0"
        recorder = TapRecorder()
        assert recorder.wait_for(lambda: gate.exists() and stairs.exists())
        configs = [TagReaderConfig(url=str(gate), name="gate", **FAST),
                   TagReaderConfig(url=str(stairs), framing="rdm6300", name="stairs", **FAST)]
        readers = [TagReader(c, on_tap=recorder.on_tap, on_link=recorder.on_link) for c in configs]
        for reader in readers:
            reader.start()
        try:
            assert recorder.wait_for(lambda: sum(e.up for e in recorder.links) == 2)
            typing.write("CP-GATE-1\n@stairs 62E3086CED\n!bogus\n@nobody X\n")
            typing.flush()
            taps = recorder.wait_taps(2)
            typing.write("!quit\n")
            typing.flush()
            runner.join(10)
        finally:
            for reader in readers:
                reader.close()
    assert result == [0]
    assert sorted((t.reader, t.code) for t in taps) == [("gate", "CP-GATE-1"), ("stairs", "62E3086CED")]
    printed = out.getvalue()
    assert f"gate (line): {gate}" in printed
    assert "Unknown command" in printed and "no reader called 'nobody'" in printed


def test_cli_script_runs_and_reports(tmp_path: Path) -> None:
    script = tmp_path / "patrol.txt"
    lines = ["0 @desk !garbage hex:0102", "+0 @desk !unplug", "+0 @desk !replug", "+0 @desk !present DEADBEEF"]
    script.write_text("\n".join(lines) + "\n")
    out = io.StringIO()
    code = cli(["--reader", "desk:pn532", "--script", str(script), "--linger", "0"], stdout=out)
    assert code == 0
    assert out.getvalue().splitlines()[1:] == [
        "desk: garbage hex:0102", "desk: unplug", "desk: replug", "desk: present DEADBEEF",
    ]


def test_cli_refuses_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("later CP-1\n")
    assert cli(["--script", str(script)]) == 2
    assert cli(["--reader", "x:morse"]) == 2
    assert "posjaga sim tags:" in capsys.readouterr().err
