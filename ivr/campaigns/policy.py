"""Campaign policy as pure functions of (state, now): call windows, retries, pacing, who to call.

Nothing here reads a clock, the database or the network; the engine passes ``now`` in and
acts on what comes back, so every rule is tested with frozen time.

Decisions (each also tested):

* **Windows.** A member may be rung outside their quiet hours, in their own time zone. The
  default quiet hours are 20:00-09:00 (a 09:00-20:00 window); a member's own quiet hours
  replace the default. ``urgent`` campaigns ignore quiet hours altogether: urgent exists for
  a missing vulnerable person or a live incident, where a call at night is the point.
* **Retries.** ``busy`` and ``no_answer`` are retried after 5, 15, then 30 minutes (the last
  delay repeats) up to ``max_attempts`` attempts in all. ``failed`` (unregistered, declined,
  congestion) and the fax failures are retried fewer times, later. Every other outcome is final:
  ``voicemail`` and ``heard_no_confirm`` because the bulletin was played in full (ringing an
  elderly member back for a key press is the nagging people complain about), ``confirmed``,
  ``opted_out`` and ``invalid_number`` obviously. When the attempts run out, the target's final
  outcome is the last attempt's result.
* **outside_window.** A campaign gives up ``give_up_after_s`` after it started (its deadline).
  A target ends ``outside_window`` only if it was never attempted because no window opened
  before the deadline; a target that was attempted ends with its last attempt's result, so a
  member who was busy all day is reported ``busy``, not "outside window".
* **Pacing.** A token bucket on call starts per second plus a cap on calls in flight, per
  trunk. It runs on a monotonic clock (``loop.time()``): wall-clock jumps must not burst calls.
* **Who.** A member in several chosen groups is called once, via the lowest group id (the same
  rule as the SQL in ``store.campaigns_repo``). Members opted out globally, or of the group
  they would be called via, are never called: excluded when targets are created and checked
  again just before dialling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import NamedTuple, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from ivr.campaigns.outcomes import Outcome
from ivr.members.fields import MemberStatus, QuietHours


class Priority(StrEnum):
    NORMAL = "normal"
    URGENT = "urgent"


#: Quiet hours for members without their own: the call window is 09:00-20:00 local time.
DEFAULT_QUIET_HOURS = QuietHours(time(20, 0), time(9, 0))


class Callee(Protocol):
    """What the window rules need to know about a member (a store Member satisfies it)."""

    @property
    def timezone(self) -> str: ...

    @property
    def quiet_hours(self) -> QuietHours | None: ...


@dataclass(frozen=True)
class CalleeSchedule:
    """A plain Callee, for callers that hold no store Member."""

    timezone: str
    quiet_hours: QuietHours | None = None


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"naive datetime {now!r}: pass an aware UTC time")


def in_window(callee: Callee, now: datetime, priority: Priority = Priority.NORMAL) -> bool:
    """True when ``callee`` may be rung at ``now``."""
    _require_aware(now)
    if priority is Priority.URGENT:
        return True
    quiet = callee.quiet_hours or DEFAULT_QUIET_HOURS
    local = now.astimezone(ZoneInfo(callee.timezone))
    return not quiet.contains(local.time().replace(tzinfo=None))


def next_window_start(
    callee: Callee, now: datetime, priority: Priority = Priority.NORMAL
) -> datetime:
    """The first moment at or after ``now`` when ``callee`` may be rung (``now`` if in window).

    The answer is the next local end of quiet hours, in UTC.
    """
    if in_window(callee, now, priority):
        return now
    quiet = callee.quiet_hours or DEFAULT_QUIET_HOURS
    zone = ZoneInfo(callee.timezone)
    today = now.astimezone(zone).date()
    for days in range(3):
        candidate = _reaches(today + timedelta(days=days), quiet.end, zone)
        if candidate > now:
            return candidate
    raise AssertionError("quiet hours always end within two days")  # pragma: no cover


def _reaches(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The UTC instant when local time in ``zone`` first reaches ``at`` on ``day``.

    When clocks go back, that is the first of the two occurrences. When they go forward over
    ``at`` (the time does not exist that day), it is the instant of the jump, found by
    bisection between the two readings of the missing time.
    """
    first = datetime.combine(day, at, tzinfo=zone).astimezone(UTC)
    second = datetime.combine(day, at, tzinfo=zone).replace(fold=1).astimezone(UTC)
    if second >= first:
        return first
    wall = datetime.combine(day, at)
    low, high = int(second.timestamp()), int(first.timestamp())
    while high - low > 1:
        mid = (low + high) // 2
        local = datetime.fromtimestamp(mid, UTC).astimezone(zone).replace(tzinfo=None)
        low, high = (low, mid) if local >= wall else (mid, high)
    return datetime.fromtimestamp(high, UTC)


class CampaignSettings(BaseModel):
    """Per-campaign knobs, stored as the campaign's settings JSON."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Attempts in all for a member who was busy or did not answer.
    max_attempts: int = Field(default=4, ge=1, le=20)
    #: Wait after the 1st, 2nd, 3rd... unreached attempt; the last value repeats.
    retry_delays_s: tuple[int, ...] = Field(default=(300, 900, 1800), min_length=1)
    #: Attempts in all once an attempt failed (unregistered, declined, congestion, fax error).
    failed_max_attempts: int = Field(default=2, ge=1, le=20)
    failed_retry_delays_s: tuple[int, ...] = Field(default=(1800,), min_length=1)
    #: Calls in flight at once, per trunk.
    concurrency: int = Field(default=20, ge=1)
    #: Call starts per second, per trunk, and how many may start back to back.
    calls_per_second: float = Field(default=2.0, gt=0)
    burst: int = Field(default=5, ge=1)
    #: After this long from the start the campaign stops waiting for windows and retries.
    give_up_after_s: int = Field(default=24 * 3600, ge=60)


_UNREACHED = frozenset({Outcome.BUSY, Outcome.NO_ANSWER})
_FAILED = frozenset({Outcome.FAILED, Outcome.FAX_FAILED, Outcome.FAX_PARTIAL})


def is_retryable(outcome: Outcome) -> bool:
    return outcome in _UNREACHED or outcome in _FAILED


def next_attempt_at(
    outcome: Outcome, attempts: int, now: datetime, settings: CampaignSettings
) -> datetime | None:
    """When to try again after an attempt ended with ``outcome``; None when it is final.

    ``attempts`` is the number of attempts made on the target so far, this one included.
    The limit of the outcome's rule applies to that total, so a member who was busy twice and
    then unregistered stops at ``failed_max_attempts`` if that is already reached.
    """
    if outcome in _UNREACHED:
        limit, delays = settings.max_attempts, settings.retry_delays_s
    elif outcome in _FAILED:
        limit, delays = settings.failed_max_attempts, settings.failed_retry_delays_s
    else:
        return None
    if attempts >= limit:
        return None
    delay = delays[min(max(attempts, 1) - 1, len(delays) - 1)]
    return now + timedelta(seconds=delay)


def campaign_deadline(started_at: datetime, settings: CampaignSettings) -> datetime:
    return started_at + timedelta(seconds=settings.give_up_after_s)


@dataclass(frozen=True)
class Dial:
    """Ring the member now."""


@dataclass(frozen=True)
class Retry:
    """Leave the target pending until ``at``."""

    at: datetime


@dataclass(frozen=True)
class Final:
    """The delivery is over with ``outcome``."""

    outcome: Outcome


Step = Dial | Retry | Final


def _give_up(attempts: int, last_result: Outcome | None) -> Final:
    if attempts == 0 or last_result is None:
        return Final(Outcome.OUTSIDE_WINDOW)
    return Final(last_result)


def when_due(
    callee: Callee,
    now: datetime,
    *,
    priority: Priority,
    deadline: datetime,
    attempts: int,
    last_result: Outcome | None,
) -> Step:
    """What to do with a target whose ``next_attempt_at`` has come: dial, wait, or end it."""
    if now >= deadline:
        return _give_up(attempts, last_result)
    start = next_window_start(callee, now, priority)
    if start == now:
        return Dial()
    if start >= deadline:
        return _give_up(attempts, last_result)
    return Retry(start)


def after_attempt(
    result: Outcome,
    attempts: int,
    now: datetime,
    *,
    settings: CampaignSettings,
    callee: Callee,
    priority: Priority,
    deadline: datetime,
) -> Retry | Final:
    """Schedule the next attempt (moved into the member's window) or settle the target."""
    at = next_attempt_at(result, attempts, now, settings)
    if at is None:
        return Final(result)
    at = next_window_start(callee, at, priority)
    if at >= deadline:
        return Final(result)
    return Retry(at)


class StartCheck(NamedTuple):
    """``allowed``, else ``wait_s`` until a token is due; None: wait for a call to end."""

    allowed: bool
    wait_s: float | None


@dataclass(frozen=True)
class Pacer:
    """Token bucket for call starts plus a cap on calls in flight; one per trunk.

    Times are monotonic seconds. Values are immutable: ``started``/``ended`` return new ones.
    """

    calls_per_second: float
    burst: float
    max_in_flight: int
    tokens: float
    updated_at: float
    in_flight: int = 0

    @classmethod
    def from_settings(cls, settings: CampaignSettings, now: float) -> Pacer:
        return cls(
            calls_per_second=settings.calls_per_second,
            burst=float(settings.burst),
            max_in_flight=settings.concurrency,
            tokens=float(settings.burst),
            updated_at=now,
        )

    def refilled(self, now: float) -> Pacer:
        elapsed = max(0.0, now - self.updated_at)
        tokens = min(self.burst, self.tokens + elapsed * self.calls_per_second)
        return replace(self, tokens=tokens, updated_at=max(now, self.updated_at))

    def started(self, now: float) -> Pacer:
        """The state after a call started at ``now``; raises if ``can_start`` said no."""
        if not can_start(self, now).allowed:
            raise ValueError("no call may start now")
        state = self.refilled(now)
        return replace(state, tokens=state.tokens - 1.0, in_flight=state.in_flight + 1)

    def ended(self) -> Pacer:
        return replace(self, in_flight=max(0, self.in_flight - 1))


def can_start(state: Pacer, now: float) -> StartCheck:
    """May a call start at ``now``? If not, how long until one may (None: when one ends)."""
    if state.in_flight >= state.max_in_flight:
        return StartCheck(False, None)
    tokens = state.refilled(now).tokens
    if tokens >= 1.0:
        return StartCheck(True, 0.0)
    return StartCheck(False, (1.0 - tokens) / state.calls_per_second)


@dataclass(frozen=True)
class MembershipFact:
    """One membership row as the target rules see it."""

    member_id: int
    group_id: int
    member_status: MemberStatus
    group_opted_out: bool


def may_dial(member_status: MemberStatus, group_opted_out: bool) -> bool:
    """Checked at target creation and again just before dialling."""
    return member_status is MemberStatus.ACTIVE and not group_opted_out


def choose_targets(
    memberships: Iterable[MembershipFact], group_ids: Iterable[int]
) -> dict[int, int]:
    """member id → the group it is called via: once per member, via the lowest eligible group."""
    chosen = set(group_ids)
    targets: dict[int, int] = {}
    for m in memberships:
        if m.group_id not in chosen or not may_dial(m.member_status, m.group_opted_out):
            continue
        if m.member_id not in targets or m.group_id < targets[m.member_id]:
            targets[m.member_id] = m.group_id
    return targets
