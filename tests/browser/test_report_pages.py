"""Police staff triage phone reports in the dashboard, in a real browser.

Reports are made as the report line makes them, through the reports store's own functions
(``reports_repo.create_report``, ``insert_job``/``record_transcript``,
``reports_repo.file_report``), with each answer's audio written under the data directory:
spoken words (Piper), so the player has real speech to play.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from ivr.reports.categories import Category
from ivr.reports.states import AnswerKind, CallState
from ivr.speech.asr.base import Segment, Transcript
from ivr.speech.transcription_pool import TranscriptionJob
from ivr.store import reports_repo as repo
from ivr.store.models.auth import Role
from ivr.store.models.reports import ReportAnswer
from ivr.store.transcription_jobs import insert_job, record_transcript
from tests.browser.conftest import Dashboard, rows_text, screenshot, sign_in
from tests.spoken import spoken_wav

pytestmark = pytest.mark.e2e

WHERE = "Mill Lane, by the allotments"
WHAT = "Two men took a bicycle from the shed and one of them had a knife."


async def file_report(
    d: Dashboard,
    *,
    caller: str | None,
    category: Category,
    answers: list[tuple[AnswerKind, str, float]],
    urgent: tuple[str, ...] = (),
) -> str:
    """A completed report with one recorded, transcribed answer per (kind, words,
    confidence); its reference."""
    clock = d.controller.clock
    async with d.db.session(write=True) as s:
        report = await repo.create_report(
            s, channel_id=f"test-{category.value}", caller_number=caller, now=clock.now()
        )
        for kind, words, confidence in answers:
            wav = spoken_wav(words).read_bytes()
            relative = Path("reports") / report.reference / f"{kind.value}-1.wav"
            (d.data_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (d.data_dir / relative).write_bytes(wav)
            answer = ReportAnswer(
                report_id=report.id, kind=kind, take=1, superseded=False,
                audio_path=str(relative), audio_bytes=len(wav), duration_s=len(wav) / 16000,
                ended_by="silence", recorded_at=clock.now(),
            )  # fmt: skip
            s.add(answer)
            await s.flush()
            job = insert_job(
                s,
                TranscriptionJob(d.data_dir / relative, subject=repo.answer_subject(answer.id)),
                now=clock.now(),
                base_dir=d.data_dir,
            )
            await s.flush()
            seconds = len(wav) / 16000
            heard = Transcript(
                words, "whisper tiny.en", seconds, (Segment(words, 0, seconds, confidence),)
            )
            record_transcript(job, heard, clock.now())
            answer.job_id = job.id
        filing = repo.Filing(
            category=category, category_by="key", callback_number=caller,
            callback_source="caller_id" if caller else None, call_state=CallState.COMPLETED,
            urgent_phrases=urgent,
        )  # fmt: skip
        await repo.file_report(
            s, report.id, filing, now=clock.now(), urgent_phrases=(), deliver=False
        )
        return report.reference


async def test_staff_triage_a_report_listening_to_it_and_changing_its_status(
    page: Page, dashboard: Dashboard, tmp_path: Path
) -> None:
    """Staff sign in and land on the reports, newest first with the urgent one marked;
    filter to urgent ones; open the report: category, caller, callback, transcripts with
    confidence, and audio that the browser fetches as audio/wav and plays; change the
    status with a note and find it, with their name, in the audit trail."""
    urgent = await file_report(
        dashboard, caller="+441632960555", category=Category.THEFT, urgent=("knife",),
        answers=[(AnswerKind.WHERE, WHERE, 0.93), (AnswerKind.WHAT, WHAT, 0.48)],
    )  # fmt: skip
    await asyncio.sleep(0.01)  # a later created_at: newest first must put it on top
    other = await file_report(
        dashboard, caller=None, category=Category.FRAUD,
        answers=[(AnswerKind.WHAT, "A caller said my bank account was frozen.", 0.9)],
    )  # fmt: skip
    await sign_in(page, await dashboard.token(Role.STAFF, "PC Patel"))
    assert page.url.endswith("/dashboard/reports")
    listing = page.get_by_role("table", name="Reports 1–2 of 2, newest first")
    shown = await rows_text(listing.locator("tbody tr"))
    assert shown[0].startswith(other[:4]) and "Fraud — Withheld New" in shown[0], shown
    assert shown[1].startswith("Urgent") and f"Theft {WHERE}" in shown[1], shown
    await expect(listing.locator("tr.urgent")).to_have_count(1)
    await screenshot(page, tmp_path, "reports.png")

    await page.get_by_label("Urgency").select_option(label="Urgent only")
    await page.get_by_role("button", name="Show reports").click()
    await expect(page).to_have_url(re.compile(r"[?&]urgent=true"))
    listing = page.get_by_role("table", name="Reports 1–1 of 1, newest first")
    await expect(listing.locator("tbody tr")).to_have_count(1)
    await listing.get_by_role("link").click()

    spaced = f"{urgent[:4]} {urgent[4:7]} {urgent[7:]}"
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Report {spaced}")
    facts = await rows_text(page.locator("dl.facts > div"))
    assert "Category Theft (keyed)" in facts
    assert "Caller +441632960555" in facts
    assert "Call back +441632960555 (the number they rang from)" in facts
    await expect(page.get_by_text("Urgent. The caller said: knife.")).to_be_visible()
    what = page.get_by_role("article", name="What happened")
    await expect(what.locator("blockquote")).to_have_text(WHAT)
    await expect(what).to_contain_text("confidence 48 % — low: listen to the recording")
    await expect(page.get_by_role("article", name="Where it happened")).to_contain_text(
        "confidence 93 %"
    )

    player = what.locator("audio")
    source = await player.get_attribute("src")
    assert source is not None
    audio = await page.request.get(source)  # the page's own cookies
    assert audio.status == 200 and audio.headers["content-type"] == "audio/wav"
    relative = f"reports/{urgent}/what-1.wav"
    assert await audio.body() == (dashboard.data_dir / relative).read_bytes()
    played = await player.evaluate(
        """async (el) => {
            await el.play();
            await new Promise((done) => el.addEventListener("timeupdate", done, {once: true}));
            return {time: el.currentTime, duration: el.duration, error: el.error};
        }"""
    )
    assert played["error"] is None and played["time"] > 0, played
    assert played["duration"] == pytest.approx(len(await audio.body()) / 16000, abs=0.2)
    await screenshot(page, tmp_path, "report.png")

    await page.get_by_label("Triaged").check()
    await page.get_by_label("Note (required)").fill("Passed to PCSO Jones for a visit today.")
    await page.get_by_role("button", name="Change status").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The status is changed and your note is in the audit trail."
    )
    await expect(page.locator("dl.facts .badge")).to_have_text("Triaged")
    audit = page.get_by_role("table", name="Everything that happened").locator("tbody tr")
    await expect(audit).to_have_count(4)
    assert [(await row.locator("td").all_inner_texts())[1:3] for row in await audit.all()] == [
        ["caller", "Call started"],
        ["caller", "Report filed"],
        ["system", "Transcribed"],
        ["token:1 PC Patel", "Status changed: New → Triaged"],
    ]
    await expect(audit.last.locator("td").last).to_have_text(
        "Passed to PCSO Jones for a visit today."
    )


async def test_a_status_change_without_a_note_is_refused_and_keeps_nothing(
    page: Page, dashboard: Dashboard
) -> None:
    """The browser asks for the note; if the form is sent without one anyway, the server
    refuses it with the reason, and the status and audit trail stay as they were."""
    reference = await file_report(
        dashboard, caller=None, category=Category.OTHER,
        answers=[(AnswerKind.WHAT, "Loud music every night.", 0.9)],
    )  # fmt: skip
    await sign_in(page, await dashboard.token(Role.ADMIN), start=f"/dashboard/reports/{reference}")
    note = page.get_by_label("Note (required)")
    await expect(note).to_have_attribute("required", "")
    await note.evaluate("el => el.removeAttribute('required')")
    await note.fill("   ")
    async with page.expect_response(lambda r: r.request.method == "POST") as answer:
        await page.get_by_role("button", name="Change status").click()
    assert (await answer.value).status == 400
    await expect(page.get_by_role("alert")).to_have_text("a status change needs a note saying why")
    await expect(page.locator("dl.facts .badge")).to_have_text("New")
    audit = page.get_by_role("table", name="Everything that happened").locator("tbody tr")
    await expect(audit).to_have_count(3)
