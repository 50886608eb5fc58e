"""Signing in to the bulletin line without Asterisk: caller ID or coordinator number, PIN,
lockout after wrong PINs (kept across calls), the line limit, and an audit trail and logs
that never hold a PIN. Scripted calls against the real desk and database (SQLite).

The same rules on a real call: tests/integration/test_bulletin_lockout.py.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ivr.bulletin_line.testing import (
    COORDINATOR_PHONE,
    COORDINATOR_PIN,
    Line,
    RecordingCall,
    coordinator_line,
)

AFTERNOON = datetime(2025, 1, 15, 15, 0, tzinfo=UTC)
PHONE = COORDINATOR_PHONE
PIN = COORDINATOR_PIN


@pytest.fixture
async def line(tmp_path: Path) -> AsyncIterator[Line]:
    async with coordinator_line(tmp_path, AFTERNOON) as line:
        yield line


def caller(**kw: Any) -> RecordingCall:
    kw.setdefault("caller", PHONE)
    return RecordingCall(**kw)


def sign_in(**presses: list[str]) -> dict[str, list[str]]:
    return {"bulletin_enter_pin": [f"{PIN}#"], **presses}


# ---- wrong PINs -------------------------------------------------------------------------------

WRONG = ["48151623", "27182818", "31415926"]


async def test_three_wrong_pins_lock_the_account_refuse_the_next_call_and_audit_without_pins(
    line: Line, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    first = await line.call(caller(presses={"bulletin_enter_pin": [f"{p}#" for p in WRONG]}))
    assert first.prompts() == [
        "bulletin_welcome", "bulletin_enter_pin", "bulletin_wrong_pin", "bulletin_enter_pin",
        "bulletin_wrong_pin", "bulletin_enter_pin", "bulletin_locked_out",
    ]  # fmt: skip
    refused = await line.call(caller(presses=sign_in()))
    assert refused.prompts() == ["bulletin_welcome", "bulletin_locked_out"]
    line.clock.advance(14 * 60)
    assert (await line.call(caller(presses=sign_in()))).prompts()[-1] == "bulletin_locked_out"
    line.clock.advance(60)  # the fifteen minutes are over
    back = await line.call(caller(presses=sign_in(), hangup_on="bulletin_main_menu"))
    assert back.prompts()[-1] == "bulletin_enter_pin"
    events = await line.events()
    kinds = [e.kind.value for e in events if e.via == "phone"]
    assert kinds == ["wrong_pin", "wrong_pin", "locked", "refused_locked", "refused_locked",
                     "signed_in"]  # fmt: skip
    assert events[-4].detail and "locked until 2025-01-15T15:15:00" in events[-4].detail
    for secret in [*WRONG, PIN]:
        assert secret not in caplog.text
        for e in events:
            assert secret not in f"{e.detail} {e.source} {e.kind}"
    assert "wrong PIN for coordinator 1 from +441632960100" in caplog.text


async def test_hanging_up_does_not_reset_the_count_of_wrong_pins(line: Line) -> None:
    await line.call(caller(presses={"bulletin_enter_pin": [f"{WRONG[0]}#", f"{WRONG[1]}#"]},
                           hangup_on="bulletin_enter_pin#3"))  # fmt: skip
    again = await line.call(caller(presses={"bulletin_enter_pin": [f"{WRONG[2]}#"]}))
    assert again.prompts()[-1] == "bulletin_locked_out"


async def test_a_right_pin_clears_earlier_wrong_ones(line: Line) -> None:
    await line.call(caller(presses={"bulletin_enter_pin": [f"{WRONG[0]}#", f"{WRONG[1]}#",
                                                           f"{PIN}#"]},
                           hangup_on="bulletin_main_menu"))  # fmt: skip
    again = await line.call(caller(presses={"bulletin_enter_pin": [f"{WRONG[2]}#"]},
                                   hangup_on="bulletin_enter_pin#2"))  # fmt: skip
    assert again.prompts()[-1] == "bulletin_wrong_pin"  # one wrong, not locked


async def test_an_unknown_caller_signs_in_with_the_coordinator_number(line: Line) -> None:
    call = await line.call(caller(
        caller=None,
        presses={"bulletin_enter_coordinator_number": ["99#", "1#"], **sign_in()},
        hangup_on="bulletin_main_menu",
    ))  # fmt: skip
    assert call.prompts() == [
        "bulletin_welcome", "bulletin_enter_coordinator_number", "bulletin_unknown_coordinator",
        "bulletin_enter_coordinator_number", "bulletin_enter_pin",
    ]  # fmt: skip
    unknown = [e for e in await line.events() if e.kind.value == "unknown_coordinator"]
    assert len(unknown) == 1 and "99" not in (unknown[0].detail or "")


async def test_a_line_that_keeps_failing_is_refused_whoever_it_tries(line: Line) -> None:
    for _ in range(5):  # two unknown numbers a call; the tenth failure closes the line
        await line.call(
            caller(
                caller="+441632960999",
                presses={"bulletin_enter_coordinator_number": ["77#", "78#"]},
            )
        )
    refused = await line.call(caller(caller="+441632960999", presses=sign_in()))
    assert refused.prompts() == ["bulletin_locked_out"]
    assert [e.kind.value for e in await line.events()][-1] == "rate_limited"
