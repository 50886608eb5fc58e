"""Report calls through the real Asterisk, rig phones and Whisper.

- a caller who hangs up part-way through the description still leaves a report, with
  the partial recording and its transcript;
- a caller who says nothing leaves a report marked no_speech, with its (silent) audio;
- ten callers at once: every report is stored and transcribed, and reaches an external
  backend that is down for its first requests exactly once, validly signed;
- an urgent report is stored and its live call transferred to the configured extension.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bench.speechset import SENTENCES
from ivr.app import Controller
from ivr.config import Settings
from ivr.reports.component import ReportsComponent
from ivr.reports.rig_caller import PromptTimes, ReportCaller, plan_report_call
from ivr.reports.rig_speech import LOCATIONS, caller_wavs, default_cache_dir
from ivr.reports.states import CallState
from ivr.reports.testing import WebhookReceiver, wait_for_reports
from ivr.sandbox import SandboxInfo
from ivr.speech.audio import read_wav
from ivr.speech.wer import corpus_wer, normalise_words
from ivr.store.models.reports import Report, ReportAnswer
from ivr.store.models.transcription import TranscriptionJobRow
from sip_test_rig.fleet import Fleet
from tests.conftest import EndpointPool

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "integration-secret"


def settings(tmp_path: Path, **reports: Any) -> Settings:
    return Settings(data_dir=tmp_path / "var", reports=reports)


def times(s: Settings) -> PromptTimes:
    return PromptTimes(s.speech.prompts_build_dir / "watchline")


async def answers_of(controller: Controller, report: Report) -> list[tuple[ReportAnswer, Any]]:
    assert controller.db is not None
    async with controller.db.session() as session:
        rows = await session.execute(
            select(ReportAnswer, TranscriptionJobRow)
            .outerjoin(TranscriptionJobRow, ReportAnswer.job_id == TranscriptionJobRow.id)
            .where(ReportAnswer.report_id == report.id)
            .order_by(ReportAnswer.id)
        )
        return [(a, j) for a, j in rows]


async def test_hanging_up_mid_description_leaves_the_partial_recording_and_transcript(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    s = settings(tmp_path)
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    what = SENTENCES[0]  # "Someone stole my bicycle from outside the library on Tuesday night."
    where_wav, what_wav = caller_wavs([LOCATIONS[0], what], default_cache_dir())
    full_s = read_wav(what_wav).duration_s
    async with Controller(s, sandbox=asterisk, serve_web=False, components=[ReportsComponent]) as c:
        assert c.db is not None
        caller = ReportCaller(where=where_wav, what=what_wav, hangup_during_what_s=2.2)
        plan = plan_report_call(caller, times(s), record_to=None)
        result = await fleet.call(phone, "101", plan.script, timeout_s=90)
        (report,) = await wait_for_reports(c.db, 1, timeout_s=60)
        answers = await answers_of(c, report)
    assert result.ended_by == "local"  # the caller hung up
    assert report.call_state is CallState.HUNG_UP and report.callback_number is None
    (what_answer, job) = answers[-1]
    assert what_answer.kind.value == "what" and what_answer.ended_by == "hangup"
    audio = read_wav(tmp_path / "var" / (what_answer.audio_path or ""))
    assert 1.0 < audio.duration_s < full_s
    heard = normalise_words(job.text)
    spoken = normalise_words(what)
    # it heard the start of the sentence ...
    assert heard and sum(w in spoken[:8] for w in heard) >= max(1, len(heard) // 2), job.text
    assert "night" not in heard  # ... and not the end, which was never said


async def test_a_caller_who_says_nothing_leaves_a_no_speech_report_with_its_audio(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    s = settings(tmp_path, where_silence_s=2, what_silence_s=3)
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    async with Controller(s, sandbox=asterisk, serve_web=False, components=[ReportsComponent]) as c:
        assert c.db is not None
        caller = ReportCaller(
            where=None,
            what=None,
            callback_key="2",
            where_silence_s=2,
            what_silence_s=3,
            hangup_after_reference=True,
        )
        plan = plan_report_call(caller, times(s), record_to=None)
        await fleet.call(phone, "101", plan.script, timeout_s=120)
        (report,) = await wait_for_reports(c.db, 1, timeout_s=60)
        answers = await answers_of(c, report)
    assert report.no_speech and report.call_state is CallState.COMPLETED
    assert [(a.kind.value, a.take) for a, _ in answers] == [
        ("where", 1),
        ("where", 2),
        ("what", 1),
        ("what", 2),
    ]
    for answer, job in answers:
        assert job.no_speech and job.text == ""
        # Asterisk trims the trailing silence that ended a recording: little is left,
        # but the file is there and is audio
        stored = read_wav(tmp_path / "var" / (answer.audio_path or ""))
        assert stored.rate == 8000 and len(stored) > 0


async def test_ten_callers_at_once_all_reach_a_backend_that_was_down(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    eps = endpoints.take(10)
    phones = await fleet.add_phones([(e.name, e.password) for e in eps])
    await fleet.wait_registered(phones, timeout_s=30)
    whats = SENTENCES[1:11]
    wavs = caller_wavs([*LOCATIONS, *whats], default_cache_dir())
    async with WebhookReceiver(SECRET, fail_first=6) as backend:
        s = settings(
            tmp_path,
            backend_url=backend.url,
            backend_secret=SECRET,
            delivery_first_retry_s=0.5,
            delivery_max_retry_s=2.0,
        )
        async with Controller(
            s, sandbox=asterisk, serve_web=False, components=[ReportsComponent]
        ) as c:
            assert c.db is not None
            calls = []
            for i, phone in enumerate(phones):
                caller = ReportCaller(
                    where=wavs[i],
                    what=wavs[10 + i],
                    category_key=str(i % 6 + 1),
                    hangup_after_reference=True,
                )
                plan = plan_report_call(caller, times(s), record_to=None)
                calls.append(await fleet.start_call(phone, "101", plan.script))
            results = await asyncio.gather(*(call.result(150) for call in calls))
            reports = await wait_for_reports(c.db, 10, timeout_s=120)
            await backend.wait_for(10, timeout_s=60)
            pairs = {r.caller_number: await answers_of(c, r) for r in reports}
    assert all(r.answered for r in results)
    assert len(reports) == 10 and len({r.reference for r in reports}) == 10
    assert sorted(backend.accepted) == sorted(r.reference for r in reports)
    assert all(len(got) == 1 and got[0].signature_ok for got in backend.accepted.values())
    assert backend.requests > 10 and backend.rejected_signatures == 0
    expected, heard = [], []
    for i, ep in enumerate(eps):
        answers = pairs[ep.number]
        assert [a.kind.value for a, _ in answers] == ["where", "what"]
        expected += [LOCATIONS[i], whats[i]]
        heard += [j.text for _, j in answers]
    assert corpus_wer(zip(expected, heard, strict=True)) <= 0.15, heard
    categories = {r.caller_number: r.category.value for r in reports if r.category}
    assert categories[eps[4].number] == "fraud"


async def test_an_urgent_report_is_stored_and_the_call_put_through(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    """Transfer to 9001 (echo) stands in for the duty officer's extension."""
    s = settings(tmp_path, transfer_extension="9001", transfer_context="from-phones")
    (ep,) = endpoints.take(1)
    phone = await fleet.add_phone(ep.name, ep.password)
    await fleet.wait_registered([phone])
    where_wav, what_wav = caller_wavs(
        [LOCATIONS[5], "There is a man with a knife in my garden and he is here now."],
        default_cache_dir(),
    )
    async with Controller(s, sandbox=asterisk, serve_web=False, components=[ReportsComponent]) as c:
        assert c.db is not None
        caller = ReportCaller(where=where_wav, what=what_wav)
        plan = plan_report_call(caller, times(s), record_to=None)
        # no callback key: the call leaves before that question; hang up in the echo
        hangup_at = (plan.reference_at_s or 0) + 12
        script = replace(plan.script, dtmf=plan.script.dtmf[:-1], hangup_after_s=hangup_at)
        result = await fleet.call(phone, "101", script, timeout_s=120)
        (report,) = await wait_for_reports(c.db, 1, timeout_s=60)
    assert report.call_state is CallState.TRANSFERRED and report.urgent
    assert "knife" in report.urgent_phrases
    # the controller let the call go on: the caller hung up, in the echo, long after
    assert result.ended_by == "local" and result.duration_s > (plan.reference_at_s or 0) + 10
    log = asterisk.log_file.read_text(errors="replace")
    assert "9001@from-phones:1" in log
