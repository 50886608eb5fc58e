"""Alembic environment: runs on the connection ``ivr.store.migrate`` hands over.

Run through the ``alembic`` command instead (no connection given), it opens its own async
engine from ``sqlalchemy.url``. SQLite gets batch mode, so later ALTERs become the table
copies SQLite needs; PostgreSQL ignores it.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.engine import Connection

from ivr.store.base import UtcDateTime
from ivr.store.database import create_engine
from ivr.store.models import Base

config = context.config
target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen: AutogenContext) -> str | Literal[False]:
    # Migrations must not import app types that may change later: render our UTC decorator as
    # the plain type it stores.
    if kind == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _configure(connection: Connection | None = None, url: str | None = None) -> None:
    dialect = connection.dialect.name if connection is not None else (url or "").split(":")[0]
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        compare_type=True,
        render_item=_render_item,
        literal_binds=connection is None,
    )


def _run_on(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_with_own_engine() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_run_on)
            await conn.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    _configure(url=config.get_main_option("sqlalchemy.url"))
    with context.begin_transaction():
        context.run_migrations()
elif (given := config.attributes.get("connection")) is not None:
    _run_on(given)
else:
    asyncio.run(_run_with_own_engine())
