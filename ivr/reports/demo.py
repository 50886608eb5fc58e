"""One phone report for the demo (``make demo``): a rig phone rings the report line.

    result = await phone_report(controller, fleet, endpoint, work_dir)
    print(result.reference, result.heard_reference, result.location, result.description)

The phone keys a category, says where and what happened (Piper's voice), asks to be
called back and records the call; the function waits until the report is stored and
transcribed, then checks by speech recognition that the phone heard the stored reference.
Show the record with ``ivr reports show <reference>`` (``WATCHLINE_DATA_DIR`` set to the
controller's data directory) or :func:`report_json`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ivr.reports.categories import Category
from ivr.reports.rig_caller import PromptTimes, ReportCaller, plan_report_call
from ivr.reports.rig_speech import Heard, caller_wavs, default_cache_dir, heard_reference
from ivr.reports.views import audio_link, report_detail
from ivr.sandbox import RigEndpoint
from ivr.store import reports_repo as repo
from ivr.store.database import Database
from ivr.store.models.reports import Report
from sip_test_rig.fleet import Fleet

if TYPE_CHECKING:
    from ivr.app import Controller

WHERE = "Outside the library on Mill Lane."
WHAT = "Someone stole my bicycle from the rack last night. The lock was cut."


@dataclass(frozen=True)
class DemoReport:
    reference: str
    #: what the phone heard, by Whisper on its own recording (None if not understood)
    heard_reference: str | None
    #: the whole transcript of the phone's recording
    heard_text: str
    #: the digits heard in each reading of the reference (None: none understood)
    heard_readings: tuple[str | None, ...]
    category: Category | None
    location: str | None
    description: str | None
    urgent: bool
    #: the staff API's JSON for the report
    record: dict[str, Any]
    #: the phone's receive jitter buffer at the end of the call (frames concealed or
    #: dropped there would explain a misheard reading)
    jitter_buffer: dict[str, int]

    @property
    def reference_heard_correctly(self) -> bool:
        return self.heard_reference == self.reference


async def report_json(db: Database, reference: str, base_url: str = "") -> dict[str, Any]:
    """The staff API's view of one report (as ``ivr reports show REF --json`` prints it)."""
    async with db.session() as session:
        report = await repo.get_report(session, reference)
        answers = await repo.answers_with_jobs(session, report.id)
        events = await repo.events_of(session, report.id)
        delivery = await repo.delivery_of(session, report.id)
    return report_detail(report, answers, events, delivery, audio_link(base_url, reference))


async def phone_report(
    controller: Controller,
    fleet: Fleet,
    endpoint: RigEndpoint,
    work_dir: Path,
    *,
    where: str = WHERE,
    what: str = WHAT,
    category_key: str = "1",
    say_category: str | None = None,
    repeat_reference: bool = False,
    hang_up_after_reference: bool = False,
    timeout_s: float = 180.0,
) -> DemoReport:
    """Place one report call from ``endpoint`` and return what was stored and heard.

    The caller keys ``category_key``, or says ``say_category`` (e.g. "Criminal damage.")
    after the menu; with ``repeat_reference`` it presses star to hear the reference again;
    with ``hang_up_after_reference`` it hangs up then instead of hearing the goodbye.
    The controller must run the reports component (the default components do).
    """
    db = controller.db
    assert db is not None, "the controller is not started"
    phone = await fleet.add_phone(endpoint.name, endpoint.password)
    await fleet.wait_registered([phone])
    texts = [where, what] + ([say_category] if say_category else [])
    wavs = await asyncio.to_thread(caller_wavs, texts, default_cache_dir())
    times = PromptTimes(controller.settings.speech.prompts_build_dir / "watchline")
    recording = work_dir / f"report-call-{endpoint.name}.wav"
    caller = ReportCaller(
        where=wavs[0],
        what=wavs[1],
        category_key=None if say_category else category_key,
        category_speech=wavs[2] if say_category else None,
        repeat_reference=repeat_reference,
        hangup_after_reference=hang_up_after_reference,
    )
    plan = plan_report_call(caller, times, record_to=recording)
    async with db.session() as session:
        before = await session.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) or 0
    call = await fleet.call(phone, "101", plan.script, timeout_s=timeout_s)
    report = await _complete(db, endpoint.number, after_id=before, timeout_s=timeout_s)
    heard = await asyncio.to_thread(_hear, recording)
    record = await report_json(db, report.reference)
    return DemoReport(
        reference=report.reference,
        heard_reference=heard.reference,
        heard_text=heard.text,
        heard_readings=heard.readings,
        category=report.category,
        location=record["location"],
        description=record["description"],
        urgent=report.urgent,
        record=record,
        jitter_buffer=call.jitter_buffer,
    )


async def _complete(db: Database, number: str, *, after_id: int, timeout_s: float) -> Report:
    async with asyncio.timeout(timeout_s):
        while True:
            async with db.session() as session:
                report = await session.scalar(
                    select(Report)
                    .where(Report.id > after_id, Report.caller_number == number)
                    .where(Report.transcribed_at.is_not(None))
                )
            if report is not None:
                return report
            await asyncio.sleep(0.2)


def _hear(recording: Path) -> Heard:
    from ivr.speech.asr.whisper import WhisperEngine

    return heard_reference(recording, WhisperEngine())
