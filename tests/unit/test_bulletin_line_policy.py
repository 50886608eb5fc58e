"""The bulletin line's pure rules: PIN lockout, PIN format, menus, group picking, summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr.bulletin_line.lockout import (
    LockoutPolicy,
    PinState,
    after_right_pin,
    after_wrong_pin,
    is_locked,
    lock_duration,
    unlocked,
)
from ivr.bulletin_line.menus import (
    MAIN,
    REVIEW,
    GroupPick,
    PickResult,
    pick_group,
    summary_numbers,
    when_menu,
)
from ivr.bulletin_line.pins import PinHasher, check_pin
from ivr.errors import InputError
from ivr.scheduling.presets import default_presets

NOW = datetime(2025, 3, 12, 15, 0, tzinfo=UTC)
POLICY = LockoutPolicy()

# ---- lockout ---------------------------------------------------------------------------------


def test_three_wrong_pins_in_a_row_lock_the_account_for_fifteen_minutes() -> None:
    state = PinState()
    first = after_wrong_pin(state, NOW, POLICY)
    second = after_wrong_pin(first.state, NOW, POLICY)
    third = after_wrong_pin(second.state, NOW, POLICY)
    assert (first.locked, first.remaining) == (False, 2)
    assert (second.locked, second.remaining) == (False, 1)
    assert third.locked and third.remaining == 0
    assert third.state.locked_until == NOW + timedelta(minutes=15)
    assert is_locked(third.state, NOW + timedelta(minutes=14, seconds=59))
    assert not is_locked(third.state, NOW + timedelta(minutes=15))


def test_each_lockout_lasts_twice_as_long_as_the_last_up_to_a_day() -> None:
    assert [lock_duration(n, POLICY).total_seconds() / 60 for n in (1, 2, 3, 4)] == [
        15, 30, 60, 120,
    ]  # fmt: skip
    assert lock_duration(50, POLICY) == timedelta(days=1)
    with pytest.raises(ValueError):
        lock_duration(0, POLICY)


def test_failures_count_on_after_a_lock_expires_and_the_next_lock_is_longer() -> None:
    state = PinState()
    for _ in range(3):
        state = after_wrong_pin(state, NOW, POLICY).state
    later = NOW + timedelta(minutes=16)
    for _ in range(3):
        result = after_wrong_pin(state, later, POLICY)
        state = result.state
    assert result.locked and state.lockouts == 2
    assert state.locked_until == later + timedelta(minutes=30)


def test_a_right_pin_clears_failures_and_the_lockout_history() -> None:
    state = after_wrong_pin(PinState(lockouts=3), NOW, POLICY).state
    assert after_right_pin(state) == PinState()


def test_an_unlock_lifts_the_lock_but_keeps_the_history_so_the_next_lock_is_longer() -> None:
    assert unlocked(PinState(0, 2, NOW + timedelta(hours=1))) == PinState(0, 2, None)


def test_a_policy_that_makes_no_sense_is_refused() -> None:
    with pytest.raises(ValueError):
        LockoutPolicy(max_failures=0)
    with pytest.raises(ValueError):
        LockoutPolicy(first_lock_s=600, max_lock_s=60)


# ---- PINs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pin", "reason"),
    [("12a4", "digits only"), ("123", "4 to 8"), ("123456789", "4 to 8"),
     ("7777", "repeated"), ("2345", "consecutive"), ("9876", "consecutive"), ("١٢٣٤", "digits")],
)  # fmt: skip
def test_a_pin_that_is_not_4_to_8_digits_or_is_easy_to_guess_is_refused(
    pin: str, reason: str
) -> None:
    with pytest.raises(InputError, match=reason) as raised:
        check_pin(pin)
    assert pin not in str(raised.value)  # the error never repeats the PIN


def test_pins_are_stored_as_argon2id_hashes_that_verify_only_the_right_pin() -> None:
    hasher = PinHasher()
    stored = hasher.hash("4816")
    assert stored.startswith("$argon2id$") and "4816" not in stored
    assert hasher.verify(stored, "4816")
    assert not hasher.verify(stored, "4817")
    assert not hasher.verify("not a hash", "4816")


# ---- menus -----------------------------------------------------------------------------------


def test_the_main_and_review_menus_map_keys_to_actions_and_nothing_else() -> None:
    assert [MAIN.action(k) for k in "123*9"] == ["record", "hear_last", "summary", None, None]
    assert [REVIEW.action(k) for k in "1234"] == ["accept", "rerecord", "hear_again", None]


def test_the_send_menu_offers_this_evening_only_before_seven_and_keys_never_move() -> None:
    presets = default_presets()
    afternoon = when_menu(presets, datetime(2025, 3, 12, 15, 0, tzinfo=UTC), "Europe/London")
    assert afternoon.menu.prompt == "bulletin_when_menu"
    assert afternoon.menu.choices == {"1": "now", "2": "this_evening", "3": "tomorrow_morning"}
    assert afternoon.presets["2"][1] == datetime(2025, 3, 12, 19, 0, tzinfo=UTC)
    night = when_menu(presets, datetime(2025, 3, 12, 19, 30, tzinfo=UTC), "Europe/London")
    assert night.menu.prompt == "bulletin_when_menu_late"
    assert night.menu.choices == {"1": "now", "3": "tomorrow_morning"}


# ---- group list ------------------------------------------------------------------------------

GROUPS = ("elm-road", "kings-arms", "riverside")


def _keys(state: GroupPick, keys: str) -> tuple[GroupPick, list[PickResult]]:
    results = []
    for key in keys:
        state, result = pick_group(state, key)
        results.append(result)
    return state, results


def test_keys_add_groups_in_the_order_pressed_and_hash_finishes() -> None:
    state, results = _keys(GroupPick(GROUPS), "31#")
    assert state.chosen == ("riverside", "elm-road")
    assert results == [PickResult.ADDED, PickResult.ADDED, PickResult.DONE]


def test_zero_chooses_every_group_at_once() -> None:
    state, result = pick_group(GroupPick(GROUPS), "0")
    assert result is PickResult.ALL and state.chosen == GROUPS


def test_a_key_with_no_group_on_it_is_refused_and_changes_nothing() -> None:
    start = GroupPick(GROUPS)
    for key in "456789":
        state, result = pick_group(start, key)
        assert result is PickResult.NOT_OFFERED and state == start


def test_hash_before_any_group_is_not_done_and_star_repeats() -> None:
    state, results = _keys(GroupPick(GROUPS), "#*")
    assert results == [PickResult.NONE_CHOSEN, PickResult.REPEAT] and not state.complete
    assert pick_group(state, "")[1] is PickResult.NO_INPUT


def test_pressing_a_group_twice_adds_it_once() -> None:
    state, _ = _keys(GroupPick(GROUPS), "22")
    assert state.chosen == ("kings-arms",)


def test_only_the_first_nine_groups_have_keys_and_zero_still_takes_them_all() -> None:
    many = tuple(f"group-{n:02d}" for n in range(12))
    state = GroupPick(many)
    assert state.keyed == many[:9]
    assert pick_group(state, "9")[0].chosen == ("group-08",)
    assert pick_group(state, "0")[0].chosen == many


# ---- summary ---------------------------------------------------------------------------------


def test_the_summary_counts_confirmed_voicemail_and_final_failures_as_not_reached() -> None:
    counts = {"confirmed": 38, "voicemail": 4, "busy": 1, "no_answer": 1, "invalid_number": 1,
              "heard_no_confirm": 0, "opted_out": 0}  # fmt: skip
    n = summary_numbers(counts)
    assert (n.confirmed, n.total, n.voicemail, n.not_reached) == (38, 45, 4, 3)
    full = summary_numbers({"confirmed": 38, "voicemail": 4, "busy": 3})
    assert (full.confirmed, full.total, full.voicemail, full.not_reached) == (38, 45, 4, 3)


def test_members_still_waiting_for_a_retry_are_not_counted_as_not_reached() -> None:
    n = summary_numbers({"confirmed": 2, "pending": 3, "dialling": 1})
    assert (n.confirmed, n.total, n.voicemail, n.not_reached) == (2, 6, 0, 0)
