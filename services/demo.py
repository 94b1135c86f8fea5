"""``posjaga demo``: placeholder replaced below."""
from typing import Any


def add_parser(sub: Any) -> None:
    return None
