"""Pure ActionID correlation: responses, event lists, completion events."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.ami.messages import Event, Message, Response
from ivr.ami.protocol import AmiProtocol
from ivr.ami.tracker import ActionTracker, Completed, Expect, Rejected

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "ami"


def response(action_id: str, status: str = "Success", *extra: tuple[str, str]) -> Response:
    return Response(headers=(("Response", status), ("ActionID", action_id), *extra))


def event(name: str, action_id: str | None = None, *extra: tuple[str, str]) -> Event:
    headers: tuple[tuple[str, str], ...] = (("Event", name),)
    if action_id is not None:
        headers += (("ActionID", action_id),)
    return Event(headers=headers + extra)


def replay(tracker: ActionTracker, messages: list[Message]) -> list[Completed | Rejected]:
    return [o for o in map(tracker.feed, messages) if o is not None]


def transcript(name: str) -> list[Message]:
    protocol = AmiProtocol()
    protocol.receive_data((FIXTURES / name).read_bytes())
    out: list[Message] = []
    while (message := protocol.next_message()) is not None:
        out.append(message)
    return out


def test_plain_response_completes_its_action_only() -> None:
    """A response for another ActionID, or none, leaves the action pending."""
    tracker = ActionTracker()
    tracker.expect("a")
    assert tracker.feed(response("b")) is None
    assert tracker.feed(Response(headers=(("Response", "Success"),))) is None
    outcome = tracker.feed(response("a"))
    assert isinstance(outcome, Completed) and outcome.action_id == "a"
    assert tracker.pending == frozenset()


def test_error_response_rejects() -> None:
    tracker = ActionTracker()
    tracker.expect("a", Expect.EVENT_LIST)
    outcome = tracker.feed(response("a", "Error", ("Message", "Permission denied")))
    assert isinstance(outcome, Rejected) and outcome.response.message == "Permission denied"


def test_event_list_from_a_recorded_transcript() -> None:
    """CoreShowChannels collects its two items and Complete; an interleaved Newstate
    for no action is not part of the list."""
    tracker = ActionTracker()
    tracker.expect("wl-12", Expect.EVENT_LIST)
    (outcome,) = replay(tracker, transcript("core_show_channels.txt"))
    assert isinstance(outcome, Completed)
    assert [e.name for e in outcome.events] == [
        "CoreShowChannel",
        "CoreShowChannel",
        "CoreShowChannelsComplete",
    ]


def test_every_action_of_a_recorded_asterisk22_session_is_settled() -> None:
    """Replaying the real capture settles all eight actions, each in its own shape."""
    tracker = ActionTracker()
    for n in (1, 2, 6, 7, 8):
        tracker.expect(f"wl-{n}")
    for n in (3, 5):
        tracker.expect(f"wl-{n}", Expect.COMPLETION_EVENT, completion_event="OriginateResponse")
    tracker.expect("wl-4", Expect.EVENT_LIST)
    outcomes = {
        o.action_id: o for o in replay(tracker, transcript("asterisk22_recorded_session.txt"))
    }
    assert sorted(outcomes) == [f"wl-{n}" for n in range(1, 9)]
    assert tracker.pending == frozenset()
    assert isinstance(outcomes["wl-7"], Rejected)
    answered, failed, listed = outcomes["wl-3"], outcomes["wl-5"], outcomes["wl-4"]
    assert isinstance(answered, Completed) and answered.events[0]["Reason"] == "4"
    assert isinstance(failed, Completed) and failed.events[0]["Response"] == "Failure"
    assert isinstance(listed, Completed) and len(listed.events) == 3
    assert listed.events[0]["Uniqueid"] == answered.events[0]["Uniqueid"]


def test_success_without_event_list_is_an_empty_list() -> None:
    tracker = ActionTracker()
    tracker.expect("a", Expect.EVENT_LIST)
    outcome = tracker.feed(response("a"))
    assert isinstance(outcome, Completed) and outcome.events == ()


def test_originate_completes_on_its_originate_response_from_a_transcript() -> None:
    tracker = ActionTracker()
    tracker.expect("wl-7", Expect.COMPLETION_EVENT, completion_event="OriginateResponse")
    (outcome,) = replay(tracker, transcript("originate_busy.txt"))
    assert isinstance(outcome, Completed)
    assert outcome.response.message == "Originate successfully queued"
    assert [e.name for e in outcome.events] == ["OriginateResponse"]


def test_completion_event_before_the_response_still_completes() -> None:
    """Should a proxy reorder frames, the early event is kept until the response comes."""
    tracker = ActionTracker()
    tracker.expect("a", Expect.COMPLETION_EVENT, completion_event="OriginateResponse")
    assert tracker.feed(event("OriginateResponse", "a", ("Reason", "4"))) is None
    outcome = tracker.feed(response("a"))
    assert isinstance(outcome, Completed) and outcome.events[0]["Reason"] == "4"


def test_events_do_not_complete_plain_response_actions() -> None:
    tracker = ActionTracker()
    tracker.expect("a")
    assert tracker.feed(event("OriginateResponse", "a")) is None
    assert tracker.pending == frozenset({"a"})


def test_discard_makes_late_answers_harmless() -> None:
    tracker = ActionTracker()
    tracker.expect("a")
    tracker.discard("a")
    assert tracker.feed(response("a")) is None


def test_clear_returns_what_was_waiting() -> None:
    tracker = ActionTracker()
    tracker.expect("a")
    tracker.expect("b", Expect.EVENT_LIST)
    assert sorted(tracker.clear()) == ["a", "b"]
    assert tracker.pending == frozenset()


def test_duplicate_or_incomplete_expectations_are_refused() -> None:
    tracker = ActionTracker()
    tracker.expect("a")
    with pytest.raises(ValueError):
        tracker.expect("a")
    with pytest.raises(ValueError):
        tracker.expect("b", Expect.COMPLETION_EVENT)
