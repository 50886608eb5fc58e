"""A fax attempt's facts → its outcome, and reading SendFAX's report from the UserEvent."""

from __future__ import annotations

import dataclasses

import pytest

from ivr.ami.messages import Event
from ivr.campaigns.outcomes import Outcome
from ivr.fax.result import FaxResult, fax_outcome, is_fax_report, parse_fax_report

BASE = FaxResult(attempt_id="a-1", channel_id="c-1", answered=False)


def result(**changes: object) -> FaxResult:
    return dataclasses.replace(BASE, **changes)  # type: ignore[arg-type]


SENT = result(
    answered=True, originate_reason=4, status="SUCCESS", pages=3, error="HANGUP", bitrate=14400
)

# (case id, result, expected pages, outcome, words expected in the detail)
CASES: list[tuple[str, FaxResult, int, Outcome, list[str]]] = [
    # -- delivered --
    ("all pages", SENT, 3, Outcome.FAX_SENT, ["3 of 3", "14400 bit/s"]),
    (
        "success although FAXERROR reads HANGUP",
        dataclasses.replace(SENT, pages=1, error="HANGUP"),
        1,
        Outcome.FAX_SENT,
        ["1 of 1"],
    ),
    ("over T.38", dataclasses.replace(SENT, mode="T38"), 3, Outcome.FAX_SENT, ["T.38"]),
    ("in audio", dataclasses.replace(SENT, mode="audio"), 3, Outcome.FAX_SENT, ["audio"]),
    # -- part of it --
    (
        "line lost during page 2",
        result(
            answered=True,
            originate_reason=4,
            status="FAILED",
            pages=1,
            error="The call dropped prematurely",
        ),
        2,
        Outcome.FAX_PARTIAL,
        ["1 of 2", "dropped prematurely"],
    ),
    (
        "success with fewer pages than sent",
        dataclasses.replace(SENT, pages=2),
        3,
        Outcome.FAX_PARTIAL,
        ["2 of 3"],
    ),
    # -- answered, nothing sent --
    (
        "a person answered",
        result(answered=True, originate_reason=4, status="FAILED", pages=0, error="NO_FAX"),
        1,
        Outcome.FAX_FAILED,
        ["no page sent", "NO_FAX"],
    ),
    (
        "answered but no report came",
        result(answered=True, originate_reason=4, hangup_cause=16),
        2,
        Outcome.FAX_FAILED,
        ["without a fax result", "cause 16"],
    ),
    (
        "overran the deadline",
        result(answered=True, originate_reason=4, timed_out=True),
        2,
        Outcome.FAX_FAILED,
        ["did not finish in time"],
    ),
    # -- never answered: the call vocabulary --
    (
        "busy",
        result(originate_reason=0, hangup_cause=17, dial_status="BUSY"),
        2,
        Outcome.BUSY,
        ["busy"],
    ),
    ("rang out", result(originate_reason=3, hangup_cause=19), 2, Outcome.NO_ANSWER, ["no answer"]),
    ("rang out, no hangup event", result(originate_reason=3), 2, Outcome.NO_ANSWER, ["rang out"]),
    (
        "unallocated number",
        result(originate_reason=0, hangup_cause=1),
        2,
        Outcome.INVALID_NUMBER,
        ["unallocated"],
    ),
    ("declined", result(originate_reason=0, hangup_cause=21), 2, Outcome.FAILED, ["declined"]),
    ("nothing known", result(originate_reason=0), 2, Outcome.FAILED, ["call failed"]),
]


@pytest.mark.parametrize(
    ("result_", "expected_pages", "outcome", "words"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_fax_outcome(
    result_: FaxResult, expected_pages: int, outcome: Outcome, words: list[str]
) -> None:
    got, detail = fax_outcome(result_, expected_pages)
    assert got is outcome
    for word in words:
        assert word in detail, detail


def test_only_fax_sent_counts_as_delivered_among_fax_outcomes() -> None:
    from ivr.campaigns.outcomes import DELIVERED

    assert Outcome.FAX_SENT in DELIVERED
    assert Outcome.FAX_PARTIAL not in DELIVERED and Outcome.FAX_FAILED not in DELIVERED


def test_an_expected_page_count_below_one_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        fax_outcome(SENT, 0)


def test_t38_is_unknown_until_the_dialplan_reports_the_mode() -> None:
    assert SENT.t38 is None
    assert dataclasses.replace(SENT, mode="T38").t38 is True
    assert dataclasses.replace(SENT, mode="audio").t38 is False


# ---- the UserEvent --------------------------------------------------------------------


def user_event(**headers: str) -> Event:
    base = {"Event": "UserEvent", "Uniqueid": "c-1", "UserEvent": "WatchlineFax"}
    return Event(headers=tuple({**base, **headers}.items()))


def test_the_report_as_asterisk_sent_it_on_success() -> None:
    # Headers copied from a real run (Asterisk 22.10.1, SendFAX to rig machine 901).
    event = user_event(Attempt="a-1", Status="SUCCESS", Pages="3", Error="HANGUP", Bitrate="14400")
    report = parse_fax_report(event)
    assert (report.attempt_id, report.status, report.pages) == ("a-1", "SUCCESS", 3)
    assert (report.error, report.bitrate, report.mode) == ("HANGUP", 14400, None)


def test_empty_values_from_a_sendfax_that_never_ran_read_as_unknown() -> None:
    report = parse_fax_report(user_event(Attempt="a-1", Status="", Pages="", Error="", Bitrate=""))
    assert (report.status, report.pages, report.error, report.bitrate) == (None, 0, None, None)


def test_the_report_is_matched_by_attempt_id_or_else_by_channel() -> None:
    assert is_fax_report(user_event(Attempt="a-1"), "a-1")
    assert not is_fax_report(user_event(Attempt="a-2"), "a-1", "c-1")
    assert is_fax_report(user_event(Attempt=""), "a-1", "c-1")
    assert not is_fax_report(user_event(Attempt="a-1", UserEvent="Other"), "a-1")
    hangup = Event(headers=(("Event", "Hangup"), ("Uniqueid", "c-1")))
    assert not is_fax_report(hangup, "a-1", "c-1")
