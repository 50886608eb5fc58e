"""``ivr reports``: phone reports from the command line (staff on the server itself).

    ivr reports list [--status new] [--category theft] [--urgent] [--limit 50] [--json]
    ivr reports show REFERENCE [--json]
    ivr reports purge            delete audio past its retention now (also runs hourly)

``--json`` prints exactly what the staff API returns, for scripts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from ivr.config import Settings
from ivr.reports.categories import Category
from ivr.reports.states import ReportStatus


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("reports", help="phone reports (list, show)")
    cmds = p.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    ls = cmds.add_parser("list", help="reports, newest first")
    ls.add_argument("--status", choices=[s.value for s in ReportStatus])
    ls.add_argument("--category", choices=[c.value for c in Category])
    ls.add_argument("--urgent", action="store_true", help="only urgent reports")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(handler=_list)
    show = cmds.add_parser("show", help="one report with its transcripts and audit trail")
    show.add_argument("reference")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(handler=_show)
    purge = cmds.add_parser("purge", help="delete audio past the retention period now")
    purge.set_defaults(handler=_purge)


async def _list_async(settings: Settings, args: argparse.Namespace) -> list[dict[str, Any]]:
    from ivr.reports.views import report_summary
    from ivr.store import reports_repo as repo
    from ivr.store.database import Database

    f = repo.ReportFilter(
        status=ReportStatus(args.status) if args.status else None,
        category=Category(args.category) if args.category else None,
        urgent=True if args.urgent else None,
        limit=max(1, args.limit),
    )
    async with Database.open(settings.resolved_database_url) as db, db.session() as session:
        return [report_summary(r, d) for r, d in await repo.list_reports(session, f)]


def _list(settings: Settings, args: argparse.Namespace) -> int:
    reports = asyncio.run(_list_async(settings, args))
    if args.json:
        print(json.dumps({"reports": reports}, indent=2))
        return 0
    table = Table(title=f"{len(reports)} report(s)")
    for column in ("reference", "received", "category", "status", "urgent", "caller"):
        table.add_column(column)
    for r in reports:
        table.add_row(
            r["reference_display"],
            r["created_at"],
            r["category"] or "-",
            r["status"],
            "URGENT" if r["urgent"] else "",
            r["caller"]["number"] or "withheld",
        )
    Console().print(table)
    return 0


async def _show_async(settings: Settings, reference: str) -> dict[str, Any]:
    from ivr.reports.views import audio_link, report_detail
    from ivr.store import reports_repo as repo
    from ivr.store.database import Database

    base = settings.reports.public_base_url or f"http://{settings.web.host}:{settings.web.port}"
    async with Database.open(settings.resolved_database_url) as db, db.session() as session:
        report = await repo.get_report(session, reference)
        answers = await repo.answers_with_jobs(session, report.id)
        events = await repo.events_of(session, report.id)
        delivery = await repo.delivery_of(session, report.id)
        return report_detail(report, answers, events, delivery, audio_link(base, report.reference))


def _show(settings: Settings, args: argparse.Namespace) -> int:
    report = asyncio.run(_show_async(settings, args.reference))
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    console = Console()
    console.print(
        f"[bold]Report {report['reference_display']}[/]  {report['status']}"
        f"{'  [red]URGENT[/]' if report['urgent'] else ''}"
    )
    console.print(f"  category: {report['category']} (by {report['category_by']})")
    console.print(
        f"  caller:   {report['caller']['number'] or 'withheld'}; call back: "
        f"{report['callback']['number'] or 'no'}"
    )
    console.print(f"  where:    {report['location'] or '-'}")
    console.print(f"  what:     {report['description'] or '-'}")
    flags = [k for k in ("no_speech", "transcription_failed") if report[k]]
    if flags:
        console.print(f"  flags:    {', '.join(flags)}")
    for event in report["events"]:
        note = f" - {event['note']}" if event["note"] else ""
        console.print(f"  {event['at']}  {event['actor']}: {event['action']}{note}")
    return 0


def _purge(settings: Settings, args: argparse.Namespace) -> int:
    from ivr.clock import SystemClock
    from ivr.reports.retention import purge_expired_audio
    from ivr.store.database import Database

    async def run() -> int:
        async with Database.open(settings.resolved_database_url) as db:
            result = await purge_expired_audio(
                db,
                settings.data_dir,
                now=SystemClock().now(),
                retention_days=settings.reports.retention_days,
            )
        return result.files_deleted

    deleted = asyncio.run(run())
    print(f"deleted {deleted} audio file(s) older than {settings.reports.retention_days} days")
    return 0
