"""Queries on members, groups and memberships. Helpers take a session and never commit."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import CursorResult, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ivr.errors import ConflictError, GroupNotFound, MemberNotFound
from ivr.members.fields import MemberStatus, Scheme
from ivr.store.models import Group, Member, Membership

#: Bound parameters per IN (...) list: far below every backend's limit (SQLite's is 32766).
CHUNK = 500

T = TypeVar("T")


def chunked(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


async def get_group(session: AsyncSession, name: str) -> Group:
    group = await session.scalar(select(Group).where(Group.name == name))
    if group is None:
        raise GroupNotFound(name)
    return group


async def groups_by_name(session: AsyncSession, names: Collection[str]) -> dict[str, Group]:
    """The groups among ``names`` that exist, by name."""
    found: dict[str, Group] = {}
    for part in chunked(sorted(names)):
        for group in await session.scalars(select(Group).where(Group.name.in_(part))):
            found[group.name] = group
    return found


async def create_group(
    session: AsyncSession,
    name: str,
    *,
    scheme: Scheme = Scheme.NEIGHBOURHOOD_WATCH,
    area: str | None = None,
    coordinator: str | None = None,
) -> Group:
    """Create a group; ConflictError if the name is taken."""
    group = Group(name=name, scheme=scheme, area=area, coordinator=coordinator)
    try:
        # A savepoint, so a clash leaves the caller's transaction usable.
        async with session.begin_nested():
            session.add(group)
    except IntegrityError as e:
        raise ConflictError(f"group {name!r} already exists") from e
    return group


async def get_member(session: AsyncSession, member_id: int) -> Member:
    member = await session.get(Member, member_id)
    if member is None:
        raise MemberNotFound(member_id)
    return member


async def find_member_by_phone(session: AsyncSession, phone: str) -> Member | None:
    return await session.scalar(select(Member).where(Member.phone == phone))


async def members_by_phone(session: AsyncSession, phones: Collection[str]) -> dict[str, Member]:
    found: dict[str, Member] = {}
    for part in chunked(sorted(phones)):
        for member in await session.scalars(select(Member).where(Member.phone.in_(part))):
            found[member.phone] = member
    return found


async def insert_members(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Insert members in bulk (one multi-row statement per chunk); returns phone → id."""
    ids: dict[str, int] = {}
    for part in chunked(rows):
        result = await session.execute(insert(Member).returning(Member.id, Member.phone), part)
        ids.update({phone: member_id for member_id, phone in result})
    return ids


async def existing_memberships(
    session: AsyncSession, member_ids: Collection[int]
) -> set[tuple[int, int]]:
    """(member_id, group_id) pairs that exist for ``member_ids``, opted out or not."""
    pairs: set[tuple[int, int]] = set()
    for part in chunked(sorted(member_ids)):
        query = select(Membership.member_id, Membership.group_id).where(
            Membership.member_id.in_(part)
        )
        pairs.update((m, g) for m, g in await session.execute(query))
    return pairs


async def add_memberships(session: AsyncSession, pairs: Iterable[tuple[int, int]]) -> int:
    """Add the (member_id, group_id) pairs that are missing; returns how many were added.

    An existing membership is left alone, in particular its ``opted_out`` flag: re-importing a
    spreadsheet must never re-subscribe someone who pressed 9.
    """
    wanted = set(pairs)
    missing = sorted(wanted - await existing_memberships(session, {m for m, _ in wanted}))
    for part in chunked(missing):
        await session.execute(
            insert(Membership),
            [{"member_id": m, "group_id": g, "opted_out": False} for m, g in part],
        )
    return len(missing)


async def opt_out_of_group(
    session: AsyncSession, member_id: int, group_id: int, now: datetime
) -> None:
    """Key 9 on a bulletin sent via ``group_id``: no more calls for that group."""
    result = await session.execute(
        update(Membership)
        .where(Membership.member_id == member_id, Membership.group_id == group_id)
        .values(opted_out=True, opted_out_at=now)
    )
    if cast(CursorResult[Any], result).rowcount == 0:
        raise MemberNotFound(member_id)


async def set_member_status(
    session: AsyncSession, member_id: int, status: MemberStatus, now: datetime
) -> None:
    """Opt a member out of (or back into) every campaign."""
    member = await get_member(session, member_id)
    member.status = status
    member.updated_at = now


async def iter_members(
    session: AsyncSession, group_id: int | None = None, *, batch: int = CHUNK
) -> AsyncIterator[tuple[Member, list[str]]]:
    """Active members (of ``group_id`` if given) by id, with the names of the groups they have
    not opted out of; read in batches by keyset so memory stays flat for any member count."""
    after = 0
    while True:
        query = (
            select(Member)
            .where(Member.id > after, Member.status == MemberStatus.ACTIVE)
            .order_by(Member.id)
            .limit(batch)
        )
        if group_id is not None:
            in_group = select(Membership.member_id).where(
                Membership.group_id == group_id, Membership.opted_out.is_(False)
            )
            query = query.where(Member.id.in_(in_group))
        members = list(await session.scalars(query))
        if not members:
            return
        groups = await _group_names(session, [m.id for m in members])
        for member in members:
            yield member, groups.get(member.id, [])
        after = members[-1].id


async def _group_names(session: AsyncSession, member_ids: Sequence[int]) -> dict[int, list[str]]:
    query = (
        select(Membership.member_id, Group.name)
        .join(Group, Group.id == Membership.group_id)
        .where(Membership.member_id.in_(member_ids), Membership.opted_out.is_(False))
        .order_by(Membership.member_id, Group.name)
    )
    names: dict[int, list[str]] = {}
    for member_id, name in await session.execute(query):
        names.setdefault(member_id, []).append(name)
    return names


async def all_groups(session: AsyncSession) -> list[Group]:
    return list(await session.scalars(select(Group).order_by(Group.name)))
