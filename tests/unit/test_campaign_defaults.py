"""A campaign created without its own policy takes the configured default."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ivr.campaigns.policy import CampaignSettings
from ivr.campaigns.service import CampaignService
from ivr.clock import SystemClock
from ivr.config import Settings
from ivr.store import campaigns_repo as repo
from ivr.store import members_repo
from ivr.store.testing import open_test_database


async def test_the_configured_default_policy_applies_unless_a_campaign_has_its_own(
    tmp_path: Path,
) -> None:
    quick = CampaignSettings(max_attempts=2, retry_delays_s=(20,))
    async with open_test_database(f"sqlite+aiosqlite:///{tmp_path / 'wl.db'}") as db:
        async with db.session(write=True) as s:
            await members_repo.create_group(s, "north")
            bulletin = await repo.create_bulletin(
                s, title="t", audio_path="", created_by="t", now=datetime.now(UTC)
            )
        service = CampaignService(db, SystemClock(), data_dir=tmp_path, sounds_dir=None,
                                  default_policy=quick)  # fmt: skip
        defaulted = await service.create(bulletin.id, ["north"])
        own = await service.create(
            bulletin.id, ["north"], settings=CampaignSettings(max_attempts=7)
        )
        async with db.session() as s:
            assert repo.campaign_settings(await repo.get_campaign(s, defaulted)) == quick
            assert repo.campaign_settings(await repo.get_campaign(s, own)).max_attempts == 7


def test_the_default_policy_is_set_in_configuration() -> None:
    settings = Settings(campaigns={"default_policy": {"max_attempts": 3}})  # type: ignore[arg-type]
    assert settings.campaigns.default_policy.max_attempts == 3
