"""Declarative base, naming convention and the portable column types every model uses.

Portability rules (the same schema must run on SQLite today and PostgreSQL later):

* every constraint and index has an explicit, convention-made name, so later migrations can
  drop or alter them by name on both databases;
* datetimes are timezone-aware UTC in Python. PostgreSQL stores ``timestamptz``; SQLite has no
  time zones, so UTC is stored naive in SQLAlchemy's fixed-width text format, which sorts and
  compares correctly;
* enums are VARCHAR plus a named CHECK constraint, never a native enum type, so adding a value
  is one migration that works on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import DateTime, Dialect, Enum, MetaData
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on the way in and out, whatever the database keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            # A naive time is ambiguous (local? UTC?); refusing it finds the bug at its source.
            raise ValueError(f"naive datetime {value!r} given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def enum_column_type(enum: type[StrEnum], name: str, length: int = 32) -> Enum:
    """VARCHAR(length) holding the enum's *values*, guarded by CHECK ck_<table>_<name>."""

    def values(e: Any) -> list[str]:
        return [member.value for member in e]

    return Enum(
        enum,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=values,
        validate_strings=True,
    )
