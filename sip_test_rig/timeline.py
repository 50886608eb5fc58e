"""Turn an in-call script into a time-ordered list of steps; pure, so tests need no phone.

The phone worker runs the steps with timers from the moment the call is answered. The
answering machine's steps depend on the greeting's length, which the caller passes in.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from sip_test_rig.script import InCall, PhoneScript


class Action(StrEnum):
    RECORD = "record"
    PLAY = "play"
    DTMF = "dtmf"
    HANGUP = "hangup"


# At equal times: start recording before playing (so the recording misses nothing), and
# hang up last (so a press at the hang-up instant still goes out).
_ORDER = {Action.RECORD: 0, Action.PLAY: 1, Action.DTMF: 2, Action.HANGUP: 3}


@dataclass(frozen=True)
class Step:
    at_s: float
    action: Action
    path: Path | None = None
    digit: str = ""


def in_call_steps(
    script: InCall,
    *,
    call_id: str,
    greeting_s: float = 0.0,
    beep: Path | None = None,
) -> list[Step]:
    """The steps of ``script`` for call ``call_id``, sorted by time.

    For an answering machine, ``greeting_s`` is the greeting's length and ``beep`` the tone
    file to play after it; its recording and hang-up follow the beep.
    """
    steps = [Step(p.at_s, Action.DTMF, digit=p.digit) for p in script.dtmf]
    steps += [Step(p.at_s, Action.PLAY, path=p.path) for p in script.play]
    recording = script.recording_path(call_id)
    hangup_at = script.hangup_after_s

    machine = script.answering_machine if isinstance(script, PhoneScript) else None
    if machine is not None:
        if beep is None:
            raise ValueError("an answering machine needs a beep file")
        listen_at = greeting_s + machine.beep_s
        steps += [
            Step(0.0, Action.PLAY, path=machine.greeting),
            Step(greeting_s, Action.PLAY, path=beep),
        ]
        if recording is not None:
            steps.append(Step(listen_at, Action.RECORD, path=recording))
        machine_hangup = listen_at + machine.record_s
        hangup_at = machine_hangup if hangup_at is None else min(hangup_at, machine_hangup)
    elif recording is not None:
        steps.append(Step(0.0, Action.RECORD, path=recording))

    if hangup_at is not None:
        steps.append(Step(hangup_at, Action.HANGUP))
    return sorted(steps, key=lambda s: (s.at_s, _ORDER[s.action]))
