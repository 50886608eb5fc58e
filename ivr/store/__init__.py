"""Persistence: SQLAlchemy models, query helpers ("repos") and the migrations that build them.

Start-up does ``await upgrade(url)`` (or ``Database.open(url)``, which runs it), then uses
``db.session()`` for each unit of work. Query helpers take an ``AsyncSession`` and never commit:
the caller's ``session()`` block is the transaction.
"""

from ivr.store.database import Database, create_engine
from ivr.store.migrate import upgrade

__all__ = ["Database", "create_engine", "upgrade"]
