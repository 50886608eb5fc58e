"""Managing coordinators (the CLI and the admin API share these): add, groups, PIN, unlock.

Each action validates first and writes in one transaction, audited with who did it. A PIN
is checked, hashed and dropped: it is never stored, echoed, logged or returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ivr.bulletin_line.lockout import is_locked, unlocked
from ivr.bulletin_line.pins import PinHasher, check_pin
from ivr.clock import Clock
from ivr.errors import InputError
from ivr.members.fields import normalise_phone
from ivr.store import coordinators_repo as repo
from ivr.store.database import Database
from ivr.store.models.coordinators import Coordinator, CoordinatorEvent, EventKind


@dataclass(frozen=True)
class Actor:
    """Who made a change, for the audit trail: ``via`` "cli" or "api" and a name."""

    via: str
    name: str


def coordinator_view(c: Coordinator, groups: Sequence[str], now: datetime) -> dict[str, Any]:
    """What the CLI and the API show of a coordinator (never the PIN hash)."""
    state = repo.pin_state(c)
    return {
        "id": c.id, "name": c.name, "phone": c.phone, "active": c.active,
        "groups": list(groups), "locked": is_locked(state, now),
        "locked_until": c.locked_until.isoformat() if is_locked(state, now) and c.locked_until
        else None,
        "failed_pins": c.failed_pins, "lockouts": c.lockouts,
        "created_at": c.created_at.isoformat(),
    }  # fmt: skip


def _groups_detail(groups: Sequence[str]) -> str:
    return f"groups: {', '.join(groups) or 'none'}"


def event_view(e: CoordinatorEvent) -> dict[str, Any]:
    return {
        "id": e.id, "at": e.at.isoformat(), "coordinator_id": e.coordinator_id,
        "kind": e.kind.value, "via": e.via, "source": e.source, "detail": e.detail,
    }  # fmt: skip


class CoordinatorAdmin:
    def __init__(self, db: Database, clock: Clock, hasher: PinHasher | None = None) -> None:
        self.db = db
        self.clock = clock
        self.hasher = hasher or PinHasher()

    async def add(
        self, *, name: str, phone: str, pin: str, groups: Sequence[str], actor: Actor
    ) -> dict[str, Any]:
        """InputError (bad name, phone or PIN), ConflictError (phone taken) or GroupNotFound,
        with nothing written."""
        if not name.strip():
            raise InputError("a coordinator needs a name")
        e164 = normalise_phone(phone)
        check_pin(pin)
        pin_hash = await self.hasher.hash_async(pin)
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            c = await repo.create_coordinator(
                s, name=name.strip()[:200], phone=e164, pin_hash=pin_hash, now=now
            )
            chosen = await repo.set_groups(s, c.id, groups)
            repo.audit(
                s, EventKind.CREATED, via=actor.via, now=now, coordinator_id=c.id,
                source=actor.name, detail=_groups_detail(groups),
            )  # fmt: skip
            return coordinator_view(c, [g.name for g in chosen], now)

    async def show(self, coordinator_id: int) -> dict[str, Any]:
        async with self.db.session() as s:
            c = await repo.get_coordinator(s, coordinator_id)
            groups = [g.name for g in await repo.groups_of(s, c.id)]
        return coordinator_view(c, groups, self.clock.now())

    async def list_all(self) -> list[dict[str, Any]]:
        now = self.clock.now()
        async with self.db.session() as s:
            found = []
            for c in await repo.all_coordinators(s):
                groups = [g.name for g in await repo.groups_of(s, c.id)]
                found.append(coordinator_view(c, groups, now))
        return found

    async def set_groups(
        self, coordinator_id: int, groups: Sequence[str], *, actor: Actor
    ) -> dict[str, Any]:
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            chosen = await repo.set_groups(s, coordinator_id, groups)
            c = await repo.get_coordinator(s, coordinator_id)
            c.updated_at = now
            repo.audit(
                s, EventKind.GROUPS_CHANGED, via=actor.via, now=now, coordinator_id=c.id,
                source=actor.name, detail=_groups_detail(groups),
            )  # fmt: skip
            return coordinator_view(c, [g.name for g in chosen], now)

    async def set_pin(self, coordinator_id: int, pin: str, *, actor: Actor) -> None:
        """A new PIN also lifts a lockout: the administrator has spoken to the coordinator."""
        check_pin(pin)
        pin_hash = await self.hasher.hash_async(pin)
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            c = await repo.get_coordinator(s, coordinator_id, for_update=True)
            c.pin_hash = pin_hash
            repo.set_pin_state(c, unlocked(repo.pin_state(c)), now)
            repo.audit(s, EventKind.PIN_CHANGED, via=actor.via, now=now, coordinator_id=c.id,
                       source=actor.name)  # fmt: skip

    async def unlock(self, coordinator_id: int, *, actor: Actor) -> dict[str, Any]:
        now = self.clock.now()
        async with self.db.session(write=True) as s:
            c = await repo.get_coordinator(s, coordinator_id, for_update=True)
            repo.set_pin_state(c, unlocked(repo.pin_state(c)), now)
            repo.audit(s, EventKind.UNLOCKED, via=actor.via, now=now, coordinator_id=c.id,
                       source=actor.name)  # fmt: skip
            groups = [g.name for g in await repo.groups_of(s, c.id)]
            return coordinator_view(c, groups, now)

    async def audit_trail(
        self, coordinator_id: int | None = None, *, limit: int = 100
    ) -> list[dict[str, Any]]:
        async with self.db.session() as s:
            if coordinator_id is not None:
                await repo.get_coordinator(s, coordinator_id)
            return [event_view(e) for e in await repo.events(s, coordinator_id, limit=limit)]
