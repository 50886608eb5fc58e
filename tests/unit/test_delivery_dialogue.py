"""The delivery dialogue's logic, driven by a scripted caller (no Asterisk)."""

from __future__ import annotations

import pytest

from ivr.campaigns.outcomes import CallFacts, Outcome, classify_call
from ivr.flows.delivery import DeliveryScript, deliver, sound
from ivr.telephony.call import CallEnded
from ivr.telephony.scripted_call import ScriptedCall

SCRIPT = DeliveryScript(
    intro=[sound("delivery_intro"), "sound:watchline/schemes/1"],
    bulletin=[sound("delivery_bulletin_intro"), "sound:watchline/bulletins/7"],
    voicemail_intro=[sound("delivery_voicemail_intro"), "sound:watchline/schemes/1"],
    voicemail_outro=[sound("delivery_voicemail_replay")],
)


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def heard(self) -> None:
        self.events.append("heard")

    async def confirmed(self) -> None:
        self.events.append("confirmed")

    async def opted_out(self) -> None:
        self.events.append("opted_out")


def outcome(facts_digits: str, plays: int, machine: bool = False) -> Outcome:
    return classify_call(
        CallFacts(
            originate_reason=4,
            digits=facts_digits,
            plays_heard=plays,
            amd_status="MACHINE" if machine else "HUMAN",
        )
    ).outcome


async def test_pressing_1_confirms_and_is_stored_before_the_thanks() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["1"]})
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=False)
    assert rec.events == ["heard", "confirmed"]
    assert call.prompts() == [
        "delivery_intro", "1", "delivery_bulletin_intro", "7", "delivery_menu",
        "delivery_confirmed",
    ]  # fmt: skip
    assert outcome(facts.digits, facts.plays_heard) is Outcome.CONFIRMED


async def test_pressing_2_replays_then_1_confirms() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["2", "1"]})
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=False)
    assert facts.plays_heard == 2 and facts.digits == "21"
    assert rec.events == ["heard", "heard", "confirmed"]
    assert outcome(facts.digits, facts.plays_heard) is Outcome.CONFIRMED


async def test_pressing_9_opts_out_and_says_so() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["9"]})
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=False)
    assert rec.events == ["heard", "opted_out"]
    assert call.prompts()[-1] == "delivery_opted_out"
    assert outcome(facts.digits, facts.plays_heard) is Outcome.OPTED_OUT


async def test_no_key_after_two_plays_is_heard_no_confirm() -> None:
    call = ScriptedCall()
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=False)
    assert facts.plays_heard == 2
    assert call.prompts().count("7") == 2 and call.prompts()[-1] == "delivery_no_key"
    assert outcome(facts.digits, facts.plays_heard) is Outcome.HEARD_NO_CONFIRM


async def test_star_repeats_the_menu_without_replaying_the_bulletin() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["*", "1"]})
    facts = await deliver(call, SCRIPT, Recorder(), machine=False)
    assert call.prompts().count("delivery_menu") == 2
    assert facts.plays_heard == 1
    assert outcome(facts.digits, facts.plays_heard) is Outcome.CONFIRMED


async def test_an_invalid_key_is_explained_and_the_menu_offered_again() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["5", "1"]})
    await deliver(call, SCRIPT, Recorder(), machine=False)
    assert "common_invalid_key" in call.prompts()
    assert call.prompts()[-1] == "delivery_confirmed"


async def test_a_key_pressed_during_the_bulletin_is_kept_for_the_menu() -> None:
    """Typeahead: a member who presses 1 while the bulletin plays is not made to wait."""
    call = ScriptedCall(presses={"7": ["1"]})
    rec = Recorder()
    await deliver(call, SCRIPT, rec, machine=False)
    assert rec.events == ["heard", "confirmed"]
    assert "delivery_menu" not in call.prompts()


async def test_garbage_keys_never_loop_for_ever() -> None:
    call = ScriptedCall(presses={"delivery_menu": ["5"] * 20})
    facts = await deliver(call, SCRIPT, Recorder(), machine=False)
    assert call.prompts().count("delivery_menu") <= 6
    assert outcome(facts.digits, facts.plays_heard) is Outcome.HEARD_NO_CONFIRM


async def test_a_machine_gets_the_voicemail_version_once() -> None:
    call = ScriptedCall()
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=True)
    assert facts.left_on_machine and facts.plays_heard == 1
    assert call.prompts()[0] == "delivery_voicemail_intro"
    assert call.prompts()[-1] == "delivery_voicemail_replay"
    assert "delivery_menu" not in call.prompts()
    assert outcome(facts.digits, facts.plays_heard, machine=True) is Outcome.VOICEMAIL


async def test_a_key_on_a_machine_means_a_person_answered() -> None:
    """AMD said machine, but someone pressed 1 during the message: that is a confirmation."""
    call = ScriptedCall(presses={"7": ["1"]})
    rec = Recorder()
    facts = await deliver(call, SCRIPT, rec, machine=True)
    assert rec.events == ["confirmed"]
    assert not facts.left_on_machine
    assert outcome(facts.digits, facts.plays_heard, machine=True) is Outcome.CONFIRMED


async def test_hanging_up_mid_bulletin_ends_the_dialogue() -> None:
    call = ScriptedCall(hangup_on="7")
    rec = Recorder()
    with pytest.raises(CallEnded):
        await deliver(call, SCRIPT, rec, machine=False)
    assert rec.events == []
