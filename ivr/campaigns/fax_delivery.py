"""Fax members: the bulletin's approved text, rendered to TIFF-F and sent with SendFAX.

The document is rendered once per campaign and group (the header names the scheme), kept
in the fax spool that Asterisk reads, and sent under a separate concurrency limit (a page
takes about 35-45 s). Until the bulletin's text is approved, fax members wait: the engine
asks :meth:`FaxDelivery.wait_reason` before dialling one.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from ivr.ami.client import AmiClient
from ivr.campaigns.outcomes import AttemptResult, Outcome
from ivr.campaigns.ports import AttemptPlan, AttemptReport
from ivr.clock import Clock
from ivr.errors import AmiError
from ivr.fax.limiter import FaxLimiter
from ivr.fax.render import FaxBulletin, FaxLayout, RenderedFax, render_fax
from ivr.fax.result import fax_outcome
from ivr.fax.sender import FaxSpool, send_fax
from ivr.store.database import Database
from ivr.store.models import Bulletin, Group

log = logging.getLogger(__name__)

WAITING_FOR_TEXT = "waiting for the bulletin's text to be approved"
#: Ringing plus set-up, then per page (audio mode runs at about 35-45 s a page here).
_BASE_S = 90.0
_PER_PAGE_S = 75.0


def fax_document(
    text: str, *, scheme: str, campaign_id: int, sent_at: datetime, title: str | None,
    logo: Path | None,
) -> FaxBulletin:  # fmt: skip
    return FaxBulletin(
        text=text, scheme=scheme, reference=f"WL-{campaign_id}", sent_at=sent_at,
        title=title, logo=logo,
    )  # fmt: skip


class FaxDelivery:
    def __init__(
        self,
        ami: AmiClient,
        db: Database,
        clock: Clock,
        *,
        spool: FaxSpool,
        dial: str,
        limiter: FaxLimiter,
        layout: FaxLayout,
        logo: Path | None,
        ring_timeout_s: float,
    ) -> None:
        self.ami = ami
        self.db = db
        self.clock = clock
        self.spool = spool
        self.dial = dial
        self.limiter = limiter
        self.layout = layout
        self.logo = logo
        self.ring_timeout_s = ring_timeout_s
        self._documents: dict[tuple[int, int | None], tuple[RenderedFax, str]] = {}
        self._lock = asyncio.Lock()

    async def wait_reason(self, bulletin_id: int) -> str | None:
        """Why a fax for this bulletin cannot go yet, or None."""
        async with self.db.session() as s:
            bulletin = await s.get(Bulletin, bulletin_id)
        if bulletin is None or not bulletin.transcript_approved or not bulletin.transcript:
            return WAITING_FOR_TEXT
        return None

    async def _document(self, plan: AttemptPlan) -> tuple[RenderedFax, str]:
        key = (plan.campaign_id, plan.group_id)
        async with self._lock:
            if key in self._documents:
                return self._documents[key]
            async with self.db.session() as s:
                bulletin = await s.get(Bulletin, plan.bulletin_id)
                scheme = (
                    await s.scalar(select(Group.name).where(Group.id == plan.group_id))
                    if plan.group_id is not None
                    else None
                )
            assert bulletin is not None and bulletin.transcript
            document = fax_document(
                bulletin.transcript, scheme=scheme or "Watchline", campaign_id=plan.campaign_id,
                sent_at=self.clock.now(), title=bulletin.title, logo=self.logo,
            )  # fmt: skip
            name = f"campaign-{plan.campaign_id}-group-{plan.group_id or 0}.tif"
            host, inside = self.spool.paths(name)
            host.parent.mkdir(parents=True, exist_ok=True)
            rendered = await asyncio.to_thread(render_fax, document, host, self.layout)
            host.chmod(0o644)  # Asterisk may run as another user
            self._documents[key] = (rendered, inside)
            return rendered, inside

    async def deliver(self, plan: AttemptPlan, channel: str) -> AttemptReport:
        rendered, path = await self._document(plan)
        timeout = _BASE_S + _PER_PAGE_S * rendered.pages
        try:
            async with self.limiter.slot():
                result = await send_fax(
                    self.ami, channel, path, attempt_id=str(plan.attempt_id),
                    timeout_s=timeout, ring_timeout_s=self.ring_timeout_s,
                    channel_id=plan.channel_id,
                )  # fmt: skip
        except AmiError as e:
            return AttemptReport(AttemptResult(Outcome.FAILED, f"lost contact with Asterisk: {e}"))
        outcome, detail = fax_outcome(result, rendered.pages)
        return AttemptReport(
            AttemptResult(outcome, detail), hangup_cause=result.hangup_cause, detail=detail
        )
