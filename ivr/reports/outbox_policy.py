"""When the outbox tries a delivery again, and when it gives up: a pure function.

Attempt n (counting from 1) that fails is retried after ``first_retry_s * 2**(n-1)``
seconds, capped at ``max_retry_s``, with +-20 % jitter so that reports queued during one
outage do not all hit the backend at the same instant when it returns. After
``max_attempts`` failed attempts the report is dead-lettered: kept, shown as such in the
API, and sent again only when staff ask. With the defaults (5 s doubling to 1 h, 15
attempts) a backend may be away for about 5 h 25 min (4 h 20 min at the shortest jitter)
before anything is dead-lettered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ivr.backoff import Backoff, reconnect_delay


@dataclass(frozen=True)
class RetryPolicy:
    first_retry_s: float = 5.0
    max_retry_s: float = 3600.0
    max_attempts: int = 15
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        # Backoff validates the timing values.
        self.backoff()

    def backoff(self) -> Backoff:
        return Backoff(
            initial_s=self.first_retry_s,
            factor=2.0,
            max_s=max(self.max_retry_s, self.first_retry_s),
            jitter=self.jitter,
        )


@dataclass(frozen=True)
class RetryAt:
    at: datetime
    attempts: int


@dataclass(frozen=True)
class DeadLetter:
    attempts: int


def after_failure(
    attempts_before: int, now: datetime, policy: RetryPolicy, rand: float
) -> RetryAt | DeadLetter:
    """What to do after a failed attempt, given how many attempts had failed before it.

    ``rand`` is a uniform sample in [0, 1) from the caller, so tests are deterministic.
    """
    attempts = attempts_before + 1
    if attempts >= policy.max_attempts:
        return DeadLetter(attempts)
    delay = reconnect_delay(attempts - 1, policy.backoff(), rand)
    return RetryAt(now + timedelta(seconds=delay), attempts)
