"""A pseudo-terminal pair standing in for a USB serial reader, with a stable symlink.

The symlink plays the role of /dev/serial/by-id/...: the reader under test opens the link,
and unplugging removes it and hangs up the slave, as when a USB adapter is pulled.
"""

from __future__ import annotations

import errno
import os
import pty
import select
import tty

_WRITE_TIMEOUT_S = 5.0


class PtyLink:
    def __init__(self, link_path: str) -> None:
        self.link_path = link_path
        self._master: int | None = None
        self._slave: int | None = None
        self.slave_path: str | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        if self.plugged:
            return
        master, slave = pty.openpty()
        # Raw from the start: the default line discipline would echo and translate CR/LF
        # before the reader under test gets to configure the port.
        tty.setraw(slave)
        # Holding the slave open keeps the master readable while the reader reconnects.
        self._master, self._slave = master, slave
        self.slave_path = os.ttyname(slave)
        temporary = f"{self.link_path}.new"
        if os.path.lexists(temporary):
            os.unlink(temporary)
        os.symlink(self.slave_path, temporary)
        os.replace(temporary, self.link_path)

    def unplug(self) -> None:
        if os.path.lexists(self.link_path):
            os.unlink(self.link_path)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.slave_path = None

    def write(self, data: bytes) -> None:
        """Send bytes to the reader; raises TimeoutError when nobody reads for long."""
        view = memoryview(data)
        while view:
            master = self._require_master()
            _, writable, _ = select.select([], [master], [], _WRITE_TIMEOUT_S)
            if not writable:
                raise TimeoutError(
                    f"Nobody read the simulated reader at {self.link_path} for {_WRITE_TIMEOUT_S} s."
                )
            written = os.write(master, view)
            view = view[written:]

    def read(self, timeout_s: float) -> bytes:
        """Bytes the reader sent; b'' on timeout or when unplugged."""
        master = self._master
        if master is None:
            return b""
        try:
            ready, _, _ = select.select([master], [], [], timeout_s)
            return os.read(master, 4096) if ready else b""
        except OSError as exc:
            # Closed under us by unplug(), or EIO from a hung-up pair.
            if exc.errno in (errno.EBADF, errno.EIO):
                return b""
            raise

    def _require_master(self) -> int:
        if self._master is None:
            raise RuntimeError(f"The simulated reader at {self.link_path} is unplugged.")
        return self._master
