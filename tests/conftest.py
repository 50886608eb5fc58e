"""Shared fixtures: the real Asterisk sandbox.

``asterisk`` is one sandbox for the whole session (it boots in about 0.3 s, but the rig
phones registered to it are the slow part). Tests that restart or break Asterisk take
``fresh_asterisk`` instead, a private sandbox of their own, so they never disturb others.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio

from ivr.config import SandboxSettings
from ivr.sandbox import AsteriskSandbox, RigEndpoint, SandboxInfo
from sip_test_rig.fleet import Fleet

ROOT = Path(__file__).resolve().parents[1]


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
