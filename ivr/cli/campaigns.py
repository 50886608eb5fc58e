"""``ivr bulletins add`` and ``ivr campaigns create|start|pause|resume|cancel|list|show|report``.

These change the database; a running ``ivr serve`` sees the change within a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ivr.campaigns import report
from ivr.campaigns.policy import Priority
from ivr.campaigns.service import CampaignService
from ivr.cli.common import print_json, with_db
from ivr.clock import SystemClock
from ivr.config import Settings
from ivr.store.database import Database


def _service(settings: Settings, db: Database) -> CampaignService:
    # sounds_dir None: the engine installs the audio into Asterisk when it prepares the campaign
    return CampaignService(db, SystemClock(), data_dir=settings.data_dir, sounds_dir=None)


def register(sub: Any) -> None:
    b: argparse.ArgumentParser = sub.add_parser("bulletins", help="recorded bulletins")
    bs = b.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = bs.add_parser("add", help="add a bulletin from a WAV file")
    add.add_argument("file", type=Path)
    add.add_argument("--title", required=True)
    add.add_argument("--urgent", action="store_true")
    add.set_defaults(handler=_add_bulletin)

    p: argparse.ArgumentParser = sub.add_parser("campaigns", help="bulletin campaigns")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = s.add_parser("create", help="a campaign of a bulletin to one or more groups")
    create.add_argument("--bulletin", type=int, required=True, help="bulletin id")
    create.add_argument("--group", action="append", required=True, help="repeat for several")
    create.add_argument("--urgent", action="store_true", help="ignore members' quiet hours")
    create.add_argument("--start", action="store_true", help="start it at once")
    create.set_defaults(handler=_create)
    for action in ("start", "pause", "resume", "cancel", "show"):
        a = s.add_parser(action, help=f"{action} a campaign")
        a.add_argument("id", type=int)
        a.set_defaults(handler=_action)
    s.add_parser("list", help="every campaign with its progress").set_defaults(handler=_list)
    rep = s.add_parser("report", help="the delivery report")
    rep.add_argument("id", type=int)
    rep.add_argument("--format", choices=["json", "csv", "text"], default="text")
    rep.set_defaults(handler=_report)


def _add_bulletin(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        bulletin_id = await _service(settings, db).add_bulletin(
            args.file, title=args.title, created_by="cli", urgent=args.urgent
        )
        print(f"bulletin {bulletin_id} added")
        return 0

    return with_db(settings, work)


def _create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        service = _service(settings, db)
        priority = Priority.URGENT if args.urgent else Priority.NORMAL
        cid = await service.create(args.bulletin, args.group, priority=priority, start=args.start)
        summary = await service.summary(cid)
        print(f"campaign {cid} ({summary.state}): {summary.total} members in {summary.groups}")
        return 0

    return with_db(settings, work)


def _action(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        service = _service(settings, db)
        if args.action != "show":
            await getattr(service, args.action)(args.id)
        print_json(report.summary_dict(await service.summary(args.id)))
        return 0

    return with_db(settings, work)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print_json([report.summary_dict(s) for s in await _service(settings, db).all_summaries()])
        return 0

    return with_db(settings, work)


def _report(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        service = _service(settings, db)
        summary = await service.summary(args.id)
        rows = [row async for row in service.report_rows(args.id)]
        if args.format == "json":
            print_json(
                {**report.summary_dict(summary), "members": [report.row_dict(r) for r in rows]}
            )
        elif args.format == "csv":
            sys.stdout.write(report.csv_header())
            for row in rows:
                sys.stdout.write(report.csv_row(row))
        else:
            print(
                f"campaign {summary.id} ({summary.state}) to {', '.join(summary.groups)}: "
                f"{report.counts_line(summary.counts)}"
            )
            for r in rows:
                print(
                    f"  {r.name:<24} {r.phone:<15} {r.outcome or r.state:<17} "
                    f"attempts {r.attempts}  {r.last_cause or ''}"
                )
        return 0

    return with_db(settings, work)
