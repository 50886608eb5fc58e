"""PIN lockout policy, pure: what a wrong or right PIN does to a coordinator's account.

Decisions (each tested with frozen time):

* Three wrong PINs in a row lock the account. The count survives hanging up and calling
  again, so redialling never buys fresh attempts; it is kept in the database with the rest
  of this state, so a controller restart does not reset it either.
* Each lockout lasts longer than the one before: 15 minutes, then 30, 60... capped at a day.
  A volunteer who mistypes is back soon; someone guessing is slowed to a handful of tries a
  day.
* While locked, calls are refused before a PIN is asked for: no guess is even checked.
* A right PIN clears the count and the lockout history.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True)
class LockoutPolicy:
    max_failures: int = 3
    first_lock_s: int = 15 * 60
    max_lock_s: int = 24 * 3600
    #: each lockout lasts this many times the one before
    growth: int = 2

    def __post_init__(self) -> None:
        if self.max_failures < 1 or self.first_lock_s < 1 or self.growth < 1:
            raise ValueError("max_failures, first_lock_s and growth must be at least 1")
        if self.max_lock_s < self.first_lock_s:
            raise ValueError("max_lock_s must be at least first_lock_s")


@dataclass(frozen=True)
class PinState:
    """An account's lockout state, as stored on the coordinator."""

    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None


@dataclass(frozen=True)
class AfterWrongPin:
    state: PinState
    #: this failure locked the account
    locked: bool
    #: wrong PINs still allowed before a lock (0 once locked)
    remaining: int


def is_locked(state: PinState, now: datetime) -> bool:
    return state.locked_until is not None and now < state.locked_until


def lock_duration(lockout_number: int, policy: LockoutPolicy) -> timedelta:
    """How long the ``lockout_number``-th lockout in a row lasts (1 for the first)."""
    if lockout_number < 1:
        raise ValueError(f"lockout_number starts at 1, got {lockout_number}")
    # bounded exponent: growth ** 40 would be absurd anyway, and the cap applies long before
    seconds = policy.first_lock_s * policy.growth ** min(lockout_number - 1, 40)
    return timedelta(seconds=min(seconds, policy.max_lock_s))


def after_wrong_pin(state: PinState, now: datetime, policy: LockoutPolicy) -> AfterWrongPin:
    """A wrong PIN was keyed at ``now`` (the account was not locked)."""
    failures = state.failures + 1
    if failures < policy.max_failures:
        kept = replace(state, failures=failures, locked_until=None)
        return AfterWrongPin(kept, locked=False, remaining=policy.max_failures - failures)
    lockouts = state.lockouts + 1
    locked = PinState(0, lockouts, now + lock_duration(lockouts, policy))
    return AfterWrongPin(locked, locked=True, remaining=0)


def after_right_pin(state: PinState) -> PinState:
    return PinState()


def unlocked(state: PinState) -> PinState:
    """An administrator lifted the lock: the next wrong PINs count from zero again."""
    return PinState(0, state.lockouts, None)
