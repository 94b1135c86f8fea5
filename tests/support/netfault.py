"""A TCP relay on loopback that a test can freeze (packets silently stop, as when a cable is
pulled or a Wi-Fi link dies) or cut (connections reset), to fault the network for real."""
from __future__ import annotations

import select
import socket
import threading


class FaultyLink:
    def __init__(self, target_port: int, rcvbuf: int | None = None) -> None:
        self.target_port = target_port
        self.rcvbuf = rcvbuf  # a small receive buffer makes a frozen link back up sooner
        self._server = socket.create_server(("127.0.0.1", 0))
        if rcvbuf:  # inherited by accepted sockets; must be set before the handshake
            self._server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.port = self._server.getsockname()[1]
        self._frozen = threading.Event()
        self._refusing = threading.Event()
        self._stop = threading.Event()
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def freeze(self) -> None:
        """Stop relaying and refuse new connections without resetting anything."""
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def refuse(self) -> None:
        """Close every new connection at once, as a host with the broker down would."""
        self._refusing.set()

    def admit(self) -> None:
        self._refusing.clear()

    def cut(self) -> None:
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for a, b in pairs:
            for s in (a, b):
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                    s.close()
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self.cut()
        self._server.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            if self._refusing.is_set():
                client.close()
                continue
            if self._frozen.is_set():
                # A dead link: the connection is never answered.
                threading.Thread(target=self._hold, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _hold(self, sock: socket.socket) -> None:
        while self._frozen.is_set() and not self._stop.is_set():
            self._stop.wait(0.1)
        sock.close()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self._stop.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.1)
                if self._frozen.is_set():
                    continue  # bytes wait in the kernel buffers: nothing gets through
                for src in readable:
                    data = src.recv(65536)
                    if not data:
                        raise OSError("closed")
                    peers[src].sendall(data)
        except (OSError, ValueError):  # ValueError: cut() closed a socket under select()
            pass
        finally:
            for s in (a, b):
                try:
                    s.close()
                except OSError:
                    pass
