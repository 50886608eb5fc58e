"""``ivr members import|export`` and ``ivr groups add|list``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ivr.cli.common import print_json, with_db
from ivr.config import Settings
from ivr.errors import CsvImportError
from ivr.members.exporter import export_members
from ivr.members.fields import Scheme
from ivr.members.importer import import_members
from ivr.store import members_repo
from ivr.store.database import Database


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("members", help="watch members")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    imp = s.add_parser("import", help="import members from CSV (all-or-nothing)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--group", required=True, help="the group they join")
    imp.add_argument(
        "--skip-invalid",
        action="store_true",
        help="import the valid rows; write the others to a rejects file",
    )
    imp.add_argument("--rejects", type=Path, help="default: FILE.rejects.csv")
    imp.set_defaults(handler=_import)
    exp = s.add_parser("export", help="export members to CSV")
    exp.add_argument("-o", "--out", type=Path, required=True)
    exp.add_argument("--group")
    exp.set_defaults(handler=_export)

    g: argparse.ArgumentParser = sub.add_parser("groups", help="watch groups")
    gs = g.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = gs.add_parser("add", help="create a group")
    add.add_argument("name")
    add.add_argument(
        "--scheme", choices=[x.value for x in Scheme], default=Scheme.NEIGHBOURHOOD_WATCH.value
    )
    add.add_argument("--area")
    add.add_argument("--coordinator")
    add.set_defaults(handler=_add_group)
    gs.add_parser("list", help="list groups").set_defaults(handler=_list_groups)


def _import(settings: Settings, args: argparse.Namespace) -> int:
    rejects = args.rejects or (args.file.with_suffix(".rejects.csv") if args.skip_invalid else None)

    async def work(db: Database) -> int:
        try:
            result = await import_members(
                db, args.file, args.group, skip_invalid=args.skip_invalid, rejects_path=rejects
            )
        except CsvImportError as e:
            print(f"nothing imported: {e}")
            return 2
        print(
            f"created {result.created}, updated {result.updated}, "
            f"unchanged {result.unchanged}, rejected {result.rejected}, "
            f"memberships added {result.memberships_added}"
        )
        if result.rejects_path:
            print(f"rejected rows written to {result.rejects_path}")
        return 0

    return with_db(settings, work)


def _export(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        count = await export_members(db, args.out, args.group)
        print(f"{count} members written to {args.out}")
        return 0

    return with_db(settings, work)


def _add_group(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.session(write=True) as s:
            group = await members_repo.create_group(
                s, args.name, scheme=Scheme(args.scheme), area=args.area,
                coordinator=args.coordinator,
            )  # fmt: skip
        print(f"group {group.name!r} created (id {group.id})")
        return 0

    return with_db(settings, work)


def _list_groups(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.session() as s:
            groups = await members_repo.all_groups(s)
        print_json(
            [{"id": g.id, "name": g.name, "scheme": g.scheme.value, "area": g.area} for g in groups]
        )
        return 0

    return with_db(settings, work)
