"""What each delivery call plays, per campaign and group: prompts, the scheme's name, the
bulletin, and (for answering machines) how to hear it again.

Scheme names are spoken audio rendered once with the TTS engine (about half a second each)
when a campaign is prepared, never while a member waits; if rendering fails, the generic
introduction ("...from your neighbourhood watch") is used instead.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy import select

from ivr.campaigns.service import CampaignService
from ivr.flows.delivery import DeliveryScript, sound
from ivr.speech.say import digits, sound_uris
from ivr.speech.tts.build import render_phrase
from ivr.speech.tts.engine import EngineChain
from ivr.store.database import Database
from ivr.store.models import CampaignGroup, Group

log = logging.getLogger(__name__)


class ScriptBook:
    def __init__(
        self,
        db: Database,
        service: CampaignService,
        sounds_dir: Path,
        tts: EngineChain | None,
        *,
        replay_number: str | None,
    ) -> None:
        self.db = db
        self.service = service
        self.sounds_dir = sounds_dir
        self.tts = tts
        self.replay_number = replay_number
        self._bulletins: dict[int, str] = {}
        self._schemes: dict[int, str | None] = {}
        self._lock = asyncio.Lock()

    async def prepare(self, campaign_id: int, bulletin_id: int) -> None:
        """Install the bulletin and render the names of the campaign's groups."""
        self._bulletins[bulletin_id] = await self.service.install_bulletin(bulletin_id)
        async with self.db.session() as s:
            groups = list(
                await s.execute(
                    select(Group.id, Group.name)
                    .join(CampaignGroup, CampaignGroup.group_id == Group.id)
                    .where(CampaignGroup.campaign_id == campaign_id)
                )
            )
        for group_id, name in groups:
            await self._scheme_audio(group_id, name)

    async def _scheme_audio(self, group_id: int, name: str) -> str | None:
        async with self._lock:
            if group_id in self._schemes:
                return self._schemes[group_id]
            uri: str | None = None
            if self.tts is not None:
                try:
                    sound_id = await asyncio.to_thread(
                        render_phrase, name, self.sounds_dir, self.tts
                    )
                    uri = sound(sound_id)
                except Exception:
                    log.exception(
                        "could not render the name of group %r; using the generic intro", name
                    )
            self._schemes[group_id] = uri
            return uri

    async def for_attempt(self, bulletin_id: int, group_id: int | None) -> DeliveryScript:
        bulletin = self._bulletins.get(bulletin_id)
        if bulletin is None:
            bulletin = self._bulletins[bulletin_id] = await self.service.install_bulletin(
                bulletin_id
            )
        scheme = self._schemes.get(group_id) if group_id is not None else None
        intro = [sound("delivery_intro"), scheme] if scheme else [sound("delivery_intro_generic")]
        machine = (
            [sound("delivery_voicemail_intro"), scheme]
            if scheme
            else [sound("delivery_voicemail_intro_generic")]
        )
        outro: list[str] = []
        if self.replay_number:
            number = sound_uris(digits(self.replay_number))
            outro = [
                sound("delivery_voicemail_replay"), *number,
                sound("delivery_voicemail_number_again"), *number, sound("common_goodbye_short"),
            ]  # fmt: skip
        return DeliveryScript(
            intro=intro,
            bulletin=[sound("delivery_bulletin_intro"), bulletin],
            voicemail_intro=machine,
            voicemail_outro=outro,
        )
