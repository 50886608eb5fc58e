"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.store.database import Database
from ivr.store.testing import BACKENDS, TEST_DATABASE_URL_ENV, backend_url, open_test_database


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL for each backend (SQLite, PostgreSQL)."""
    url = backend_url(request.param, tmp_path)
    if url is None:
        # tests/conftest.py starts a throwaway PostgreSQL for the session; a missing URL
        # means that failed, and a skip here would hide half the store tests
        pytest.fail(f"{TEST_DATABASE_URL_ENV} is not set: no PostgreSQL to test on")
    return url


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """An empty database at the latest migration, once per backend."""
    async with open_test_database(database_url) as database:
        yield database
