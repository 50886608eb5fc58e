"""A simulated coordinator for the bulletin line: a rig phone script timed to the prompts.

Rig phones act on a clock (keys and speech at set seconds after the answer), so the script
is planned from the lengths of the built prompts. Two things make it robust to timing:

- keys are kept by the controller while a prompt plays (typeahead), so keys after the last
  recording only have to come in the right order, not at the right moment;
- each recording's speech starts well after the tone and is ended by the hash key, and the
  key that asks to record again is pressed while the last recording is played back, so a
  slow controller shifts everything later rather than cutting speech off.

Used by the end-to-end tests and the demo (``demo.py``); not by the controller itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ivr.speech.audio import read_wav
from ivr.speech.prompt_times import PromptTimes as PromptTimes  # re-exported for callers
from sip_test_rig.script import DtmfPress, InCall, Playback, dtmf_sequence

#: From the rig's answer to the first prompt's sound (ARI answer + play round trips).
ANSWER_LAG_S = 0.3
#: Asterisk's recording beep (beep.gsm, 0.44 s).
BEEP_S = 0.45
#: Speech starts this long after the expected start of a recording.
SPEECH_MARGIN_S = 1.2
#: From the end of the speech to the hash key that ends the recording.
HASH_AFTER_S = 0.6
#: After the hash key, the recording is fetched, checked and played back; keys for the
#: review are pressed this long after, while the playback runs.
REVIEW_AFTER_S = 3.0
#: Between keys typed ahead.
KEY_GAP_S = 0.6
KEY_DIGIT_GAP_S = 0.25


@dataclass(frozen=True)
class CoordinatorCaller:
    pin: str
    #: what is said for each recording; every take but the last is recorded again (key 2)
    takes: tuple[Path, ...]
    #: keys on the group list ("0" for every group), before the hash key
    group_keys: str
    urgent: bool = False
    #: "1" now, "2" this evening, "3" tomorrow morning
    when_key: str = "1"
    #: hang up this long after the last key (time for the send and its confirmation)
    linger_s: float = 6.0


@dataclass(frozen=True)
class CoordinatorPlan:
    script: InCall
    #: expected seconds after the answer when each recording starts
    recordings_at: tuple[float, ...]


def plan_coordinator_call(
    caller: CoordinatorCaller, times: PromptTimes, *, record_to: Path | None = None
) -> CoordinatorPlan:
    """The rig script for a coordinator who signs in by caller ID and records by phone."""
    if not caller.takes:
        raise ValueError("a coordinator needs something to say")
    keys: list[DtmfPress] = []
    plays: list[Playback] = []
    t = ANSWER_LAG_S + times("bulletin_welcome", "bulletin_enter_pin") + 0.3
    keys += dtmf_sequence(f"{caller.pin}#", start_s=t, gap_s=KEY_DIGIT_GAP_S)
    t += (len(caller.pin) + 1) * KEY_DIGIT_GAP_S + 1.0
    keys.append(DtmfPress(digit="1", at_s=t))  # main menu: record
    starts: list[float] = []
    for n, take in enumerate(caller.takes):
        start = t + 0.3 + times("bulletin_record") + BEEP_S
        starts.append(start)
        speech_at = start + SPEECH_MARGIN_S
        plays.append(Playback(path=take, at_s=speech_at))
        t = speech_at + read_wav(take).duration_s + HASH_AFTER_S
        keys.append(DtmfPress(digit="#", at_s=t))
        t += REVIEW_AFTER_S
        last = n == len(caller.takes) - 1
        keys.append(DtmfPress(digit="1" if last else "2", at_s=t))  # accept, or again
    for key in f"{caller.group_keys}#{'1' if caller.urgent else '2'}{caller.when_key}":
        t += KEY_GAP_S
        keys.append(DtmfPress(digit=key, at_s=t))
    script = InCall(
        dtmf=tuple(keys), play=tuple(plays), record_to=record_to,
        hangup_after_s=t + caller.linger_s,
    )  # fmt: skip
    return CoordinatorPlan(script, tuple(starts))


def group_keys_for(chosen: list[str], offered: list[str]) -> str:
    """The keys that choose ``chosen`` from the spoken list (``offered``, sorted by name)."""
    ordered = sorted(offered)
    if sorted(chosen) == ordered:
        return "0"
    return "".join(str(ordered.index(name) + 1) for name in chosen)
