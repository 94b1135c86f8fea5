"""Radio airtime: debounced line activity turned into transmissions, chatter and stuck lines.

One ``AirtimeTracker`` per radio line (COS for what we receive, PTT for what we send). It is fed
debounced level changes with their monotonic times and ticked periodically; it returns what
happened. Pure rules: no clock, no I/O, not thread-safe (one owner feeds it).

* Activity separated by gaps shorter than ``hang_s`` is one transmission (squelch flutter on a
  weak signal, a finger slipping on PTT). A transmission is final once the line stayed idle for
  ``hang_s``.
* A transmission shorter than ``min_s`` from first key-up to last release is chatter (a
  "kerchunk", noise opening the squelch): it is not reported on its own but counted, and the
  count is carried on the next real transmission of that line as ``folded``.
* One continuous active span longer than ``stuck_s`` raises a stuck alert (a stuck PTT jams the
  channel for everyone); it clears when the line goes idle.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Transmission:
    line: str
    start: float  # monotonic time of the first key-up
    end: float  # monotonic time of the last release
    active_s: float  # time actually active, without the short gaps
    bursts: int  # active spans merged into this transmission
    folded: int  # chatter on this line folded since the previous transmission
    stuck: bool  # a stuck alert was raised during it

    @property
    def duration_s(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Chatter:
    line: str
    start: float
    end: float


@dataclass(frozen=True)
class Stuck:
    """``raised`` True when the limit is passed, False when the line is released again."""

    line: str
    since: float  # monotonic start of the continuous active span
    at: float  # when the limit was passed, or when the line went idle
    raised: bool


Outcome = Transmission | Chatter | Stuck


class AirtimeTracker:
    def __init__(self, line: str, *, hang_s: float, min_s: float, stuck_s: float) -> None:
        if hang_s < 0 or min_s < 0 or stuck_s <= 0:
            raise ValueError("hang and minimum must be zero or more and the stuck limit positive")
        self.line = line
        self.hang_s, self.min_s, self.stuck_s = hang_s, min_s, stuck_s
        self._start: float | None = None  # the transmission being assembled
        self._active_since: float | None = None  # the current active span
        self._last_end = 0.0
        self._active_s = 0.0
        self._bursts = 0
        self._stuck = False  # an alert is raised and not yet cleared
        self._stuck_seen = False  # this transmission was stuck at some point
        self._folded = 0

    @property
    def active(self) -> bool:
        return self._active_since is not None

    @property
    def stuck(self) -> bool:
        return self._stuck

    @property
    def pending(self) -> bool:
        """True while a transmission is being assembled (active or in its hang time)."""
        return self._start is not None

    def change(self, active: bool, at: float) -> list[Outcome]:
        """A debounced level change that began at ``at``; repeats of the same level are ignored."""
        out = self.tick(at)
        if active and self._active_since is None:
            self._begin_span(at)
        elif not active and self._active_since is not None:
            out += self._end_span(at)
        return out

    def tick(self, now: float) -> list[Outcome]:
        """Raise a stuck alert, or finish a transmission whose hang time has passed."""
        out: list[Outcome] = []
        since = self._active_since
        if since is not None and not self._stuck and now - since > self.stuck_s:
            self._stuck = self._stuck_seen = True
            out.append(Stuck(self.line, since, since + self.stuck_s, True))
        if self._start is not None and since is None and now - self._last_end >= self.hang_s:
            out.append(self._finish())
        return out

    def _begin_span(self, at: float) -> None:
        if self._start is None:
            self._start, self._active_s, self._bursts = at, 0.0, 0
            self._stuck_seen = False
        self._active_since = at
        self._bursts += 1

    def _end_span(self, at: float) -> list[Outcome]:
        since = self._active_since
        assert since is not None
        at = max(at, since)
        self._active_s += at - since
        self._active_since, self._last_end = None, at
        if self._stuck:
            self._stuck = False
            return [Stuck(self.line, since, at, False)]
        return []

    def _finish(self) -> Outcome:
        start = self._start
        assert start is not None
        self._start = None
        if self._last_end - start < self.min_s and not self._stuck_seen:
            self._folded += 1
            return Chatter(self.line, start, self._last_end)
        folded, self._folded = self._folded, 0
        return Transmission(self.line, start, self._last_end, self._active_s, self._bursts,
                            folded, self._stuck_seen)
