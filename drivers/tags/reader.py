"""TagReader: one thread per checkpoint reader that opens the port, decodes and reconnects."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator

import serial

from .backoff import Backoff
from .config import TagReaderConfig
from .errors import ReaderError, explain
from .folding import Clock
from .model import LinkEvent, ReaderStats, Tap, TagRead
from .sessions import Session, build_session

log = logging.getLogger(__name__)

TapCallback = Callable[[Tap], None]
LinkCallback = Callable[[LinkEvent], None]
# Errors that mean "this connection is unusable": the reader closes the port and retries.
LINK_ERRORS = (serial.SerialException, OSError, ValueError, ReaderError)
_CLOSED = object()


class TagReader:
    """Delivers taps from one reader to ``on_tap`` (or to ``get``/iteration when None).

    Link changes go to ``on_link``. A reader that disappears is reopened with a bounded
    backoff until ``close()``; bad frames are counted, never delivered, never fatal.
    """

    def __init__(
        self,
        config: TagReaderConfig,
        *,
        on_tap: TapCallback | None = None,
        on_link: LinkCallback | None = None,
        clock: Clock = time.monotonic,
        queue_size: int = 256,
    ) -> None:
        self.config = config
        self._on_tap = on_tap
        self._on_link = on_link
        self._clock = clock
        self._session: Session = build_session(config, clock)
        self._backoff = Backoff(config.reconnect_min_s, config.reconnect_max_s)
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._port: serial.SerialBase | None = None
        self._thread: threading.Thread | None = None
        self._link_up: bool | None = None
        self._down_reason: str | None = None
        self._opens = self._taps = self._dropped_taps = self._callback_errors = 0

    @property
    def name(self) -> str:
        return self.config.reader_name

    @property
    def link_up(self) -> bool:
        return bool(self._link_up)

    def start(self) -> TagReader:
        if self._thread is not None:
            raise RuntimeError(f"Reader '{self.name}' on {self.config.url} was already started.")
        self._thread = threading.Thread(target=self._run, name=f"tags-{self.name}", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop the thread, close the port and end iteration; safe to call twice."""
        self._stop.set()
        with self._lock:
            port = self._port
        if port is not None and hasattr(port, "cancel_read"):
            try:
                port.cancel_read()
            except LINK_ERRORS:
                pass  # the thread notices the stop flag within one read timeout anyway
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                log.warning(
                    "Reader '%s' on %s did not stop in %.1f s.", self.name, self.config.url, timeout_s
                )
        self._enqueue(_CLOSED)

    def __enter__(self) -> TagReader:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, timeout_s: float | None = None) -> Tap | None:
        """The next tap when no ``on_tap`` callback was given; None on timeout or close."""
        try:
            item = self._queue.get(timeout=timeout_s)
        except queue.Empty:
            return None
        if item is _CLOSED:
            self._enqueue(_CLOSED)  # leave it for other consumers
            return None
        return item  # type: ignore[return-value]

    def __iter__(self) -> Iterator[Tap]:
        while (tap := self.get()) is not None:
            yield tap

    def stats(self) -> ReaderStats:
        with self._lock:
            return ReaderStats(
                reader=self.name,
                url=self.config.url,
                framing=self.config.framing,
                link_up=bool(self._link_up),
                down_reason=self._down_reason,
                opens=self._opens,
                taps=self._taps,
                dropped_taps=self._dropped_taps,
                callback_errors=self._callback_errors,
                frames=self._session.stats(),
                driver=self._session.driver_counters(),
            )

    # --- reader thread -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            port = self._connect()
            if port is not None:
                self._serve(port)
            if not self._stop.is_set():
                self._stop.wait(self._backoff.next_delay())
        self._set_port(None)

    def _connect(self) -> serial.SerialBase | None:
        try:
            port = serial.serial_for_url(
                self.config.url,
                baudrate=self.config.effective_baudrate,
                timeout=self.config.read_timeout_s,
                exclusive=True,
            )
        except LINK_ERRORS as exc:
            self._link_down(explain(exc))
            return None
        self._set_port(port)
        return port

    def _serve(self, port: serial.SerialBase) -> None:
        try:
            note = self._session.start(port, self._stop.wait)
            with self._lock:
                self._opens += 1
            self._backoff.reset()
            self._link_changed(True, f"Reader '{self.name}' on {self.config.url} is up: {note}.")
            while not self._stop.is_set():
                for read in self._session.step(port, self._stop.wait):
                    self._deliver(read)
        except LINK_ERRORS as exc:
            if not self._stop.is_set():
                self._link_down(explain(exc))
        except Exception as exc:  # noqa: BLE001 - keep the post reading; details go to the log
            log.exception("Reader '%s' on %s hit an internal error.", self.name, self.config.url)
            self._link_down(f"the reader hit an internal error ({type(exc).__name__}), see the log")
        finally:
            self._set_port(None)
            self._session.disconnected()

    def _set_port(self, port: serial.SerialBase | None) -> None:
        with self._lock:
            old, self._port = self._port, port
        if old is not None and old is not port:
            try:
                old.close()
            except LINK_ERRORS:
                pass  # the device is already gone; there is nothing left to release

    def _link_down(self, clause: str) -> None:
        self._link_changed(False, f"Reader '{self.name}' on {self.config.url} is down: {clause}.")

    def _link_changed(self, up: bool, reason: str) -> None:
        """Tell the callback about flips only; while down, stats() shows the latest reason."""
        with self._lock:
            flipped = self._link_up != up
            self._link_up = up
            self._down_reason = None if up else reason
        if not flipped:
            log.debug("%s", reason)
            return
        (log.info if up else log.warning)("%s", reason)
        if self._on_link is not None:
            self._call(self._on_link, LinkEvent(self.name, up, reason, self._clock()))

    def _deliver(self, read: TagRead) -> None:
        tap = Tap(
            reader=self.name,
            code=read.code,
            kind=self._session.kind,
            location=self.config.location,
            monotonic_ts=self._clock(),
            raw=read.raw,
            card_number=read.card_number,
        )
        with self._lock:
            self._taps += 1
        if self._on_tap is not None:
            self._call(self._on_tap, tap)
        else:
            self._enqueue(tap)

    def _call(self, callback: Callable[[object], None], value: object) -> None:
        try:
            callback(value)
        except Exception as exc:  # noqa: BLE001 - a consumer bug must not stop the reader
            with self._lock:
                self._callback_errors += 1
            log.warning(
                "A callback of reader '%s' on %s failed: %r.", self.name, self.config.url, exc
            )
            log.debug("Callback failure details", exc_info=True)

    def _enqueue(self, item: object) -> None:
        # Keep the newest taps when nobody drains the queue; count the ones pushed out.
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except queue.Full:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    continue
                with self._lock:
                    self._dropped_taps += 1
