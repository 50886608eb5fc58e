"""Queries for the bulletin line: coordinators, their groups and audit trail, sends and
transcriptions. Helpers take a session and never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.bulletin_line.lockout import PinState
from ivr.errors import ConflictError, CoordinatorNotFound, GroupNotFound
from ivr.store.models import Bulletin, Group
from ivr.store.models.coordinators import (
    BulletinSend,
    BulletinTranscription,
    Coordinator,
    CoordinatorEvent,
    CoordinatorGroup,
    EventKind,
    SendState,
    TranscriptionState,
)

# ---- coordinators ---------------------------------------------------------------------------


async def create_coordinator(
    session: AsyncSession, *, name: str, phone: str, pin_hash: str, now: datetime
) -> Coordinator:
    """ConflictError if another coordinator has the phone number."""
    coordinator = Coordinator(
        name=name, phone=phone, pin_hash=pin_hash, created_at=now, updated_at=now
    )
    try:
        async with session.begin_nested():  # a clash leaves the caller's transaction usable
            session.add(coordinator)
    except IntegrityError as e:
        raise ConflictError(f"a coordinator already has the number {phone}") from e
    return coordinator


async def get_coordinator(
    session: AsyncSession, coordinator_id: int, *, for_update: bool = False
) -> Coordinator:
    coordinator = await session.get(Coordinator, coordinator_id, with_for_update=for_update)
    if coordinator is None:
        raise CoordinatorNotFound(coordinator_id)
    return coordinator


async def find_by_phone(session: AsyncSession, phone: str) -> Coordinator | None:
    return await session.scalar(
        select(Coordinator).where(Coordinator.phone == phone, Coordinator.active.is_(True))
    )


async def all_coordinators(session: AsyncSession) -> list[Coordinator]:
    return list(await session.scalars(select(Coordinator).order_by(Coordinator.id)))


def pin_state(coordinator: Coordinator) -> PinState:
    return PinState(coordinator.failed_pins, coordinator.lockouts, coordinator.locked_until)


def set_pin_state(coordinator: Coordinator, state: PinState, now: datetime) -> None:
    coordinator.failed_pins = state.failures
    coordinator.lockouts = state.lockouts
    coordinator.locked_until = state.locked_until
    coordinator.updated_at = now


# ---- groups -----------------------------------------------------------------------------------


async def groups_of(session: AsyncSession, coordinator_id: int) -> list[Group]:
    """The groups a coordinator may send to, by name (the order the phone list speaks)."""
    return list(
        await session.scalars(
            select(Group)
            .join(CoordinatorGroup, CoordinatorGroup.group_id == Group.id)
            .where(CoordinatorGroup.coordinator_id == coordinator_id)
            .order_by(Group.name)
        )
    )


async def set_groups(
    session: AsyncSession, coordinator_id: int, names: Sequence[str]
) -> list[Group]:
    """Replace the coordinator's groups; GroupNotFound (changing nothing) for an unknown name."""
    await get_coordinator(session, coordinator_id)
    wanted = list(dict.fromkeys(names))
    found = {g.name: g for g in await session.scalars(select(Group).where(Group.name.in_(wanted)))}
    missing = [n for n in wanted if n not in found]
    if missing:
        raise GroupNotFound(missing[0])
    await session.execute(
        delete(CoordinatorGroup).where(CoordinatorGroup.coordinator_id == coordinator_id)
    )
    session.add_all(
        CoordinatorGroup(coordinator_id=coordinator_id, group_id=found[n].id) for n in wanted
    )
    await session.flush()
    return sorted(found.values(), key=lambda g: g.name)


# ---- audit ------------------------------------------------------------------------------------


def audit(
    session: AsyncSession,
    kind: EventKind,
    *,
    via: str,
    now: datetime,
    coordinator_id: int | None = None,
    source: str | None = None,
    detail: str | None = None,
) -> None:
    session.add(
        CoordinatorEvent(
            coordinator_id=coordinator_id, kind=kind, via=via, source=source,
            detail=detail[:500] if detail else None, at=now,
        )
    )  # fmt: skip


async def events(
    session: AsyncSession, coordinator_id: int | None = None, *, limit: int = 100
) -> list[CoordinatorEvent]:
    """Newest first; every coordinator's when ``coordinator_id`` is None."""
    query = select(CoordinatorEvent).order_by(CoordinatorEvent.id.desc()).limit(limit)
    if coordinator_id is not None:
        query = query.where(CoordinatorEvent.coordinator_id == coordinator_id)
    return list(await session.scalars(query))


# ---- sends ------------------------------------------------------------------------------------


async def last_send(session: AsyncSession, coordinator_id: int) -> BulletinSend | None:
    return await session.scalar(
        select(BulletinSend)
        .where(BulletinSend.coordinator_id == coordinator_id)
        .order_by(BulletinSend.id.desc())
        .limit(1)
    )


async def pending_sends(session: AsyncSession) -> list[BulletinSend]:
    return list(
        await session.scalars(
            select(BulletinSend)
            .where(BulletinSend.state == SendState.PENDING)
            .order_by(BulletinSend.run_at, BulletinSend.id)
        )
    )


async def lock_send(session: AsyncSession, send_id: int) -> BulletinSend | None:
    """The send, locked for the rest of the transaction (PostgreSQL; SQLite's write
    transactions are exclusive already)."""
    return await session.get(BulletinSend, send_id, with_for_update=True)


# ---- transcriptions ---------------------------------------------------------------------------


async def request_transcription(
    session: AsyncSession, bulletin_id: int, *, now: datetime
) -> BulletinTranscription:
    """A pending job for the bulletin (the one already pending, if any)."""
    existing = await session.scalar(
        select(BulletinTranscription).where(
            BulletinTranscription.bulletin_id == bulletin_id,
            BulletinTranscription.state == TranscriptionState.PENDING,
        )
    )
    if existing is not None:
        return existing
    row = BulletinTranscription(
        bulletin_id=bulletin_id, state=TranscriptionState.PENDING, created_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def pending_transcriptions(
    session: AsyncSession,
) -> list[tuple[BulletinTranscription, Bulletin]]:
    rows = await session.execute(
        select(BulletinTranscription, Bulletin)
        .join(Bulletin, Bulletin.id == BulletinTranscription.bulletin_id)
        .where(BulletinTranscription.state == TranscriptionState.PENDING)
        .order_by(BulletinTranscription.id)
    )
    return [(t, b) for t, b in rows]


async def latest_transcription(
    session: AsyncSession, bulletin_id: int
) -> BulletinTranscription | None:
    return await session.scalar(
        select(BulletinTranscription)
        .where(BulletinTranscription.bulletin_id == bulletin_id)
        .order_by(BulletinTranscription.id.desc())
        .limit(1)
    )
