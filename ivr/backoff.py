"""Reconnect pacing for the AMI and ARI clients: a pure function of the attempt.

Exponential growth keeps a dead Asterisk from being hammered; the jitter spreads the
reconnects of several controllers (or several clients in one) that lost the same Asterisk
at the same instant, so they do not all arrive together when it comes back.
"""

from __future__ import annotations

from dataclasses import dataclass

# Beyond this many doublings every delay is at the cap anyway; stopping here keeps
# ``factor ** attempt`` from overflowing a float after days of retrying.
_MAX_EXPONENT = 64


@dataclass(frozen=True)
class Backoff:
    """Reconnect pacing.

    The n-th consecutive failed attempt (n from 0) waits ``initial_s * factor**n``, capped at
    ``max_s``, then scaled by a random factor in ``[1 - jitter, 1 + jitter)`` (still capped).
    ``max_failures`` bounds the retries: None retries for ever (what a controller wants),
    a number makes the client give up after that many consecutive failures.
    """

    initial_s: float = 0.5
    factor: float = 2.0
    max_s: float = 30.0
    jitter: float = 0.2
    max_failures: int | None = None

    def __post_init__(self) -> None:
        if self.initial_s <= 0 or self.max_s < self.initial_s:
            raise ValueError("need 0 < initial_s <= max_s")
        if self.factor < 1:
            raise ValueError("factor must be >= 1")
        if not 0 <= self.jitter < 1:
            raise ValueError("jitter must be in [0, 1)")
        if self.max_failures is not None and self.max_failures < 1:
            raise ValueError("max_failures must be >= 1 or None")


def reconnect_delay(attempt: int, policy: Backoff, rand: float) -> float:
    """Seconds to wait before reconnect attempt ``attempt`` (0 for the first retry).

    ``rand`` is a uniform sample in [0, 1) supplied by the caller, so the function stays
    deterministic under test.
    """
    exponent = min(max(attempt, 0), _MAX_EXPONENT)
    base = min(policy.max_s, policy.initial_s * policy.factor**exponent)
    spread = 1.0 - policy.jitter + 2.0 * policy.jitter * min(max(rand, 0.0), 1.0)
    return min(policy.max_s, base * spread)


def gives_up(failures: int, policy: Backoff) -> bool:
    """True once ``failures`` consecutive failed attempts exhaust ``policy.max_failures``."""
    return policy.max_failures is not None and failures >= policy.max_failures
