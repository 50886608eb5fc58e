"""The outcome vocabulary and the mapping from what Asterisk reports to an attempt's result."""

from __future__ import annotations

import pytest

from ivr.campaigns.outcomes import (
    DELIVERED,
    AttemptResult,
    CallFacts,
    FaxFacts,
    Outcome,
    classify_call,
    classify_fax,
)

# (case id, facts, expected outcome, words expected in the cause)
CALL_CASES: list[tuple[str, CallFacts, Outcome, str]] = [
    # -- never answered: hangup cause and DialStatus --
    ("busy by cause", CallFacts(originate_reason=0, hangup_cause=17), Outcome.BUSY, "cause 17"),
    ("busy by dialstatus", CallFacts(originate_reason=0, dial_status="BUSY"), Outcome.BUSY, "busy"),
    ("busy reason 5", CallFacts(originate_reason=5), Outcome.BUSY, "busy"),
    ("no answer 19", CallFacts(originate_reason=0, hangup_cause=19), Outcome.NO_ANSWER, "cause 19"),
    ("no user response 18", CallFacts(hangup_cause=18), Outcome.NO_ANSWER, "no user response"),
    (
        "NOANSWER",
        CallFacts(originate_reason=3, dial_status="NOANSWER"),
        Outcome.NO_ANSWER,
        "no answer",
    ),
    ("rang out, reason 3 only", CallFacts(originate_reason=3), Outcome.NO_ANSWER, "rang out"),
    ("unallocated 1", CallFacts(hangup_cause=1), Outcome.INVALID_NUMBER, "unallocated"),
    (
        "unallocated beats CHANUNAVAIL",
        CallFacts(originate_reason=0, hangup_cause=1, dial_status="CHANUNAVAIL"),
        Outcome.INVALID_NUMBER,
        "cause 1",
    ),
    (
        "invalid format 28",
        CallFacts(hangup_cause=28),
        Outcome.INVALID_NUMBER,
        "invalid number format",
    ),
    ("number changed 22", CallFacts(hangup_cause=22), Outcome.INVALID_NUMBER, "number changed"),
    ("unregistered 20", CallFacts(hangup_cause=20), Outcome.FAILED, "unregistered"),
    (
        "CHANUNAVAIL",
        CallFacts(originate_reason=0, hangup_cause=20, dial_status="CHANUNAVAIL"),
        Outcome.FAILED,
        "unavailable",
    ),
    ("declined 21", CallFacts(originate_reason=0, hangup_cause=21), Outcome.FAILED, "declined"),
    ("congestion 34", CallFacts(hangup_cause=34), Outcome.FAILED, "congestion"),
    ("network 38", CallFacts(hangup_cause=38), Outcome.FAILED, "network out of order"),
    ("CONGESTION", CallFacts(dial_status="congestion"), Outcome.FAILED, "congestion"),
    ("reason 8", CallFacts(originate_reason=8), Outcome.FAILED, "congestion"),
    ("CANCEL", CallFacts(dial_status="CANCEL"), Outcome.CANCELLED, "cancelled"),
    ("reason 0, nothing else", CallFacts(originate_reason=0), Outcome.FAILED, "call failed"),
    ("unknown cause", CallFacts(originate_reason=0, hangup_cause=127), Outcome.FAILED, "cause 127"),
    # -- answered --
    ("pressed 1", CallFacts(originate_reason=4, digits="1", plays_heard=1), Outcome.CONFIRMED, "1"),
    ("2 then 1", CallFacts(originate_reason=4, digits="21", plays_heard=2), Outcome.CONFIRMED, "1"),
    ("pressed 9", CallFacts(originate_reason=4, digits="9"), Outcome.OPTED_OUT, "9"),
    ("9 wins over 1", CallFacts(originate_reason=4, digits="19"), Outcome.OPTED_OUT, "9"),
    (
        "key beats AMD MACHINE",
        CallFacts(originate_reason=4, amd_status="MACHINE", digits="1"),
        Outcome.CONFIRMED,
        "1",
    ),
    (
        "machine",
        CallFacts(originate_reason=4, amd_status="MACHINE", plays_heard=1),
        Outcome.VOICEMAIL,
        "machine",
    ),
    (
        "human, heard, no key",
        CallFacts(originate_reason=4, amd_status="HUMAN", plays_heard=1),
        Outcome.HEARD_NO_CONFIRM,
        "no key",
    ),
    (
        "NOTSURE, heard",
        CallFacts(dial_status="ANSWER", amd_status="NOTSURE", plays_heard=2),
        Outcome.HEARD_NO_CONFIRM,
        "heard",
    ),
    (
        "answered, hung up at once",
        CallFacts(originate_reason=4, hangup_cause=16, amd_status="HANGUP"),
        Outcome.NO_ANSWER,
        "before the bulletin",
    ),
    ("digits imply an answer", CallFacts(digits="1"), Outcome.CONFIRMED, "1"),
]


@pytest.mark.parametrize(
    ("facts", "outcome", "cause_words"),
    [case[1:] for case in CALL_CASES],
    ids=[case[0] for case in CALL_CASES],
)
def test_call_facts_map_to_one_outcome_with_a_readable_cause(
    facts: CallFacts, outcome: Outcome, cause_words: str
) -> None:
    """Each telephony path gives its outcome, and the cause says why in words staff can read."""
    result = classify_call(facts)
    assert result.outcome is outcome
    assert cause_words in result.cause


def test_every_outcome_is_a_stable_lower_case_string() -> None:
    """Outcome values are stored and reported: they are the documented snake_case words."""
    assert [o.value for o in Outcome] == [
        "confirmed",
        "heard_no_confirm",
        "voicemail",
        "busy",
        "no_answer",
        "failed",
        "opted_out",
        "cancelled",
        "invalid_number",
        "outside_window",
        "fax_sent",
        "fax_partial",
        "fax_failed",
    ]
    assert Outcome("busy") is Outcome.BUSY


def test_only_full_deliveries_count_as_delivered() -> None:
    """Busy, unanswered and failed calls are never counted as delivered."""
    assert {
        Outcome.CONFIRMED,
        Outcome.HEARD_NO_CONFIRM,
        Outcome.VOICEMAIL,
        Outcome.FAX_SENT,
    } == DELIVERED


ANSWERED = CallFacts(originate_reason=4)

FAX_CASES: list[tuple[str, FaxFacts, Outcome]] = [
    ("all pages", FaxFacts(ANSWERED, "SUCCESS", pages_sent=2, pages_total=2), Outcome.FAX_SENT),
    ("success, total unknown", FaxFacts(ANSWERED, "SUCCESS", pages_sent=1), Outcome.FAX_SENT),
    ("some pages", FaxFacts(ANSWERED, "FAILED", pages_sent=1, pages_total=3), Outcome.FAX_PARTIAL),
    ("no pages", FaxFacts(ANSWERED, "FAILED", pages_sent=0, pages_total=3), Outcome.FAX_FAILED),
    ("busy line", FaxFacts(CallFacts(originate_reason=0, hangup_cause=17)), Outcome.BUSY),
    ("never answered", FaxFacts(CallFacts(originate_reason=3)), Outcome.NO_ANSWER),
    ("bad number", FaxFacts(CallFacts(hangup_cause=1)), Outcome.INVALID_NUMBER),
]


@pytest.mark.parametrize(
    ("facts", "outcome"), [c[1:] for c in FAX_CASES], ids=[c[0] for c in FAX_CASES]
)
def test_fax_results_come_from_faxstatus_and_pages(facts: FaxFacts, outcome: Outcome) -> None:
    """FAXSTATUS and the page count decide a fax's result; an unconnected call maps as a call."""
    assert classify_fax(facts).outcome is outcome


def test_partial_fax_cause_counts_pages() -> None:
    """A partial fax says how many pages got through, for staff deciding whether to resend."""
    result = classify_fax(FaxFacts(ANSWERED, "FAILED", pages_sent=1, pages_total=3))
    assert result == AttemptResult(Outcome.FAX_PARTIAL, "1 of 3 page(s) sent")
