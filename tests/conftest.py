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
from ivr.sandbox import AsteriskSandbox, SandboxInfo

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def sandbox_settings() -> SandboxSettings:
    return SandboxSettings()


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
