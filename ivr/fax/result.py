"""What one fax attempt came to, and its outcome in the campaign vocabulary; pure.

Asterisk reports a fax call in pieces (ARCHITECTURE.md, "Fax"):

* the ``OriginateResponse`` says whether the line answered (Reason 4) or rang out (3);
* the ``Hangup`` event's cause and ``DialEnd``'s status say why an unanswered call failed
  (busy 17, no answer 19, ...);
* SendFAX's own result arrives in the ``UserEvent: WatchlineFax`` that the
  ``[watchline-fax-send]`` context sends from its ``h`` extension: FAXSTATUS, FAXPAGES,
  FAXERROR, FAXBITRATE and, where the dialplan includes it, FAXMODE (``audio``/``T38``).

FAXSTATUS, not FAXERROR, tells success: the sender's FAXERROR reads ``HANGUP`` even when
every page went through.
"""

from __future__ import annotations

from dataclasses import dataclass

from ivr.ami.messages import Event
from ivr.campaigns.outcomes import CallFacts, FaxFacts, Outcome, classify_fax

#: The UserEvent name that [watchline-fax-send] reports SendFAX's result with.
FAX_USER_EVENT = "WatchlineFax"
#: Values Asterisk writes for an empty variable or header.
_NULLS = frozenset({"", "<null>", "<unknown>", "(null)"})


@dataclass(frozen=True)
class FaxResult:
    """Everything learnt about one fax attempt; None means "not reported"."""

    attempt_id: str
    channel_id: str
    answered: bool
    #: OriginateResponse Reason: 4 answered, 3 rang out, 0 anything else.
    originate_reason: int | None = None
    #: FAXSTATUS: SUCCESS or FAILED (None: SendFAX never reported, e.g. not answered).
    status: str | None = None
    #: FAXPAGES: pages the far end confirmed.
    pages: int = 0
    #: FAXERROR, e.g. ``HANGUP`` (also on success), ``NO_FAX``, ``CALL_DROPPED``.
    error: str | None = None
    bitrate: int | None = None
    #: FAXMODE: ``audio`` or ``T38``, when the dialplan reports it.
    mode: str | None = None
    hangup_cause: int | None = None
    hangup_cause_text: str | None = None
    dial_status: str | None = None
    #: The attempt overran its deadline and we hung the call up ourselves.
    timed_out: bool = False
    #: Seconds from originate to the end of the call.
    duration_s: float = 0.0

    @property
    def succeeded(self) -> bool:
        return (self.status or "").upper() == "SUCCESS"

    @property
    def t38(self) -> bool | None:
        """Whether T.38 carried the fax; None when the dialplan did not report FAXMODE."""
        if self.mode is None:
            return None
        return self.mode.replace(".", "").upper() == "T38"


@dataclass(frozen=True)
class FaxReport:
    """The fields of one ``UserEvent: WatchlineFax``."""

    attempt_id: str | None
    status: str | None
    pages: int
    error: str | None
    bitrate: int | None
    mode: str | None


def is_fax_report(event: Event, attempt_id: str, channel_id: str | None = None) -> bool:
    """Whether ``event`` is the WatchlineFax report of this attempt (or of this channel)."""
    if event.name.casefold() != "userevent":
        return False
    if (event.get("UserEvent") or "").casefold() != FAX_USER_EVENT.casefold():
        return False
    attempt = _text(event.get("Attempt"))
    if attempt is not None:
        return attempt == attempt_id
    return channel_id is not None and event.get("Uniqueid") == channel_id


def parse_fax_report(event: Event) -> FaxReport:
    """Read a WatchlineFax UserEvent; empty values (SendFAX never ran) become None/0."""
    return FaxReport(
        attempt_id=_text(event.get("Attempt")),
        status=_text(event.get("Status")),
        pages=_int(event.get("Pages")) or 0,
        error=_text(event.get("Error")),
        bitrate=_int(event.get("Bitrate")),
        mode=_text(event.get("Mode")),
    )


def fax_outcome(result: FaxResult, expected_pages: int) -> tuple[Outcome, str]:
    """The attempt's outcome and a short reason for staff.

    The outcome comes from :func:`ivr.campaigns.outcomes.classify_fax`, the one place that
    maps facts to outcomes; the reason adds what only a fax knows (pages, FAXERROR, mode).
    """
    if expected_pages < 1:
        raise ValueError("a fax has at least one page")
    facts = FaxFacts(
        call=CallFacts(
            originate_reason=result.originate_reason,
            hangup_cause=result.hangup_cause,
            dial_status=result.dial_status,
        ),
        fax_status=result.status,
        pages_sent=result.pages,
        pages_total=expected_pages,
    )
    # An answered call always reaches the fax rules, even if SendFAX never reported.
    if result.answered and not result.status:
        facts = FaxFacts(
            call=CallFacts(originate_reason=4, hangup_cause=result.hangup_cause),
            fax_status="UNKNOWN",
            pages_sent=result.pages,
            pages_total=expected_pages,
        )
    classified = classify_fax(facts)
    outcome = classified.outcome
    if outcome == Outcome.FAX_SENT:
        return outcome, f"{result.pages} of {expected_pages} page(s) sent{_how(result)}"
    if outcome == Outcome.FAX_PARTIAL:
        return outcome, (
            f"{result.pages} of {expected_pages} page(s) sent, then {_why_failed(result)}"
        )
    if outcome == Outcome.FAX_FAILED:
        return outcome, f"no page sent: {_why_failed(result)}"
    return outcome, classified.cause


def _how(result: FaxResult) -> str:
    parts = []
    if result.t38 is not None:
        parts.append("T.38" if result.t38 else "audio")
    if result.bitrate:
        parts.append(f"{result.bitrate} bit/s")
    return f" ({', '.join(parts)})" if parts else ""


def _why_failed(result: FaxResult) -> str:
    if result.timed_out:
        return "the fax did not finish in time and was hung up"
    if not result.status:
        cause = f" (cause {result.hangup_cause})" if result.hangup_cause is not None else ""
        return f"the call ended without a fax result{cause}"
    # FAXERROR is meaningful only on failure; on success it reads HANGUP.
    error = result.error or "unknown error"
    return f"fax error {error}"


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return None if value in _NULLS else value


def _int(value: str | None) -> int | None:
    text = _text(value)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return None
