"""The small command language of the simulator CLI, typed or read from a script file.

A command is ``[@reader] CODE`` or ``[@reader] !action args``; actions are hold CODE N,
garbage N|hex:BYTES, present UID, remove, unplug, replug and quit. A script line puts a
time first: ``+0.5`` is seconds after the previous line, ``3`` is seconds since the start.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

_ARITY = {"hold": 2, "garbage": 1, "present": 1, "remove": 0, "unplug": 0, "replug": 0, "quit": 0}


@dataclass(frozen=True, slots=True)
class SimCommand:
    action: str  # "tap" or one of the ! actions
    reader: str | None
    args: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScriptStep:
    seconds: float
    relative: bool
    command: SimCommand


def parse_command(text: str) -> SimCommand | None:
    """None for a blank line or a # comment; ValueError with one sentence otherwise."""
    text = text.strip()
    if not text or text.startswith("#"):
        return None
    reader = None
    if text.startswith("@"):
        reader, _, text = text[1:].partition(" ")
        text = text.strip()
        if not reader or not text:
            raise ValueError("A command after @reader is missing.")
    if not text.startswith("!"):
        return SimCommand("tap", reader, (text,))
    action, *args = text[1:].split()
    if action not in _ARITY or len(args) != _ARITY[action]:
        raise ValueError(f"Unknown command or wrong arguments: {text!r} (see --help).")
    return SimCommand(action, reader, tuple(args))


def parse_script(lines: Iterable[str]) -> list[ScriptStep]:
    steps: list[ScriptStep] = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        when, _, rest = stripped.partition(" ")
        try:
            seconds = float(when)
            command = parse_command(rest)
        except ValueError as exc:
            raise ValueError(f"Script line {number} is not '<seconds> <command>': {exc}") from None
        if command is None or seconds < 0:
            raise ValueError(f"Script line {number} needs a non-negative time and a command.")
        steps.append(ScriptStep(seconds, when.startswith("+"), command))
    return steps


def garbage_bytes(spec: str) -> bytes | int:
    """'hex:0102ff' gives those bytes, a number gives that many random bytes."""
    if spec.startswith("hex:"):
        return bytes.fromhex(spec[4:])
    count = int(spec)
    if not 0 < count <= 65536:
        raise ValueError(f"Garbage needs 1 to 65536 bytes, got {count}.")
    return count
