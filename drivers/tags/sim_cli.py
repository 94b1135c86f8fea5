"""``posjaga sim tags``: simulated readers a person can tap from the keyboard or a script."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from typing import TextIO, get_args

from .model import FramingKind
from .pty_sim import PtyTagReaderSim
from .sim_script import ScriptStep, SimCommand, garbage_bytes, parse_command, parse_script

_TERMINATORS = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
_HELP_EPILOG = """\
commands (typed, or after a time in a script line):
  CODE                  tap CODE on the first reader (for pn532 CODE is a UID in hex)
  @NAME CODE            tap CODE on reader NAME
  !hold CODE N          N repeated frames (pn532: the card answers N polls)
  !garbage N|hex:BYTES  send noise
  !present UID/!remove  pn532: leave a card on the reader / take it away
  !unplug / !replug     pull the cable and plug it back
  !quit
script lines: '+0.5 CODE' = 0.5 s after the previous line, '3 CODE' = 3 s after the start
"""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="posjaga sim tags",
        description="Simulated checkpoint readers on pseudo-terminals.",
        epilog=_HELP_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--reader", action="append", metavar="NAME[:FRAMING]",
                        help="a reader to simulate, repeatable; FRAMING is line (default), "
                             "rdm6300 or pn532")
    parser.add_argument("--terminator", choices=sorted(_TERMINATORS), default="crlf",
                        help="line end of line readers (default crlf)")
    parser.add_argument("--stx", action="store_true", help="line readers prefix codes with STX")
    parser.add_argument("--dir", help="folder for the stable reader paths (default: a temp folder)")
    parser.add_argument("--script", type=argparse.FileType("r"),
                        help="run commands from FILE instead of typing")
    parser.add_argument("--linger", type=float, default=2.0,
                        help="seconds to keep the readers after a script so the last taps are read")
    parser.add_argument("--seed", type=int, help="seed for random garbage")
    return parser


def _reader_specs(values: list[str] | None) -> list[tuple[str, FramingKind]]:
    specs = []
    for value in values or ["checkpoint:line"]:
        name, _, framing = value.partition(":")
        framing = framing or "line"
        if not name or framing not in get_args(FramingKind):
            raise ValueError(f"Reader {value!r} is not NAME[:line|rdm6300|pn532].")
        specs.append((name, framing))
    if len({name for name, _ in specs}) != len(specs):
        raise ValueError("Reader names must be unique.")
    return specs  # type: ignore[return-value]


class _Console:
    """Runs commands against the simulated readers and reports in one line each."""

    def __init__(self, sims: dict[str, PtyTagReaderSim], out: TextIO) -> None:
        self._sims = sims
        self._default = next(iter(sims))
        self._out = out

    def say(self, text: str) -> None:
        print(text, file=self._out, flush=True)

    def run(self, command: SimCommand) -> bool:
        """Carry out one command; False when the user asked to quit."""
        if command.action == "quit":
            return False
        name = command.reader or self._default
        sim = self._sims.get(name)
        if sim is None:
            self.say(f"There is no reader called {name!r}.")
            return True
        try:
            self.say(self._apply(sim, command))
        except (ValueError, RuntimeError, TimeoutError, OSError) as exc:
            self.say(f"{name}: {exc}")
        return True

    def _apply(self, sim: PtyTagReaderSim, command: SimCommand) -> str:
        action, args = command.action, command.args
        actions: dict[str, Callable[[], object]] = {
            "tap": lambda: sim.tap(args[0]),
            "hold": lambda: sim.hold(args[0], int(args[1])),
            "garbage": lambda: sim.garbage(garbage_bytes(args[0])),
            "present": lambda: sim.present(args[0]),
            "remove": sim.remove,
            "unplug": sim.unplug,
            "replug": sim.replug,
        }
        actions[action]()
        detail = f" {' '.join(args)}" if args else ""
        return f"{sim.name}: {action}{detail}"


def _run_script(console: _Console, steps: list[ScriptStep]) -> None:
    start = previous = time.monotonic()
    for step in steps:
        due = (previous if step.relative else start) + step.seconds
        time.sleep(max(0.0, due - time.monotonic()))
        previous = time.monotonic()
        if not console.run(step.command):
            return


def _run_typed(console: _Console, stdin: TextIO) -> None:
    console.say("Type a code and Enter to tap it; !quit or end of input stops.")
    for line in stdin:
        try:
            command = parse_command(line)
        except ValueError as exc:
            console.say(str(exc))
            continue
        if command is not None and not console.run(command):
            return


def cli(argv: list[str], *, stdin: TextIO | None = None, stdout: TextIO | None = None) -> int:
    """Entry point for ``posjaga sim tags``; returns the process exit code."""
    out = stdout or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        specs = _reader_specs(args.reader)
        steps = parse_script(args.script) if args.script else None
    except ValueError as exc:
        print(f"posjaga sim tags: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.script:
            args.script.close()
    terminator = _TERMINATORS[args.terminator]
    with ExitStack() as stack:
        directory = args.dir or stack.enter_context(
            tempfile.TemporaryDirectory(prefix="posjaga-tags-")
        )
        sims = {
            name: stack.enter_context(
                PtyTagReaderSim(name, framing, terminator=terminator, stx=args.stx,
                                directory=directory, seed=args.seed)
            )
            for name, framing in specs
        }
        console = _Console(sims, out)
        for sim in sims.values():
            console.say(f"{sim.name} ({sim.framing}): {sim.path}")
        try:
            if steps is None:
                _run_typed(console, stdin or sys.stdin)
            else:
                _run_script(console, steps)
                time.sleep(max(0.0, args.linger))
        except KeyboardInterrupt:
            console.say("Stopped.")
    return 0
