"""For ``make demo``: a coordinator records a bulletin by phone and sends it now.

    campaign_id = await record_bulletin_by_phone(
        controller, fleet, endpoint, ["riverside", "kings-arms"], spoken_wav("...")
    )

The coordinator is registered on the controller's database (caller ID = the rig
endpoint's number, a PIN, the groups), a rig phone on that endpoint rings the bulletin line
(2000), signs in, records the WAV, accepts it, picks the groups, "not urgent", "now", and
hangs up. Returns the id of the campaign that call started; the campaign engine is already
ringing the members by then.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from ivr.bulletin_line.admin import Actor, CoordinatorAdmin
from ivr.bulletin_line.rig_coordinator import (
    CoordinatorCaller,
    PromptTimes,
    group_keys_for,
    plan_coordinator_call,
)
from ivr.errors import TelephonyError
from ivr.store import coordinators_repo as repo
from ivr.store.models.coordinators import BulletinSend, Coordinator

if TYPE_CHECKING:
    from ivr.app import Controller
    from ivr.sandbox import RigEndpoint
    from sip_test_rig.fleet import Fleet

DEMO_PIN = "7391"


async def ensure_coordinator(
    controller: Controller, phone: str, groups: Sequence[str], *, pin: str, name: str
) -> int:
    """The coordinator with this phone, made (or given these groups) if needed."""
    assert controller.db is not None
    admin = CoordinatorAdmin(controller.db, controller.clock)
    actor = Actor("cli", "demo")
    async with controller.db.session() as s:
        found = await repo.find_by_phone(s, phone)
    if found is None:
        made = await admin.add(name=name, phone=phone, pin=pin, groups=groups, actor=actor)
        return int(made["id"])
    await admin.set_groups(found.id, groups, actor=actor)
    await admin.set_pin(found.id, pin, actor=actor)
    return found.id


async def record_bulletin_by_phone(
    controller: Controller,
    fleet: Fleet,
    endpoint: RigEndpoint,
    groups: Sequence[str],
    bulletin_wav: Path,
    *,
    pin: str = DEMO_PIN,
    name: str = "Demo Coordinator",
    timeout_s: float = 150.0,
) -> int:
    """Record ``bulletin_wav`` by phone and send it now to ``groups``; the campaign id."""
    assert controller.db is not None
    coordinator_id = await ensure_coordinator(
        controller, endpoint.number, groups, pin=pin, name=name
    )
    async with controller.db.session() as s:
        before = await repo.last_send(s, coordinator_id)
        offered = [g.name for g in await repo.groups_of(s, coordinator_id)]
    phone = await fleet.add_phone(endpoint.name, endpoint.password)
    await fleet.wait_registered([phone])
    times = PromptTimes(controller.settings.speech.prompts_build_dir / "watchline")
    caller = CoordinatorCaller(
        pin=pin, takes=(bulletin_wav,), group_keys=group_keys_for(list(groups), offered)
    )
    plan = plan_coordinator_call(caller, times)
    deadline = time.monotonic() + timeout_s
    result = await fleet.call(phone, "2000", plan.script, timeout_s=timeout_s)
    if not result.answered:
        raise TelephonyError(f"the bulletin line did not answer ({result.sip_status})")
    while time.monotonic() < deadline:
        async with controller.db.session() as s:
            last = await s.scalar(
                select(BulletinSend)
                .where(BulletinSend.coordinator_id == coordinator_id)
                .order_by(BulletinSend.id.desc())
                .limit(1)
            )
            who = await s.get(Coordinator, coordinator_id)
        if last is not None and (before is None or last.id != before.id):
            return last.campaign_id
        if who is not None and who.notice is not None:
            raise TelephonyError("the coordinator's call ended before the bulletin was sent")
        await asyncio.sleep(0.2)
    raise TelephonyError(f"no bulletin was sent within {timeout_s:.0f} s")
