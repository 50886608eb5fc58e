"""Behaviour scripts of the SIP test rig: validation, JSON round trips, the --dtmf syntax."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from sip_test_rig.errors import ScriptError
from sip_test_rig.script import (
    AnsweringMachine,
    CallScript,
    DtmfPress,
    InCall,
    PhoneScript,
    Playback,
    RingAction,
    dtmf_sequence,
    format_dtmf_option,
    parse_dtmf_option,
    to_json_dict,
)


def test_dtmf_option_reads_digits_and_times_in_order_given() -> None:
    """'1@3.0,#@20' presses 1 at 3 s and # at 20 s after the answer."""
    assert parse_dtmf_option("1@3.0,#@20") == (
        DtmfPress(digit="1", at_s=3.0),
        DtmfPress(digit="#", at_s=20.0),
    )


def test_dtmf_option_tolerates_spaces_and_lower_case_letters() -> None:
    """Spaces around items are ignored and a-d mean A-D."""
    assert parse_dtmf_option(" a @ 1 , * @0.5 ") == (
        DtmfPress(digit="A", at_s=1.0),
        DtmfPress(digit="*", at_s=0.5),
    )


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("1@3,", "item 2 is empty"),
        ("13", "has no '@'"),
        ("12@3", "expected one of"),
        ("x@3", "expected one of"),
        ("@3", "expected one of"),
        ("1@", "is not a number"),
        ("1@soon", "is not a number"),
        ("1@-2", "between 0 and"),
        ("1@nan", "between 0 and"),
        ("1@inf", "between 0 and"),
        ("1@99999", "between 0 and"),
    ],
)
def test_dtmf_option_garbage_is_refused_with_a_message_naming_the_problem(
    text: str, complaint: str
) -> None:
    """Every malformed --dtmf value raises ScriptError saying what is wrong."""
    with pytest.raises(ScriptError, match=complaint):
        parse_dtmf_option(text)


def test_dtmf_option_formats_back_to_the_same_presses() -> None:
    """format_dtmf_option is the inverse of parse_dtmf_option."""
    presses = parse_dtmf_option("1@3,#@20.5,9@0")
    assert parse_dtmf_option(format_dtmf_option(presses)) == presses


def test_dtmf_sequence_spaces_digits_evenly() -> None:
    """'12#' from 1 s every 0.5 s gives presses at 1.0, 1.5 and 2.0 s."""
    presses = dtmf_sequence("12#", start_s=1.0, gap_s=0.5)
    assert [(p.digit, p.at_s) for p in presses] == [("1", 1.0), ("2", 1.5), ("#", 2.0)]


def test_in_call_digits_are_in_time_order() -> None:
    """The digits a script sends read in the order they are pressed, not written."""
    script = InCall(dtmf=(DtmfPress(digit="2", at_s=5), DtmfPress(digit="1", at_s=1)))
    assert script.digits == "12"


@pytest.mark.parametrize(
    "make",
    [
        lambda: DtmfPress(digit="E", at_s=1),
        lambda: DtmfPress(digit="11", at_s=1),
        lambda: DtmfPress(digit="1", at_s=True),
        lambda: Playback(path="", at_s=0),  # type: ignore[arg-type]
        lambda: Playback(path=Path("a.wav"), at_s=-1),
        lambda: InCall(hangup_after_s=0),
        lambda: InCall(dtmf=("1",)),  # type: ignore[arg-type]
        lambda: PhoneScript(answer_after_s=math.inf),
        lambda: PhoneScript(on_ring="maybe"),  # type: ignore[arg-type]
        lambda: PhoneScript(
            on_ring=RingAction.BUSY, answering_machine=AnsweringMachine(greeting=Path("g.wav"))
        ),
        lambda: AnsweringMachine(greeting=Path("g.wav"), beep_hz=5000),
        lambda: AnsweringMachine(greeting=Path("g.wav"), record_s=0),
        lambda: CallScript(to=""),
        lambda: CallScript(to="90 01"),
        lambda: CallScript(to="9001", ring_timeout_s=0),
    ],
)
def test_invalid_scripts_are_refused_at_construction(make: object) -> None:
    """A script that cannot be followed raises ScriptError when it is built, not mid-call."""
    with pytest.raises(ScriptError):
        make()  # type: ignore[operator]


def test_paths_and_lists_are_normalised() -> None:
    """Strings become Paths and lists become tuples, so scripts compare and hash."""
    script = InCall(play=[Playback(path="a.wav")], record_to="out.wav")  # type: ignore[arg-type]
    assert script.play == (Playback(path=Path("a.wav")),)
    assert script.record_to == Path("out.wav")
    hash(script)


def test_recording_path_fills_in_the_call_id() -> None:
    """'{call_id}' in record_to gives every call of a phone its own file."""
    script = PhoneScript(record_to=Path("/tmp/rec/{call_id}.wav"))
    assert script.recording_path("bob-in3") == Path("/tmp/rec/bob-in3.wav")
    assert PhoneScript().recording_path("x") is None


def test_phone_script_survives_a_json_round_trip() -> None:
    """A full phone script goes through JSON text and comes back equal."""
    script = PhoneScript(
        on_ring=RingAction.ANSWER,
        answer_after_s=1.5,
        dtmf=dtmf_sequence("1#", start_s=2),
        play=(Playback(path=Path("/x/hello.wav"), at_s=0.5),),
        record_to=Path("/x/{call_id}.wav"),
        hangup_after_s=30,
        answering_machine=AnsweringMachine(greeting=Path("/x/greeting.wav"), record_s=5),
    )
    text = json.dumps(to_json_dict(script))
    assert PhoneScript.from_json_dict(json.loads(text)) == script


def test_call_script_survives_a_json_round_trip() -> None:
    """A call script goes through JSON text and comes back equal."""
    script = CallScript.of(
        "9001", InCall(dtmf=parse_dtmf_option("1@3,#@4"), hangup_after_s=5), ring_timeout_s=10
    )
    assert CallScript.from_json_dict(json.loads(json.dumps(to_json_dict(script)))) == script


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"answer_after": 1}, "no field"),
        ({"dtmf": "12"}, "must be a list"),
        ({"dtmf": [{"digit": "1"}]}, "needs field"),
        ({"on_ring": "sometimes"}, "on_ring must be one of"),
        ([], "JSON object"),
    ],
)
def test_bad_json_scripts_are_refused_with_the_reason(data: object, complaint: str) -> None:
    """Unknown keys, missing keys and wrong types in JSON are named in the error."""
    with pytest.raises(ScriptError, match=complaint):
        PhoneScript.from_json_dict(data)


def test_call_script_of_copies_the_in_call_part() -> None:
    """CallScript.of(to, in_call) keeps every in-call setting of in_call."""
    in_call = InCall(dtmf=dtmf_sequence("5"), record_to=Path("r.wav"), hangup_after_s=3)
    call = CallScript.of("9000", in_call, ring_timeout_s=7)
    assert (call.to, call.ring_timeout_s) == ("9000", 7)
    assert (call.dtmf, call.record_to, call.hangup_after_s) == (
        in_call.dtmf,
        in_call.record_to,
        in_call.hangup_after_s,
    )
