"""What the report pages show, built from the reports store's rows. Pure.

Staff triage by reading and listening: each answer shows its transcript with the
recogniser's confidence (a low one says "listen to the recording"), and the audio player
sits next to it. Statuses and categories have plain labels; urgent reports say so in
words, not only in colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo

from ivr.reports.categories import Category
from ivr.reports.reference import display
from ivr.reports.states import ALLOWED_CHANGES, AnswerKind, ReportStatus
from ivr.reports.views import AnswerPair, current_text
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery, ReportEvent
from ivr.store.models.transcription import JobState, TranscriptionJobRow
from ivr.web.dashboard.campaign_views import local_time

CATEGORY_LABELS = {
    Category.THEFT: "Theft",
    Category.CRIMINAL_DAMAGE: "Criminal damage",
    Category.ANTI_SOCIAL_BEHAVIOUR: "Anti-social behaviour",
    Category.LOST_OR_FOUND_PROPERTY: "Lost or found property",
    Category.FRAUD: "Fraud",
    Category.OTHER: "Something else",
}
STATUS_LABELS = {
    ReportStatus.NEW: "New",
    ReportStatus.TRIAGED: "Triaged",
    ReportStatus.CLOSED: "Closed",
}
CALL_STATE_LABELS = {
    "in_call": "Caller still on the line",
    "completed": "Completed",
    "hung_up": "Caller hung up early",
    "transferred": "Transferred (urgent)",
    "interrupted": "Interrupted (controller stopped)",
}
ANSWER_LABELS = {
    AnswerKind.CATEGORY: "Category (spoken)",
    AnswerKind.WHERE: "Where it happened",
    AnswerKind.WHAT: "What happened",
}
ACTION_LABELS = {
    "created": "Call started",
    "filed": "Report filed",
    "transcribed": "Transcribed",
    "status_changed": "Status changed",
    "delivered": "Sent to the reporting backend",
    "delivery_failed": "Sending failed",
    "dead_lettered": "Sending given up",
    "delivery_requeued": "Sending retried",
    "audio_purged": "Audio deleted (retention)",
}
#: Below this the transcript is likely wrong in places: staff are told to listen.
LOW_CONFIDENCE = 0.6
#: The list's page size.
PAGE_SIZE = 50
#: How much of the location the list shows.
SNIPPET = 80


def category_label(category: Category | None) -> str:
    return CATEGORY_LABELS[category] if category is not None else "Not chosen"


def caller_text(number: str | None) -> str:
    return number if number else "Withheld"


@dataclass(frozen=True)
class ReportRowView:
    reference: str
    reference_display: str
    created_at: str
    category: str
    status: str
    status_label: str
    urgent: bool
    call_state: str
    caller: str
    where: str


def report_row(report: Report, answers: Sequence[AnswerPair], zone: tzinfo) -> ReportRowView:
    where = current_text(answers, AnswerKind.WHERE) or ""
    if len(where) > SNIPPET:
        where = where[: SNIPPET - 1].rstrip() + "…"
    return ReportRowView(
        reference=report.reference,
        reference_display=display(report.reference),
        created_at=local_time(report.created_at, zone) or "",
        category=category_label(report.category),
        status=report.status.value,
        status_label=STATUS_LABELS[report.status],
        urgent=report.urgent,
        call_state=CALL_STATE_LABELS.get(report.call_state.value, report.call_state.value),
        caller=caller_text(report.caller_number),
        where=where,
    )


@dataclass(frozen=True)
class TranscriptView:
    #: done, pending, failed or missing
    state: str
    text: str
    #: whole percent, None when there is no transcript
    confidence: int | None
    low_confidence: bool
    engine: str
    no_speech: bool
    error: str


def transcript_view(job: TranscriptionJobRow | None) -> TranscriptView:
    if job is None:
        return TranscriptView("missing", "", None, False, "", False, "no audio to transcribe")
    if job.state is JobState.PENDING:
        return TranscriptView("pending", "", None, False, "", False, "")
    if job.state is JobState.FAILED:
        return TranscriptView("failed", "", None, False, "", False, job.error or "unknown error")
    confidence = job.confidence if job.confidence is not None else 0.0
    return TranscriptView(
        state="done",
        text=job.text or "",
        confidence=round(100 * confidence),
        low_confidence=confidence < LOW_CONFIDENCE and not job.no_speech,
        engine=job.engine or "",
        no_speech=bool(job.no_speech),
        error="",
    )


@dataclass(frozen=True)
class AnswerView:
    id: int
    label: str
    take: int
    superseded: bool
    duration: str
    recorded_at: str
    #: the dashboard's own audio URL, None when there is no audio to play
    audio_url: str | None
    #: why there is no audio (purged, could not be fetched)
    no_audio: str
    transcript: TranscriptView


def answer_view(
    reference: str, answer: ReportAnswer, job: TranscriptionJobRow | None, zone: tzinfo
) -> AnswerView:
    if answer.audio_purged_at is not None:
        purged = local_time(answer.audio_purged_at, zone)
        url, why = None, f"Audio deleted by the retention policy on {purged}"
    elif answer.audio_path is None:
        url, why = None, f"Audio could not be saved ({answer.fetch_error or 'unknown error'})"
    else:
        url, why = f"/dashboard/reports/{reference}/answers/{answer.id}/audio", ""
    return AnswerView(
        id=answer.id,
        label=ANSWER_LABELS.get(answer.kind, answer.kind.value),
        take=answer.take,
        superseded=answer.superseded,
        duration=f"{answer.duration_s:.0f} s" if answer.duration_s is not None else "",
        recorded_at=local_time(answer.recorded_at, zone) or "",
        audio_url=url,
        no_audio=why,
        transcript=transcript_view(job),
    )  # fmt: skip


@dataclass(frozen=True)
class EventView:
    at: str
    actor: str
    action: str
    change: str
    note: str


def event_view(event: ReportEvent, zone: tzinfo) -> EventView:
    change = ""
    if event.from_status or event.to_status:
        before = _status_label(event.from_status)
        after = _status_label(event.to_status)
        change = f"{before} → {after}"
    return EventView(
        at=local_time(event.at, zone) or "",
        actor=event.actor,
        action=ACTION_LABELS.get(event.action, event.action.replace("_", " ")),
        change=change,
        note=event.note or "",
    )


def _status_label(value: str | None) -> str:
    if value is None:
        return "—"
    try:
        return STATUS_LABELS[ReportStatus(value)]
    except ValueError:
        return value


@dataclass(frozen=True)
class ReportView:
    row: ReportRowView
    category_by: str
    callback: str
    urgent_phrases: list[str]
    flags: list[str]
    ended_at: str
    transcribed_at: str
    location: str | None
    description: str | None
    answers: list[AnswerView]
    events: list[EventView]
    #: (value, label) of the statuses staff may move this report to
    next_statuses: list[tuple[str, str]]
    delivery: str


def callback_text(report: Report) -> str:
    if not report.callback_requested or not report.callback_number:
        return "No call back wanted"
    how = {"caller_id": "the number they rang from", "keyed": "keyed in by the caller"}
    source = how.get(report.callback_source or "", "")
    return f"{report.callback_number} ({source})" if source else report.callback_number


def delivery_text(delivery: ReportDelivery | None) -> str:
    if delivery is None:
        return "No reporting backend configured"
    if delivery.state.value == "delivered":
        return "Sent to the reporting backend"
    if delivery.state.value == "dead":
        return f"Sending given up after {delivery.attempts} attempts ({delivery.last_error or ''})"
    return f"Waiting to be sent ({delivery.attempts} attempts so far)"


def report_view(
    report: Report,
    answers: Sequence[AnswerPair],
    events: Sequence[ReportEvent],
    delivery: ReportDelivery | None,
    zone: tzinfo,
) -> ReportView:
    flags = []
    if report.no_speech:
        flags.append("No speech was heard in the answers")
    if report.transcription_failed:
        flags.append("Some audio could not be transcribed: listen to it")
    return ReportView(
        row=report_row(report, answers, zone),
        category_by={"key": "keyed", "speech": "spoken", "default": "not chosen by the caller"}.get(
            report.category_by or "", ""
        ),
        callback=callback_text(report),
        urgent_phrases=list(report.urgent_phrases or ()),
        flags=flags,
        ended_at=local_time(report.ended_at, zone) or "",
        transcribed_at=local_time(report.transcribed_at, zone) or "Not yet",
        location=current_text(answers, AnswerKind.WHERE),
        description=current_text(answers, AnswerKind.WHAT),
        answers=[answer_view(report.reference, a, j, zone) for a, j in answers],
        events=[event_view(e, zone) for e in events],
        next_statuses=[
            (s.value, STATUS_LABELS[s])
            for s in ReportStatus
            if s in ALLOWED_CHANGES[report.status]
        ],
        delivery=delivery_text(delivery),
    )  # fmt: skip


@dataclass(frozen=True)
class ListPage:
    """Which slice of the list is shown, and the offsets of its neighbours."""

    first: int
    last: int
    total: int
    newer_offset: int | None
    older_offset: int | None


def list_page(offset: int, shown: int, total: int, page_size: int = PAGE_SIZE) -> ListPage:
    return ListPage(
        first=offset + 1 if shown else 0,
        last=offset + shown,
        total=total,
        newer_offset=max(0, offset - page_size) if offset > 0 else None,
        older_offset=offset + page_size if offset + shown < total else None,
    )
