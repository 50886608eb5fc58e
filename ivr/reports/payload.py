"""The body delivered to the external reporting backend. Pure.

A JSON object (UTF-8, keys sorted, no insignificant whitespace, so the bytes signed are
the bytes sent)::

    {
      "schema": "watchline.report.v1",
      "reference": "4071229833", "category": "theft", "category_by": "key",
      "caller": {"number": "+441632960100", "withheld": false},
      "callback": {"requested": true, "number": "+441632960100", "source": "caller_id"},
      "location": "outside the library on Mill Lane",
      "description": "someone stole my bicycle ...",
      "transcript": "Where: outside the library ...\\nWhat happened: someone stole ...",
      "urgent": false, "urgent_phrases": [], "no_speech": false,
      "transcription_failed": false, "call_state": "completed",
      "created_at": "...Z", "ended_at": "...Z", "transcribed_at": "...Z",
      "answers": [{"kind": "where", "take": 1, "superseded": false,
                   "transcript": {"state": "done", "text": "...", "confidence": 0.71,
                                  "engine": "whisper:tiny.en", "no_speech": false},
                   "audio": {"url": ".../api/reports/4071229833/answers/7/audio", ...}}]
    }

``audio`` is a link to the staff API (``reports.backend_audio = "link"``, the receiver
needs a staff token to follow it) or the WAV itself, base64 (``"inline"``:
``{"content_type": "audio/wav", "base64": "..."}``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ivr.reports.states import AnswerKind
from ivr.reports.views import AnswerPair, AudioFor, answer_json, current_text, report_summary
from ivr.store.models.reports import Report, ReportAnswer

SCHEMA = "watchline.report.v1"
#: Members of the staff view that mean nothing to an external backend.
_INTERNAL = ("reference_display", "status", "delivery", "updated_at", "transcribed")


def combined_transcript(location: str | None, description: str | None) -> str:
    parts = []
    if location:
        parts.append(f"Where: {location}")
    if description:
        parts.append(f"What happened: {description}")
    return "\n".join(parts)


def delivery_document(
    report: Report, answers: Sequence[AnswerPair], audio: AudioFor
) -> dict[str, Any]:
    doc = {k: v for k, v in report_summary(report, None).items() if k not in _INTERNAL}
    location = current_text(answers, AnswerKind.WHERE)
    description = current_text(answers, AnswerKind.WHAT)
    doc.update(
        schema=SCHEMA,
        location=location,
        description=description,
        transcript=combined_transcript(location, description),
        answers=[answer_json(a, j, audio) for a, j in answers],
    )
    return doc


def inline_audio(files: Mapping[int, bytes]) -> AudioFor:
    """Audio inlined from the bytes read for each answer id (missing ids give None)."""

    def inline(answer: ReportAnswer) -> dict[str, Any] | None:
        data = files.get(answer.id)
        if data is None:
            return None
        return {"content_type": "audio/wav", "base64": base64.b64encode(data).decode("ascii")}

    return inline


def encode(document: Mapping[str, Any]) -> bytes:
    """The exact bytes to sign and send."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
