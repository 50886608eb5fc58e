"""Turning in-call scripts into timed steps (no phone needed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sip_test_rig.script import (
    AnsweringMachine,
    DtmfPress,
    InCall,
    PhoneScript,
    Playback,
    dtmf_sequence,
)
from sip_test_rig.timeline import Action, Step, in_call_steps


def test_steps_are_sorted_by_time_with_recording_first_and_hangup_last() -> None:
    """At equal times the recorder starts before playback and the hang-up comes last."""
    script = InCall(
        play=(Playback(path=Path("a.wav"), at_s=0),),
        dtmf=(DtmfPress(digit="5", at_s=3),),
        record_to=Path("rec.wav"),
        hangup_after_s=3,
    )
    steps = in_call_steps(script, call_id="c1")
    assert steps == [
        Step(0.0, Action.RECORD, path=Path("rec.wav")),
        Step(0.0, Action.PLAY, path=Path("a.wav")),
        Step(3.0, Action.DTMF, digit="5"),
        Step(3.0, Action.HANGUP),
    ]


def test_a_script_without_hangup_leaves_the_call_to_the_far_end() -> None:
    """No hangup_after_s means no hang-up step."""
    steps = in_call_steps(InCall(dtmf=dtmf_sequence("12")), call_id="c1")
    assert [s.action for s in steps] == [Action.DTMF, Action.DTMF]


def test_recording_path_is_per_call() -> None:
    """The record step carries the path with the call id filled in."""
    steps = in_call_steps(InCall(record_to=Path("/r/{call_id}.wav")), call_id="bob-in2")
    assert steps == [Step(0.0, Action.RECORD, path=Path("/r/bob-in2.wav"))]


def test_answering_machine_greets_beeps_then_records_the_message_and_hangs_up() -> None:
    """Greeting at 0, beep when it ends, recording after the beep, hang-up record_s later."""
    machine = AnsweringMachine(greeting=Path("g.wav"), beep_s=0.5, record_s=4)
    script = PhoneScript(answering_machine=machine, record_to=Path("msg.wav"))
    steps = in_call_steps(script, call_id="m", greeting_s=2.0, beep=Path("beep.wav"))
    assert steps == [
        Step(0.0, Action.PLAY, path=Path("g.wav")),
        Step(2.0, Action.PLAY, path=Path("beep.wav")),
        Step(2.5, Action.RECORD, path=Path("msg.wav")),
        Step(6.5, Action.HANGUP),
    ]


def test_answering_machine_hangs_up_at_the_earlier_of_its_two_limits() -> None:
    """An explicit hangup_after_s shorter than greeting+beep+record_s wins."""
    machine = AnsweringMachine(greeting=Path("g.wav"), record_s=30)
    script = PhoneScript(answering_machine=machine, hangup_after_s=5)
    steps = in_call_steps(script, call_id="m", greeting_s=2.0, beep=Path("b.wav"))
    assert steps[-1] == Step(5.0, Action.HANGUP)


def test_answering_machine_needs_its_beep() -> None:
    """Planning a machine without a beep file is a programming error."""
    script = PhoneScript(answering_machine=AnsweringMachine(greeting=Path("g.wav")))
    with pytest.raises(ValueError, match="beep"):
        in_call_steps(script, call_id="m", greeting_s=1.0)
