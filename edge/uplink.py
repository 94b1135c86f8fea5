"""Store-and-forward to the broker: the only path by which events leave the Pi.

The uplink publishes unsent events in recording order with QoS 1, at most ``window`` in flight,
and marks each sent only when its PUBACK arrives. Our own event ``seq`` keys the outbox; paho's
message ids only map an acknowledgement back to a seq while the process lives. paho keeps
in-flight messages in memory and sends them again after a reconnect; if the process dies, the
store still has them unsent and they go out again on the next start (subscribers drop repeats
by event id).

One thread does everything: it drives paho through its external-loop API (``loop_read``,
``loop_write``, ``loop_misc`` around our own ``select``), so every ``publish()`` and every
callback happens on this thread. That sidesteps paho's multi-threaded publishing deadlocks and
saves a thread hop per message. Producers in other threads only append to a queue and write a
byte to a wake-up pipe.
"""
from __future__ import annotations

import json
import logging
import os
import random
import select
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterable

import paho.mqtt.client as mqtt

from edge.clock import Clock
from edge.commands import CommandRouter
from edge.store import EventLog, Outgoing, State, StateTable
from edge.topics import Topics
from edge.wakeup import STATES, WakeListener

log = logging.getLogger(__name__)

_MEMORY_LIMIT = 20_000  # announced events held for the fast path; beyond it, read the store
_ACK_STALL_S = 120.0
_PRUNE_EVERY_S = 3600.0
_READ_AHEAD = 1000
_MARK_GATHER_S = 0.05
_MARK_BATCH = 1000
_CHECKPOINT_EVERY_S = 1.0


@dataclass
class UplinkStats:
    connected: bool = False
    connects: int = 0
    connect_failures: int = 0
    published: int = 0
    acked: int = 0
    republished: int = 0
    commands: int = 0
    checkpoints: int = 0  # WAL checkpoints that copied pages into the database file
    last_error: str | None = None


class Marker:
    """Writes "sent" marks on a thread of its own, so the uplink keeps publishing while the
    disk syncs or another daemon holds the write lock. Marks that pile up meanwhile go out as
    one transaction. A mark that is lost (a crash, a power cut, a failing disk) only means the
    event is published again later, which subscribers drop by id.

    The same thread checkpoints the store's WAL once a second, so that no daemon's commit
    has to (see edge.db.Database.checkpoint)."""

    def __init__(self, events: EventLog, stats: UplinkStats) -> None:
        self._events, self._stats = events, stats
        self._pending: list[int] = []
        self._cond = threading.Condition()
        self._closing = False
        self._checkpointed = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="uplink-marks", daemon=True)
        self._thread.start()

    def add(self, seqs: list[int]) -> None:
        with self._cond:
            self._pending.extend(seqs)
            self._cond.notify()

    def close(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending or self._closing,
                                    _CHECKPOINT_EVERY_S)
                # Gather for a moment: fewer turns at the write lock that the daemons need
                # for their commits.
                self._cond.wait_for(lambda: self._closing or len(self._pending) >= _MARK_BATCH,
                                    _MARK_GATHER_S if self._pending else 0)
                if self._closing and not self._pending:
                    return
                batch, self._pending = self._pending, []
            if batch and not self._mark(batch):
                with self._cond:
                    if self._closing:
                        return
                time.sleep(1.0)
            self._checkpoint_if_due()

    def _mark(self, batch: list[int]) -> bool:
        try:
            self._events.mark_sent(batch)
        except Exception:  # a full or failing disk: keep the marks, try again
            log.exception("cannot mark %d events as sent; retrying", len(batch))
            with self._cond:
                self._pending[:0] = batch
            return False
        self._stats.acked += len(batch)
        return True

    def _checkpoint_if_due(self) -> None:
        now = time.monotonic()
        if now - self._checkpointed < _CHECKPOINT_EVERY_S:
            return
        self._checkpointed = now
        try:
            frames, copied = self._events.db.checkpoint()
            if copied > 0:
                self._stats.checkpoints += 1
        except Exception:  # a failing disk; the commits' own fallback still checkpoints
            log.warning("cannot checkpoint the store's WAL", exc_info=True)


class Backoff:
    """Exponential reconnect delay with jitter, so many posts do not reconnect in step."""

    def __init__(self, low: float, high: float) -> None:
        self.low, self.high = low, max(low, high)
        self._next = low

    def next(self) -> float:
        delay = self._next
        self._next = min(self.high, self._next * 2)
        return delay * random.uniform(0.8, 1.0)

    def reset(self) -> None:
        self._next = self.low


class Uplink:
    def __init__(self, events: EventLog, states: StateTable, client: mqtt.Client,
                 topics: Topics, clock: Clock, *, host: str, port: int, keepalive: int,
                 window: int, poll_s: float, retention: timedelta,
                 backoff: Backoff | None = None, router: CommandRouter | None = None,
                 wake_listener: WakeListener | None = None,
                 on_command: Callable[[str, dict[str, Any]], None] | None = None) -> None:
        self.events, self.states, self.client = events, states, client
        self.topics, self.clock, self.router = topics, clock, router
        self.window, self.poll_s, self.retention = window, poll_s, retention
        self.backoff = backoff or Backoff(1.0, 60.0)
        self.on_command = on_command
        self.stats = UplinkStats()
        self._endpoint = (host, port, keepalive)
        self.last_turn = time.monotonic()
        self._marker = Marker(events, self.stats)
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._wake_pending = False
        self._listener = wake_listener
        self._lock = threading.Lock()  # guards _memory, appended to by producer threads
        self._memory: deque[Outgoing] = deque()
        self._ahead: deque[Outgoing] = deque()
        self._closing = False
        self._acks: list[int] = []
        self._inbox: deque[mqtt.MQTTMessage] = deque()
        self._inflight: dict[int, int] = {}  # paho mid -> event seq
        self._cursor = 0  # highest seq handed to paho
        self._states_dirty = True
        self._republish = False
        # Link timeouts run on real time; only the retention cut-off asks the injected clock.
        self._last_ack = time.monotonic()
        self._next_prune = time.monotonic()
        self._next_attempt = 0.0
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        events.subscribe(self._on_recorded)
        states.subscribe(self._on_state_changed)

    # --- called from other threads: queue and wake -----------------------------------------

    def _on_recorded(self, batch: list[Outgoing]) -> None:
        with self._lock:
            if len(self._memory) + len(batch) <= _MEMORY_LIMIT:
                self._memory.extend(batch)
        self.wake()

    def _on_state_changed(self) -> None:
        self._states_dirty = True
        self.wake()

    def wake(self) -> None:
        if not self._wake_pending:
            self._wake_pending = True
            try:
                os.write(self._wake_w, b"w")
            except (BlockingIOError, OSError):
                pass  # the pipe is full or closed: the loop is awake or gone anyway

    def request_republish(self) -> None:
        """Publish every retained state again (the 'republish' command)."""
        self._republish = True
        self.wake()

    # --- paho callbacks (run on the uplink thread, inside loop_read/loop_write) ------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                    properties: Any) -> None:
        if reason.is_failure:  # counted in _on_disconnect, which always follows
            self.stats.last_error = f"the broker refused the connection: {reason}"
            log.error("%s", self.stats.last_error)
            return
        self.stats.connected = True
        self.stats.connects += 1
        self.stats.last_error = None
        self.backoff.reset()
        self._last_ack = time.monotonic()
        log.info("connected to the broker (connection %d), %d events in flight",
                 self.stats.connects, len(self._inflight))
        client.publish(self.topics.status, "online", qos=1, retain=True)
        if self.router is not None:
            client.subscribe(self.topics.commands, qos=1)
        # A broker without persistence forgets retained states when it restarts.
        self._republish = True

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any,
                       properties: Any) -> None:
        if self._closing:
            return
        if self.stats.connected:
            log.warning("lost the broker (%s); events keep being recorded", reason)
        else:  # closed before it ever accepted us: count it and back off like a refusal
            self.stats.connect_failures += 1
            self.stats.last_error = self.stats.last_error or \
                "the broker closed the connection before accepting it"
        self.stats.connected = False
        # Back off even after a good session (the first delay is the short one): a broker
        # that accepts and drops at once must not be hammered in a tight loop.
        self._next_attempt = time.monotonic() + self.backoff.next()

    def _on_publish(self, client: mqtt.Client, userdata: Any, mid: int, reason: Any,
                    properties: Any) -> None:
        self._acks.append(mid)

    def _on_message(self, client: mqtt.Client, userdata: Any, msg: mqtt.MQTTMessage) -> None:
        self._inbox.append(msg)

    # --- the loop --------------------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        host, port, keepalive = self._endpoint
        self.client.connect_async(host, port, keepalive=keepalive)
        try:
            while not stop.is_set():
                self.last_turn = time.monotonic()  # the watchdog's sign of life
                sock = self.client.socket()
                if sock is None:
                    self._offline_turn()
                else:
                    self._io_turn(sock)
                self._step()
        finally:
            self._shutdown()

    def _offline_turn(self) -> None:
        self.stats.connected = False
        now = time.monotonic()
        if now >= self._next_attempt:
            try:
                self.client.reconnect()
                return
            except (OSError, ValueError) as exc:  # refused, unreachable, TLS, DNS
                self.stats.connect_failures += 1
                self.stats.last_error = f"cannot reach the broker: {exc}"
                delay = self.backoff.next()
                self._next_attempt = now + delay
                log.warning("%s; retrying in %.1f s", self.stats.last_error, delay)
        self._wait_wake(min(self.poll_s, max(0.0, self._next_attempt - now)))

    def _wake_fds(self) -> list[Any]:
        return [self._wake_r] + ([self._listener] if self._listener else [])

    def _wait_wake(self, timeout: float) -> None:
        readable, _, _ = select.select(self._wake_fds(), [], [], timeout)
        self._after_select(readable, timed_out=timeout > 0 and not readable)

    def _after_select(self, readable: list[Any], timed_out: bool) -> None:
        if timed_out:
            # Quiet for a poll interval: another process may have changed a state without
            # reaching us (its wake-up datagram is best effort).
            self._states_dirty = True
        if self._wake_r in readable:
            self._drain_wake()
        if self._listener is not None and self._listener in readable:
            if STATES in self._listener.drain():
                self._states_dirty = True

    def _drain_wake(self) -> None:
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        # Only after reading: a wake() racing with us then writes a fresh byte.
        self._wake_pending = False

    def _io_turn(self, sock: Any) -> None:
        # TLS may hold decrypted bytes that select() cannot see.
        pending = sock.pending() if hasattr(sock, "pending") else 0
        timeout = 0.0 if pending or self._has_work() else min(self.poll_s, 1.0)
        wlist = [sock] if self.client.want_write() else []
        try:
            readable, writable, _ = select.select([sock] + self._wake_fds(), wlist, [],
                                                  timeout)
        except (OSError, ValueError):  # the socket was closed under us
            readable, writable = [sock], []
        self._after_select(readable, timed_out=timeout > 0 and not readable and not writable)
        if sock in readable or pending:
            self.client.loop_read()
        if sock in writable and self.client.socket() is not None:
            self.client.loop_write()
        if self.client.socket() is not None:
            self.client.loop_misc()

    def _has_work(self) -> bool:
        return bool(self._acks or self._inbox or (self.stats.connected and self._memory
                                                  and len(self._inflight) < self.window))

    def _step(self) -> None:
        if self.stats.connected:
            self._fill_window()
        self._take_acks()
        if self.stats.connected:
            self._handle_commands()
            self._publish_states()
            self._check_stall()
        self._maybe_prune()

    # --- events ----------------------------------------------------------------------------

    def _fill_window(self) -> None:
        cork = getattr(self.client, "cork", None)
        if cork is None:
            self._publish_batches()
            return
        cork()  # one write for the whole burst (edge.mqtt.BatchingClient)
        try:
            self._publish_batches()
        finally:
            self.client.uncork()

    def _publish_batches(self) -> None:
        while (room := self.window - len(self._inflight)) > 0:
            batch = self._next_batch(room)
            if not batch:
                return
            for item in batch:
                info = self.client.publish(self.topics.event(item.kind), item.body, qos=1)
                # Only QUEUE_SIZE means paho did not keep the message; NO_CONN and CONN_LOST
                # leave it in paho's queue, to be sent again after the reconnect.
                if info.rc == mqtt.MQTT_ERR_QUEUE_SIZE:
                    log.warning("paho refused event %d (queue full); retrying later", item.seq)
                    return
                self._inflight[info.mid] = item.seq
                self._cursor = item.seq
                self.stats.published += 1
            if not self.stats.connected:
                return

    def _next_batch(self, room: int) -> list[Outgoing]:
        """The next unsent events after the cursor: from memory when it continues the
        sequence exactly, else from the store (backlog, other processes, memory overflow)."""
        with self._lock:
            memory = self._memory
            while memory and memory[0].seq <= self._cursor:
                memory.popleft()
            if memory and memory[0].seq == self._cursor + 1:
                return _take_run(memory, self._cursor, room)
        ahead = self._ahead
        while ahead and ahead[0].seq <= self._cursor:
            ahead.popleft()  # already sent from memory
        if not ahead:
            # Read ahead in big chunks: one query per window refill would dominate a drain.
            # What was read stays the exact prefix of what is unsent: seqs only grow, so
            # rows committed later by anyone come after it.
            ahead.extend(self.events.pending(self._cursor, _READ_AHEAD))
        return [ahead.popleft() for _ in range(min(room, len(ahead)))]

    def _take_acks(self) -> None:
        if not self._acks:
            return
        acks, self._acks = self._acks, []
        seqs = [seq for mid in acks if (seq := self._inflight.pop(mid, None)) is not None]
        if seqs:
            self._marker.add(seqs)
        self._last_ack = time.monotonic()

    def _check_stall(self) -> None:
        """If acknowledgements stop while connected, send the unacknowledged events again
        rather than wait forever on a message paho may have lost."""
        if not self._inflight or time.monotonic() - self._last_ack < _ACK_STALL_S:
            return
        oldest = min(self._inflight.values())
        log.warning("no acknowledgement for %.0f s; publishing again from event %d",
                    _ACK_STALL_S, oldest)
        self.stats.republished += len(self._inflight)
        self._inflight.clear()
        self._ahead.clear()
        self._cursor = oldest - 1
        self._last_ack = time.monotonic()

    # --- states and commands ---------------------------------------------------------------

    def _publish_states(self) -> None:
        if self._republish:
            self._republish, self._states_dirty = False, False
            self._send_states(self.states.all())
        elif self._states_dirty:
            self._states_dirty = False
            self._send_states(self.states.unpublished())

    def _send_states(self, states: Iterable[State]) -> None:
        for state in states:
            body = json.dumps(dict(state.payload), ensure_ascii=False, separators=(",", ":"))
            self.client.publish(self.topics.state(state.name), body, qos=1, retain=True)
            self.states.mark_published(state.name, state.version)

    def _handle_commands(self) -> None:
        while self._inbox:
            msg = self._inbox.popleft()
            target = self.topics.command_target(msg.topic)
            if target is None or self.router is None:
                continue
            self.stats.commands += 1
            response = self.router.handle(target, msg.payload)
            self.client.publish(self.topics.response(target),
                                json.dumps(response.body, ensure_ascii=False), qos=1)
            if self.on_command is not None:
                self.on_command(target, response.body)

    # --- housekeeping ----------------------------------------------------------------------

    def _maybe_prune(self) -> None:
        now = time.monotonic()
        if now < self._next_prune:
            return
        self._next_prune = now + _PRUNE_EVERY_S
        removed = self.events.prune(self.clock.now() - self.retention)
        if removed:
            log.info("pruned %d published events older than %s", removed, self.retention)

    def _shutdown(self) -> None:
        """Send what is still unsent (for up to 2 s), say offline, then leave. What does not
        make it stays in the store and goes out on the next start."""
        self._closing = True
        try:
            if self.stats.connected and self.client.socket() is not None:
                self._flush(time.monotonic() + 2.0)
                info = self.client.publish(self.topics.status, "offline", qos=1, retain=True)
                self._flush(time.monotonic() + 1.0, until=info.is_published)
            self._take_acks()
            self.client.disconnect()
            self._marker.close()
        finally:
            os.close(self._wake_r)
            os.close(self._wake_w)

    def _flush(self, deadline: float, until: Callable[[], bool] | None = None) -> None:
        while time.monotonic() < deadline and self.stats.connected:
            sock = self.client.socket()
            if sock is None:
                return
            self._fill_window()
            self._take_acks()
            done = until() if until else not (self._inflight or self._memory or self._ahead
                                               or self.events.pending(self._cursor, 1))
            if done:
                return
            self._io_turn(sock)


def _take_run(queue: deque[Outgoing], cursor: int, room: int) -> list[Outgoing]:
    """Pop up to ``room`` items from the front whose seqs continue ``cursor`` without a gap."""
    batch: list[Outgoing] = []
    expected = cursor + 1
    while queue and len(batch) < room and queue[0].seq == expected:
        batch.append(queue.popleft())
        expected += 1
    return batch
