"""The report line's dialogue, driven by a scripted caller and an in-memory sink (no
Asterisk). The same dialogue runs on real calls in tests/integration and tests/e2e."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from ivr.flows.report_line import KeptAnswer, ReportFacts, ReportLineOptions, take_report
from ivr.flows.report_menus import presented_number
from ivr.reports.categories import Category
from ivr.reports.states import AnswerKind, CallState
from ivr.speech.asr.base import Segment, Transcript
from ivr.telephony.call import CallEnded, RecordingResult
from ivr.telephony.scripted_call import ScriptedCall

REFERENCE = "4071229833"
OPTIONS = ReportLineOptions()


def said(text: str, confidence: float = 0.8) -> Transcript:
    return Transcript.from_segments([Segment(text, 0, 1, confidence)], engine="fake", duration_s=1)


@dataclass
class Sink:
    """Records what the dialogue stores, into the call's own log so the order shows."""

    call: ScriptedCall
    silent: frozenset[str] = frozenset()
    heard: list[Transcript | None] = field(default_factory=list)
    urgent: bool = False
    kept: list[tuple[AnswerKind, int, str]] = field(default_factory=list)
    superseded: list[int] = field(default_factory=list)
    filed: list[tuple[ReportFacts, CallState]] = field(default_factory=list)
    transferred: bool = False

    async def keep(self, kind: AnswerKind, recording: RecordingResult, *, take: int) -> KeptAnswer:
        self.kept.append((kind, take, recording.ended_by))
        self.call.played.append(f"sink:keep:{kind.value}:{take}")
        return KeptAnswer(len(self.kept), recording.name in self.silent)

    async def hear(self, recording: RecordingResult, attempt: int) -> Transcript | None:
        self.call.played.append(f"sink:hear:{attempt}")
        return self.heard.pop(0) if self.heard else None

    async def supersede(self, kept: KeptAnswer) -> None:
        self.superseded.append(kept.answer_id)

    async def urgent_now(self) -> bool:
        return self.urgent

    async def file(self, facts: ReportFacts, state: CallState) -> str | None:
        self.call.played.append(f"sink:file:{state.value}")
        self.filed.append((facts, state))
        return REFERENCE if facts.kept else None

    async def transfer(self) -> None:
        self.call.played.append("sink:transfer")
        self.transferred = True


def caller(presses: Mapping[str, Sequence[str]] | None = None, **kw: object) -> ScriptedCall:
    base = {"report_emergency_warning": ["1"], "report_callback_menu": ["1"]}
    return ScriptedCall(presses={**base, **(presses or {})}, **kw)  # type: ignore[arg-type]


async def run(call: ScriptedCall, sink: Sink, options: ReportLineOptions = OPTIONS) -> ReportFacts:
    return await take_report(call, sink, options)


async def test_a_report_is_stored_before_the_caller_hears_its_reference() -> None:
    call = caller()
    sink = Sink(call)
    facts = await run(call, sink)
    prompts = call.prompts()
    assert prompts[:2] == ["report_greeting", "report_emergency_warning"]
    assert "report_category_menu" not in prompts  # the key pressed during the warning chose
    assert facts.category is not None and facts.category.category is Category.THEFT
    assert sink.kept == [(AnswerKind.WHERE, 1, "silence"), (AnswerKind.WHAT, 1, "silence")]
    filed_at = prompts.index("sink:file:completed")
    assert filed_at < prompts.index("report_reference_intro")
    assert all(prompts.index(f"sink:keep:{k}:1") < filed_at for k in ("where", "what"))
    assert prompts[-2:] == ["report_next_steps", "report_goodbye"]
    assert facts.reference == REFERENCE and facts.filed_as is CallState.COMPLETED


async def test_the_reference_is_read_digit_by_digit_and_again_after_star() -> None:
    call = caller({"report_reference_repeat": ["*", ""]})
    await run(call, Sink(call))
    prompts = call.prompts()
    assert prompts.count("report_reference_intro") == 2
    first = prompts.index("report_reference_intro")
    read = prompts[first + 1 : prompts.index("report_reference_repeat")]
    assert read == [
        "digit_4",
        "digit_0",
        "digit_7",
        "digit_1",
        "pause_digit_group",
        "digit_2",
        "digit_2",
        "digit_9",
        "pause_digit_group",
        "digit_8",
        "digit_3",
        "digit_3",
    ]


async def test_star_cannot_repeat_the_reference_for_ever() -> None:
    call = caller({"report_reference_repeat": ["*"] * 10})
    await run(call, Sink(call))
    assert call.prompts().count("report_reference_intro") == 3


async def test_the_category_can_be_said_instead_of_keyed() -> None:
    call = caller({"report_emergency_warning": [""]})
    sink = Sink(call, heard=[said("It's criminal damage.")])
    facts = await run(call, sink)
    assert facts.category is not None
    assert (facts.category.category, facts.category.by) == (Category.CRIMINAL_DAMAGE, "speech")
    assert call.prompts()[2:5] == [
        "report_category_menu",
        "record:report-category-1",
        "sink:hear:1",
    ]


async def test_speech_not_understood_twice_falls_back_to_keys_only() -> None:
    call = caller({"report_emergency_warning": [""], "report_category_menu_keys": ["5"]})
    sink = Sink(call, heard=[said("banana"), said("bananas again")])
    facts = await run(call, sink)
    prompts = call.prompts()
    assert prompts.count("report_category_menu") == 2
    assert prompts.count("report_not_understood") == 2
    assert facts.category is not None
    assert (facts.category.category, facts.category.by) == (Category.FRAUD, "key")


async def test_a_caller_who_cannot_choose_still_gets_to_report() -> None:
    """No key, no speech: after the re-ask policy gives up, "something else" is taken."""
    call = caller({"report_emergency_warning": [""]})
    facts = await run(call, Sink(call))
    assert facts.category is not None
    assert (facts.category.category, facts.category.by) == (Category.OTHER, "default")
    assert (
        call.prompts().count("report_category_menu")
        + call.prompts().count("report_category_menu_keys")
        == 4
    )
    assert "report_where" in call.prompts()


async def test_star_repeats_the_category_menu_and_a_wrong_key_is_explained() -> None:
    call = caller({"report_emergency_warning": [""], "report_category_menu": ["*", "9", "3"]})
    facts = await run(call, Sink(call))
    assert call.prompts().count("report_category_menu") == 3
    assert "common_invalid_key" in call.prompts()
    assert facts.category is not None and facts.category.category is Category.ANTI_SOCIAL_BEHAVIOUR


async def test_a_silent_answer_is_asked_for_once_more_and_both_are_kept() -> None:
    call = caller()
    sink = Sink(call, silent=frozenset({"report-where-1"}))
    await run(call, sink)
    prompts = call.prompts()
    at = prompts.index("report_recording_empty")
    assert prompts[at + 1 : at + 3] == ["report_where", "record:report-where-2"]
    assert [k for k in sink.kept if k[0] is AnswerKind.WHERE] == [
        (AnswerKind.WHERE, 1, "silence"),
        (AnswerKind.WHERE, 2, "silence"),
    ]
    assert sink.superseded == [1]


async def test_silence_twice_moves_on_and_is_filed_all_the_same() -> None:
    call = caller()
    names = {"report-where-1", "report-where-2", "report-what-1", "report-what-2"}
    sink = Sink(call, silent=frozenset(names))
    facts = await run(call, sink)
    assert len(sink.kept) == 4
    assert call.prompts().count("report_recording_empty") == 2
    assert "report_rerecord_menu" not in call.prompts()
    assert facts.filed_as is CallState.COMPLETED


async def test_what_happened_may_be_recorded_again_once() -> None:
    call = caller({"report_rerecord_menu": ["2", "2"]})
    sink = Sink(call)
    await run(call, sink)
    assert call.prompts().count("report_rerecord_menu") == 1
    assert [t for k, t, _ in sink.kept if k is AnswerKind.WHAT] == [1, 2]
    assert sink.superseded == [2]  # the first "what" take (answer 2; answer 1 is "where")


async def test_hanging_up_mid_description_files_what_was_said() -> None:
    call = caller(recordings={"report-what-1": RecordingResult("report-what-1", "hangup", 4.2)})
    sink = Sink(call)
    with pytest.raises(CallEnded):
        await run(call, sink)
    assert sink.kept[-1] == (AnswerKind.WHAT, 1, "hangup")
    ((facts, state),) = sink.filed
    assert state is CallState.HUNG_UP and facts.reference == REFERENCE
    assert "report_reference_intro" not in call.prompts()


async def test_hanging_up_during_the_greeting_files_nothing() -> None:
    call = caller(hangup_on="report_emergency_warning")
    sink = Sink(call)
    with pytest.raises(CallEnded):
        await run(call, sink)
    ((facts, state),) = sink.filed
    assert state is CallState.HUNG_UP and facts.kept == [] and facts.reference is None


async def test_a_hang_up_during_the_reference_does_not_refile_the_report() -> None:
    call = caller(hangup_on="report_next_steps")
    sink = Sink(call)
    with pytest.raises(CallEnded):
        await run(call, sink)
    assert [state for _, state in sink.filed] == [CallState.COMPLETED]


async def test_pressing_1_asks_for_a_call_back_on_the_caller_id() -> None:
    call = caller()
    facts = await run(call, Sink(call))
    assert (facts.callback.number, facts.callback.source) == ("+441632960999", "caller_id")


async def test_pressing_2_means_no_call_back() -> None:
    call = caller({"report_callback_menu": ["2"]})
    facts = await run(call, Sink(call))
    assert facts.callback.number is None


async def test_a_withheld_caller_keys_a_number_hears_it_and_confirms() -> None:
    call = caller(
        {"report_callback_withheld": ["01632960123#"], "report_callback_confirm_menu": ["1"]},
        caller=None,
    )
    facts = await run(call, Sink(call))
    assert "report_callback_menu" not in call.prompts()
    at = call.prompts().index("report_callback_you_entered")
    assert call.prompts()[at + 1 : at + 5] == ["digit_0", "digit_1", "digit_6", "digit_3"]
    assert (facts.callback.number, facts.callback.source) == ("+441632960123", "keyed")


async def test_a_withheld_caller_may_correct_a_number_or_skip_with_hash() -> None:
    call = caller(
        {
            "report_callback_withheld": ["123#", "01632960123#"],
            "report_callback_confirm_menu": ["2"],
        },
        caller=None,
    )
    facts = await run(call, Sink(call))
    assert "report_callback_invalid" in call.prompts()  # 123 is no phone number
    assert call.prompts().count("report_callback_withheld") == 3  # invalid, then "2" re-enter
    assert facts.callback.number is None  # the third time: hash alone, no call back


@pytest.mark.parametrize("raw", [None, "", "anonymous", "Restricted", "  "])
def test_withheld_caller_ids_are_not_numbers(raw: str | None) -> None:
    assert presented_number(raw) is None


async def test_an_urgent_report_is_stored_then_the_live_call_transferred() -> None:
    call = caller()
    sink = Sink(call, urgent=True)
    facts = await run(call, sink, ReportLineOptions(transfer_urgent=True))
    assert call.prompts()[-3:] == ["sink:file:transferred", "report_transferring", "sink:transfer"]
    assert facts.filed_as is CallState.TRANSFERRED
    assert "report_callback_menu" not in call.prompts()


async def test_without_transfer_configured_urgency_is_not_checked_during_the_call() -> None:
    call = caller()
    sink = Sink(call, urgent=True)
    await run(call, sink)
    assert not sink.transferred and "report_transferring" not in call.prompts()
