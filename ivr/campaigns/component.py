"""The broadcast engine inside the controller: service, scripts, port, engine, API."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from ivr.campaigns.asterisk_port import AsteriskDeliveryPort
from ivr.campaigns.engine import CampaignEngine
from ivr.campaigns.fax_delivery import FaxDelivery
from ivr.campaigns.scripts import ScriptBook
from ivr.campaigns.service import CampaignService
from ivr.fax.limiter import FaxLimiter
from ivr.fax.render import FaxLayout
from ivr.fax.sender import FaxSpool
from ivr.speech.tts.ensure import engine_chain
from ivr.telephony.dispatcher import Dialogue

if TYPE_CHECKING:
    from ivr.app import Controller

log = logging.getLogger(__name__)

SERVICE = web.AppKey("campaign_service", CampaignService)


class CampaignsComponent:
    name = "campaigns"

    def __init__(self, controller: Controller) -> None:
        assert controller.db is not None and controller.ami is not None
        assert controller.asterisk is not None
        s = controller.settings
        sounds = controller.asterisk.sounds_dir
        self.service = CampaignService(
            controller.db, controller.clock, data_dir=s.data_dir, sounds_dir=sounds,
            on_change=self._poke, fax_layout=FaxLayout(max_pages=s.campaigns.fax_max_pages),
            fax_logo=s.campaigns.fax_logo, default_policy=s.campaigns.default_policy,
        )  # fmt: skip
        self.scripts = ScriptBook(
            controller.db, self.service, sounds, engine_chain(s.speech),
            replay_number=s.campaigns.replay_number,
        )  # fmt: skip
        info = controller.asterisk
        fax = FaxDelivery(
            controller.ami, controller.db, controller.clock,
            spool=FaxSpool(info.fax_dir, info.fax_dir_in_asterisk),
            dial=s.campaigns.dial_template, limiter=FaxLimiter(s.campaigns.max_concurrent_faxes),
            layout=FaxLayout(max_pages=s.campaigns.fax_max_pages), logo=s.campaigns.fax_logo,
            ring_timeout_s=s.campaigns.ring_timeout_s,
        )  # fmt: skip
        self.port = AsteriskDeliveryPort(
            controller.ami, self.scripts, dial_template=s.campaigns.dial_template,
            ring_timeout_s=s.campaigns.ring_timeout_s, amd=s.campaigns.amd, fax=fax,
        )  # fmt: skip
        self.engine = CampaignEngine(
            controller.db, self.port, controller.clock,
            max_concurrent=s.campaigns.max_concurrent_calls,
        )  # fmt: skip

    def _poke(self) -> None:
        self.engine.poke(campaigns_changed=True)

    def dialogues(self) -> Mapping[str, Dialogue]:
        return {"delivery": self.port.dialogue}

    def routes(self, app: web.Application) -> None:
        from ivr.web.campaigns_api import add_routes

        app[SERVICE] = self.service
        add_routes(app)

    async def run(self) -> None:
        await self.engine.run()
