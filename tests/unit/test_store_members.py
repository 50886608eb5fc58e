"""Member storage: groups, memberships that keep their opt-outs, and batched member listing.
SQLite file, and PostgreSQL when WATCHLINE_TEST_DATABASE_URL is set."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ivr.errors import ConflictError, GroupNotFound, MemberNotFound
from ivr.members.fields import Channel, MemberStatus, QuietHours, Scheme
from ivr.store import Database
from ivr.store import members_repo as repo
from ivr.store.models import Group, Member, Membership

NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


def member(n: int, **kw: object) -> Member:
    return Member(name=f"Member {n}", phone=f"+44163296{n:04d}", **kw)


async def test_group_names_are_unique_and_a_clash_leaves_the_session_usable(
    db: Database,
) -> None:
    async with db.session() as session:
        group = await repo.create_group(session, "Elm Road", scheme=Scheme.PUBWATCH, area="N1")
        with pytest.raises(ConflictError, match="Elm Road"):
            await repo.create_group(session, "Elm Road")
        await repo.create_group(session, "Oak Lane")
    async with db.session() as session:
        assert (await repo.get_group(session, "Elm Road")).id == group.id
        assert set(await repo.groups_by_name(session, ["Oak Lane", "Nowhere"])) == {"Oak Lane"}
        with pytest.raises(GroupNotFound):
            await repo.get_group(session, "Nowhere")


async def test_phone_numbers_identify_members_uniquely(db: Database) -> None:
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add_all([member(1), Member(name="Twin", phone=member(1).phone)])


async def test_quiet_hours_are_stored_as_a_pair_of_times(db: Database) -> None:
    """The model exposes QuietHours; the database refuses half a pair."""
    async with db.session() as session:
        m = member(1, channel=Channel.FAX, fax="+441632960999")
        m.quiet_hours = QuietHours(time(21), time(8))
        session.add(m)
    async with db.session() as session:
        stored = await repo.get_member(session, m.id)
        assert stored.quiet_hours == QuietHours(time(21), time(8))
        assert (stored.timezone, stored.language, stored.status) == (
            "Europe/London",
            "en",
            MemberStatus.ACTIVE,
        )
    with pytest.raises(IntegrityError):
        async with db.session() as session:
            session.add(member(2, quiet_start=time(21)))


async def test_adding_memberships_adds_only_missing_ones_and_keeps_opt_outs(
    db: Database,
) -> None:
    """Re-adding a member to a group they opted out of (key 9) does not re-subscribe them."""
    async with db.session() as session:
        session.add_all([member(1), member(2), Group(name="A"), Group(name="B")])
        await session.flush()
        assert await repo.add_memberships(session, [(1, 1), (2, 1)]) == 2
        await repo.opt_out_of_group(session, 1, 1, NOW)
        assert await repo.add_memberships(session, [(1, 1), (2, 1), (1, 2)]) == 1
    async with db.session() as session:
        rows = await session.execute(
            select(Membership.member_id, Membership.group_id, Membership.opted_out).order_by(
                Membership.member_id, Membership.group_id
            )
        )
        assert [tuple(r) for r in rows] == [(1, 1, True), (1, 2, False), (2, 1, False)]
        with pytest.raises(MemberNotFound):
            await repo.opt_out_of_group(session, 2, 2, NOW)


async def test_members_are_listed_in_batches_with_the_groups_they_still_belong_to(
    db: Database,
) -> None:
    """Opted-out members are left out; groups someone opted out of are not listed for them."""
    async with db.session() as session:
        session.add_all([member(n) for n in range(1, 6)] + [Group(name="A"), Group(name="B")])
        await session.flush()
        await repo.add_memberships(session, [(1, 1), (2, 1), (2, 2), (3, 1), (4, 2), (5, 1)])
        await repo.opt_out_of_group(session, 3, 1, NOW)
        await repo.set_member_status(session, 5, MemberStatus.OPTED_OUT, NOW)
    async with db.session() as session:
        everyone = [(m.id, g) async for m, g in repo.iter_members(session, batch=2)]
        group_a = [m.id async for m, _ in repo.iter_members(session, 1, batch=2)]
    assert everyone == [(1, ["A"]), (2, ["A", "B"]), (3, []), (4, ["B"])]
    assert group_a == [1, 2]
