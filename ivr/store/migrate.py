"""Alembic migrations shipped inside the package, applied at start-up by ``await upgrade(url)``.

The migration scripts live in ``ivr/store/migrations/versions``. To add one after changing a
model, autogenerate it against a scratch database at head, then read and tidy it::

    .venv/bin/python -m ivr.store.migrations revision "add reports table"
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import URL, Connection

from ivr.store.database import create_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(url: str | URL | None = None) -> Config:
    """An Alembic config for our scripts; no ini file, so the app's logging is left alone."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        rendered = url if isinstance(url, str) else url.render_as_string(hide_password=False)
        # ConfigParser interpolation treats % specially (URL-encoded passwords contain it).
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    return cfg


def _run(connection: Connection, cfg: Config, revision: str, downgrade: bool) -> None:
    cfg.attributes["connection"] = connection
    if downgrade:
        command.downgrade(cfg, revision)
    else:
        command.upgrade(cfg, revision)


async def upgrade(url: str | URL, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` in one transaction (SQLite and PostgreSQL
    both have transactional DDL, so a failed migration leaves the schema as it was)."""
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, alembic_config(url), revision, False)
    finally:
        await engine.dispose()


async def downgrade(url: str | URL, revision: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run, alembic_config(url), revision, True)
    finally:
        await engine.dispose()


def _next_id() -> str:
    """Revision ids are a sequence (0001, 0002...) so the files sort in the order they apply."""
    numbers = [
        int(p.name[:4]) for p in (MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py")
    ]
    return f"{max(numbers, default=0) + 1:04d}"


async def _autogenerate(message: str) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'scratch.db'}"
        await upgrade(url)
        engine = create_engine(url)
        try:
            async with engine.begin() as conn:
                cfg = alembic_config(url)

                def revision(sync_conn: Connection) -> None:
                    cfg.attributes["connection"] = sync_conn
                    command.revision(cfg, message=message, autogenerate=True, rev_id=_next_id())

                await conn.run_sync(revision)
        finally:
            await engine.dispose()


def regenerate_initial() -> None:
    """Rewrite the single initial migration from the models.

    Policy until the first release: the schema is one migration, regenerated whenever models
    change, so parallel work never forks the revision history. After the first release,
    every change gets its own revision (``revision "message"``).
    """
    versions = MIGRATIONS_DIR / "versions"
    for old in versions.glob("[0-9][0-9][0-9][0-9]_*.py"):
        old.unlink()
    asyncio.run(_autogenerate("initial schema"))


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["regenerate"]:
        regenerate_initial()
        return 0
    if len(args) != 2 or args[0] != "revision":
        print(
            'usage: python -m ivr.store.migrations revision "message" | regenerate',
            file=sys.stderr,
        )
        return 2
    asyncio.run(_autogenerate(args[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
