"""Campaign policy with frozen time: call windows, retries, give-up, pacing and who is called."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pydantic
import pytest

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import (
    CalleeSchedule,
    CampaignSettings,
    Dial,
    Final,
    MembershipFact,
    Pacer,
    Priority,
    Retry,
    after_attempt,
    campaign_deadline,
    can_start,
    choose_targets,
    in_window,
    may_dial,
    next_attempt_at,
    next_window_start,
    when_due,
)
from ivr.members.fields import (
    MemberStatus,
    QuietHours,
    quiet_fields_away_from,
    quiet_spell_away_from,
)

LONDON = CalleeSchedule("Europe/London")
NIGHT_OWL = CalleeSchedule("Europe/London", QuietHours(time(23, 0), time(7, 30)))
NEW_YORK = CalleeSchedule("America/New_York")
SETTINGS = CampaignSettings()


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# -- call windows -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callee", "now", "expected"),
    [
        (LONDON, utc(2025, 1, 15, 8, 59), False),  # GMT: local 08:59
        (LONDON, utc(2025, 1, 15, 9, 0), True),
        (LONDON, utc(2025, 1, 15, 19, 59), True),
        (LONDON, utc(2025, 1, 15, 20, 0), False),  # end of the window is exclusive
        (LONDON, utc(2025, 7, 1, 8, 30), True),  # BST: local 09:30
        (LONDON, utc(2025, 7, 1, 19, 30), False),  # BST: local 20:30
        (NIGHT_OWL, utc(2025, 1, 15, 7, 30), True),
        (NIGHT_OWL, utc(2025, 1, 15, 22, 30), True),
        (NIGHT_OWL, utc(2025, 1, 15, 23, 0), False),
        (NEW_YORK, utc(2025, 1, 15, 13, 0), False),  # 08:00 in New York
        (NEW_YORK, utc(2025, 1, 15, 14, 0), True),
    ],
)
def test_window_is_the_members_local_time_outside_quiet_hours(
    callee: CalleeSchedule, now: datetime, expected: bool
) -> None:
    """09:00-20:00 local by default; a member's quiet hours replace it; DST is followed."""
    assert in_window(callee, now) is expected


def test_urgent_campaigns_ring_at_any_hour() -> None:
    """Urgent overrides quiet hours: 03:00 is in window and the window starts now."""
    night = utc(2025, 1, 15, 3, 0)
    assert in_window(NIGHT_OWL, night, Priority.URGENT)
    assert next_window_start(NIGHT_OWL, night, Priority.URGENT) == night


@pytest.mark.parametrize(
    ("callee", "now", "expected"),
    [
        (LONDON, utc(2025, 1, 15, 12, 0), utc(2025, 1, 15, 12, 0)),  # in window: now
        (LONDON, utc(2025, 1, 15, 3, 0), utc(2025, 1, 15, 9, 0)),  # later today
        (LONDON, utc(2025, 1, 15, 21, 0), utc(2025, 1, 16, 9, 0)),  # tomorrow
        (LONDON, utc(2025, 7, 1, 21, 0), utc(2025, 7, 2, 8, 0)),  # 09:00 BST
        (NIGHT_OWL, utc(2025, 1, 15, 23, 30), utc(2025, 1, 16, 7, 30)),
        (NEW_YORK, utc(2025, 1, 15, 3, 0), utc(2025, 1, 15, 14, 0)),  # 09:00 EST
    ],
)
def test_next_window_start_is_the_next_end_of_quiet_hours(
    callee: CalleeSchedule, now: datetime, expected: datetime
) -> None:
    """The answer is aware UTC, in window, and never before ``now``."""
    start = next_window_start(callee, now)
    assert start == expected
    assert start.utcoffset() == timedelta(0)
    assert in_window(callee, start)


def test_window_opening_inside_a_spring_forward_gap_opens_just_after_it() -> None:
    """Quiet until 01:30 on the night clocks jump 01:00 GMT→02:00 BST: open at the jump."""
    callee = CalleeSchedule("Europe/London", QuietHours(time(0, 0), time(1, 30)))
    start = next_window_start(callee, utc(2025, 3, 30, 0, 15))
    assert start == utc(2025, 3, 30, 1, 0)  # 02:00 BST
    assert in_window(callee, start)
    assert not in_window(callee, start - timedelta(seconds=1))


def test_window_opening_in_the_repeated_hour_opens_at_its_first_occurrence() -> None:
    """Clocks go back 02:00 BST→01:00 GMT: quiet until 01:30 ends at 01:30 BST, not GMT."""
    callee = CalleeSchedule("Europe/London", QuietHours(time(0, 0), time(1, 30)))
    start = next_window_start(callee, utc(2025, 10, 25, 23, 15))  # 00:15 BST
    assert start == utc(2025, 10, 26, 0, 30)  # 01:30 BST
    assert next_window_start(LONDON, utc(2025, 10, 26, 0, 30)) == utc(2025, 10, 26, 9, 0)


def test_naive_times_are_refused() -> None:
    """A naive ``now`` would be read in the wrong zone; the policy refuses to guess."""
    with pytest.raises(ValueError, match="naive"):
        in_window(LONDON, datetime(2025, 1, 15, 12, 0))


# -- retries ----------------------------------------------------------------------------------

T0 = utc(2025, 1, 15, 12, 0)


@pytest.mark.parametrize("outcome", [Outcome.BUSY, Outcome.NO_ANSWER])
def test_unreached_members_are_retried_with_growing_delays(outcome: Outcome) -> None:
    """Busy and no answer: retried after 5, 15, 30 minutes; the 4th attempt is the last."""
    delays = [next_attempt_at(outcome, n, T0, SETTINGS) for n in (1, 2, 3, 4)]
    assert delays == [
        T0 + timedelta(minutes=5),
        T0 + timedelta(minutes=15),
        T0 + timedelta(minutes=30),
        None,
    ]


@pytest.mark.parametrize("outcome", [Outcome.FAILED, Outcome.FAX_FAILED, Outcome.FAX_PARTIAL])
def test_failures_are_retried_fewer_times_and_later(outcome: Outcome) -> None:
    """Unregistered, declined or congested: one retry, after 30 minutes."""
    assert next_attempt_at(outcome, 1, T0, SETTINGS) == T0 + timedelta(minutes=30)
    assert next_attempt_at(outcome, 2, T0, SETTINGS) is None


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome.CONFIRMED,
        Outcome.HEARD_NO_CONFIRM,
        Outcome.VOICEMAIL,
        Outcome.OPTED_OUT,
        Outcome.INVALID_NUMBER,
        Outcome.CANCELLED,
        Outcome.OUTSIDE_WINDOW,
        Outcome.FAX_SENT,
    ],
)
def test_delivered_and_hopeless_outcomes_are_final(outcome: Outcome) -> None:
    """Voicemail and heard-no-confirm are final too: the bulletin was played in full."""
    assert next_attempt_at(outcome, 1, T0, SETTINGS) is None


def test_the_last_retry_delay_repeats() -> None:
    """With more attempts than delays, the longest delay is used again."""
    settings = CampaignSettings(max_attempts=6, retry_delays_s=(60, 120))
    gaps = [next_attempt_at(Outcome.BUSY, n, T0, settings) for n in range(1, 7)]
    assert [g - T0 if g else None for g in gaps] == [
        timedelta(seconds=60),
        *[timedelta(seconds=120)] * 4,
        None,
    ]


def test_attempt_limit_counts_every_attempt_of_the_target() -> None:
    """Busy twice then unregistered: the failed rule's limit of 2 is already used up."""
    assert next_attempt_at(Outcome.FAILED, 3, T0, SETTINGS) is None


def test_settings_are_validated_and_round_trip_through_json() -> None:
    """Settings live in a JSON column: what is stored reads back equal; nonsense is refused."""
    settings = CampaignSettings(max_attempts=3, retry_delays_s=(120, 600), concurrency=4)
    assert CampaignSettings.model_validate(settings.model_dump(mode="json")) == settings
    with pytest.raises(pydantic.ValidationError):
        CampaignSettings(max_attempts=0)
    with pytest.raises(pydantic.ValidationError):
        CampaignSettings.model_validate({"max_attempts": 2, "typo": 1})


# -- scheduling a target: after an attempt, and when it comes due -------------------------------

EVENING = utc(2025, 1, 15, 19, 58)
DEADLINE = campaign_deadline(utc(2025, 1, 15, 12, 0), SETTINGS)  # 24 h after the start


def schedule(result: Outcome, attempts: int, now: datetime, **kw: object) -> Retry | Final:
    args: dict[str, object] = {
        "settings": SETTINGS,
        "callee": LONDON,
        "priority": Priority.NORMAL,
        "deadline": DEADLINE,
    }
    args.update(kw)
    return after_attempt(result, attempts, now, **args)  # type: ignore[arg-type]


def test_a_retry_that_falls_in_quiet_hours_waits_for_the_morning() -> None:
    """Busy at 19:58: five minutes later is 20:03, so the retry is at 09:00 the next day."""
    assert schedule(Outcome.BUSY, 1, EVENING) == Retry(utc(2025, 1, 16, 9, 0))


def test_an_urgent_retry_is_not_moved() -> None:
    assert schedule(Outcome.BUSY, 1, EVENING, priority=Priority.URGENT) == Retry(
        EVENING + timedelta(minutes=5)
    )


def test_when_attempts_run_out_the_last_result_is_final() -> None:
    assert schedule(Outcome.NO_ANSWER, 4, T0) == Final(Outcome.NO_ANSWER)


def test_a_retry_past_the_deadline_settles_on_the_last_result() -> None:
    """Attempted but never reached in time: reported as busy, not as outside_window."""
    late = utc(2025, 1, 16, 11, 58)
    assert schedule(Outcome.BUSY, 1, late) == Final(Outcome.BUSY)


def test_a_due_target_in_window_is_dialled() -> None:
    step = when_due(
        LONDON, T0, priority=Priority.NORMAL, deadline=DEADLINE, attempts=0, last_result=None
    )
    assert step == Dial()


def test_a_due_target_out_of_window_waits_for_it() -> None:
    step = when_due(
        LONDON, EVENING + timedelta(hours=1), priority=Priority.NORMAL, deadline=DEADLINE,
        attempts=0, last_result=None,
    )  # fmt: skip
    assert step == Retry(utc(2025, 1, 16, 9, 0))


def test_never_attempted_before_the_deadline_ends_outside_window() -> None:
    """A member whose window never opened before the campaign gave up: outside_window."""
    deadline = utc(2025, 1, 16, 8, 0)
    step = when_due(
        LONDON, EVENING + timedelta(hours=1), priority=Priority.NORMAL, deadline=deadline,
        attempts=0, last_result=None,
    )  # fmt: skip
    assert step == Final(Outcome.OUTSIDE_WINDOW)


def test_attempted_target_past_the_deadline_keeps_its_last_result() -> None:
    """The engine came back after the deadline: a target that was busy stays busy."""
    step = when_due(
        LONDON, DEADLINE, priority=Priority.NORMAL, deadline=DEADLINE,
        attempts=2, last_result=Outcome.BUSY,
    )  # fmt: skip
    assert step == Final(Outcome.BUSY)


# -- pacing -----------------------------------------------------------------------------------


def test_burst_then_calls_start_at_the_configured_rate() -> None:
    """Five calls may start at once; the sixth waits half a second at 2 calls/s."""
    pacer = Pacer.from_settings(CampaignSettings(calls_per_second=2, burst=5), now=100.0)
    for _ in range(5):
        assert can_start(pacer, 100.0) == (True, 0.0)
        pacer = pacer.started(100.0).ended()
    allowed, wait_s = can_start(pacer, 100.0)
    assert not allowed
    assert wait_s == pytest.approx(0.5)
    assert can_start(pacer, 100.5).allowed


def test_concurrency_cap_blocks_until_a_call_ends() -> None:
    """At the cap there is no time to wait for: None says "when a call ends"."""
    pacer = Pacer.from_settings(CampaignSettings(concurrency=2, burst=10), now=0.0)
    pacer = pacer.started(0.0).started(0.0)
    assert can_start(pacer, 60.0) == (False, None)
    assert can_start(pacer.ended(), 60.0).allowed


def test_starting_a_call_that_is_not_allowed_is_a_bug() -> None:
    pacer = Pacer.from_settings(CampaignSettings(concurrency=1), now=0.0).started(0.0)
    with pytest.raises(ValueError, match="no call may start"):
        pacer.started(0.0)


def test_the_bucket_never_overfills_nor_runs_backwards() -> None:
    """A long idle spell refills to the burst only; a time before the last update adds nothing."""
    pacer = Pacer.from_settings(CampaignSettings(burst=3, calls_per_second=1), now=0.0)
    assert pacer.refilled(3600.0).tokens == 3
    drained = pacer.started(10.0).started(10.0).started(10.0)
    assert drained.refilled(5.0).tokens == 0


# -- who is called ----------------------------------------------------------------------------

ACTIVE, OUT = MemberStatus.ACTIVE, MemberStatus.OPTED_OUT


def test_a_member_of_several_chosen_groups_is_called_once_via_the_lowest_group() -> None:
    facts = [
        MembershipFact(1, 20, ACTIVE, False),
        MembershipFact(1, 10, ACTIVE, False),
        MembershipFact(2, 20, ACTIVE, False),
        MembershipFact(3, 30, ACTIVE, False),  # group not chosen
    ]
    assert choose_targets(facts, [10, 20]) == {1: 10, 2: 20}


def test_opted_out_members_are_never_chosen() -> None:
    """Globally opted out: never. Opted out of one group: still called via another group."""
    facts = [
        MembershipFact(1, 10, OUT, False),
        MembershipFact(2, 10, ACTIVE, True),
        MembershipFact(3, 10, ACTIVE, True),
        MembershipFact(3, 20, ACTIVE, False),
    ]
    assert choose_targets(facts, [10, 20]) == {3: 20}
    assert not may_dial(OUT, False)
    assert not may_dial(ACTIVE, True)
    assert may_dial(ACTIVE, False)


@pytest.mark.parametrize("day", ["2026-03-29", "2026-06-15", "2026-10-25"])
def test_the_any_hour_quiet_spell_leaves_a_member_callable_for_eleven_hours(day: str) -> None:
    # The demo, tests and benchmarks give their members this spell so that they can be rung
    # at whatever hour they run; the default 20:00-09:00 would hold every call at night.
    zone = "Europe/London"
    start = datetime.fromisoformat(f"{day}T00:00:00+00:00")
    for minutes in range(0, 24 * 60, 7):
        now = start + timedelta(minutes=minutes)
        spell = QuietHours(*quiet_spell_away_from(now.astimezone(ZoneInfo(zone))))
        callee = CalleeSchedule(zone, spell)
        for later in range(0, 11 * 60, 13):
            at = now + timedelta(minutes=later)
            assert in_window(callee, at), (now, at, spell)


def test_the_quiet_spell_as_row_fields_is_the_same_spell() -> None:
    now = datetime(2026, 11, 27, 21, 40, tzinfo=ZoneInfo("Europe/London"))
    assert quiet_fields_away_from(now) == {"quiet_start": time(9, 40), "quiet_end": time(10, 10)}
