"""Folding of repeated reads of a card that is held on the reader."""

from __future__ import annotations

from collections.abc import Callable

Clock = Callable[[], float]


class RepeatFolder:
    """Decides whether a read is a new tap or a repeat of the card still on the reader.

    The window slides: a card held for a minute keeps being seen every few hundred
    milliseconds and must stay one tap, so every sighting restarts the hold time.
    """

    def __init__(self, hold_s: float, clock: Clock) -> None:
        if hold_s < 0:
            raise ValueError(f"The hold time must not be negative, got {hold_s}.")
        self._hold_s = hold_s
        self._clock = clock
        self._last_code: str | None = None
        self._last_seen = 0.0

    def is_new_tap(self, code: str) -> bool:
        now = self._clock()
        repeat = (
            self._hold_s > 0
            and code == self._last_code
            and now - self._last_seen < self._hold_s
        )
        self._last_code = code
        self._last_seen = now
        return not repeat
