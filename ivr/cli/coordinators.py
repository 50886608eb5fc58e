"""``ivr coordinators``: who may record bulletins by phone on the bulletin line.

    ivr coordinators add --name "Ann Lee" --phone "01632 960100" --group riverside
    ivr coordinators list
    ivr coordinators show ID
    ivr coordinators groups ID --group riverside --group kings-arms   (replaces them)
    ivr coordinators pin ID                                           (new PIN; unlocks)
    ivr coordinators unlock ID
    ivr coordinators events [ID] [--limit 50]                         (the audit trail)

PINs are typed at a hidden prompt, twice (or one line on stdin with ``--pin-stdin``, for
scripts): never as an argument, which would land in the shell history and the process list.
The id printed by ``add`` is the coordinator number keyed when calling from another phone.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from ivr.bulletin_line.admin import Actor, CoordinatorAdmin
from ivr.cli.common import print_json, with_db
from ivr.clock import SystemClock
from ivr.config import Settings
from ivr.errors import InputError
from ivr.store.database import Database


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        "coordinators", help="coordinators of the bulletin line (phone, PIN, groups)"
    )
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = s.add_parser("add", help="register a coordinator (asks for the PIN)")
    add.add_argument("--name", required=True)
    add.add_argument("--phone", required=True, help="the number they call from")
    add.add_argument("--group", action="append", default=[], help="a group they may send to")
    add.add_argument("--pin-stdin", action="store_true", help="read the PIN from stdin")
    add.set_defaults(handler=_add)
    ls = s.add_parser("list", help="every coordinator")
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=_list)
    show = s.add_parser("show", help="one coordinator")
    show.add_argument("id", type=int)
    show.set_defaults(handler=_show)
    groups = s.add_parser("groups", help="replace the groups a coordinator may send to")
    groups.add_argument("id", type=int)
    groups.add_argument("--group", action="append", default=[])
    groups.set_defaults(handler=_groups)
    pin = s.add_parser("pin", help="set a new PIN (asks for it); also lifts a lockout")
    pin.add_argument("id", type=int)
    pin.add_argument("--pin-stdin", action="store_true")
    pin.set_defaults(handler=_pin)
    unlock = s.add_parser("unlock", help="lift a lockout after wrong PINs")
    unlock.add_argument("id", type=int)
    unlock.set_defaults(handler=_unlock)
    ev = s.add_parser("events", help="the audit trail (sign-ins, wrong PINs, sends)")
    ev.add_argument("id", type=int, nargs="?")
    ev.add_argument("--limit", type=int, default=50)
    ev.set_defaults(handler=_events)


def _actor() -> Actor:
    return Actor("cli", getpass.getuser())


def read_pin(from_stdin: bool) -> str:
    """The PIN from a hidden prompt (typed twice) or one line of stdin."""
    if from_stdin:
        return sys.stdin.readline().strip()
    first = getpass.getpass("PIN (4 to 8 digits): ")
    if getpass.getpass("PIN again: ") != first:
        raise InputError("the two PINs differ")
    return first


def _admin(db: Database) -> CoordinatorAdmin:
    return CoordinatorAdmin(db, SystemClock())


def _add(settings: Settings, args: argparse.Namespace) -> int:
    pin = read_pin(args.pin_stdin)

    async def work(db: Database) -> int:
        view = await _admin(db).add(
            name=args.name, phone=args.phone, pin=pin, groups=args.group, actor=_actor()
        )
        print(f"coordinator {view['id']} added: {view['name']} {view['phone']}")
        print(f"coordinator number (for calls from other phones): {view['id']}")
        if not view["groups"]:
            print("no groups yet: add some with 'ivr coordinators groups'", file=sys.stderr)
        return 0

    return with_db(settings, work)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        rows = await _admin(db).list_all()
        if args.json:
            print_json(rows)
            return 0
        table = Table("id", "name", "phone", "groups", "locked")
        for r in rows:
            locked = f"until {r['locked_until']}" if r["locked"] else ""
            table.add_row(str(r["id"]), r["name"], r["phone"], ", ".join(r["groups"]), locked)
        Console().print(table)
        return 0

    return with_db(settings, work)


def _show(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print_json(await _admin(db).show(args.id))
        return 0

    return with_db(settings, work)


def _groups(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print_json(await _admin(db).set_groups(args.id, args.group, actor=_actor()))
        return 0

    return with_db(settings, work)


def _pin(settings: Settings, args: argparse.Namespace) -> int:
    pin = read_pin(args.pin_stdin)

    async def work(db: Database) -> int:
        await _admin(db).set_pin(args.id, pin, actor=_actor())
        print(f"coordinator {args.id}: PIN changed")
        return 0

    return with_db(settings, work)


def _unlock(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        await _admin(db).unlock(args.id, actor=_actor())
        print(f"coordinator {args.id}: unlocked")
        return 0

    return with_db(settings, work)


def _events(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        print_json(await _admin(db).audit_trail(args.id, limit=max(1, args.limit)))
        return 0

    return with_db(settings, work)
