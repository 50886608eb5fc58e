"""The report line (extension 101), as a caller hears it.

1. greeting, then the 9 9 9 warning (never skippable);
2. the category: a key, or a spoken answer (:func:`~ivr.flows.report_menus.ask_category`);
3. "Where did it happen?", recorded;
4. "What happened?", recorded until the hash key, silence or the maximum; one re-record;
5. the callback number (caller ID, or keyed when withheld);
6. the report is filed: stored, with its audio, *before* the caller hears its reference;
7. the reference, digit by digit in groups; star hears it again;
8. what happens next, goodbye.

A silent recording is kept and asked for once more. A caller who hangs up at any point
keeps what they said: the recording in progress is stored (``Call.record`` keeps it) and
the report is filed as ``hung_up``. When live transfer is configured and what was said
sounds urgent, the report is filed and the call goes on to the configured extension.

Everything outside the call (storing audio, transcribing, filing) is behind
:class:`ReportSink`, so this module is the dialogue's logic only; the unit tests drive it
with a scripted call and an in-memory sink, the integration tests with the real thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ivr.flows.report_menus import (
    Callback,
    CategoryChoice,
    ask_callback,
    ask_category,
    choose_key,
    sound,
)
from ivr.reports.states import AnswerKind, CallState
from ivr.speech.asr.base import Transcript
from ivr.speech.say import digits, sound_uris
from ivr.telephony.call import Call, CallEnded, RecordingResult

#: Times a caller may hear the reference in all (star after each reading repeats it).
REFERENCE_READINGS = 3
#: How long to wait for star after the reference.
REPEAT_WAIT_S = 4.0
#: Recordings of one question: a silent take is asked again once, and "what happened" may
#: be re-recorded once, so three takes at most.
MAX_TAKES = 3


@dataclass(frozen=True)
class KeptAnswer:
    answer_id: int
    #: the recording held no sound above the silence threshold
    silent: bool


@dataclass
class ReportFacts:
    """What the call established so far; filed with the report."""

    category: CategoryChoice | None = None
    callback: Callback = field(default_factory=lambda: Callback(None, None))
    kept: list[KeptAnswer] = field(default_factory=list)
    reference: str | None = None
    filed_as: CallState | None = None


class ReportSink(Protocol):
    """Where the dialogue's results go. Each method returns once its work is stored."""

    async def keep(self, kind: AnswerKind, recording: RecordingResult, *, take: int) -> KeptAnswer:
        """Fetch the recording, save its audio, record the answer, queue its transcription."""
        ...

    async def hear(self, recording: RecordingResult, attempt: int) -> Transcript | None:
        """A spoken menu answer, transcribed now and kept if it holds sound; None when
        there is nothing usable (see ``report_menus.Hear``)."""
        ...

    async def supersede(self, kept: KeptAnswer) -> None:
        """Mark an answer replaced by a later take (its audio is kept)."""
        ...

    async def urgent_now(self) -> bool:
        """Whether what was said so far contains an urgent phrase (transcribed now)."""
        ...

    async def file(self, facts: ReportFacts, state: CallState) -> str | None:
        """Store the report and return its reference; None if there is nothing to report
        (the caller hung up before saying anything)."""
        ...

    async def transfer(self) -> None:
        """Send the live call on to the configured extension."""
        ...


@dataclass(frozen=True)
class ReportLineOptions:
    where_max_s: int = 30
    where_silence_s: int = 4
    what_max_s: int = 180
    what_silence_s: int = 6
    menu_answer_max_s: int = 5
    menu_answer_silence_s: int = 2
    #: live transfer of urgent calls is configured
    transfer_urgent: bool = False
    #: a prefix making recording names unique in Asterisk (e.g. the channel id)
    recording_prefix: str = "report"


async def take_report(call: Call, sink: ReportSink, options: ReportLineOptions) -> ReportFacts:
    """Run the report line on a call that has just arrived; returns what was filed.

    Raises CallEnded if the caller hangs up, after filing whatever they said.
    """
    facts = ReportFacts()
    try:
        await call.answer()
        await call.play(
            sound_uris(["report_greeting", "report_emergency_warning"]), interruptible=False
        )
        facts.category = await ask_category(
            call,
            sink.hear,
            record_name=lambda n: _name(options, "category", n),
            answer_max_s=options.menu_answer_max_s,
            answer_silence_s=options.menu_answer_silence_s,
        )
        await _record_answer(call, sink, facts, options, AnswerKind.WHERE)
        await _record_answer(call, sink, facts, options, AnswerKind.WHAT)
        if options.transfer_urgent and await sink.urgent_now():
            await _file(sink, facts, CallState.TRANSFERRED)
            await call.play([sound("report_transferring")], interruptible=False)
            await sink.transfer()
            return facts
        facts.callback = await ask_callback(call)
        reference = await _file(sink, facts, CallState.COMPLETED)
        if reference is not None:
            await read_reference(call, reference)
        await call.play(sound_uris(["report_next_steps", "report_goodbye"]), interruptible=False)
    except CallEnded:
        if facts.filed_as is None:
            await _file(sink, facts, CallState.HUNG_UP)
        raise
    return facts


def _name(options: ReportLineOptions, kind: str, take: int) -> str:
    return f"{options.recording_prefix}-{kind}-{take}"


async def _file(sink: ReportSink, facts: ReportFacts, state: CallState) -> str | None:
    facts.reference = await sink.file(facts, state)
    facts.filed_as = state
    return facts.reference


_PROMPTS = {AnswerKind.WHERE: "report_where", AnswerKind.WHAT: "report_what"}


async def _record_answer(
    call: Call, sink: ReportSink, facts: ReportFacts, options: ReportLineOptions, kind: AnswerKind
) -> None:
    """One question: record, keep, and ask again once if silent; "what" may be re-recorded."""
    if kind is AnswerKind.WHERE:
        max_s, silence_s = options.where_max_s, options.where_silence_s
    else:
        max_s, silence_s = options.what_max_s, options.what_silence_s
    lead: list[str] = []
    empty_retries = rerecords = 0
    for take in range(1, MAX_TAKES + 1):
        await call.play([*lead, sound(_PROMPTS[kind])], interruptible=False)
        recording = await call.record(
            _name(options, kind.value, take),
            max_duration_s=max_s,
            max_silence_s=silence_s,
            beep=True,
            terminate_on="#",
        )
        kept = await sink.keep(kind, recording, take=take)
        facts.kept.append(kept)
        if recording.ended_by == "hangup":
            raise CallEnded(call.channel_id)
        last_take = take == MAX_TAKES
        if kept.silent and empty_retries == 0 and not last_take:
            empty_retries += 1
            lead = [sound("report_recording_empty")]
            await sink.supersede(kept)
            continue
        may_rerecord = kind is AnswerKind.WHAT and not kept.silent and rerecords == 0
        if may_rerecord and not last_take and await _wants_rerecord(call):
            rerecords += 1
            lead = []
            await sink.supersede(kept)
            continue
        return


async def _wants_rerecord(call: Call) -> bool:
    return await choose_key(call, [sound("report_rerecord_menu")], valid="12") == "2"


def reference_media(reference: str) -> list[str]:
    return sound_uris(["report_reference_intro", *digits(reference), "report_reference_repeat"])


async def read_reference(call: Call, reference: str, *, readings: int = REFERENCE_READINGS) -> int:
    """Read the reference; star afterwards reads it again. Returns the readings given.

    Not interruptible: a key pressed while it plays must not cut off the number being
    written down; it is kept, and a star among those keys asks for it again.
    """
    media: Sequence[str] = reference_media(reference)
    # keys left over from the menus must not count as an answer to "hear it again?"
    await call.collect(max_digits=32, timeout_s=0.05, terminators="")
    for reading in range(1, readings + 1):
        await call.play(media, interruptible=False)
        if reading == readings:
            return reading
        key = await call.collect(max_digits=1, timeout_s=REPEAT_WAIT_S, terminators="")
        if key != "*":
            return reading
    return readings
