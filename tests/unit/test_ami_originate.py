"""Building Originate actions and reading OriginateResponse events (pure)."""

from __future__ import annotations

import uuid

import pytest

from ivr.ami.messages import Event
from ivr.ami.originate import (
    OriginateReason,
    build_originate,
    parse_originate_response,
)


def test_dialplan_originate_is_async_with_channel_id_and_variables() -> None:
    action, channel_id = build_originate(
        "PJSIP/441632960100",
        context="watchline-delivery",
        exten="s",
        variables={"CAMPAIGN_ID": "7", "ATTEMPT_ID": "31"},
        timeout_ms=25_000,
        caller_id='"Watchline" <01632960000>',
    )
    uuid.UUID(channel_id)  # a fresh UUID by default
    assert action.name == "Originate"
    assert action.get("Async") == "true"
    assert action.get("ChannelId") == channel_id
    assert action.get("Priority") == "1"
    assert action.get("Timeout") == "25000"
    assert action.get("CallerID") == '"Watchline" <01632960000>'
    assert action.get("Application") is None
    assert action.variables == (("CAMPAIGN_ID", "7"), ("ATTEMPT_ID", "31"))


def test_application_originate_keeps_the_given_channel_id() -> None:
    action, channel_id = build_originate(
        "Local/s@rig", application="Playback", data="tt-monkeys", channel_id="cid-1"
    )
    assert channel_id == "cid-1"
    assert (action.get("Application"), action.get("Data")) == ("Playback", "tt-monkeys")
    assert action.get("Context") is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"context": "c", "exten": "s", "application": "Playback"},
        {"context": "c"},
        {"application": "Echo", "timeout_ms": 0},
    ],
)
def test_ambiguous_or_incomplete_targets_are_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        build_originate("PJSIP/x", **kwargs)  # type: ignore[arg-type]


def _response(**headers: str) -> Event:
    return Event(headers=(("Event", "OriginateResponse"), *headers.items()))


def test_answered_result() -> None:
    event = _response(
        Response="Success", Reason="4", Channel="PJSIP/441632960100-00000005", Uniqueid="u-1"
    )
    result = parse_originate_response(event, action_id="wl-8", channel_id="u-1")
    assert result.answered and not result.rang_out
    assert result.reason_kind is OriginateReason.ANSWERED
    assert (result.channel, result.uniqueid) == ("PJSIP/441632960100-00000005", "u-1")


def test_failure_with_null_uniqueid_reads_as_none() -> None:
    event = _response(Response="Failure", Reason="0", Channel="PJSIP/x", Uniqueid="<null>")
    result = parse_originate_response(event, action_id="a", channel_id="c")
    assert not result.answered and result.uniqueid is None
    assert result.reason_kind is OriginateReason.OTHER


def test_rang_out_and_unusual_reasons() -> None:
    rang = parse_originate_response(
        _response(Response="Failure", Reason="3"), action_id="a", channel_id="c"
    )
    assert rang.rang_out and rang.reason_kind is OriginateReason.RANG_OUT
    odd = parse_originate_response(
        _response(Response="Failure", Reason="5"), action_id="a", channel_id="c"
    )
    assert odd.reason == 5 and odd.reason_kind is OriginateReason.OTHER
    junk = parse_originate_response(_response(Reason="x"), action_id="a", channel_id="c")
    assert junk.reason == 0 and junk.response == "Failure"
