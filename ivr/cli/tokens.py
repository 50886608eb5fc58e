"""``ivr tokens create|list|revoke``: API tokens (shown once, stored hashed)."""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from ivr.auth.tokens import create_token, revoke
from ivr.cli.common import print_json, with_db
from ivr.clock import SystemClock
from ivr.config import Settings
from ivr.store.database import Database
from ivr.store.models.auth import ApiToken, Role


def register(sub: Any) -> None:
    p: argparse.ArgumentParser = sub.add_parser("tokens", help="API tokens")
    s = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    c = s.add_parser("create", help="create a token (printed once)")
    c.add_argument("--name", required=True)
    c.add_argument("--role", choices=[r.value for r in Role], required=True)
    c.set_defaults(handler=_create)
    s.add_parser("list", help="tokens (never their secrets)").set_defaults(handler=_list)
    r = s.add_parser("revoke", help="revoke a token by id")
    r.add_argument("id", type=int)
    r.set_defaults(handler=_revoke)


def _create(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.session(write=True) as s:
            token = await create_token(
                s, name=args.name, role=Role(args.role), now=SystemClock().now()
            )
        print(token)
        return 0

    return with_db(settings, work)


def _list(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.session() as s:
            rows = list(await s.scalars(select(ApiToken).order_by(ApiToken.id)))
        print_json(
            [
                {
                    "id": t.id,
                    "name": t.name,
                    "role": t.role.value,
                    "prefix": t.prefix,
                    "created_at": t.created_at,
                    "last_used_at": t.last_used_at,
                    "revoked": t.revoked_at is not None,
                }
                for t in rows
            ]
        )
        return 0

    return with_db(settings, work)


def _revoke(settings: Settings, args: argparse.Namespace) -> int:
    async def work(db: Database) -> int:
        async with db.session(write=True) as s:
            await revoke(s, args.id, now=SystemClock().now())
        print(f"token {args.id} revoked")
        return 0

    return with_db(settings, work)
