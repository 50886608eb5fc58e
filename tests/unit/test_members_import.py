"""Importing and exporting members against a real database: all or nothing, idempotent,
opt-outs respected, and an export that imports back to the same thing."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.errors import CsvImportError, GroupNotFound, InputError
from ivr.members.exporter import export_members
from ivr.members.fields import MemberStatus, Scheme
from ivr.members.importer import ImportResult, import_members
from ivr.store import Database
from ivr.store.members_repo import (
    create_group,
    find_member_by_phone,
    opt_out_of_group,
    set_member_status,
)
from ivr.store.models import Group, Member, Membership
from ivr.store.testing import (
    snapshot,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "csv"
NOW = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
async def db(db: Database) -> AsyncIterator[Database]:
    """The shared per-backend database (tests/unit/conftest.py), with three groups."""
    async with db.session() as session:
        await create_group(session, "Elm Road NW")
        await create_group(session, "Oak Lane NW")
        await create_group(session, "High St Pubwatch", scheme=Scheme.PUBWATCH)
    yield db


async def test_a_good_file_creates_members_and_memberships(db: Database) -> None:
    result = await import_members(db, FIXTURES / "members_good.csv", "Elm Road NW")
    assert result == ImportResult(
        created=5, updated=0, unchanged=0, rejected=0, memberships_added=9
    )
    async with db.session() as session:
        patel = await find_member_by_phone(session, "+441632960003")
        assert patel is not None and patel.fax == "+441632960103"
        rows = await session.execute(
            select(Member.name, Group.name)
            .join(Membership, Membership.member_id == Member.id)
            .join(Group, Group.id == Membership.group_id)
        )
        groups: dict[str, set[str]] = {}
        for member, group in rows:
            groups.setdefault(member, set()).add(group)
    elm, oak, pub = "Elm Road NW", "Oak Lane NW", "High St Pubwatch"
    assert groups == {
        "Smith, Ann": {elm},
        "Siân Jones": {elm, oak},
        "Rajesh Patel": {elm, oak, pub},
        'O\'Brien "Paddy"': {elm},
        "Corner Shop Ltd": {elm, pub},
    }


async def test_reimporting_the_same_file_changes_nothing(db: Database) -> None:
    """Idempotent: every row unchanged, no membership added, every table byte-identical."""
    path = FIXTURES / "members_good.csv"
    await import_members(db, path, "Elm Road NW")
    before = await snapshot(db)
    again = await import_members(db, path, "Elm Road NW")
    assert again == ImportResult(created=0, updated=0, unchanged=5, rejected=0, memberships_added=0)
    assert await snapshot(db) == before


async def test_a_changed_row_updates_that_member_only(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "changed.csv"
    text = (FIXTURES / "members_good.csv").read_text(encoding="utf-8")
    await import_members(db, FIXTURES / "members_good.csv", "Elm Road NW")
    path.write_text(text.replace("Siân Jones", "Siân Jones-Evans"), encoding="utf-8")
    result = await import_members(db, path, "Elm Road NW")
    assert (result.created, result.updated, result.unchanged) == (0, 1, 4)
    async with db.session() as session:
        member = await find_member_by_phone(session, "+441632960002")
        assert member is not None and member.name == "Siân Jones-Evans"


@pytest.mark.parametrize(
    "name", ["members_mixed_problems.csv", "members_cp1252.csv", "members_unknown_column.csv"]
)
async def test_any_problem_refuses_the_whole_file_and_writes_nothing(
    db: Database, name: str
) -> None:
    before = await snapshot(db)
    with pytest.raises(CsvImportError) as caught:
        await import_members(db, FIXTURES / name, "Elm Road NW")
    assert caught.value.problems
    assert await snapshot(db) == before


async def test_every_problem_is_listed_in_the_error(db: Database) -> None:
    with pytest.raises(CsvImportError) as caught:
        await import_members(db, FIXTURES / "members_mixed_problems.csv", "Elm Road NW")
    assert [line for line, _ in caught.value.problems] == list(range(3, 5)) + list(range(7, 15))
    assert "line 14: groups: no group called 'Nowhere NW'" in str(caught.value)


async def test_an_unknown_group_is_refused_before_anything_is_written(db: Database) -> None:
    before = await snapshot(db)
    with pytest.raises(GroupNotFound):
        await import_members(db, FIXTURES / "members_good.csv", "No Such Group")
    assert await snapshot(db) == before


async def test_a_missing_file_is_an_input_error(db: Database, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        await import_members(db, tmp_path / "nope.csv", "Elm Road NW")


async def test_skip_invalid_imports_the_good_rows_and_writes_the_rejects(
    db: Database, tmp_path: Path
) -> None:
    """Valid rows go in; the rest land in a rejects CSV (BOM, original cells, line, reason)."""
    rejects = tmp_path / "out" / "rejects.csv"
    result = await import_members(
        db,
        FIXTURES / "members_mixed_problems.csv",
        "Elm Road NW",
        skip_invalid=True,
        rejects_path=rejects,
    )
    assert result == ImportResult(
        created=3, updated=0, unchanged=0, rejected=10, memberships_added=4, rejects_path=rejects
    )
    data = rejects.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfname,phone,fax,email,channel,language,quiet_hours,groups,")
    lines = data.decode("utf-8-sig").splitlines()
    assert len(lines) == 11
    assert lines[1] == ",01632 960002,,,,,,,3,name: missing"


async def test_skip_invalid_without_rejects_path_just_skips(db: Database) -> None:
    result = await import_members(
        db, FIXTURES / "members_scientific.csv", "Elm Road NW", skip_invalid=True
    )
    assert (result.created, result.rejected, result.rejects_path) == (1, 2, None)


async def test_reimport_never_resubscribes_an_opted_out_member(db: Database) -> None:
    """Key 9 (group) and a global opt-out both survive importing the same spreadsheet again."""
    path = FIXTURES / "members_good.csv"
    await import_members(db, path, "Elm Road NW")
    async with db.session() as session:
        ann = await find_member_by_phone(session, "+441632960001")
        jones = await find_member_by_phone(session, "+441632960002")
        assert ann is not None and jones is not None
        elm = (await session.scalars(select(Group).where(Group.name == "Elm Road NW"))).one()
        await opt_out_of_group(session, jones.id, elm.id, NOW)
        await set_member_status(session, ann.id, MemberStatus.OPTED_OUT, NOW)
    before = await snapshot(db)
    await import_members(db, path, "Elm Road NW")
    assert await snapshot(db) == before


async def test_export_imports_back_to_the_same_export(db: Database, tmp_path: Path) -> None:
    """Round trip: export, import into an empty database with the same groups, export again:
    byte-identical files."""
    await import_members(db, FIXTURES / "members_good.csv", "Elm Road NW")
    first = tmp_path / "first.csv"
    assert await export_members(db, first) == 5
    assert first.read_bytes().startswith(b"\xef\xbb\xbfname,phone,fax,")
    url = f"sqlite+aiosqlite:///{tmp_path / 'other.db'}"
    async with Database.open(url) as other:
        async with other.session() as session:
            for name in ("Elm Road NW", "Oak Lane NW", "High St Pubwatch"):
                await create_group(session, name)
        result = await import_members(other, first, "Elm Road NW")
        assert (result.created, result.rejected) == (5, 0)
        second = tmp_path / "second.csv"
        await export_members(other, second)
    assert second.read_bytes() == first.read_bytes()


async def test_export_of_a_group_leaves_out_everyone_who_opted_out(db: Database) -> None:
    await import_members(db, FIXTURES / "members_good.csv", "Elm Road NW")
    async with db.session() as session:
        members = {m.phone: m for m in await session.scalars(select(Member))}
        oak = (await session.scalars(select(Group).where(Group.name == "Oak Lane NW"))).one()
        await opt_out_of_group(session, members["+441632960002"].id, oak.id, NOW)
    out = io.StringIO()
    assert await export_members(db, out, group="Oak Lane NW") == 1
    rows = out.getvalue().splitlines()
    assert rows[1].startswith("Rajesh Patel,+441632960003,+441632960103,")
    assert rows[1].endswith(",fax,en,,Elm Road NW;High St Pubwatch;Oak Lane NW")
    with pytest.raises(GroupNotFound):
        await export_members(db, io.StringIO(), group="Nowhere")


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


async def test_a_failed_export_leaves_no_file_behind(db: Database, tmp_path: Path) -> None:
    """Not the file, not its temporary: nothing."""
    out_dir = tmp_path / "exports"
    out_dir.mkdir()
    with pytest.raises(GroupNotFound):
        await export_members(db, out_dir / "members.csv", group="Nowhere")
    assert files_in(out_dir) == []
