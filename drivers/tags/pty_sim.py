"""Simulated checkpoint readers on pseudo-terminals, for tests, demos and bench checks."""

from __future__ import annotations

import os
import random
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from typing import Literal, get_args

from .line import encode_line
from .model import FramingKind
from .pn532_emulator import Pn532Emulator
from .ptylink import PtyLink
from .rdm6300 import encode_rdm6300_frame

ScriptEntry = tuple[float, str]
_POLL_S = 0.05
_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


class PtyTagReaderSim:
    """One simulated reader: a pty pair plus a symlink that a real TagReader opens by URL.

    ``tap``/``hold`` encode codes in the reader's framing. For ``pn532`` the code is a card
    UID in hex and a background thread answers the host's commands like the chip does.
    """

    def __init__(
        self,
        name: str = "reader",
        framing: FramingKind = "line",
        *,
        terminator: bytes = b"\r\n",
        stx: bool = False,
        directory: str | None = None,
        seed: int | None = None,
    ) -> None:
        if framing not in get_args(FramingKind):
            raise ValueError(f"A simulated reader speaks line, rdm6300 or pn532, not {framing!r}.")
        self.name = name
        self.framing: FramingKind = framing
        self.terminator = terminator
        self.stx = stx
        self._own_directory = directory is None
        self._directory = directory or tempfile.mkdtemp(prefix="posjaga-tags-")
        safe = _SAFE_NAME.sub("_", name)
        link_name = f"usb-posjaga_sim_{framing}_{safe}-if00-port0"
        self._link = PtyLink(os.path.join(self._directory, link_name))
        self._random = random.Random(seed)
        self._write_lock = threading.Lock()
        self.pn532 = Pn532Emulator()
        self._io_stop = threading.Event()
        self._io_thread: threading.Thread | None = None
        self.replug()

    # --- where the reader is -------------------------------------------------------------

    @property
    def path(self) -> str:
        """The stable path, like /dev/serial/by-id/...; also a valid pyserial URL."""
        return self._link.link_path

    @property
    def url(self) -> str:
        return self.path

    @property
    def slave_path(self) -> str | None:
        return self._link.slave_path

    @property
    def plugged(self) -> bool:
        return self._link.plugged

    # --- what a guard does ---------------------------------------------------------------

    def tap(self, code: str, *, terminator: bytes | None = None, stx: bool | None = None) -> None:
        """One read of ``code`` (for pn532: the card answers one poll)."""
        if self.framing == "pn532":
            self._present(code, polls=1)
        else:
            self.write_raw(self.encode(code, terminator=terminator, stx=stx))

    def hold(self, code: str, repeats: int, *, interval_s: float = 0.0) -> None:
        """A card left on the reader: ``repeats`` frames, or ``repeats`` polls for pn532."""
        if self.framing == "pn532":
            self._present(code, polls=repeats)
            return
        for index in range(repeats):
            if index and interval_s:
                time.sleep(interval_s)
            self.tap(code)

    def present(self, uid_hex: str) -> None:
        """pn532 only: put a card on the reader until ``remove()``."""
        self._require_pn532()
        self._present(uid_hex, polls=None)

    def remove(self) -> None:
        self._require_pn532()
        self.pn532.remove()

    def encode(
        self, code: str, *, terminator: bytes | None = None, stx: bool | None = None
    ) -> bytes:
        if self.framing == "rdm6300":
            return encode_rdm6300_frame(code)
        if self.framing == "line":
            chosen = self.terminator if terminator is None else terminator
            return encode_line(code, chosen, self.stx if stx is None else stx)
        raise ValueError(f"The simulated {self.framing} reader {self.name} has no byte encoding.")

    def garbage(self, data: bytes | int) -> bytes:
        """Line noise: the given bytes, or that many random ones; returns what was sent."""
        noise = data if isinstance(data, bytes) else self._random.randbytes(data)
        self.write_raw(noise)
        return noise

    def write_raw(self, data: bytes) -> None:
        with self._write_lock:
            self._link.write(data)

    def replay(
        self,
        script: Iterable[ScriptEntry],
        *,
        timing: Literal["delay", "time"] = "delay",
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> int:
        """Tap each (seconds, code): seconds after the previous entry, or since the start."""
        start = clock()
        count = 0
        for seconds, code in script:
            wait_s = seconds if timing == "delay" else start + seconds - clock()
            if wait_s > 0:
                sleep(wait_s)
            self.tap(code)
            count += 1
        return count

    # --- the cable -----------------------------------------------------------------------

    def unplug(self) -> None:
        """The device node vanishes and the open port hangs up, like a pulled USB adapter."""
        self._stop_io()
        with self._write_lock:
            self._link.unplug()

    def replug(self) -> None:
        """A new pty behind the same stable path; a pn532 chip comes back powered down."""
        if self.plugged:
            return
        with self._write_lock:
            self._link.plug()
        if self.framing == "pn532":
            self.pn532.power_cycle()
            self._start_io()

    def close(self) -> None:
        self.unplug()
        if self._own_directory:
            shutil.rmtree(self._directory, ignore_errors=True)

    def __enter__(self) -> PtyTagReaderSim:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- pn532 chip ----------------------------------------------------------------------

    def _require_pn532(self) -> None:
        if self.framing != "pn532":
            raise ValueError(f"The simulated reader {self.name} is {self.framing}, not pn532.")

    def _present(self, uid_hex: str, polls: int | None) -> None:
        reply = self.pn532.present(uid_hex, polls)
        if reply and self.plugged:
            self.write_raw(reply)

    def _start_io(self) -> None:
        self._io_stop = threading.Event()
        self._io_thread = threading.Thread(
            target=self._serve_chip, args=(self._io_stop,), name=f"sim-{self.name}", daemon=True
        )
        self._io_thread.start()

    def _stop_io(self) -> None:
        self._io_stop.set()
        if self._io_thread is not None:
            self._io_thread.join()
            self._io_thread = None

    def _serve_chip(self, stop: threading.Event) -> None:
        while not stop.is_set():
            data = self._link.read(_POLL_S)
            reply = self.pn532.receive(data) if data else b""
            if reply:
                try:
                    self.write_raw(reply)
                except (TimeoutError, OSError):
                    continue  # nobody is listening; a real chip's bytes would be lost too
