"""The report line end to end: a rig phone rings 101 on the real Asterisk, says its
category, speaks where and what happened (Piper-synthesized), asks to be called back,
presses star to hear the reference again, records what it hears, and hangs up. Then a
member of staff finds the report through the API.

The checks are the issue's acceptance points: the right category, transcripts within
15 % WER of the sentences played, and the reference the phone heard is the stored one
(Whisper on the phone's own recording, each reading on its own; a misheard digit fails
the check digits). The call is placed by ``ivr.reports.demo.phone_report``, which the
demo uses too.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from ivr.app import Controller
from ivr.config import Settings
from ivr.reports import reference as refs
from ivr.reports.component import ReportsComponent
from ivr.reports.demo import phone_report
from ivr.reports.testing import staff_token
from ivr.sandbox import SandboxInfo
from ivr.speech.wer import corpus_wer
from sip_test_rig.fleet import Fleet
from tests.conftest import EndpointPool

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.solo]

WHERE = "Outside the library on Mill Lane."
WHAT = "Someone has sprayed graffiti all over the bus shelter and smashed one of the windows."


async def test_a_spoken_report_reaches_staff_with_its_transcripts_and_reference(
    asterisk: SandboxInfo, fleet: Fleet, endpoints: EndpointPool, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "var", web={"port": 0})
    (ep,) = endpoints.take(1)
    async with Controller(settings, sandbox=asterisk, components=[ReportsComponent]) as controller:
        assert controller.db is not None
        result = await phone_report(
            controller,
            fleet,
            ep,
            tmp_path,
            where=WHERE,
            what=WHAT,
            say_category="Criminal damage.",
            repeat_reference=True,
            hang_up_after_reference=True,
        )
        token = await staff_token(controller.db)
        base = f"http://127.0.0.1:{controller.web_port}"
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as http:
            async with http.get(f"{base}/api/reports", params={"status": "new"}) as r:
                listing = await r.json()
            async with http.get(f"{base}/api/reports/{result.reference}") as r:
                report = await r.json()
            where_audio = next(a for a in report["answers"] if a["kind"] == "where")
            async with http.get(where_audio["audio"]["url"]) as r:
                assert r.status == 200 and r.content_type == "audio/wav"
                audio = await r.read()
    assert [r["reference"] for r in listing["reports"]] == [result.reference]
    assert report["category"] == "criminal_damage" and report["category_by"] == "speech"
    assert report["call_state"] == "completed" and report["status"] == "new"
    assert report["callback"] == {"requested": True, "number": ep.number, "source": "caller_id"}
    assert audio[:4] == b"RIFF" and len(audio) > 8000
    error = corpus_wer([(WHERE, report["location"]), (WHAT, report["description"])])
    assert error <= 0.15, (report["location"], report["description"], error)
    for answer in report["answers"]:
        assert answer["transcript"]["engine"].startswith("whisper")
        assert 0 < answer["transcript"]["confidence"] <= 1
    # the phone heard the stored reference, read twice (star asked for it again); each
    # reading is transcribed on its own, and the one that passes the check digits counts
    heard = (result.heard_readings, result.jitter_buffer, result.heard_text)
    assert result.heard_reference == result.reference, heard
    assert refs.is_valid(result.reference)
    assert len(result.heard_readings) == 2, result.heard_text
