"""The replay line's desk: which member is calling, what they may hear, and "heard it".

A member may hear the bulletins of campaigns that were sent to them (they have a delivery
in it) or to a group they belong to and have not opted out of, started within the last
``replay_days`` days; each bulletin once, newest first.

Pressing 1 confirms every open or unconfirmed delivery of that bulletin to the member:
the target becomes ``done`` / ``confirmed`` with the cause "confirmed on the replay line",
which is what the delivery report shows. Retries still pending for it are dropped with
it (the engine only dials pending targets), and the campaign engine's own settling never
overwrites it (it changes only targets still dialling). Opt-outs and cancellations stay as
they are.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from pathlib import Path

from sqlalchemy import exists, func, or_, select, update

from ivr.bulletin_line.signin import caller_e164
from ivr.bulletins import media
from ivr.campaigns.outcomes import Outcome
from ivr.clock import Clock
from ivr.errors import InvalidPhoneNumber
from ivr.flows.replay_line import MatchedBy, MemberRef, ReplayItem
from ivr.members.fields import normalise_phone
from ivr.store import members_repo
from ivr.store.database import Database
from ivr.store.models import (
    Bulletin,
    Campaign,
    CampaignGroup,
    CampaignState,
    CampaignTarget,
    Membership,
    TargetState,
)
from ivr.store.models.coordinators import ReplayConfirmation

log = logging.getLogger(__name__)

CAUSE = "confirmed on the replay line"
#: Outcomes a replay confirmation leaves alone.
_KEPT = (Outcome.CONFIRMED, Outcome.OPTED_OUT, Outcome.CANCELLED)
_SENT = (CampaignState.RUNNING, CampaignState.PAUSED, CampaignState.COMPLETED)


class ReplayService:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        sounds_dir: Path | None,
        replay_days: int,
        max_bulletins: int,
    ) -> None:
        self.db = db
        self.clock = clock
        self.sounds_dir = sounds_dir
        self.replay_days = replay_days
        self.max_bulletins = max_bulletins

    async def _member(self, phone: str | None, matched_by: MatchedBy) -> MemberRef | None:
        if phone is None:
            return None
        async with self.db.session() as s:
            member = await members_repo.find_member_by_phone(s, phone)
        return MemberRef(member.id, matched_by) if member is not None else None

    async def member_by_caller(self, caller: str | None) -> MemberRef | None:
        return await self._member(caller_e164(caller), "caller_id")

    async def member_by_keyed(self, digits: str) -> MemberRef | None:
        try:
            phone = normalise_phone(digits)
        except InvalidPhoneNumber:
            return None
        return await self._member(phone, "keyed")

    async def bulletins_for(self, member: MemberRef) -> list[ReplayItem]:
        since = self.clock.now() - timedelta(days=self.replay_days)
        targeted = exists().where(
            CampaignTarget.campaign_id == Campaign.id, CampaignTarget.member_id == member.id
        )
        in_group = exists().where(
            CampaignGroup.campaign_id == Campaign.id,
            Membership.group_id == CampaignGroup.group_id,
            Membership.member_id == member.id,
            Membership.opted_out.is_(False),
        )
        latest = func.max(Campaign.started_at)
        query = (
            select(Campaign.bulletin_id, latest)
            .where(Campaign.state.in_(_SENT), Campaign.started_at >= since,
                   or_(targeted, in_group))
            .group_by(Campaign.bulletin_id)
            .order_by(latest.desc(), Campaign.bulletin_id.desc())
            .limit(self.max_bulletins)
        )  # fmt: skip
        async with self.db.session() as s:
            ids = [bulletin_id for bulletin_id, _ in await s.execute(query)]
            bulletins = {
                b.id: b for b in await s.scalars(select(Bulletin).where(Bulletin.id.in_(ids)))
            }
        items = []
        for bulletin_id in ids:
            uri = await asyncio.to_thread(self._installed, bulletins[bulletin_id])
            items.append(ReplayItem(bulletin_id, (uri,)))
        return items

    def _installed(self, bulletin: Bulletin) -> str:
        """Asterisk's copy of the bulletin (made again after a restart or a new sandbox)."""
        if self.sounds_dir is not None:
            target = self.sounds_dir / "bulletins" / f"{bulletin.id}.wav"
            if not target.exists():
                media.install(Path(bulletin.audio_path), self.sounds_dir, bulletin.id)
        return media.media_uri(bulletin.id)

    async def heard(self, member: MemberRef, item: ReplayItem, caller: str | None) -> int:
        now = self.clock.now()
        of_bulletin = select(Campaign.id).where(Campaign.bulletin_id == item.bulletin_id)
        async with self.db.session(write=True) as s:
            result = await s.execute(
                update(CampaignTarget)
                .where(
                    CampaignTarget.member_id == member.id,
                    CampaignTarget.campaign_id.in_(of_bulletin),
                    or_(CampaignTarget.outcome.is_(None), CampaignTarget.outcome.not_in(_KEPT)),
                )
                .values(state=TargetState.DONE, outcome=Outcome.CONFIRMED, next_attempt_at=None,
                        last_cause=CAUSE, updated_at=now)
                .execution_options(synchronize_session=False)
            )  # fmt: skip
            changed = int(getattr(result, "rowcount", 0) or 0)
            s.add(
                ReplayConfirmation(
                    member_id=member.id, bulletin_id=item.bulletin_id, targets_confirmed=changed,
                    caller_number=caller, matched_by=member.matched_by, at=now,
                )
            )  # fmt: skip
        log.info(
            "replay line: member %d heard bulletin %d (%s); %d deliveries confirmed",
            member.id, item.bulletin_id, member.matched_by, changed,
        )  # fmt: skip
        return changed
