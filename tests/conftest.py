"""Shared fixtures: the real Asterisk sandbox.

``asterisk`` is one sandbox for the whole session (it boots in about 0.3 s, but the rig
phones registered to it are the slow part). Tests that restart or break Asterisk take
``fresh_asterisk`` instead, a private sandbox of their own, so they never disturb others.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.config import SandboxSettings
from ivr.sandbox import AsteriskSandbox, RigEndpoint, SandboxInfo
from ivr.store.testing import TEST_DATABASE_URL_ENV
from sip_test_rig.fleet import Fleet
from tests.pg_cluster import throwaway_cluster

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session", autouse=True)
def postgres_for_store_tests() -> Iterator[None]:
    """Run the store's suite on PostgreSQL too, with a cluster of this session's own."""
    if os.environ.get(TEST_DATABASE_URL_ENV):
        yield
        return
    with throwaway_cluster() as url:
        if url is not None:
            os.environ[TEST_DATABASE_URL_ENV] = url
        try:
            yield
        finally:
            os.environ.pop(TEST_DATABASE_URL_ENV, None)


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings(test_endpoints=160)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def asterisk_sandbox(
    tmp_path_factory: pytest.TempPathFactory, sandbox_settings: SandboxSettings
) -> AsyncIterator[AsteriskSandbox]:
    async with AsteriskSandbox(sandbox_settings, tmp_path_factory.mktemp("asterisk")) as sandbox:
        yield sandbox


@pytest.fixture(scope="session")
def asterisk(asterisk_sandbox: AsteriskSandbox) -> SandboxInfo:
    return asterisk_sandbox.info


@pytest_asyncio.fixture(loop_scope="session")
async def fresh_asterisk(
    tmp_path: Path, sandbox_settings: SandboxSettings
) -> AsyncIterator[AsteriskSandbox]:
    """A private sandbox for one test (for restarts and other disruptive tests)."""
    async with AsteriskSandbox(sandbox_settings, tmp_path / "asterisk") as sandbox:
        yield sandbox


class EndpointPool:
    """Hands each test its own rig endpoints, so no two tests share a phone number."""

    def __init__(self, endpoints: tuple[RigEndpoint, ...]) -> None:
        self._free = list(endpoints)

    def take(self, n: int = 1) -> list[RigEndpoint]:
        if n > len(self._free):
            raise RuntimeError("out of rig endpoints: raise SandboxSettings.test_endpoints")
        taken, self._free = self._free[:n], self._free[n:]
        return taken


@pytest.fixture(scope="session")
def endpoints(asterisk: SandboxInfo) -> EndpointPool:
    return EndpointPool(asterisk.endpoints)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def fleet(
    asterisk: SandboxInfo, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Fleet]:
    """Rig phones registered to the session's Asterisk (worker processes start on demand)."""
    async with Fleet(asterisk.host, asterisk.sip_port, log_dir=tmp_path_factory.mktemp("rig")) as f:
        yield f
