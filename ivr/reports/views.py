"""Reports as JSON: one shape for the staff API, the CLI and the webhook body. Pure.

Times are ISO 8601 UTC; a withheld caller ID is ``null`` with ``withheld: true``; every
answer carries its transcript with the engine and confidence, or why there is none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ivr.reports.reference import display
from ivr.reports.states import AnswerKind
from ivr.store.models.reports import Report, ReportAnswer, ReportDelivery, ReportEvent
from ivr.store.models.transcription import JobState, TranscriptionJobRow

AnswerPair = tuple[ReportAnswer, TranscriptionJobRow | None]
#: The "audio" member of an answer: a link, inline data, or None (no audio).
AudioFor = Callable[[ReportAnswer], dict[str, Any] | None]


def iso(t: datetime | None) -> str | None:
    return t.isoformat().replace("+00:00", "Z") if t is not None else None


def transcript_json(job: TranscriptionJobRow | None) -> dict[str, Any]:
    if job is None:
        return {"state": "missing", "error": "no audio to transcribe"}
    if job.state is JobState.PENDING:
        return {"state": "pending"}
    if job.state is JobState.FAILED:
        return {"state": "failed", "error": job.error}
    return {
        "state": "done",
        "text": job.text or "",
        "confidence": job.confidence,
        "engine": job.engine,
        "no_speech": bool(job.no_speech),
    }


def answer_json(
    answer: ReportAnswer, job: TranscriptionJobRow | None, audio: AudioFor
) -> dict[str, Any]:
    return {
        "id": answer.id,
        "kind": answer.kind.value,
        "take": answer.take,
        "superseded": answer.superseded,
        "duration_s": answer.duration_s,
        "ended_by": answer.ended_by,
        "recorded_at": iso(answer.recorded_at),
        "audio": None if answer.audio_purged_at or not answer.audio_path else audio(answer),
        "audio_purged_at": iso(answer.audio_purged_at),
        "fetch_error": answer.fetch_error,
        "transcript": transcript_json(job),
    }


def current_text(answers: Sequence[AnswerPair], kind: AnswerKind) -> str | None:
    """The transcript of the answer of ``kind`` the report stands on (its latest take)."""
    for answer, job in reversed(answers):
        if answer.kind is kind and not answer.superseded:
            return (job.text or "") if job is not None and job.state is JobState.DONE else None
    return None


def delivery_json(delivery: ReportDelivery | None) -> dict[str, Any] | None:
    if delivery is None:
        return None
    return {
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "next_attempt_at": iso(delivery.next_attempt_at),
        "delivered_at": iso(delivery.delivered_at),
        "last_status": delivery.last_status,
        "last_error": delivery.last_error,
    }


def report_summary(report: Report, delivery: ReportDelivery | None) -> dict[str, Any]:
    return {
        "reference": report.reference,
        "reference_display": display(report.reference),
        "category": report.category.value if report.category else None,
        "category_by": report.category_by,
        "caller": {"number": report.caller_number, "withheld": report.caller_number is None},
        "callback": {
            "requested": report.callback_requested,
            "number": report.callback_number,
            "source": report.callback_source,
        },
        "status": report.status.value,
        "call_state": report.call_state.value,
        "urgent": report.urgent,
        "urgent_phrases": list(report.urgent_phrases or ()),
        "no_speech": report.no_speech,
        "transcription_failed": report.transcription_failed,
        "transcribed": report.transcribed_at is not None,
        "created_at": iso(report.created_at),
        "ended_at": iso(report.ended_at),
        "transcribed_at": iso(report.transcribed_at),
        "updated_at": iso(report.updated_at),
        "delivery": delivery_json(delivery),
    }


def event_json(event: ReportEvent) -> dict[str, Any]:
    return {
        "at": iso(event.at),
        "actor": event.actor,
        "action": event.action,
        "from_status": event.from_status,
        "to_status": event.to_status,
        "note": event.note,
        "detail": event.detail,
    }


def report_detail(
    report: Report,
    answers: Sequence[AnswerPair],
    events: Sequence[ReportEvent],
    delivery: ReportDelivery | None,
    audio: AudioFor,
) -> dict[str, Any]:
    """Everything about one report: the summary, each answer, the audit trail."""
    body = report_summary(report, delivery)
    body["location"] = current_text(answers, AnswerKind.WHERE)
    body["description"] = current_text(answers, AnswerKind.WHAT)
    body["answers"] = [answer_json(a, j, audio) for a, j in answers]
    body["events"] = [event_json(e) for e in events]
    return body


def audio_link(base_url: str, reference: str) -> AudioFor:
    """Answers' audio as links to the staff API (which needs a staff token)."""
    base = f"{base_url.rstrip('/')}/api/reports/{reference}/answers"

    def link(answer: ReportAnswer) -> dict[str, Any]:
        return {
            "url": f"{base}/{answer.id}/audio",
            "content_type": "audio/wav",
            "bytes": answer.audio_bytes,
        }

    return link
