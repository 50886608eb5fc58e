"""Reconnect back-off: exponential, capped, jittered within bounds, deterministic."""

from __future__ import annotations

import pytest

from ivr.backoff import Backoff, gives_up, reconnect_delay


def test_delay_doubles_from_the_initial_value_without_jitter() -> None:
    policy = Backoff(initial_s=0.5, factor=2.0, max_s=30.0, jitter=0.0)
    delays = [reconnect_delay(n, policy, rand=0.7) for n in range(5)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_delay_never_exceeds_the_cap_even_after_days_of_retries() -> None:
    policy = Backoff(initial_s=0.5, max_s=30.0, jitter=0.2)
    for attempt in (10, 100, 10_000, 10**9):
        assert reconnect_delay(attempt, policy, rand=0.999) == 30.0
    assert reconnect_delay(10, policy, rand=0.0) == pytest.approx(24.0)


def test_jitter_spreads_the_delay_symmetrically_around_the_base() -> None:
    policy = Backoff(initial_s=1.0, factor=2.0, max_s=100.0, jitter=0.25)
    assert reconnect_delay(2, policy, rand=0.0) == pytest.approx(3.0)
    assert reconnect_delay(2, policy, rand=0.5) == pytest.approx(4.0)
    assert reconnect_delay(2, policy, rand=0.999999) == pytest.approx(5.0, abs=1e-4)


def test_out_of_range_inputs_are_clamped() -> None:
    policy = Backoff(initial_s=1.0, jitter=0.0)
    assert reconnect_delay(-3, policy, rand=0.5) == 1.0
    assert reconnect_delay(0, Backoff(jitter=0.5), rand=7.0) == pytest.approx(0.75)


def test_giving_up_only_when_a_limit_is_set() -> None:
    assert not gives_up(10**6, Backoff())
    assert not gives_up(2, Backoff(max_failures=3))
    assert gives_up(3, Backoff(max_failures=3))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"initial_s": 0},
        {"initial_s": 5, "max_s": 1},
        {"factor": 0.5},
        {"jitter": 1.0},
        {"max_failures": 0},
    ],
)
def test_nonsense_policies_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Backoff(**kwargs)  # type: ignore[arg-type]
