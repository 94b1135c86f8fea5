"""Is the Pi's wall clock synchronised? And fixing what was stamped before it was.

Most Pis have no battery clock: after a power cut fake-hwclock restores the time it last saved
(up to an hour old, or days if the Pi was off that long), and only NTP, once a network is
there, steps the clock to the truth. A post may boot offline and record events for hours with
that stale clock. So every event records whether the clock was synchronised when it was
stamped (``clock_synced``), and events stamped before synchronisation are corrected once it
comes, from the monotonic clock, which does not jump when NTP steps the wall clock:

    true time of an event = wall time now - (monotonic now - monotonic when it was stamped)

That holds only within one boot (the monotonic clock restarts at each boot), so unsynchronised
stamps keep ``"<boot id> <monotonic>"`` and events of an earlier boot are left as stamped,
flagged (see ``EventLog.correct_clock`` and docs/operations.md).

Where the state comes from (Linux): systemd-timesyncd's flag file
``/run/systemd/timesync/synchronized``, else the kernel's own view through ``adjtimex(2)``
(``TIME_ERROR`` / ``STA_UNSYNC``), which chrony, ntpd and timesyncd all maintain.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import functools
import logging
import platform
import time
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)

TIMESYNCD_FLAG = Path("/run/systemd/timesync/synchronized")
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
_TIME_ERROR = 5
_STA_UNSYNC = 0x0040
_RECHECK_S = 1.0  # the state changes a few times a day at most; events are stamped far faster


class _Timex(ctypes.Structure):
    # struct timex (adjtimex(2)); only ``status`` is read, the tail is generous padding.
    _fields_ = [("modes", ctypes.c_uint), ("offset", ctypes.c_long), ("freq", ctypes.c_long),
                ("maxerror", ctypes.c_long), ("esterror", ctypes.c_long),
                ("status", ctypes.c_int), ("rest", ctypes.c_long * 32)]


@functools.cache
def _adjtimex() -> Any:
    # find_library runs ldconfig: once per process.
    name = ctypes.util.find_library("c") if platform.system() == "Linux" else None
    try:
        return ctypes.CDLL(name, use_errno=True).adjtimex if name else None
    except (OSError, AttributeError):
        return None


def kernel_synchronized() -> bool | None:
    """The kernel's NTP state; None where adjtimex is not available."""
    adjtimex = _adjtimex()
    if adjtimex is None:
        return None
    tx = _Timex()  # modes 0: read only, allowed to anyone
    state = adjtimex(ctypes.byref(tx))
    if state < 0:
        return None
    return state != _TIME_ERROR and not tx.status & _STA_UNSYNC


class SyncProbe:
    """Answers ``synchronized()`` from the flag file or the kernel, re-checking at most once a
    second, so the event hot path pays a comparison, not a system call."""

    def __init__(self, flag: Path = TIMESYNCD_FLAG,
                 kernel: Callable[[], bool | None] = kernel_synchronized,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.flag = flag
        self.kernel = kernel
        self.monotonic = monotonic
        self._value: bool | None = None
        self._until = float("-inf")

    def synchronized(self) -> bool | None:
        now = self.monotonic()
        if now >= self._until:
            self._value = self._look()
            self._until = now + _RECHECK_S
        return self._value

    def _look(self) -> bool | None:
        if self.flag.exists():
            return True
        return self.kernel()


def boot_id() -> str:
    """This boot's id (the monotonic clock is only comparable within one boot)."""
    try:
        return BOOT_ID.read_text().strip()
    except OSError:
        return "unknown-boot"


class ClockWatch:
    """Run from each daemon process's main loop: when the clock becomes synchronised (or is at
    start), correct the events this boot stamped before. Several processes may do this at
    once; the correction is one transaction that only touches uncorrected rows, so it happens
    once."""

    def __init__(self, events: Any, clock: Any, boot: str | None = None) -> None:
        self.events = events
        self.clock = clock
        self.boot = boot or boot_id()
        self._synced = getattr(clock, "synced", None)
        self._was: bool | None = False

    def tick(self) -> int:
        """The number of events corrected now (0 almost always)."""
        if self._synced is None:
            return 0
        now_synced = self._synced()
        was, self._was = self._was, now_synced
        if not now_synced or was:
            return 0
        try:
            fixed = self.events.correct_clock(self.boot, self.clock.now(),
                                              self.clock.monotonic())
        except Exception as exc:  # a busy or full store: try again at the next change
            log.error("could not correct the events stamped before the clock was set: %s", exc)
            self._was = False
            return 0
        if fixed:
            log.warning("the clock is synchronised: corrected the time of %d events stamped "
                        "before", fixed)
        return fixed
