"""``posjaga sim zk``: a simulated ZKTeco fingerprint machine (drivers.zkteco.simulator).

The simulator parses its own options (``posjaga sim zk --help``): port, password, users,
records already logged, record and user sizes, scripted punches.
"""
from __future__ import annotations

import argparse
from typing import Any


def add_sim_parser(sims: Any) -> None:
    z = sims.add_parser("zk", add_help=False, prefix_chars="\0",
                        help="fingerprint machine: the ZKTeco protocol over TCP, as real pyzk "
                             "talks it")
    z.add_argument("args", nargs=argparse.REMAINDER)
    z.set_defaults(func=cmd_sim_zk)


def cmd_sim_zk(args: argparse.Namespace) -> int:
    from drivers.zkteco.simulator import cli

    return cli(list(args.args))
