"""Helpers shared by the command groups: the database for one command, JSON output."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import Any, TypeVar

from ivr.config import Settings
from ivr.store.database import Database

T = TypeVar("T")


def with_db(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """Run ``work`` with the configured database (migrated first)."""

    async def main() -> T:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        async with Database.open(settings.resolved_database_url) as db:
            return await work(db)

    return asyncio.run(main())


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if is_dataclass(value) and not isinstance(value, type):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def print_json(value: Any) -> None:
    json.dump(_plain(value), sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
