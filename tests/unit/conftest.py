"""Fixtures shared by the unit tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ivr.store.database import Database
from ivr.store.testing import BACKENDS, TEST_DATABASE_URL_ENV, backend_url, open_test_database


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """An empty database at the latest migration, once per backend (SQLite, PostgreSQL)."""
    url = backend_url(request.param, tmp_path)
    if url is None:
        pytest.skip(f"set {TEST_DATABASE_URL_ENV} to run on PostgreSQL")
    async with open_test_database(url) as database:
        yield database
