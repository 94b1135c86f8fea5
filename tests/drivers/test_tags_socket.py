"""socket:// readers: a small TCP-to-serial bridge on 127.0.0.1 in front of a simulated reader,
like ser2net or an Ethernet serial server at a remote gate."""

from __future__ import annotations

import select
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import serial

from drivers.tags import TagReader, TagReaderConfig
from drivers.tags.simulator import PtyTagReaderSim
from drivers.tags.testing import ManualClock, TapRecorder

FAST: dict[str, Any] = {"reconnect_min_s": 0.05, "reconnect_max_s": 0.2}


class TcpSerialBridge:
    """Serves one serial port to one TCP client at a time, bytes both ways.

    The port stays open like on a serial server, and is only read while a client is
    connected, so what the reader sends before the client is accepted is not lost.
    """

    def __init__(self, serial_url: str) -> None:
        self._port = serial.serial_for_url(serial_url, timeout=0)
        self._server = socket.create_server(("127.0.0.1", 0))
        self._server.settimeout(0.05)
        self._stop = threading.Event()
        self._drop = threading.Event()
        self.connections = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"socket://127.0.0.1:{self._server.getsockname()[1]}"

    def drop_client(self) -> None:
        """Hang up on the current client, as a bridge reboot would."""
        self._drop.set()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._server.close()
        self._port.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            self.connections += 1
            with client:
                self._pump(client, self._port)

    def _pump(self, client: socket.socket, port: serial.SerialBase) -> None:
        self._drop.clear()
        while not (self._stop.is_set() or self._drop.is_set()):
            ready, _, _ = select.select([client, port.fileno()], [], [], 0.05)
            if client in ready:
                data = client.recv(4096)
                if not data:
                    return
                port.write(data)
            if port.fileno() in ready:
                client.sendall(port.read(port.in_waiting or 1))


@pytest.fixture
def tags_bridged_rdm() -> Iterator[tuple[PtyTagReaderSim, TcpSerialBridge]]:
    with PtyTagReaderSim("gate-tcp", "rdm6300") as sim:
        bridge = TcpSerialBridge(sim.url)
        yield sim, bridge
        bridge.close()


def test_rdm6300_over_tcp_and_reconnect_after_the_bridge_hangs_up(
    tags_bridged_rdm: tuple[PtyTagReaderSim, TcpSerialBridge],
) -> None:
    sim, bridge = tags_bridged_rdm
    clock, recorder = ManualClock(), TapRecorder()
    config = TagReaderConfig(url=bridge.url, framing="rdm6300", name="gate-tcp", **FAST)
    with TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link, clock=clock) as reader:
        assert recorder.wait_link(True) is not None
        sim.hold("62E3086CED", 3)
        assert [t.code for t in recorder.wait_taps(1)] == ["62E3086CED"]
        bridge.drop_client()
        down = recorder.wait_link(False)
        assert down is not None
        reason = f"Reader 'gate-tcp' on {bridge.url} is down: the TCP bridge closed the connection."
        assert down.reason == reason
        assert recorder.wait_link(True) is not None
        clock.advance(5.0)
        sim.tap("62E3086CED")
        assert len(recorder.wait_taps(2)) == 2
        assert reader.stats().opens == 2
    assert bridge.connections == 2


def test_pn532_handshake_works_across_the_bridge() -> None:
    recorder = TapRecorder()
    with PtyTagReaderSim("desk-tcp", "pn532") as sim:
        bridge = TcpSerialBridge(sim.url)
        config = TagReaderConfig(url=bridge.url, framing="pn532", name="desk-tcp",
                                 pn532_poll_interval_s=0.02, **FAST)
        try:
            with TagReader(config, on_tap=recorder.on_tap, on_link=recorder.on_link):
                assert recorder.wait_link(True) is not None
                sim.tap("DEADBEEF")
                assert [t.code for t in recorder.wait_taps(1)] == ["DEADBEEF"]
        finally:
            bridge.close()


def test_refused_tcp_connection_is_reported_down() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    recorder = TapRecorder()
    url = f"socket://127.0.0.1:{port}"
    with TagReader(TagReaderConfig(url=url, name="gone", **FAST), on_link=recorder.on_link):
        event = recorder.wait_link(False)
    assert event is not None
    assert event.reason == f"Reader 'gone' on {url} is down: the TCP bridge refused the connection."
