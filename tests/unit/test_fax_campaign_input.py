"""Fax bulletins that cannot be sent are refused up front, before any call is placed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ivr.campaigns.outcomes import Outcome
from ivr.campaigns.policy import CampaignSettings, next_attempt_at
from ivr.campaigns.service import CampaignService
from ivr.clock import SystemClock
from ivr.errors import InputError
from ivr.fax.errors import EmptyBulletinText, LogoNotFound, LogoUnreadable, TooManyPages
from ivr.fax.render import FaxLayout
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.testing import open_test_database, snapshot


@pytest.fixture
async def setup(tmp_path: Path) -> AsyncIterator[tuple[CampaignService, int]]:
    async with open_test_database(f"sqlite+aiosqlite:///{tmp_path / 'wl.db'}") as db:
        async with db.session(write=True) as s:
            group = await members_repo.create_group(s, "pubs")
            ids = await members_repo.insert_members(s, [
                {"name": "The Crown", "phone": "+441632960950", "fax": "+441632960900",
                 "channel": "fax"},
            ])  # fmt: skip
            await members_repo.add_memberships(s, [(i, group.id) for i in ids.values()])
            bulletin = await repo.create_bulletin(
                s, title="t", audio_path="", created_by="t", now=datetime.now(UTC)
            )
        service = CampaignService(
            db, SystemClock(), data_dir=tmp_path, sounds_dir=None, fax_layout=FaxLayout(max_pages=1)
        )
        yield service, bulletin.id


async def test_empty_text_is_refused(setup: tuple[CampaignService, int]) -> None:
    service, bulletin = setup
    with pytest.raises(EmptyBulletinText):
        await service.set_bulletin_text(bulletin, "   \n ", approved=True, by="t")


async def test_text_over_the_page_limit_is_refused_before_anything_is_stored(
    setup: tuple[CampaignService, int],
) -> None:
    service, bulletin = setup
    before = await snapshot(service.db)
    with pytest.raises(TooManyPages) as e:
        await service.set_bulletin_text(bulletin, "A long bulletin. " * 800, approved=True, by="t")
    assert "limit is 1" in str(e.value)
    assert await snapshot(service.db) == before


@pytest.mark.parametrize("logo", ["missing", "corrupt"])
async def test_a_missing_or_corrupt_logo_stops_the_campaign_before_any_call(
    setup: tuple[CampaignService, int], tmp_path: Path, logo: str
) -> None:
    service, bulletin = setup
    await service.set_bulletin_text(bulletin, "Lock your doors.", approved=True, by="t")
    path = tmp_path / "logo.png"
    if logo == "corrupt":
        path.write_bytes(b"\x89PNG\r\n\x1a\n not really a picture")
    service.fax_logo = path
    before = await snapshot(service.db)
    with pytest.raises(LogoNotFound if logo == "missing" else LogoUnreadable):
        await service.create(bulletin, ["pubs"])
    assert await snapshot(service.db) == before  # no campaign, no targets, no attempts


async def test_approving_needs_text(setup: tuple[CampaignService, int]) -> None:
    service, bulletin = setup
    with pytest.raises(Exception, match="no text"):
        await service.approve_transcript(bulletin, by="t")
    await service.set_bulletin_text(bulletin, "Watch for a blue van.", approved=False, by="t")
    await service.approve_transcript(bulletin, by="t")


def test_a_partial_or_failed_fax_is_retried_by_the_failed_schedule() -> None:
    settings = CampaignSettings(failed_max_attempts=2, failed_retry_delays_s=(600,))
    now = datetime(2026, 1, 5, 10, 0, tzinfo=UTC)
    for outcome in (Outcome.FAX_PARTIAL, Outcome.FAX_FAILED):
        assert next_attempt_at(outcome, 1, now, settings) == now + timedelta(seconds=600)
        assert next_attempt_at(outcome, 2, now, settings) is None  # out of attempts
    assert issubclass(TooManyPages, InputError)
