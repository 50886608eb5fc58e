"""The reporting backend behind the report line, without Asterisk: the real component,
store, transcription pool and outbox, driven by a scripted caller whose recordings are
WAV bytes, and a real aiohttp server as the external backend.

Asterisk, rig phones and Whisper take the same paths in tests/integration and tests/e2e.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from ivr.config import Settings
from ivr.errors import TranscriptionError
from ivr.reports.component import ReportsComponent
from ivr.reports.testing import ReportsHost, WebhookReceiver, wait_for_reports
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.audio import Audio, is_silent, wav_bytes
from ivr.store.database import Database
from ivr.store.models.reports import Report, ReportAnswer
from ivr.store.testing import backend_url, open_test_database
from ivr.telephony.call import CallEnded, RecordingResult
from ivr.telephony.scripted_call import ScriptedCall

SECRET = "test-secret-4f9a"
SPEECH = wav_bytes(Audio.from_float(0.2 * np.random.default_rng(1).standard_normal(16000), 8000))
SILENCE = wav_bytes(Audio.silence(2.0, 8000))


class Engine:
    """Answers menu answers (given context) with ``menu``, recordings from ``texts``."""

    def __init__(self, texts: Sequence[str | Exception] = (), menu: str = "fraud") -> None:
        self.texts: deque[str | Exception] = deque(texts)
        self.menu = menu
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return "fake"

    def transcribe(self, audio: Audio, *, context: Sequence[str] | None = None) -> Transcript:
        if is_silent(audio):
            return Transcript.nothing_heard(self.name, audio.duration_s)
        with self._lock:
            item = self.menu if context else (self.texts.popleft() if self.texts else "words")
        if isinstance(item, Exception):
            raise item
        return Transcript.from_segments(
            [Segment(item, 0, audio.duration_s, 0.75)],
            engine=self.name,
            duration_s=audio.duration_s,
        )


@dataclass
class RecordingCall(ScriptedCall):
    """A scripted caller whose recordings Asterisk would have stored as these bytes."""

    audio: dict[str, bytes] = field(default_factory=dict)
    before_prompt: Callable[[str], Awaitable[None]] | None = None

    async def fetch_recording(self, name: str) -> bytes:
        return self.audio.get(name, SPEECH)

    async def play(self, media: Sequence[str], *, interruptible: bool = True) -> str | None:
        if self.before_prompt is not None:
            for uri in media:
                await self.before_prompt(uri.rsplit("/", 1)[-1])
        return await super().play(media, interruptible=interruptible)


def name(call: RecordingCall, kind: str, take: int) -> str:
    """The recording name the component gives this answer."""
    return f"report-{call.channel_id.replace('.', '_')}-{kind}-{take}"


def caller(**kw: Any) -> RecordingCall:
    presses = {
        "report_emergency_warning": ["1"],
        "report_callback_menu": ["1"],
        **kw.pop("presses", {}),
    }
    return RecordingCall(presses=presses, **kw)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    url = backend_url("sqlite", tmp_path)
    assert url is not None
    async with open_test_database(url) as db:
        yield db


def settings(tmp_path: Path, **reports: Any) -> Settings:
    return Settings(data_dir=tmp_path / "var", reports=reports)


async def dial(component: ReportsComponent, call: RecordingCall) -> None:
    with contextlib.suppress(CallEnded):
        await component.dialogues()["report"](call, ())  # type: ignore[arg-type]


def fast_outbox(receiver: WebhookReceiver, **more: Any) -> dict[str, Any]:
    return {
        "backend_url": receiver.url,
        "backend_secret": SECRET,
        "delivery_first_retry_s": 0.05,
        "delivery_max_retry_s": 0.1,
        "delivery_poll_s": 0.05,
        **more,
    }


async def test_the_report_and_its_audio_are_stored_before_the_reference_is_read(
    db: Database, tmp_path: Path
) -> None:
    host = ReportsHost(settings(tmp_path), db)
    seen: dict[str, Any] = {}

    async def before(prompt: str) -> None:
        if prompt == "report_reference_intro" and not seen:
            async with db.session() as session:
                (report,) = await session.scalars(select(Report))
                answers = list(await session.scalars(select(ReportAnswer)))
            seen["state"] = report.call_state.value
            seen["files"] = [
                (tmp_path / "var" / (a.audio_path or "")).read_bytes() for a in answers
            ]

    call = caller(before_prompt=before)
    async with host.serve(Engine(["Mill Lane", "my bike was stolen"])) as component:
        await dial(component, call)
        (report,) = await wait_for_reports(db, 1, timeout_s=10)
    assert seen == {"state": "completed", "files": [SPEECH, SPEECH]}
    assert report.category is not None and report.category.value == "theft"
    assert report.callback_number == "+441632960999" and report.caller_number == "+441632960999"
    assert not report.no_speech and not report.transcription_failed


async def test_a_spoken_category_is_kept_with_its_transcript(db: Database, tmp_path: Path) -> None:
    host = ReportsHost(settings(tmp_path), db)
    call = caller(presses={"report_emergency_warning": [""]})
    async with host.serve(Engine(["Mill Lane", "a scam call"], menu="fraud")) as component:
        await dial(component, call)
        (report,) = await wait_for_reports(db, 1, timeout_s=10)
        async with db.session() as session:
            kinds = [a.kind.value for a in await session.scalars(select(ReportAnswer))]
    assert report.category is not None and report.category.value == "fraud"
    assert report.category_by == "speech"
    assert kinds == ["category", "where", "what"]


async def test_hanging_up_mid_description_keeps_the_partial_answer(
    db: Database, tmp_path: Path
) -> None:
    host = ReportsHost(settings(tmp_path), db)
    call = caller()
    call.recordings = {name(call, "what", 1): RecordingResult("x", "hangup", 2.0)}
    async with host.serve(Engine(["Mill Lane", "someone took my"])) as component:
        await dial(component, call)
        (report,) = await wait_for_reports(db, 1, timeout_s=10)
    assert report.call_state.value == "hung_up"
    assert report.callback_number is None  # the caller never got that far


async def test_a_caller_who_hangs_up_before_saying_anything_leaves_no_report(
    db: Database, tmp_path: Path
) -> None:
    host = ReportsHost(settings(tmp_path), db)
    async with host.serve(Engine()) as component:
        await dial(component, caller(hangup_on="report_where"))
        async with db.session() as session:
            assert list(await session.scalars(select(Report))) == []


async def test_silence_is_kept_and_the_report_marked_no_speech(
    db: Database, tmp_path: Path
) -> None:
    host = ReportsHost(settings(tmp_path), db)
    async with host.serve(Engine()) as component:
        await dial(component, silent_caller())
        (report,) = await wait_for_reports(db, 1, timeout_s=10)
        async with db.session() as session:
            answers = list(await session.scalars(select(ReportAnswer)))
    assert report.no_speech
    assert len(answers) == 4 and all(a.audio_bytes == len(SILENCE) for a in answers)


def silent_caller() -> RecordingCall:
    call = caller()
    call.audio = {name(call, k, t): SILENCE for k in ("where", "what") for t in (1, 2)}
    return call


async def test_a_failed_transcription_keeps_the_audio_and_flags_the_report(
    db: Database, tmp_path: Path
) -> None:
    host = ReportsHost(settings(tmp_path), db)
    async with host.serve(Engine(["Mill Lane", TranscriptionError("engine crashed")])) as component:
        await dial(component, caller())
        (report,) = await wait_for_reports(db, 1, timeout_s=10)
        async with db.session() as session:
            answers = list(await session.scalars(select(ReportAnswer)))
    assert report.transcription_failed and not report.no_speech
    assert all((tmp_path / "var" / (a.audio_path or "")).read_bytes() == SPEECH for a in answers)


async def test_each_report_reaches_a_backend_that_was_down_exactly_once_and_signed(
    db: Database, tmp_path: Path
) -> None:
    async with WebhookReceiver(SECRET, fail_first=3) as receiver:
        host = ReportsHost(settings(tmp_path, **fast_outbox(receiver)), db)
        async with host.serve(Engine(["Mill Lane", "my bike was stolen"] * 2)) as component:
            await dial(component, caller())
            await dial(component, caller())
            await receiver.wait_for(2, timeout_s=15)
        async with db.session() as session:
            references = [r.reference for r in await session.scalars(select(Report))]
    assert receiver.requests >= 5 and receiver.rejected_signatures == 0
    assert sorted(receiver.accepted) == sorted(references)
    assert all(len(v) == 1 for v in receiver.accepted.values())
    body = receiver.bodies()[references[0]]
    assert body["schema"] == "watchline.report.v1" and body["category"] == "theft"
    assert (body["location"], body["description"]) == ("Mill Lane", "my bike was stolen")
    assert body["transcript"] == "Where: Mill Lane\nWhat happened: my bike was stolen"
    audio = body["answers"][0]["audio"]
    assert audio["url"].endswith(f"/api/reports/{references[0]}/answers/1/audio")


async def test_audio_can_be_inlined_in_the_delivery(db: Database, tmp_path: Path) -> None:
    async with WebhookReceiver(SECRET) as receiver:
        host = ReportsHost(settings(tmp_path, **fast_outbox(receiver, backend_audio="inline")), db)
        async with host.serve(Engine()) as component:
            await dial(component, caller())
            await receiver.wait_for(1, timeout_s=10)
    (body,) = receiver.bodies().values()
    assert {base64.b64decode(a["audio"]["base64"]) for a in body["answers"]} == {SPEECH}


async def test_secrets_never_reach_the_logs_even_in_the_backend_url(
    db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with WebhookReceiver(SECRET, fail_first=1) as receiver:
        url = receiver.url.replace("http://", f"http://user:{SECRET}@") + "?token=" + SECRET
        host = ReportsHost(settings(tmp_path, **fast_outbox(receiver, backend_url=url)), db)
        async with host.serve(Engine()) as component:
            await dial(component, caller())
            await receiver.wait_for(1, timeout_s=10)
    assert "delivered to http://127.0.0.1" in caplog.text
    assert SECRET not in caplog.text
    # the signing key is a SecretStr: not even a repr of the settings shows it
    assert SECRET not in repr(host.settings.reports.backend_secret)


async def test_a_failure_behind_the_line_is_told_to_the_caller(
    db: Database, tmp_path: Path
) -> None:
    """Nothing a caller is left with is silence: a broken backend says so, then hangs up."""
    host = ReportsHost(settings(tmp_path), db)

    def broken_queue(job: object) -> None:
        raise OSError("no space left on device")

    async with host.serve(Engine()) as component:
        component._deps = replace(component.intake_deps(), feed=broken_queue)
        call = caller()
        await dial(component, call)
    assert call.prompts()[-1] == "common_technical_problem"
    assert "report_reference_intro" not in call.prompts()
