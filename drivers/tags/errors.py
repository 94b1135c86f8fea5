"""Turning port and device errors into short clauses a guard or installer can act on."""

from __future__ import annotations

import errno
import re

_ERRNO_IN_TEXT = re.compile(r"\[Errno (\d+)\]")
_BY_ERRNO = {
    errno.ENOENT: "the device node is missing (unplugged?)",
    errno.ENODEV: "the device is gone (unplugged?)",
    errno.ENXIO: "the device is gone (unplugged?)",
    errno.EIO: "the device returned an I/O error (unplugged?)",
    errno.EACCES: "permission was denied (is the service user in the dialout group?)",
    errno.EPERM: "permission was denied (is the service user in the dialout group?)",
    errno.EBUSY: "the port is busy (does another program hold it?)",
    errno.ECONNREFUSED: "the TCP bridge refused the connection",
    errno.ECONNRESET: "the TCP bridge reset the connection",
    errno.EHOSTUNREACH: "the TCP bridge host is unreachable",
    errno.ETIMEDOUT: "the connection timed out",
    errno.EHOSTDOWN: "the Bluetooth or network peer is off or out of range",
}
_BY_TEXT = (
    ("returned no data", "the device stopped delivering data (unplugged?)"),
    ("socket disconnected", "the TCP bridge closed the connection"),
    ("Connection refused", "the TCP bridge refused the connection"),
    ("timed out", "the connection timed out"),
    ("Name or service not known", "the TCP bridge host name does not resolve"),
)
_MAX_DETAIL = 120


class ReaderError(Exception):
    """A device-level failure whose message is one sentence naming the port."""


class LinkLost(ReaderError):
    """The port is open but the device stopped working."""


def _errno_of(exc: BaseException) -> int | None:
    code = getattr(exc, "errno", None)
    if isinstance(code, int):
        return code
    found = _ERRNO_IN_TEXT.search(str(exc))
    return int(found.group(1)) if found else None


def as_clause(sentence: str) -> str:
    """'The PN532 on X did not answer.' -> 'the PN532 on X did not answer'."""
    text = sentence.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text.startswith("The ") else text


def explain(exc: BaseException) -> str:
    """A lower-case clause (no final period) saying what went wrong, never a traceback."""
    if isinstance(exc, ReaderError):
        return as_clause(str(exc))
    code = _errno_of(exc)
    if code in _BY_ERRNO:
        return _BY_ERRNO[code]
    text = str(exc)
    for needle, clause in _BY_TEXT:
        if needle in text:
            return clause
    first_line = text.splitlines()[0] if text else type(exc).__name__
    return as_clause(first_line[:_MAX_DETAIL])
