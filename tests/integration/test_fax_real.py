"""Faxes through the real Asterisk 22 to the rig's fax machines (ivr/fax/rig.py).

A page takes about 30 s on the wire plus about 20 s of call set-up and training, in audio
and T.38 alike, so every send of this module starts at once in one fixture and the tests
then check one result each: the whole module costs about as long as its slowest call
(the "hangs up after page 1" machine, cut at 75 s).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
import pytest_asyncio
from PIL import Image

from ivr.ami.client import AmiClient
from ivr.ami.messages import Action
from ivr.campaigns.outcomes import Outcome
from ivr.config import SandboxSettings
from ivr.fax import rig
from ivr.fax.render import FaxBulletin, FaxLayout, header_text, render_header, render_pages
from ivr.fax.result import FaxResult, fax_outcome
from ivr.fax.sender import send_fax
from ivr.fax.tiff import differing_pixels, read_pages, write_tiff
from ivr.sandbox import AsteriskSandbox, SandboxInfo

pytestmark = pytest.mark.integration

BULLETIN = FaxBulletin(
    text="\n\n".join(
        "Two men were seen trying car door handles on Mill Lane between 2am and 4am. " * 8
        for _ in range(7)
    ),
    scheme="Riverside Neighbourhood Watch",
    reference="C-2025-0042",
    sent_at=datetime(2025, 3, 12, 14, 5),
    title="Car crime warning: Mill Lane",
)
#: Bounds for one attempt; a 2-page fax took about 65 s here.
ATTEMPT_TIMEOUT_S = 240.0


@dataclass
class Sent:
    pages: list[Image.Image]
    result: FaxResult
    receipt: rig.RigReceipt | None


@dataclass
class FaxRun:
    info: SandboxInfo
    sent: dict[str, Sent]
    seconds: float


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fax_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_settings: SandboxSettings
) -> AsyncIterator[SandboxInfo]:
    """A private sandbox: fax calls last minutes and must not share Asterisk with tests
    that restart it."""
    settings = sandbox_settings.model_copy(update={"test_endpoints": 2})
    async with AsteriskSandbox(settings, tmp_path_factory.mktemp("fax-asterisk")) as sandbox:
        yield sandbox.info


async def _ensure_timeout_function(ami: AmiClient) -> None:
    # Machine 904 needs TIMEOUT(); until modules.conf loads func_timeout.so, load it here.
    if "func_timeout.so" not in await ami.command("module show like func_timeout"):
        await ami.action(Action("ModuleLoad", {"Module": "func_timeout.so", "LoadType": "load"}))


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def fax_run(fax_sandbox: SandboxInfo) -> FaxRun:
    """Send every case at once and collect SendFAX's results and the machines' receipts."""
    info = fax_sandbox
    spool = rig.sandbox_spool(info)
    bulletin_pages = render_pages(BULLETIN)
    assert len(bulletin_pages) == 2
    cut_pages = [bulletin_pages[0], rig.slow_page()]
    files = {}
    for name, pages in (("bulletin.tif", bulletin_pages), ("cut.tif", cut_pages)):
        host, inside = spool.paths(name)
        write_tiff(pages, host)
        files[name] = (pages, inside)
    cases = {
        rig.FAX_T38: "bulletin.tif",
        rig.FAX_AUDIO: "bulletin.tif",
        rig.BUSY: "bulletin.tif",
        rig.NO_ANSWER: "bulletin.tif",
        rig.CUT_AFTER_FIRST_PAGE: "cut.tif",
        rig.VOICE: "bulletin.tif",
    }
    started = time.monotonic()
    async with AmiClient(info.host, info.ami_port, info.ami_username, info.ami_secret) as ami:
        await _ensure_timeout_function(ami)
        with ami.subscribe(names={"UserEvent"}, filter=rig.is_rig_receipt) as receipts:
            results = await asyncio.gather(
                *(
                    send_fax(
                        ami,
                        m.channel,
                        files[name][1],
                        attempt_id=f"it-{m.suffix}",
                        timeout_s=ATTEMPT_TIMEOUT_S,
                        ring_timeout_s=5 if m is rig.NO_ANSWER else 30,
                    )
                    for m, name in cases.items()
                )
            )
            by_machine: dict[str, rig.RigReceipt] = {}
            while (event := receipts.get_nowait()) is not None:
                receipt = rig.parse_rig_receipt(event, info)
                by_machine[receipt.machine] = receipt
    sent = {
        m.suffix: Sent(files[name][0], result, by_machine.get(m.suffix))
        for (m, name), result in zip(cases.items(), results, strict=True)
    }
    return FaxRun(info, sent, time.monotonic() - started)


def _received(sent: Sent) -> list[Image.Image]:
    assert sent.receipt is not None and sent.receipt.path is not None, "no receipt"
    return read_pages(sent.receipt.path)


@pytest.mark.parametrize(
    ("machine", "mode"), [(rig.FAX_T38, "T38"), (rig.FAX_AUDIO, "audio")], ids=["t38", "audio"]
)
def test_a_bulletin_arrives_complete_and_pixel_identical(
    fax_run: FaxRun, machine: rig.RigFaxMachine, mode: str
) -> None:
    """FAXSTATUS SUCCESS with every page; the machine received the same number of pages,
    each identical pixel for pixel to what was rendered, over the transport we expect."""
    sent = fax_run.sent[machine.suffix]
    result = sent.result
    assert result.succeeded, result
    assert result.pages == len(sent.pages)
    assert fax_outcome(result, len(sent.pages))[0] is Outcome.FAX_SENT
    assert sent.receipt is not None
    assert (sent.receipt.status, sent.receipt.pages, sent.receipt.mode) == (
        "SUCCESS",
        len(sent.pages),
        mode,
    )
    received = _received(sent)
    assert [p.size for p in received] == [p.size for p in sent.pages]
    assert [differing_pixels(a, b) for a, b in zip(sent.pages, received, strict=True)] == [0] * len(
        sent.pages
    )


def test_every_received_page_says_page_n_of_m(fax_run: FaxRun) -> None:
    """The multi-page bulletin's pages arrive in order, each headed "Page N of M"."""
    sent = fax_run.sent[rig.FAX_AUDIO.suffix]
    received = _received(sent)
    total = len(received)
    assert total >= 2
    layout = FaxLayout()
    for number, page in enumerate(received, start=1):
        band = page.crop((0, 0, page.width, layout.header_height))
        expected = render_header(header_text(BULLETIN, number, total), layout)
        assert differing_pixels(band, expected) == 0, f"page {number}"


def test_a_busy_fax_line_is_busy(fax_run: FaxRun) -> None:
    result = fax_run.sent[rig.BUSY.suffix].result
    assert not result.answered and result.hangup_cause == 17
    assert fax_outcome(result, 2) == (Outcome.BUSY, "busy (cause 17)")


def test_a_fax_line_that_never_answers_is_no_answer(fax_run: FaxRun) -> None:
    result = fax_run.sent[rig.NO_ANSWER.suffix].result
    assert not result.answered and result.originate_reason == 3
    assert fax_outcome(result, 2)[0] is Outcome.NO_ANSWER


def test_a_machine_that_hangs_up_after_page_one_is_a_partial_fax(fax_run: FaxRun) -> None:
    """Page 1 confirmed, the line lost during page 2: fax_partial with 1 of 2 pages, and
    the machine kept exactly page 1."""
    sent = fax_run.sent[rig.CUT_AFTER_FIRST_PAGE.suffix]
    result = sent.result
    assert result.answered and not result.succeeded
    assert result.pages == 1
    outcome, detail = fax_outcome(result, 2)
    assert outcome is Outcome.FAX_PARTIAL and "1 of 2" in detail
    received = _received(sent)
    assert len(received) == 1
    assert differing_pixels(received[0], sent.pages[0]) == 0


def test_a_person_answering_a_fax_number_is_a_failed_fax(fax_run: FaxRun) -> None:
    result = fax_run.sent[rig.VOICE.suffix].result
    assert result.answered and result.status == "FAILED" and result.pages == 0
    outcome, detail = fax_outcome(result, 2)
    assert outcome is Outcome.FAX_FAILED and "no page sent" in detail


def test_all_cases_together_take_about_as_long_as_the_slowest(fax_run: FaxRun) -> None:
    """They ran concurrently: the module costs one slow call, not their sum."""
    slowest = max(s.result.duration_s for s in fax_run.sent.values())
    assert fax_run.seconds < slowest + 15
    assert all(not s.result.timed_out for s in fax_run.sent.values())


def test_received_files_are_only_in_the_sandbox_fax_dir(fax_run: FaxRun) -> None:
    paths = [s.receipt.path for s in fax_run.sent.values() if s.receipt and s.receipt.path]
    assert paths and all(Path(p).parent == fax_run.info.fax_dir for p in paths)
