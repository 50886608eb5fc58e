"""``ivr members export``: members to the same CSV format the importer reads.

Only active members are written, each with the groups they have not opted out of (filtered
to one group with ``group``). So an export imported anywhere never re-subscribes anyone who
pressed 9 or asked to stop; the database itself remains the record of opt-outs.

Files are written with a BOM (Excel reads UTF-8 without one as ANSI) through a temporary file
renamed into place, so an interrupted export never leaves half a file behind.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from pathlib import Path
from typing import TextIO

from ivr.errors import InputError
from ivr.members.csv_format import COLUMNS, MemberRecord, record_cells
from ivr.store import Database
from ivr.store.members_repo import get_group, iter_members
from ivr.store.models import Member

#: Rows rendered per write, so a large export neither piles up in memory nor stalls the loop.
BATCH = 1000


def member_record(member: Member, groups: list[str]) -> MemberRecord:
    return MemberRecord(
        line=0,
        name=member.name,
        phone=member.phone,
        fax=member.fax,
        email=member.email,
        channel=member.channel,
        language=member.language,
        quiet_hours=member.quiet_hours,
        groups=tuple(groups),
    )


async def _write_to(db: Database, out: TextIO, group: str | None) -> int:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    count = 0
    async with db.session() as session:
        group_id = (await get_group(session, group)).id if group is not None else None
        async for member, groups in iter_members(session, group_id):
            writer.writerow(record_cells(member_record(member, groups)))
            count += 1
            if count % BATCH == 0:
                await asyncio.to_thread(out.write, buffer.getvalue())
                buffer.seek(0)
                buffer.truncate()
    await asyncio.to_thread(out.write, buffer.getvalue())
    return count


async def export_members(db: Database, out: Path | TextIO, group: str | None = None) -> int:
    """Write members (of ``group`` if given; GroupNotFound if unknown) to ``out``; returns count."""
    if not isinstance(out, Path):
        return await _write_to(db, out, group)
    partial = out.with_name(f".{out.name}.partial")
    try:
        handle = await asyncio.to_thread(partial.open, "w", encoding="utf-8-sig", newline="")
    except OSError as e:
        raise InputError(f"cannot write {out}: {e.strerror or e}") from e
    try:
        with handle:
            count = await _write_to(db, handle, group)
        await asyncio.to_thread(os.replace, partial, out)
    except OSError as e:
        partial.unlink(missing_ok=True)
        raise InputError(f"cannot write {out}: {e.strerror or e}") from e
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return count
