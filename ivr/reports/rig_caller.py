"""A simulated caller for the report line: a rig phone script timed to the prompts.

Rig phones act on a clock (keys and speech at set seconds after the answer), so the
script is planned from the lengths of the built prompts: when each question ends and its
recording starts. Speech is started a margin after the expected start of a recording and
well inside its silence limit, so small timing errors cost nothing; keys after the last
recording are queued by the controller (typeahead), so their timing is loose.

Used by the integration and end-to-end tests, ``bench/report_line.py`` and the demo
(:mod:`ivr.reports.demo`). Not used by the controller itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.speech.audio import read_wav
from ivr.speech.prompt_times import PromptTimes as BasePromptTimes
from ivr.speech.say import digits
from sip_test_rig.script import DtmfPress, InCall, Playback

#: From the rig's answer to the first prompt's sound (ARI answer + play round trips).
ANSWER_LAG_S = 0.25
#: Asterisk's recording beep (beep.gsm, 0.44 s).
BEEP_S = 0.45
#: Speech starts this long after the expected start of a recording.
SPEECH_MARGIN_S = 1.0
#: ... or this long after a spoken menu answer (recognition time varies with load).
SPEECH_MARGIN_AFTER_MENU_S = 2.0
#: Time taken to recognise a spoken menu answer, expected.
MENU_RECOGNITION_S = 0.8
#: From the end of the speech to the hash key.
HASH_AFTER_S = 0.6


class PromptTimes(BasePromptTimes):
    """Prompt lengths, plus how long the report line's reference reading can take."""

    def reference(self) -> float:
        """The longest a reference reading can take (intro, ten digits, the star offer)."""
        slowest = max(self(f"digit_{d}") for d in range(10))
        pauses = digits("1234567890").count("pause_digit_group")
        intro = self("report_reference_intro", "report_reference_repeat")
        return intro + 10 * slowest + pauses * self("pause_digit_group")


@dataclass(frozen=True)
class ReportCaller:
    """What the caller does. A ``None`` WAV means the caller stays silent at that question."""

    where: Path | None
    what: Path | None
    #: a key for the category, pressed during the 9 9 9 warning (kept as typeahead) ...
    category_key: str | None = "1"
    #: ... or, with ``category_key=None``, the category said after the menu
    category_speech: Path | None = None
    #: hang up this many seconds into the description (None: finish it with the hash key)
    hangup_during_what_s: float | None = None
    #: "1" to be called back on the caller ID, "2" for no call back
    callback_key: str = "1"
    #: press star once to hear the reference again
    repeat_reference: bool = False
    #: hang up as soon as the reference has been read (None: wait for the controller)
    hangup_after_reference: bool = False
    #: the silence limits the controller is configured with
    where_silence_s: float = 4.0
    what_silence_s: float = 6.0
    menu_silence_s: float = 2.0


@dataclass(frozen=True)
class CallPlan:
    script: InCall
    #: expected seconds after the answer when the caller starts hearing the reference
    reference_at_s: float | None


def _length(path: Path) -> float:
    return read_wav(path).duration_s


def plan_report_call(caller: ReportCaller, times: PromptTimes, record_to: Path | None) -> CallPlan:
    """The rig script for ``caller``, timed to the prompts in ``times``."""
    keys: list[DtmfPress] = []
    plays: list[Playback] = []
    t = ANSWER_LAG_S + times("report_greeting", "report_emergency_warning")
    margin = SPEECH_MARGIN_S
    if caller.category_key is not None:
        keys.append(DtmfPress(digit=caller.category_key, at_s=t - 1.0))
    else:
        if caller.category_speech is None:
            raise ValueError("say a category (category_speech) or press one (category_key)")
        t += times("report_category_menu") + 0.7
        plays.append(Playback(path=caller.category_speech, at_s=t))
        t += _length(caller.category_speech) + caller.menu_silence_s + MENU_RECOGNITION_S
        margin = SPEECH_MARGIN_AFTER_MENU_S
    # where: the prompt, the beep, then the recording
    t += times("report_where") + BEEP_S
    if caller.where is None:
        t = _silence(t, "report_where", caller.where_silence_s, times)
    else:
        t = _speak(caller.where, t + margin, plays, keys)
    # what happened
    t += 0.2 + times("report_what") + BEEP_S
    if caller.what is None:
        t = _silence(t, "report_what", caller.what_silence_s, times)
    elif caller.hangup_during_what_s is not None:
        plays.append(Playback(path=caller.what, at_s=t + SPEECH_MARGIN_S))
        hangup_at = t + SPEECH_MARGIN_S + caller.hangup_during_what_s
        script = InCall(
            dtmf=tuple(keys), play=tuple(plays), record_to=record_to, hangup_after_s=hangup_at
        )
        return CallPlan(script, None)
    else:
        t = _speak(caller.what, t + SPEECH_MARGIN_S, plays, keys)
        keys.append(DtmfPress(digit="1", at_s=t + 1.0))  # keep it (the re-record menu)
        t += 1.0
    keys.append(DtmfPress(digit=caller.callback_key, at_s=t + 0.6))
    reference_at = t + 1.0
    reading = times.reference()
    if caller.repeat_reference:
        star_at = reference_at + times("report_reference_intro") + 1.0
        keys.append(DtmfPress(digit="*", at_s=star_at))
    hangup = None
    if caller.hangup_after_reference:
        readings = 2 if caller.repeat_reference else 1
        hangup = reference_at + readings * reading + 0.5
    script = InCall(dtmf=tuple(keys), play=tuple(plays), record_to=record_to, hangup_after_s=hangup)
    return CallPlan(script, reference_at)


def _speak(wav: Path, at: float, plays: list[Playback], keys: list[DtmfPress]) -> float:
    """Say ``wav`` from ``at``, then end the recording with the hash key; returns when."""
    plays.append(Playback(path=wav, at_s=at))
    end = at + _length(wav) + HASH_AFTER_S
    keys.append(DtmfPress(digit="#", at_s=end))
    return end


def _silence(t: float, prompt: str, silence_s: float, times: PromptTimes) -> float:
    """Say nothing: the recording ends on silence, the controller says it heard nothing
    and asks once more, and that recording ends on silence too."""
    t += silence_s + 0.5
    t += 0.2 + times("report_recording_empty", prompt) + BEEP_S
    return t + silence_s + 0.5
