"""The interactive shell behind ``posjaga sim gpio``.

Mock pins live in one process, so the shell owns everything: a MockFactory, the simulator,
and the same LampRelay / LineMonitor drivers the services use, all on that one factory. It
prints every lamp and debounced line change as it happens.
"""

from __future__ import annotations

import argparse
import cmd
import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

from .errors import GpioError
from .lamp import LampRelay
from .lines import LineChange, LineMonitor
from .pinout import COS, PTT, GpioPinout, LineSpec
from .poller import PollLoop
from .simulator import GpioSimulator, SimLamp

_ON = {"on", "1", "active", "true", "yes"}
_OFF = {"off", "0", "inactive", "false", "no"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posjaga sim gpio",
        description="Simulate the guard post's GPIO wiring in this process and drive it by hand.",
    )
    parser.add_argument("--relay-pin", type=int, default=17, help="BCM pin of the lamp relay")
    parser.add_argument("--relay-active-low", action="store_true", help="relay switches on LOW")
    parser.add_argument("--feedback-pin", type=int, default=27, help="BCM pin of lamp feedback")
    parser.add_argument("--no-feedback", action="store_true", help="no lamp feedback input")
    parser.add_argument("--cos-pin", type=int, default=22, help="BCM pin of radio COS")
    parser.add_argument("--ptt-pin", type=int, default=23, help="BCM pin of PTT sense")
    parser.add_argument("--debounce-ms", type=float, default=50.0, help="line debounce")
    parser.add_argument(
        "--lamp-initial", choices=("on", "off"), default="off", help="relay state at start"
    )
    return parser


def pinout_from_args(args: argparse.Namespace) -> GpioPinout:
    return GpioPinout(
        relay_pin=args.relay_pin,
        relay_active_high=not args.relay_active_low,
        feedback_pin=None if args.no_feedback else args.feedback_pin,
        lines=(LineSpec(COS, args.cos_pin), LineSpec(PTT, args.ptt_pin)),
        debounce_s=args.debounce_ms / 1000.0,
    )


def run(argv: list[str], *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    out = stdout if stdout is not None else sys.stdout
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse has already printed usage or help
        return int(exc.code or 0)
    try:
        shell = SimShell(pinout_from_args(args), args.lamp_initial == "on", stdin, out)
    except GpioError as exc:
        print(f"error: {exc}", file=sys.stderr if stdout is None else out)
        return 1
    try:
        shell.cmdloop()
    finally:
        shell.close()
    return 0


class SimShell(cmd.Cmd):
    intro = "GPIO simulator: type 'help' for commands, 'quit' to leave."

    def __init__(
        self, pinout: GpioPinout, lamp_on: bool, stdin: TextIO | None, stdout: TextIO
    ) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        interactive = stdin is None and sys.stdin.isatty()
        self.use_rawinput = stdin is None
        self.prompt = "sim> " if interactive else ""
        self.intro = self.intro if interactive else None  # keep scripted output to events
        self._print_lock = threading.Lock()
        self._start = time.monotonic()
        self.sim = GpioSimulator(pinout=pinout, on_lamp_change=self._lamp_changed)
        self.relay: LampRelay | None = None
        self.monitors: dict[str, LineMonitor] = {}
        self._open_devices(pinout, lamp_on)
        self._poller = PollLoop(self.monitors.values(), interval_s=0.01)
        self._poller.start()

    def _open_devices(self, pinout: GpioPinout, lamp_on: bool) -> None:
        factory = self.sim.factory
        try:
            self.relay = LampRelay(
                pinout.relay_pin,
                initial_on=lamp_on,
                active_high=pinout.relay_active_high,
                feedback_pin=pinout.feedback_pin,
                feedback_active_high=pinout.feedback_active_high,
                feedback_pull_up=pinout.feedback_pull_up,
                pin_factory=factory,
            )
            for spec in pinout.lines:
                self.monitors[spec.name] = LineMonitor(
                    spec.pin,
                    spec.name,
                    pull_up=spec.pull_up,
                    active_state=spec.active_state,
                    debounce_s=pinout.debounce_s,
                    on_change=self._line_changed,
                    pin_factory=factory,
                )
        except GpioError:
            self.close()
            raise

    def close(self) -> None:
        if hasattr(self, "_poller"):
            self._poller.stop()
        for monitor in self.monitors.values():
            monitor.close()
        if self.relay is not None:
            self.relay.close()

    # -- output ----------------------------------------------------------------------------

    def say(self, text: str) -> None:
        with self._print_lock:
            self.stdout.write(text + "\n")
            self.stdout.flush()

    def _stamp(self) -> str:
        return f"[{time.monotonic() - self._start:8.3f}s]"

    def _lamp_changed(self, state: SimLamp) -> None:
        relay = "energised" if state.relay_energised else "released"
        lamp = "lit" if state.lamp_lit else "dark"
        self.say(f"{self._stamp()} relay {relay}, lamp {lamp}")

    def _line_changed(self, change: LineChange) -> None:
        self.say(f"{self._stamp()} line {change.name} {'ACTIVE' if change.active else 'idle'}")

    # -- commands --------------------------------------------------------------------------

    def emptyline(self) -> bool:
        return False  # an empty line must not repeat the last command (it may be "lamp on")

    def default(self, line: str) -> bool:
        self.say(f"unknown command {line.split()[0]!r}; type 'help'.")
        return False

    def do_lamp(self, arg: str) -> None:
        """lamp on|off: switch the relay through LampRelay, as the lamp service would."""
        self._guard(lambda: self._require_relay().set(_parse_on_off(arg)))

    def do_line(self, arg: str) -> None:
        """line NAME on|off: hold a radio line active or idle."""
        parts = arg.split()
        if len(parts) != 2:
            self.say("usage: line NAME on|off")
            return
        self._guard(lambda: self.sim.set_line(parts[0], _parse_on_off(parts[1])))

    def do_cos(self, arg: str) -> None:
        """cos on|off: squelch open / closed (received traffic)."""
        self.do_line(f"{COS} {arg}")

    def do_ptt(self, arg: str) -> None:
        """ptt on|off: our own transmitter keyed / released."""
        self.do_line(f"{PTT} {arg}")

    def do_key(self, arg: str) -> None:
        """key SECONDS: key PTT for that long (the shell waits meanwhile)."""
        self._guard(lambda: self.sim.key_ptt(_parse_seconds(arg)))

    def do_carrier(self, arg: str) -> None:
        """carrier SECONDS: open squelch for that long (the shell waits meanwhile)."""
        self._guard(lambda: self.sim.carrier(_parse_seconds(arg)))

    def do_bounce(self, arg: str) -> None:
        """bounce NAME on|off [N]: N fast edges (default 5) ending at the given level."""
        parts = arg.split()
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
            self.say("usage: bounce NAME on|off [N]")
            return
        count = int(parts[2]) if len(parts) == 3 else 5
        self._guard(lambda: self.sim.bounce(parts[0], _parse_on_off(parts[1]), count))

    def do_break(self, arg: str) -> None:
        """break: the bulb burns out (feedback stays dark)."""
        self.sim.break_bulb()
        self.say("bulb broken")

    def do_stick(self, arg: str) -> None:
        """stick [closed|open]: weld the relay contacts (default closed)."""
        closed = (arg.strip() or "closed") != "open"
        self.sim.stick_relay(closed)
        self.say(f"relay stuck {'closed' if closed else 'open'}")

    def do_repair(self, arg: str) -> None:
        """repair: a new bulb and a free relay."""
        self.sim.repair()
        self.say("bulb and relay repaired")

    def do_wait(self, arg: str) -> None:
        """wait SECONDS: pause (useful when commands come from a file)."""
        self._guard(lambda: time.sleep(_parse_seconds(arg)))

    def do_status(self, arg: str) -> None:
        """status: relay, lamp, feedback and line states."""
        relay = self._require_relay()
        feedback = relay.feedback_lit
        fb_text = "not wired" if feedback is None else ("lit" if feedback else "dark")
        self.say(
            f"relay commanded {'on' if relay.is_commanded_on else 'off'}, "
            f"lamp {'lit' if self.sim.lamp_lit() else 'dark'}, feedback {fb_text}, "
            f"faults: {self.sim.describe_faults()}"
        )
        for name, monitor in self.monitors.items():
            self.say(f"line {name}: {'ACTIVE' if monitor.is_active else 'idle'}")

    def do_quit(self, arg: str) -> bool:
        """quit: leave the simulator."""
        return True

    do_exit = do_quit

    def do_EOF(self, arg: str) -> bool:  # noqa: N802 - name fixed by cmd.Cmd
        return True

    def _require_relay(self) -> LampRelay:
        if self.relay is None:
            raise GpioError("the lamp relay is not open.")
        return self.relay

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except (GpioError, ValueError) as exc:
            self.say(f"error: {exc}")


def _parse_on_off(text: str) -> bool:
    word = text.strip().lower()
    if word in _ON:
        return True
    if word in _OFF:
        return False
    raise ValueError(f"expected on or off, not {text.strip()!r}.")


def _parse_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"expected a number of seconds, not {text.strip()!r}.") from None
    if seconds < 0 or seconds != seconds:
        raise ValueError("seconds must be zero or more.")
    return seconds
