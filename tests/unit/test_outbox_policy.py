"""The outbox's retry schedule and the webhook signature: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.reports.outbox_policy import DeadLetter, RetryAt, RetryPolicy, after_failure
from ivr.reports.signing import sign, verify

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_retries_double_from_the_first_wait_up_to_the_cap() -> None:
    policy = RetryPolicy(first_retry_s=5, max_retry_s=60, max_attempts=10, jitter=0.0)
    waits = []
    for before in range(8):
        decision = after_failure(before, NOW, policy, rand=0.5)
        assert isinstance(decision, RetryAt) and decision.attempts == before + 1
        waits.append((decision.at - NOW).total_seconds())
    assert waits == [5, 10, 20, 40, 60, 60, 60, 60]


def test_jitter_spreads_retries_by_at_most_a_fifth() -> None:
    policy = RetryPolicy(first_retry_s=10, max_retry_s=1000, max_attempts=5)
    low = after_failure(1, NOW, policy, rand=0.0)
    high = after_failure(1, NOW, policy, rand=0.999)
    assert isinstance(low, RetryAt) and isinstance(high, RetryAt)
    assert low.at == NOW + timedelta(seconds=16)
    assert NOW + timedelta(seconds=23.9) < high.at <= NOW + timedelta(seconds=24)


def test_the_last_allowed_failure_dead_letters() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert isinstance(after_failure(1, NOW, policy, 0.5), RetryAt)
    assert after_failure(2, NOW, policy, 0.5) == DeadLetter(attempts=3)


def test_the_default_schedule_rides_out_a_four_hour_outage() -> None:
    policy = RetryPolicy()
    waited, attempts = 0.0, 0
    while True:
        decision = after_failure(attempts, NOW, policy, rand=0.0)  # the shortest waits
        if isinstance(decision, DeadLetter):
            break
        waited += (decision.at - NOW).total_seconds()
        attempts = decision.attempts
    assert waited > 4 * 3600


def test_a_policy_that_cannot_retry_is_refused() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(first_retry_s=0)


BODY = b'{"reference":"4071229833"}'


def test_a_signature_verifies_over_the_exact_body_and_time() -> None:
    header = sign("s3cret", BODY, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and len(header.split("v1=")[1]) == 64
    assert verify("s3cret", header, BODY, now=1_700_000_100)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("wrong", BODY, 1_700_000_000),  # another key
        ("s3cret", BODY + b" ", 1_700_000_000),  # a changed body
        ("s3cret", BODY, 1_700_000_301),  # too old: a replay
        ("s3cret", BODY, 1_699_999_699),  # from the future
    ],
)
def test_a_signature_fails_for_another_key_body_or_time(secret: str, body: bytes, now: int) -> None:
    assert not verify(secret, sign("s3cret", BODY, 1_700_000_000), body, now=now)


def test_a_receiver_accepts_any_listed_signature_during_a_key_rotation() -> None:
    old, new = sign("old", BODY, 100), sign("new", BODY, 100)
    both = f"{new},v1={old.split('v1=')[1]}"
    assert verify("old", both, BODY, now=100) and verify("new", both, BODY, now=100)
    assert not verify("old", "garbage", BODY, now=100)
    with pytest.raises(ValueError):
        sign("", BODY, 100)
