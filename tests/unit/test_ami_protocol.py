"""The sans-I/O AMI parser and serialiser, driven by recorded transcripts."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from ivr.ami.messages import Action, Event, Greeting, Message, ProtocolErrorMessage, Response
from ivr.ami.protocol import MAX_FRAME_BYTES, AmiProtocol, split_header

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"
TRANSCRIPTS = sorted(p.name for p in FIXTURES.glob("*.txt"))


def load(name: str, *, crlf: bool = True) -> bytes:
    data = (FIXTURES / name).read_bytes()
    return data.replace(b"\n", b"\r\n") if crlf else data


def chunked(data: bytes, sizes: Iterator[int]) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        size = next(sizes)
        yield data[pos : pos + size]
        pos += size


def parse(
    data: bytes, sizes: Iterator[int] | None = None, *, max_frame_bytes: int = MAX_FRAME_BYTES
) -> list[Message]:
    protocol = AmiProtocol(max_frame_bytes=max_frame_bytes)
    out: list[Message] = []
    for chunk in chunked(data, sizes or iter([len(data) or 1])):
        protocol.receive_data(chunk)
        while (message := protocol.next_message()) is not None:
            out.append(message)
    protocol.receive_data(b"")
    while (message := protocol.next_message()) is not None:
        out.append(message)
    return out


def fixed(size: int) -> Iterator[int]:
    while True:
        yield size


def random_sizes(seed: int, top: int = 97) -> Iterator[int]:
    rng = random.Random(seed)
    while True:
        yield rng.randint(1, top)


def all_chunkings(data: bytes, *, max_frame_bytes: int = MAX_FRAME_BYTES) -> list[list[Message]]:
    """The same bytes parsed whole, in fixed chunk sizes (1 = byte by byte) and in 20
    seeded random chunkings."""
    limit = max_frame_bytes
    runs = [parse(data, max_frame_bytes=limit)]
    runs += [parse(data, fixed(n), max_frame_bytes=limit) for n in (1, 2, 3, 5, 8, 13, 64, 1000)]
    runs += [parse(data, random_sizes(seed), max_frame_bytes=limit) for seed in range(20)]
    return runs


# ---- chunking and line endings never change the result ----------------------------------


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_transcript_parses_identically_in_any_chunking(name: str) -> None:
    """Byte-by-byte, fixed and random chunk sizes all yield the same messages."""
    runs = all_chunkings(load(name))
    assert runs[0], "transcript produced no messages"
    assert all(run == runs[0] for run in runs)
    assert not any(isinstance(m, ProtocolErrorMessage) for m in runs[0])


@pytest.mark.parametrize("name", TRANSCRIPTS)
def test_bare_lf_and_crlf_give_the_same_messages(name: str) -> None:
    """Asterisk sends CRLF; bare LF (proxies, hand-typed transcripts) parses the same."""
    assert parse(load(name, crlf=False)) == parse(load(name, crlf=True))


# ---- what the transcripts contain -------------------------------------------------------


def test_banner_login_answer_and_fully_booted() -> None:
    """The banner line (no blank line after it) is a Greeting; then ordinary frames."""
    greeting, login, booted, pong = parse(load("login_and_boot.txt"))
    assert isinstance(greeting, Greeting)
    assert greeting.version == "11.0.0"
    assert isinstance(login, Response)
    assert login.status == "Success" and login.action_id == "wl-1"
    assert login.message == "Authentication accepted"
    assert isinstance(booted, Event) and booted.name == "FullyBooted"
    assert booted.get("status") == "Fully Booted"
    assert isinstance(pong, Response) and pong.get("Ping") == "Pong"


def test_busy_originate_events_carry_cause_and_dial_status() -> None:
    """DialEnd BUSY and Hangup cause 17 arrive before an OriginateResponse with Reason 0."""
    messages = parse(load("originate_busy.txt"))
    names = [m.name if isinstance(m, Event) else type(m).__name__ for m in messages]
    assert names == [
        "Response",
        "Newchannel",
        "DialBegin",
        "DialEnd",
        "Hangup",
        "OriginateResponse",
    ]
    dial_end, hangup, originate = messages[3], messages[4], messages[5]
    assert isinstance(dial_end, Event) and dial_end["DialStatus"] == "BUSY"
    assert isinstance(hangup, Event)
    assert (hangup["Cause"], hangup["Cause-txt"]) == ("17", "User busy")
    # Has both Event: and Response: headers; the first one makes it an Event.
    assert isinstance(originate, Event)
    assert originate.action_id == "wl-7"
    assert originate["Response"] == "Failure" and originate["Reason"] == "0"
    assert originate["Application"] == "" and originate["Data"] == ""


def test_recorded_asterisk22_session() -> None:
    """A real capture: banner, answers in order, events with Timestamp headers, empty
    values."""
    messages = parse(load("asterisk22_recorded_session.txt"))
    assert isinstance(messages[0], Greeting) and messages[0].version == "11.0.0"
    events = [m for m in messages if isinstance(m, Event)]
    responses = [m for m in messages if isinstance(m, Response)]
    assert [r.action_id for r in responses] == [f"wl-{n}" for n in range(1, 9)]
    assert responses[1].output_lines[0].startswith("Asterisk 22.10.1")
    assert responses[6].is_error and responses[7].status == "Goodbye"
    hangups = [e for e in events if e.name == "Hangup"]
    assert len(hangups) == 2 and all(e["Cause-txt"] for e in hangups)
    assert all(e.get("Timestamp") for e in hangups)  # timestampevents = yes
    assert events[1]["AccountCode"] == ""


def test_answered_originate_then_dtmf() -> None:
    """OriginateResponse Success/Reason 4, then a DTMFEnd with the digit pressed."""
    events = [m for m in parse(load("originate_answered_dtmf.txt")) if isinstance(m, Event)]
    by_name = {e.name: e for e in events}
    assert by_name["OriginateResponse"]["Reason"] == "4"
    assert by_name["DTMFEnd"]["Digit"] == "1"
    assert by_name["DTMFEnd"]["Direction"] == "Received"
    assert by_name["Hangup"]["Cause"] == "16"


def test_event_list_frames_keep_their_action_ids() -> None:
    """CoreShowChannels: start response, items and Complete share the ActionID."""
    messages = parse(load("core_show_channels.txt"))
    first = messages[0]
    assert isinstance(first, Response) and first.event_list == "start"
    listed = [m for m in messages if isinstance(m, Event) and m.action_id == "wl-12"]
    assert [e.name for e in listed] == [
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]
    assert listed[-1].event_list == "Complete" and listed[-1]["ListItems"] == "2"


def test_modern_and_legacy_command_output() -> None:
    """Output: headers (Asterisk 14+) and Response: Follows raw text both read as lines."""
    version, channels, error, legacy, legacy_blank = parse(load("command_output.txt"))
    assert isinstance(version, Response)
    assert version.output_lines[0].startswith("Asterisk 22.10.1 built by")
    assert isinstance(channels, Response)
    assert channels.output_lines[2] == "" and channels.output_lines[-1] == "5 calls processed"
    assert isinstance(error, Response) and error.is_error
    assert "No such command" in error.output_lines[0]
    assert isinstance(legacy, Response) and legacy.status == "Follows"
    assert legacy.action_id == "wl-23"
    assert legacy.output_lines == (
        "Asterisk 13.38.3 built by mockbuild @ buildhost on a x86_64 running Linux "
        "on 2021-06-07 11:30:02 UTC",
    )
    assert isinstance(legacy_blank, Response)
    # A Key: value lookalike and a blank line inside the output stay output.
    assert legacy_blank.output_lines[:2] == ("Uptime: 1 hour, 2 minutes", "")
    assert legacy_blank.get("Uptime") is None
    assert [k for k, _ in legacy_blank.headers] == ["Response", "Privilege", "ActionID"]


def test_legacy_end_marker_glued_to_the_last_output_line() -> None:
    """Older Asterisk writes ``...last line--END COMMAND--``; the text before it is kept."""
    data = b"Response: Follows\r\nPrivilege: Command\r\nActionID: 9\r\n"
    data += b"1 active call--END COMMAND--\r\n\r\n"
    (response,) = parse(data)
    assert isinstance(response, Response) and response.output_lines == ("1 active call",)


def test_legacy_output_with_bare_lf_inside_crlf_headers() -> None:
    """Real legacy answers mix CRLF headers with the CLI's bare-LF output."""
    data = b"Response: Follows\r\nActionID: 3\r\nline one\nline two\n--END COMMAND--\r\n\r\n"
    data += b"Event: FullyBooted\r\n\r\n"
    response, event = parse(data)
    assert isinstance(response, Response)
    assert response.output_lines == ("line one", "line two")
    assert isinstance(event, Event) and event.name == "FullyBooted"


# ---- headers ----------------------------------------------------------------------------


def test_headers_are_ordered_repeatable_and_case_insensitive() -> None:
    """get() finds any case and returns the first value; get_all() returns all in order."""
    (event,) = parse(b"Event: VarSet\r\nVariable: a\r\nUNIQUEID: 1.2\r\nvariable: b\r\n\r\n")
    assert isinstance(event, Event)
    assert event.get("uniqueid") == "1.2" and "UniqueID" in event
    assert event.get_all("Variable") == ("a", "b")
    assert event.as_dict()["Variable"] == "a"
    assert event.get("missing", "dflt") == "dflt"
    with pytest.raises(KeyError):
        event["missing"]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Channel: PJSIP/x-1", ("Channel", "PJSIP/x-1")),
        ("AccountCode: ", ("AccountCode", "")),
        ("AccountCode:", ("AccountCode", "")),
        ("Data: a: b", ("Data", "a: b")),
        ("no colon here", None),
        ("Key:value", None),
        (": value", None),
        (" Key: value", None),
        ("K\x00ey: v", None),
        ("\ufffd\ufffd: v", None),
    ],
)
def test_split_header(line: str, expected: tuple[str, str] | None) -> None:
    """Only ``Key: value`` and ``Key:`` are headers; junk keys are rejected."""
    assert split_header(line) == expected


# ---- malformed input never raises ---------------------------------------------------------

VALID = b"Event: Hangup\r\nUniqueid: 42\r\nCause: 16\r\n\r\n"


def test_frame_with_a_line_without_colon_is_reported_then_parsing_goes_on() -> None:
    """A broken frame becomes one ProtocolErrorMessage; the next frame is intact."""
    data = b"Event: Newchannel\r\nthis is not a header\r\n\r\n" + VALID
    for run in all_chunkings(data):
        assert len(run) == 2
        assert isinstance(run[0], ProtocolErrorMessage)
        assert b"not a header" in run[0].raw
        assert isinstance(run[1], Event) and run[1].get("Uniqueid") == "42"


def test_binary_junk_before_a_frame_is_reported_and_the_frame_delivered() -> None:
    """Junk lines glued in front of an Event: line cost nothing but a report."""
    data = b"\x00\xff\xfe\x13garbage\r\n\x89PNG\r\n" + VALID
    for run in all_chunkings(data):
        assert [type(m) for m in run] == [ProtocolErrorMessage, Event]
        assert isinstance(run[1], Event) and run[1].name == "Hangup"


def test_binary_junk_frame_between_valid_frames() -> None:
    data = VALID + b"\xde\xad\xbe\xef\r\n\x00\x01\x02\r\n\r\n" + VALID
    kinds = [type(m) for m in parse(data, fixed(3))]
    assert kinds == [Event, ProtocolErrorMessage, Event]


def test_frame_without_response_or_event_is_reported() -> None:
    (error,) = parse(b"Foo: bar\r\nBaz: qux\r\n\r\n")
    assert isinstance(error, ProtocolErrorMessage) and "no Response or Event" in error.reason


def test_overlong_frame_is_skipped_up_to_the_next_blank_line() -> None:
    """More than max_frame_bytes in one frame: one report, then the next frame parses."""
    big = b"Event: Flood\r\n" + b"X-Pad: " + b"y" * 600 + b"\r\n" + b"Other: z\r\n\r\n"
    for run in all_chunkings(big + VALID, max_frame_bytes=256):
        assert [type(m) for m in run] == [ProtocolErrorMessage, Event]
        assert isinstance(run[0], ProtocolErrorMessage) and "longer than 256" in run[0].reason


def test_overlong_line_without_newline_keeps_memory_bounded() -> None:
    """An endless line is dropped as it arrives instead of being buffered."""
    protocol = AmiProtocol(max_frame_bytes=1024)
    for _ in range(100):
        protocol.receive_data(b"z" * 1000)
        while protocol.next_message() is not None:
            pass
    assert len(protocol._buf) < 2048
    protocol.receive_data(b"\r\n\r\n" + VALID)
    assert isinstance(protocol.next_message(), Event)


def test_default_limit_is_one_mebibyte() -> None:
    """A 1.5 MiB frame is refused with the default limit; a 900 KiB one is accepted."""
    ok = b"Event: Big\r\nData: " + b"a" * (900 * 1024) + b"\r\n\r\n"
    too_big = b"Event: Big\r\nData: " + b"a" * (1536 * 1024) + b"\r\n\r\n"
    messages = parse(ok + too_big + VALID, fixed(65536))
    assert [type(m) for m in messages] == [Event, ProtocolErrorMessage, Event]


def test_connection_closed_mid_frame_is_reported() -> None:
    (error,) = parse(b"Event: Hangup\r\nUniqueid: 4")
    assert isinstance(error, ProtocolErrorMessage) and "closed" in error.reason


def test_stray_blank_lines_between_frames_are_ignored() -> None:
    assert [type(m) for m in parse(b"\r\n\r\n" + VALID + b"\r\n\n" + VALID)] == [Event, Event]


# ---- serialising actions ----------------------------------------------------------------


def test_send_serialises_with_crlf_and_repeated_variables() -> None:
    """Variables become one ``Variable: name=value`` line each, after the headers."""
    action = Action(
        "Originate",
        {"Channel": "PJSIP/441632960100", "Async": "true"},
        variables={"CAMPAIGN": "7", "MEMBER": "x=y"},
        action_id="wl-5",
    )
    assert AmiProtocol().send(action) == (
        b"Action: Originate\r\nActionID: wl-5\r\nChannel: PJSIP/441632960100\r\n"
        b"Async: true\r\nVariable: CAMPAIGN=7\r\nVariable: MEMBER=x=y\r\n\r\n"
    )


def test_send_accepts_repeated_header_pairs_and_utf8() -> None:
    action = Action("UserEvent", [("UserEvent", "Note"), ("Line", "1"), ("Line", "Zoë")])
    assert AmiProtocol().send(action).endswith(b"Line: 1\r\nLine: Zo\xc3\xab\r\n\r\n")


@pytest.mark.parametrize(
    "action",
    [
        Action("Originate", {"CallerID": "Evil\r\nAction: Hangup"}),
        Action("Originate", {"Bad:Key": "v"}),
        Action("Originate", variables={"A\nB": "1"}),
        Action("Originate", variables={"A=B": "1"}),
        Action("Ping", {"ActionID": "1"}, action_id="2"),
    ],
)
def test_send_refuses_what_would_break_framing(action: Action) -> None:
    """CR/LF in a value would let data inject headers or whole actions."""
    with pytest.raises(ValueError):
        AmiProtocol().send(action)


def test_action_repr_hides_the_secret() -> None:
    action = Action("Login", {"Username": "watchline", "Secret": "hunter2"})
    assert "hunter2" not in repr(action) and "watchline" in repr(action)


def test_sent_action_parses_back_with_the_header_splitter() -> None:
    """What send() writes is well-formed AMI: every line splits into Key/value."""
    payload = AmiProtocol().send(Action("Command", {"Command": "core show version"}))
    lines = payload.decode().split("\r\n")
    assert lines[-2:] == ["", ""]
    assert [split_header(line) for line in lines[:-2]] == [
        ("Action", "Command"),
        ("Command", "core show version"),
    ]
