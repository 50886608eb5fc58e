"""Failure rate limiting, pure: how many wrong tokens or PINs a source may try.

A sliding window per key (client address, caller number, coordinator id). Time is passed
in, so tests freeze it. Memory is bounded: the oldest keys are forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    #: seconds until the next attempt may be made (0 when allowed)
    retry_after_s: float


class FailureLimiter:
    def __init__(self, *, max_failures: int, window_s: float, max_keys: int = 10_000) -> None:
        self.max_failures = max_failures
        self.window_s = window_s
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[float]] = OrderedDict()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def check(self, key: str, now: float) -> Verdict:
        times = self._recent(key, now)
        if len(times) < self.max_failures:
            return Verdict(True, 0.0)
        return Verdict(False, max(0.0, times[0] + self.window_s - now))

    def failed(self, key: str, now: float) -> None:
        times = self._failures.setdefault(key, deque())
        self._failures.move_to_end(key)
        times.append(now)
        while len(times) > self.max_failures:
            times.popleft()
        while len(self._failures) > self._max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
