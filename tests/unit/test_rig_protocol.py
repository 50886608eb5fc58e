"""The fleet/worker JSON-lines protocol, loopback addressing and call results (pure)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sip_test_rig.addressing import loopback_host, parse_hostport, target_uri
from sip_test_rig.errors import ProtocolError, ScriptError
from sip_test_rig.protocol import (
    AddPhone,
    Event,
    Hangup,
    PlaceCall,
    SetScript,
    Shutdown,
    decode_command,
    decode_event,
    encode_command,
    encode_event,
)
from sip_test_rig.results import CallResult
from sip_test_rig.script import CallScript, PhoneScript, RingAction, dtmf_sequence


@pytest.mark.parametrize(
    "command",
    [
        AddPhone("p1", "441632960100", "pw", ("127.0.0.1", 5060), PhoneScript(answer_after_s=2)),
        AddPhone("p2", "bob", "", None, PhoneScript(on_ring=RingAction.BUSY)),
        SetScript("p1", PhoneScript(record_to=Path("/tmp/{call_id}.wav"))),
        PlaceCall("p1", "p1-out1", CallScript(to="9001", dtmf=dtmf_sequence("12#"))),
        Hangup("p1-out1"),
        Shutdown(),
    ],
)
def test_every_command_survives_encoding(command: object) -> None:
    """Each command is one JSON line that decodes to an equal command."""
    line = encode_command(command)  # type: ignore[arg-type]
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert decode_command(line) == command


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        (b"not json\n", "not JSON"),
        (b"[1]\n", "JSON object"),
        (b'{"cmd":"dance"}\n', "unknown command"),
        (b'{"cmd":"hangup"}\n', "call_id"),
        (
            b'{"cmd":"add_phone","phone_id":"p","username":"u","password":"",'
            b'"registrar":["127.0.0.1",70000],"script":{}}\n',
            "registrar",
        ),
        (
            b'{"cmd":"call","phone_id":"p","call_id":"c","script":{"to":"9001","x":1}}\n',
            "bad call command",
        ),
    ],
)
def test_malformed_commands_raise_protocol_error(line: bytes, complaint: str) -> None:
    """The worker can answer any garbage line with an error event naming the problem."""
    with pytest.raises(ProtocolError, match=complaint):
        decode_command(line)


def test_events_round_trip_with_their_fields() -> None:
    """An event line decodes to its kind and the fields it was sent with."""
    line = encode_event(Event.DTMF_RECEIVED, phone_id="b", call_id="b-in1", digit="#")
    assert decode_event(line) == (
        Event.DTMF_RECEIVED,
        {"phone_id": "b", "call_id": "b-in1", "digit": "#"},
    )
    with pytest.raises(ProtocolError):
        decode_event(b'{"event":"party"}')


def test_call_result_reads_a_call_ended_event() -> None:
    """call_ended fields become a typed CallResult, recording as a Path."""
    fields = {
        "phone_id": "bob",
        "call_id": "bob-in1",
        "direction": "incoming",
        "answered": True,
        "sip_status": 200,
        "reason": "Normal call clearing",
        "duration_s": 2.5,
        "ended_by": "remote",
        "recording": "/tmp/bob.wav",
        "digits_sent": "",
        "digits_received": "12#",
        "remote_uri": "<sip:alice@127.0.0.1>",
    }
    result = CallResult.from_event(fields)
    assert result.recording == Path("/tmp/bob.wav")
    assert (result.answered, result.ended_by, result.digits_received) == (True, "remote", "12#")
    assert result.to_json_dict()["recording"] == "/tmp/bob.wav"
    assert result.jitter_buffer == {}  # an event from before the counters were sent
    counted = CallResult.from_event({**fields, "jitter_buffer": {"empty": 3, "discard": 0}})
    assert counted.jitter_buffer == {"empty": 3, "discard": 0}
    with pytest.raises(ProtocolError):
        CallResult.from_event({"call_id": "x"})


def test_only_loopback_hosts_are_accepted() -> None:
    """localhost is mapped to 127.0.0.1 (no DNS); any other host is refused."""
    assert loopback_host("localhost") == "127.0.0.1"
    for host in ("10.0.0.1", "example.org", "0.0.0.0", "::1"):
        with pytest.raises(ScriptError, match=r"only talks to 127\.0\.0\.1"):
            loopback_host(host)


def test_registrar_option_parses_host_and_port() -> None:
    """--registrar 127.0.0.1:5060 gives a loopback host and an int port."""
    assert parse_hostport("127.0.0.1:5060") == ("127.0.0.1", 5060)
    for bad in ("127.0.0.1", ":5060", "127.0.0.1:0", "127.0.0.1:x", "8.8.8.8:5060"):
        with pytest.raises(ScriptError):
            parse_hostport(bad)


def test_extensions_are_dialled_at_the_registrar_and_uris_as_given() -> None:
    """'9001' becomes sip:9001@registrar; a loopback sip: URI is kept (localhost mapped)."""
    registrar = ("127.0.0.1", 5070)
    assert target_uri("9001", registrar) == "sip:9001@127.0.0.1:5070"
    assert target_uri("sip:bob@localhost:5062", None) == "sip:bob@127.0.0.1:5062"
    assert target_uri("sip:bob@127.0.0.1;transport=udp", None) == "sip:bob@127.0.0.1;transport=udp"


@pytest.mark.parametrize(
    ("to", "complaint"),
    [
        ("9001", "no registrar"),
        ("sip:bob@example.org", "only talks to 127.0.0.1"),
        ("sips:bob@127.0.0.1", "TLS"),
        ("90 01", "neither"),
        ("sip:bob@127.0.0.1:99999", "port"),
    ],
)
def test_bad_targets_are_refused_before_dialling(to: str, complaint: str) -> None:
    """A target the rig must not or cannot dial raises ScriptError."""
    with pytest.raises(ScriptError, match=complaint):
        target_uri(to, None)
