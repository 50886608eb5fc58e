"""Wrong PINs on a real call: three lock the account, the next call from that number is
refused until the lock expires, and the audit trail and the logs never hold a PIN."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.app import Controller
from ivr.bulletin_line.component import BulletinLineComponent
from ivr.bulletin_line.rig_coordinator import KEY_DIGIT_GAP_S, PromptTimes
from ivr.bulletin_line.testing import add_coordinator
from ivr.clock import ShiftedClock
from ivr.config import Settings
from ivr.sandbox import SandboxInfo
from ivr.store.models.coordinators import CoordinatorEvent
from sip_test_rig.fleet import Fleet
from sip_test_rig.script import InCall, dtmf_sequence
from tests.conftest import EndpointPool

pytestmark = pytest.mark.integration

PIN = "7391"
WRONG = ("48151623", "27182818", "31415926")


async def test_three_wrong_pins_lock_the_line_until_the_lock_expires(
    asterisk: SandboxInfo,
    fleet: Fleet,
    endpoints: EndpointPool,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    clock = ShiftedClock(0)
    settings = Settings(data_dir=tmp_path / "var")
    times = PromptTimes(settings.speech.prompts_build_dir / "watchline")
    # Keys are typed from the first second: the controller keeps them while its prompts
    # play (typeahead), so the three wrong PINs go in one after another.
    guesses = dtmf_sequence("".join(f"{pin}#" for pin in WRONG), start_s=1.0,
                            gap_s=KEY_DIGIT_GAP_S)  # fmt: skip
    right = dtmf_sequence(f"{PIN}#", start_s=1.0, gap_s=KEY_DIGIT_GAP_S)
    async with Controller(settings, sandbox=asterisk, serve_web=False, clock=clock,
                          components=[BulletinLineComponent]) as c:  # fmt: skip
        assert c.db is not None
        await add_coordinator(c.db, clock, phone=ep.number, pin=PIN, groups=[])
        locked = await fleet.call(phone, "2000", InCall(dtmf=guesses, hangup_after_s=60),
                                  timeout_s=90)  # fmt: skip
        refused = await fleet.call(phone, "2000", InCall(dtmf=right, hangup_after_s=30),
                                   timeout_s=60)  # fmt: skip
        clock.offset_s += 15 * 60 + 1  # the first lock lasts fifteen minutes
        after = await fleet.call(phone, "2000", InCall(dtmf=right, hangup_after_s=6),
                                 timeout_s=60)  # fmt: skip
        async with c.db.session() as s:
            events = list(await s.scalars(select(CoordinatorEvent).order_by(CoordinatorEvent.id)))

    # the controller ended the first two calls; the third was ours to end, at the menu
    assert locked.answered and locked.ended_by == "remote", locked
    assert refused.answered and refused.ended_by == "remote", refused
    assert refused.duration_s < times("bulletin_locked_out") + 3, "refused before any PIN"
    assert after.answered and after.ended_by == "local", after
    phone_events = [e for e in events if e.via == "phone"]
    assert [e.kind.value for e in phone_events] == [
        "wrong_pin", "wrong_pin", "locked", "refused_locked", "signed_in",
    ]  # fmt: skip
    assert all(e.source == ep.number for e in phone_events)
    assert [e.detail for e in phone_events[:2]] == ["wrong PIN 1 of 3", "wrong PIN 2 of 3"]
    for secret in (*WRONG, PIN):
        assert secret not in caplog.text, secret
        assert not any(secret in f"{e.detail} {e.source}" for e in events), secret
    assert f"wrong PIN for coordinator 1 from {ep.number}" in caplog.text
