"""``ivr members import FILE.csv --group NAME [--skip-invalid]``: the I/O around csv_format.

Order of work, so that the database is unchanged on any error:

1. the ``--group`` group must exist (GroupNotFound otherwise);
2. the whole file is decoded and every row validated (pure, in a worker thread so a large
   file does not stall calls running on the event loop, and outside any transaction);
3. group names in the ``groups`` column must already exist: an unknown one is a row problem
   ("create it first"), because a typo would otherwise create a group nobody sends to
   (groups are made with ``members_repo.create_group``, later ``ivr groups add``);
4. without ``skip_invalid`` any problem raises CsvImportError listing them all; with it, the
   bad rows are written to the rejects file and the rest imported;
5. members are upserted by phone in one write transaction (groups looked up again in it).

Re-importing the same file changes nothing: an existing member is updated only where a field
differs, memberships are only ever added, and a member's opt-outs (global, or of a group) are
never touched: a spreadsheet must not re-subscribe someone who pressed 9. Members missing from
the file are not removed from the group.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ivr.errors import CsvImportError, GroupNotFound, InputError
from ivr.members.csv_format import (
    MemberRecord,
    RowProblem,
    group_names,
    read_member_table,
    rejects_header,
    rejects_rows,
    validate_rows,
    write_csv,
)
from ivr.members.fields import DEFAULT_REGION
from ivr.store import Database
from ivr.store.members_repo import (
    add_memberships,
    chunked,
    get_group,
    groups_by_name,
    insert_members,
    members_by_phone,
)
from ivr.store.models import Member

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImportResult:
    """Counts of member rows by what happened to them, plus memberships added."""

    created: int
    updated: int
    unchanged: int
    rejected: int
    memberships_added: int
    rejects_path: Path | None = None


async def import_members(
    db: Database,
    path: Path,
    group_name: str,
    *,
    skip_invalid: bool = False,
    rejects_path: Path | None = None,
    default_region: str = DEFAULT_REGION,
) -> ImportResult:
    """Import members from the CSV at ``path`` into the group ``group_name`` (see module doc)."""
    try:
        data = await asyncio.to_thread(path.read_bytes)
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from e
    # Parse and validate outside any transaction: a big file takes seconds, and a SQLite
    # transaction held that long would block, or be failed by, the campaign engine's writes.
    async with db.session() as session:
        await get_group(session, group_name)
    table = await asyncio.to_thread(read_member_table, data)
    async with db.session() as session:
        known = set(await groups_by_name(session, group_names(table)))
    parsed = await asyncio.to_thread(
        validate_rows, table, default_region=default_region, known_groups=known
    )
    problems = parsed.problems
    if problems and not skip_invalid:
        raise CsvImportError([(p.line, p.reason) for p in problems])
    async with db.session(write=True) as session:
        # Looked up again inside the writing transaction: a group deleted meanwhile is an
        # error before anything is written, not a foreign-key failure halfway.
        group = await get_group(session, group_name)
        used = {name for r in parsed.records for name in r.groups}
        extra = await groups_by_name(session, used)
        if missing := sorted(used - set(extra)):
            raise GroupNotFound(missing[0])
        group_ids = {name: g.id for name, g in extra.items()}
        counts = await _upsert(session, parsed.records, group.id, group_ids)
        written = None
        if problems and rejects_path is not None:
            # Inside the transaction: if the rejects cannot be written, nothing is imported.
            await asyncio.to_thread(_write_rejects, rejects_path, table.header, problems)
            written = rejects_path
    created, updated, unchanged, added = counts
    result = ImportResult(
        created=created,
        updated=updated,
        unchanged=unchanged,
        rejected=len(problems),
        memberships_added=added,
        rejects_path=written,
    )
    log.info("imported members from %s into %r: %s", path, group_name, result)
    return result


def _member_values(record: MemberRecord) -> dict[str, Any]:
    quiet = record.quiet_hours
    return {
        "name": record.name,
        "phone": record.phone,
        "fax": record.fax,
        "email": record.email,
        "channel": record.channel,
        "language": record.language,
        "quiet_start": quiet.start if quiet else None,
        "quiet_end": quiet.end if quiet else None,
    }


def _apply(member: Member, record: MemberRecord) -> bool:
    """Copy the record's fields onto ``member``; True if any differed."""
    changed = False
    for key, value in _member_values(record).items():
        if getattr(member, key) != value:
            setattr(member, key, value)
            changed = True
    return changed


async def _upsert(
    session: AsyncSession,
    records: Sequence[MemberRecord],
    group_id: int,
    group_ids: Mapping[str, int],
) -> tuple[int, int, int, int]:
    """Upsert by phone in chunks; returns (created, updated, unchanged, memberships added)."""
    created = updated = unchanged = added = 0
    for part in chunked(records):
        existing = await members_by_phone(session, [r.phone for r in part])
        new_rows = []
        for record in part:
            member = existing.get(record.phone)
            if member is None:
                new_rows.append(_member_values(record))
            elif _apply(member, record):
                updated += 1
            else:
                unchanged += 1
        await session.flush()
        ids = {phone: m.id for phone, m in existing.items()}
        ids.update(await insert_members(session, new_rows))
        created += len(new_rows)
        pairs = {(ids[r.phone], group_id) for r in part}
        pairs.update((ids[r.phone], group_ids[name]) for r in part for name in r.groups)
        added += await add_memberships(session, pairs)
        # Flushed rows need not stay in the identity map: memory stays flat for big files.
        session.expunge_all()
    return created, updated, unchanged, added


def _write_rejects(path: Path, header: Sequence[str], problems: Sequence[RowProblem]) -> None:
    buffer = io.StringIO()
    write_csv(buffer, rejects_header(header), rejects_rows(header, problems))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # BOM: Excel, which coordinators open this in, otherwise misreads UTF-8 as ANSI.
        path.write_text(buffer.getvalue(), encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputError(f"cannot write rejects to {path}: {e.strerror or e}") from e
