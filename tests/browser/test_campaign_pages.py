"""A coordinator watches and steers a campaign in the dashboard, in a real browser.

The campaign is real: members come in through the CSV import, the bulletin and the
campaign through the campaign service, and the engine dials. Two members' phones are not
registered (their calls fail) and one number does not exist; three members are in their
quiet hours, so the campaign stays running with them waiting, which is what lets the
coordinator pause it from the page.
"""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from playwright.async_api import Page, expect

from ivr.campaigns.component import CampaignsComponent
from ivr.campaigns.policy import CampaignSettings
from ivr.members.importer import import_members
from ivr.speech.audio import Audio, wav_bytes
from ivr.store import members_repo
from ivr.store.models.auth import Role
from tests.browser.conftest import Dashboard, rows_text, screenshot, sign_in
from tests.conftest import EndpointPool

pytestmark = pytest.mark.e2e

#: A member name that is also markup and a spreadsheet formula: it must show as text.
HOSTILE = '=HYPERLINK("http://x") <img src=x id=injected>'


def _hours(start_h: float, end_h: float) -> str:
    """Quiet hours from ``start_h`` to ``end_h`` hours from now, London time."""
    now = datetime.now(ZoneInfo("Europe/London"))
    return f"{now + timedelta(hours=start_h):%H:%M}-{now + timedelta(hours=end_h):%H:%M}"


async def running_campaign(d: Dashboard, endpoints: EndpointPool, tmp_path: Path) -> int:
    """A running campaign of six: two failed, one invalid number, three still waiting."""
    unregistered = endpoints.take(2)
    callable_now = _hours(6, 7)  # quiet hours well away from now
    asleep = _hours(-1, 2)  # quiet hours now: they wait
    rows = [
        ["Ann Unreachable", unregistered[0].number, callable_now],
        ["Bob Unreachable", unregistered[1].number, callable_now],
        ["Cy Nowhere", "+441632960998", callable_now],
        ["Dee Later", "+441632960991", asleep],
        ["Eve Later", "+441632960992", asleep],
        [HOSTILE, "+441632960993", asleep],
    ]
    path = tmp_path / "members.csv"
    with path.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["name", "phone", "channel", "quiet_hours"])
        out.writerows([name, phone, "voice", quiet] for name, phone, quiet in rows)
    async with d.db.session(write=True) as s:
        await members_repo.create_group(s, "Riverside Neighbourhood Watch")
    result = await import_members(d.db, path, "Riverside Neighbourhood Watch")
    assert result.rejected == 0
    component = d.controller.component("campaigns")
    assert isinstance(component, CampaignsComponent)
    service = component.service
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 8000)
    bulletin = await service.add_bulletin(
        wav_bytes(Audio.from_float(tone, 8000)), title="Garden sheds", created_by="test"
    )
    campaign_id = await service.create(
        bulletin, ["Riverside Neighbourhood Watch"], start=True,
        settings=CampaignSettings(failed_max_attempts=1, calls_per_second=10, burst=10),
    )  # fmt: skip
    async with asyncio.timeout(30):
        while (summary := await service.summary(campaign_id)).counts.get("pending", 0) > 3:
            await asyncio.sleep(0.2)
        while summary.counts.get("dialling"):
            await asyncio.sleep(0.2)
            summary = await service.summary(campaign_id)
    assert summary.counts == {"failed": 2, "invalid_number": 1, "pending": 3}, summary.counts
    return campaign_id


async def test_a_coordinator_sees_progress_and_the_report_and_pauses_the_campaign(
    page: Page, dashboard: Dashboard, endpoints: EndpointPool, tmp_path: Path
) -> None:
    """Sign in with a coordinator token (sent back to the page first asked for), see the
    campaign's progress in the list and on its page, its members with outcomes and causes,
    pause it with the button, download the CSV, see the page follow a change made
    elsewhere without reloading, and cancel it after confirming."""
    campaign_id = await running_campaign(dashboard, endpoints, tmp_path)
    await sign_in(page, await dashboard.token(Role.COORDINATOR, "Ruth Coordinator"),
                  start="/dashboard/campaigns")  # fmt: skip
    assert page.url.endswith("/dashboard/campaigns")
    await expect(page.get_by_text("Signed in as Ruth Coordinator")).to_be_visible()
    nav = page.get_by_role("navigation", name="Main")
    await expect(nav.get_by_role("link")).to_have_text(["Campaigns"])  # no Reports for them
    row = page.get_by_role("row").filter(has_text="Garden sheds")
    await expect(row).to_contain_text("Sending")
    await expect(row).to_contain_text("3 of 6 members done (50 %)")
    await expect(row).to_contain_text("call failed 2, number not valid 1, waiting to be called 3")

    await row.get_by_role("link", name="Garden sheds").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Garden sheds")
    counts = page.get_by_role("table", name="Members by outcome")
    assert await rows_text(counts.locator("tbody tr")) == [
        "Call failed 2", "Number not valid 1", "Waiting to be called 3",
    ]  # fmt: skip
    members = page.get_by_role("table", name="Members from the start, by member number")
    await expect(members.locator("tbody tr")).to_have_count(6)
    ann = members.get_by_role("row").filter(has_text="Ann Unreachable")
    (ann_text,) = await rows_text(ann)
    # name, number, group; outcome; attempts; the cause as Asterisk gave it
    assert "Call failed 1 unregistered (subscriber absent) (cause 20)" in ann_text, ann_text
    await expect(members.get_by_role("row").filter(has_text="Cy Nowhere")).to_contain_text(
        "Number not valid"
    )
    # markup in a member's name is shown as text, never run
    await expect(members.get_by_text(HOSTILE)).to_be_visible()
    assert await page.locator("#injected").count() == 0
    await screenshot(page, tmp_path, "campaign.png")

    await page.get_by_role("button", name="Pause campaign").click()
    await expect(page.get_by_role("status")).to_have_text(
        "The campaign is paused. No new calls will be made until you resume it."
    )
    await expect(page.locator(".progress .badge")).to_have_text("Paused")
    await expect(page.get_by_role("button", name="Resume campaign")).to_be_visible()
    service = dashboard.controller.component("campaigns").service  # type: ignore[attr-defined]
    assert (await service.summary(campaign_id)).state == "paused"

    link = page.get_by_role("link", name="Download the full report (CSV)")
    download = await page.request.get(await link.get_attribute("href") or "")
    assert download.status == 200
    assert download.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.DictReader(io.StringIO(await download.text())))
    assert len(table) == 6
    assert {r["name"]: r["outcome"] for r in table}["Ann Unreachable"] == "failed"
    assert "'" + HOSTILE in {r["name"] for r in table}  # defused for spreadsheets

    # another coordinator resumes it (the CLI, say): the progress follows within seconds
    await service.resume(campaign_id)
    await expect(page.locator(".progress .badge")).to_have_text("Sending", timeout=8000)
    await expect(page.locator("#refresh-status")).to_contain_text("Updated at")

    # cancelling asks first, on a page of its own; "No" changes nothing
    await page.get_by_role("link", name="Cancel campaign…").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Cancel “Garden sheds”?")
    await page.get_by_role("button", name="Yes, cancel this campaign").click()
    await expect(page.get_by_role("status")).to_contain_text("The campaign is cancelled.")
    await expect(page.locator(".progress .badge")).to_have_text("Cancelled")
    await expect(page.get_by_role("button", name="Resume campaign")).to_have_count(0)
    assert (await service.summary(campaign_id)).counts == {
        "failed": 2, "invalid_number": 1, "cancelled": 3,
    }  # fmt: skip


async def test_staff_watch_campaigns_but_get_no_buttons(
    page: Page, dashboard: Dashboard, endpoints: EndpointPool, tmp_path: Path
) -> None:
    """Staff see campaign progress and the members, but no pause/resume/cancel, and a
    state change they post anyway is refused."""
    campaign_id = await running_campaign(dashboard, endpoints, tmp_path)
    await sign_in(
        page, await dashboard.token(Role.STAFF), start=f"/dashboard/campaigns/{campaign_id}"
    )
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Garden sheds")
    await expect(page.get_by_role("button", name="Pause campaign")).to_have_count(0)
    await expect(page.get_by_role("link", name="Cancel campaign…")).to_have_count(0)
    csrf = await page.locator("form[action='/dashboard/signout'] input[name=csrf]").input_value()
    refused = await page.request.post(
        f"/dashboard/campaigns/{campaign_id}/pause", form={"csrf": csrf}
    )
    assert refused.status == 403
    service = dashboard.controller.component("campaigns").service  # type: ignore[attr-defined]
    assert (await service.summary(campaign_id)).state == "running"
