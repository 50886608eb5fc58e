"""The one outcome vocabulary, and the pure mapping from telephony facts to an attempt result.

Peers' auto-dialers misreport outcomes (every answered call counted as "delivered"), so each
attempt is classified from the facts Asterisk reported, in a fixed order of trust:

1. a key press is the only proof of a human: 9 opts out (and wins over any other key,
   so a stop request is never lost), 1 confirms;
2. an answered call that AMD called MACHINE, with no key, is ``voicemail``;
3. an answered call where the bulletin played to the end at least once is ``heard_no_confirm``;
4. an answered call hung up before one full play is ``no_answer`` (retried): nobody heard it;
5. an unanswered call is classified by hangup cause first where the cause names the number as
   wrong (1, 22, 28 → ``invalid_number``), then by DialEnd DialStatus, then by the remaining
   hangup causes, then by the OriginateResponse reason code (only 0, 3 and 4 are seen live).

Decision on cause 21 (CALL_REJECTED, SIP 603 Decline): ``failed`` with cause "declined".
A decline is a person or an anonymous-call-rejection service refusing the call, so it is
neither "nobody there" nor "line in use"; the failed rule retries it fewer times, later.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    """Result of one attempt, and the final outcome of a delivery (campaign target)."""

    CONFIRMED = "confirmed"
    HEARD_NO_CONFIRM = "heard_no_confirm"
    VOICEMAIL = "voicemail"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"
    INVALID_NUMBER = "invalid_number"
    OUTSIDE_WINDOW = "outside_window"
    FAX_SENT = "fax_sent"
    FAX_PARTIAL = "fax_partial"
    FAX_FAILED = "fax_failed"


#: Outcomes where the bulletin reached the member (or their machine) in full.
DELIVERED = frozenset(
    {Outcome.CONFIRMED, Outcome.HEARD_NO_CONFIRM, Outcome.VOICEMAIL, Outcome.FAX_SENT}
)

# AMI OriginateResponse Reason codes (Asterisk's AST_CONTROL_* numbering).
REASON_FAILURE = 0
REASON_HANGUP = 1
REASON_RING_TIMEOUT = 3
REASON_ANSWERED = 4
REASON_BUSY = 5
REASON_CONGESTION = 8


@dataclass(frozen=True)
class CallFacts:
    """What Asterisk told us about one call; None means "not reported"."""

    originate_reason: int | None = None
    hangup_cause: int | None = None
    #: DialEnd DialStatus: ANSWER, BUSY, NOANSWER, CANCEL, CONGESTION, CHANUNAVAIL...
    dial_status: str | None = None
    #: AMD() AMDSTATUS: HUMAN, MACHINE, NOTSURE, HANGUP.
    amd_status: str | None = None
    #: Keys pressed during the delivery, in order.
    digits: str = ""
    #: Times the bulletin was played to its end.
    plays_heard: int = 0

    @property
    def answered(self) -> bool:
        return (
            self.originate_reason == REASON_ANSWERED
            or (self.dial_status or "").upper() == "ANSWER"
            or bool(self.digits)
            or self.plays_heard > 0
        )


@dataclass(frozen=True)
class AttemptResult:
    """An attempt's outcome with a short reason for staff (``busy (cause 17)``)."""

    outcome: Outcome
    cause: str


# Causes that say the number itself is wrong: retrying cannot help.
_INVALID_CAUSES = {1: "unallocated number", 22: "number changed", 28: "invalid number format"}

_DIAL_STATUS: dict[str, AttemptResult] = {
    "BUSY": AttemptResult(Outcome.BUSY, "busy"),
    "NOANSWER": AttemptResult(Outcome.NO_ANSWER, "no answer"),
    "CANCEL": AttemptResult(Outcome.CANCELLED, "cancelled before answer"),
    "CONGESTION": AttemptResult(Outcome.FAILED, "congestion"),
    "CHANUNAVAIL": AttemptResult(Outcome.FAILED, "unavailable (unregistered or unreachable)"),
}

_HANGUP_CAUSES: dict[int, AttemptResult] = {
    17: AttemptResult(Outcome.BUSY, "busy"),
    18: AttemptResult(Outcome.NO_ANSWER, "no user response"),
    19: AttemptResult(Outcome.NO_ANSWER, "no answer"),
    20: AttemptResult(Outcome.FAILED, "unregistered (subscriber absent)"),
    21: AttemptResult(Outcome.FAILED, "declined"),
    27: AttemptResult(Outcome.FAILED, "destination out of order"),
    34: AttemptResult(Outcome.FAILED, "congestion (no circuit available)"),
    38: AttemptResult(Outcome.FAILED, "network out of order"),
    41: AttemptResult(Outcome.FAILED, "temporary failure"),
    42: AttemptResult(Outcome.FAILED, "switching equipment congestion"),
}

_REASONS: dict[int, AttemptResult] = {
    REASON_RING_TIMEOUT: AttemptResult(Outcome.NO_ANSWER, "rang out"),
    REASON_BUSY: AttemptResult(Outcome.BUSY, "busy"),
    REASON_CONGESTION: AttemptResult(Outcome.FAILED, "congestion"),
    REASON_HANGUP: AttemptResult(Outcome.FAILED, "hung up before answer"),
}


def _with_cause(result: AttemptResult, cause: int | None) -> AttemptResult:
    return (
        result
        if cause is None
        else AttemptResult(result.outcome, f"{result.cause} (cause {cause})")
    )


def classify_call(facts: CallFacts) -> AttemptResult:
    """Map one call's facts to its attempt result (see the module docstring for the order)."""
    if facts.answered:
        return _classify_answered(facts)
    cause = facts.hangup_cause
    if cause in _INVALID_CAUSES:
        return AttemptResult(Outcome.INVALID_NUMBER, f"{_INVALID_CAUSES[cause]} (cause {cause})")
    status = (facts.dial_status or "").upper()
    if status in _DIAL_STATUS:
        return _with_cause(_DIAL_STATUS[status], cause)
    if cause in _HANGUP_CAUSES:
        return _with_cause(_HANGUP_CAUSES[cause], cause)
    if facts.originate_reason in _REASONS:
        return _with_cause(_REASONS[facts.originate_reason], cause)
    return _with_cause(AttemptResult(Outcome.FAILED, "call failed"), cause)


def _classify_answered(facts: CallFacts) -> AttemptResult:
    if "9" in facts.digits:
        return AttemptResult(Outcome.OPTED_OUT, "pressed 9")
    if "1" in facts.digits:
        return AttemptResult(Outcome.CONFIRMED, "pressed 1")
    if (facts.amd_status or "").upper() == "MACHINE":
        # Only trust the machine verdict without a key press: people who press keys are human.
        return AttemptResult(Outcome.VOICEMAIL, "answering machine")
    if facts.plays_heard > 0:
        return AttemptResult(Outcome.HEARD_NO_CONFIRM, "heard, no key pressed")
    return AttemptResult(Outcome.NO_ANSWER, "answered, hung up before the bulletin was heard")


@dataclass(frozen=True)
class FaxFacts:
    """What SendFAX reported: FAXSTATUS (never FAXERROR, which reads HANGUP on success)."""

    call: CallFacts
    fax_status: str | None = None
    pages_sent: int = 0
    pages_total: int | None = None


def classify_fax(facts: FaxFacts) -> AttemptResult:
    """Map a fax attempt's facts to its result; a call that never connected maps as a call."""
    status = (facts.fax_status or "").upper()
    if not facts.call.answered and not status:
        return classify_call(facts.call)
    total = facts.pages_total
    if status == "SUCCESS" and (total is None or facts.pages_sent >= total):
        return AttemptResult(Outcome.FAX_SENT, f"{facts.pages_sent} page(s) sent")
    if facts.pages_sent > 0:
        of = f" of {total}" if total is not None else ""
        return AttemptResult(Outcome.FAX_PARTIAL, f"{facts.pages_sent}{of} page(s) sent")
    return AttemptResult(Outcome.FAX_FAILED, f"fax status {status or 'unknown'}")
