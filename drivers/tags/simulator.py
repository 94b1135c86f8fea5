"""Simulated checkpoint readers: ``PtyTagReaderSim``, the PN532 chip model and the CLI.

Run ``python -m drivers.tags.simulator --help`` (later ``posjaga sim tags``).
"""

from __future__ import annotations

import sys

from .pn532_emulator import Pn532Emulator
from .pty_sim import PtyTagReaderSim, ScriptEntry
from .sim_cli import cli
from .sim_script import ScriptStep, SimCommand, parse_command, parse_script

__all__ = [
    "Pn532Emulator",
    "PtyTagReaderSim",
    "ScriptEntry",
    "ScriptStep",
    "SimCommand",
    "cli",
    "parse_command",
    "parse_script",
]

if __name__ == "__main__":
    sys.exit(cli(sys.argv[1:]))
