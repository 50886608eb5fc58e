"""The dashboard in a real browser: a real controller (real Asterisk sandbox, real SQLite
database, the real campaigns component) driven by Debian's Chromium.

Why Playwright (``playwright`` on PyPI) and not Selenium: its asyncio API runs in the same
event loop as the controller under test, so one test drives the browser and inspects the
database with no threads; it waits for elements and navigations by itself (no sleeps);
and it reads response status codes and shares the page's cookies with its HTTP client,
which Selenium cannot. The wheel carries its own driver; the browser is the system's
``/usr/bin/chromium`` (``playwright install`` would download one, and there is no
internet here). Everything it loads is on 127.0.0.1.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Locator, Page, async_playwright

from ivr.app import Controller
from ivr.auth.tokens import create_token
from ivr.campaigns.component import CampaignsComponent
from ivr.config import Settings, WebSettings
from ivr.sandbox import SandboxInfo
from ivr.store.database import Database
from ivr.store.models.auth import Role

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
#: One copy of each screenshot outside the test's tmp dir, for people to look at.
SCREENSHOTS = ROOT / "bench" / "out" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # the report page's audio player is started by the test, not by a person's click
    "--autoplay-policy=no-user-gesture-required",
    "--mute-audio",
]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: run scripts/install (apt-get install chromium)")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            await chromium.close()


@dataclass
class Dashboard:
    controller: Controller
    base: str
    data_dir: Path

    @property
    def db(self) -> Database:
        assert self.controller.db is not None
        return self.controller.db

    async def token(self, role: Role, name: str | None = None) -> str:
        async with self.db.session(write=True) as s:
            return await create_token(
                s, name=name or f"{role.value} tester", role=role, now=self.controller.clock.now()
            )


@pytest_asyncio.fixture(loop_scope="session")
async def dashboard(asterisk: SandboxInfo, tmp_path: Path) -> AsyncIterator[Dashboard]:
    """A controller of this test's own (its own database, and its own failure limiter, so
    one test's wrong tokens never lock another out)."""
    settings = Settings(data_dir=tmp_path / "var", web=WebSettings(port=0))
    async with Controller(
        settings, sandbox=asterisk, components=[CampaignsComponent], install_prompts=False
    ) as controller:
        yield Dashboard(controller, f"http://127.0.0.1:{controller.web_port}", settings.data_dir)


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, dashboard: Dashboard) -> AsyncIterator[Page]:
    """A fresh browser profile (no cookies) per test. A Content-Security-Policy violation
    in the console fails the test: the pages must need no inline script or style."""
    context: BrowserContext = await browser.new_context(
        base_url=dashboard.base, viewport={"width": 1280, "height": 900}, locale="en-GB"
    )
    violations: list[str] = []
    tab = await context.new_page()
    tab.on(
        "console",
        lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None,
    )
    try:
        yield tab
    finally:
        await context.close()
    assert violations == [], violations


async def sign_in(page: Page, token: str, start: str = "/dashboard/") -> None:
    """Open ``start``, which sends us to the sign-in form, and sign in."""
    await page.goto(start)
    await page.get_by_label("Your access token").fill(token)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(lambda url: "/signin" not in url)


async def screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    """The whole page into the test's tmp dir, and a copy into bench/out/screenshots/."""
    path = tmp_path / name
    await page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, SCREENSHOTS / name)
    return path


async def rows_text(rows: Locator) -> list[str]:
    """Each row's text as a person reads it: cells separated by single spaces."""
    return [" ".join(text.split()) for text in await rows.all_inner_texts()]
