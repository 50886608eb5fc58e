"""send_fax against a fake AMI server: what it asks Asterisk for, and how it reads the answer.

The event sequences are those a real Asterisk 22 sent in tests/integration/test_fax_real.py
(headers trimmed to those that matter); the same paths run there against the real thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ivr.ami.client import AmiClient
from ivr.ami.fake_server import FakeAmiServer, FakeAmiSession, ReceivedAction
from ivr.fax.sender import FaxSpool, send_fax

USER, SECRET = "watchline", "fake-secret"
DEADLINE = 10.0
FILE = "/srv/watchline/fax/outgoing/c42.tif"

Script = Callable[[FakeAmiSession, ReceivedAction, str], Awaitable[None]]


@pytest.fixture
async def server() -> AsyncIterator[FakeAmiServer]:
    async with FakeAmiServer(USER, SECRET) as fake:
        yield fake


def on_originate(server: FakeAmiServer, script: Script) -> None:
    async def handler(session: FakeAmiSession, action: ReceivedAction) -> None:
        await session.respond(action, Message="Originate successfully queued")
        await script(session, action, action.get("ChannelId") or "")

    server.handlers["Originate"] = handler


async def originate_response(
    session: FakeAmiSession, action: ReceivedAction, channel_id: str, reason: int
) -> None:
    await session.send(
        {
            "Event": "OriginateResponse",
            "ActionID": action.action_id or "",
            "Response": "Success" if reason == 4 else "Failure",
            "Channel": "PJSIP/441632960900-00000003",
            "Reason": str(reason),
            "Uniqueid": channel_id,
        }
    )


def fax_report(
    channel_id: str, attempt: str, status: str, pages: int, error: str
) -> dict[str, str]:
    return {
        "Event": "UserEvent",
        "Channel": "PJSIP/441632960900-00000003",
        "Uniqueid": channel_id,
        "UserEvent": "WatchlineFax",
        "Attempt": attempt,
        "Status": status,
        "Pages": str(pages),
        "Error": error,
        "Bitrate": "14400",
    }


def hangup(channel_id: str, cause: int, text: str) -> dict[str, str]:
    return {"Event": "Hangup", "Uniqueid": channel_id, "Cause": str(cause), "Cause-txt": text}


def client(server: FakeAmiServer) -> AmiClient:
    return AmiClient(
        server.host, server.port, USER, SECRET, action_timeout=2.0, keepalive_interval=None
    )


async def test_a_delivered_fax_reports_status_pages_and_cause(server: FakeAmiServer) -> None:
    """Originate into watchline-fax-send with the attempt and file; SendFAX's UserEvent and
    the Hangup give the result. Other calls' events on the same link are ignored."""

    async def script(session: FakeAmiSession, action: ReceivedAction, cid: str) -> None:
        await originate_response(session, action, cid, 4)
        await session.send(fax_report("other", "a-other", "FAILED", 0, "NO_FAX"))
        await session.send(hangup("other", 17, "User busy"))
        await session.send(fax_report(cid, "a-1", "SUCCESS", 3, "HANGUP"))
        await session.send(hangup(cid, 16, "Normal Clearing"))

    on_originate(server, script)
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        result = await send_fax(
            ami, "PJSIP/441632960900", FILE, attempt_id="a-1", timeout_s=60, ring_timeout_s=20
        )
    assert result.answered and result.succeeded and not result.timed_out
    assert (result.status, result.pages, result.error, result.bitrate) == (
        "SUCCESS",
        3,
        "HANGUP",
        14400,
    )
    assert (result.hangup_cause, result.hangup_cause_text) == (16, "Normal Clearing")
    sent = await server.wait_for_action("Originate")
    assert sent.get("Channel") == "PJSIP/441632960900"
    assert (sent.get("Context"), sent.get("Exten"), sent.get("Priority")) == (
        "watchline-fax-send",
        "s",
        "1",
    )
    assert sent.get("Timeout") == "20000" and sent.get("ChannelId") == result.channel_id
    assert set(sent.get_all("Variable")) == {"WL_ATTEMPT=a-1", f"WL_FAX_FILE={FILE}"}


async def test_a_busy_line_is_reported_by_cause_and_dial_status(server: FakeAmiServer) -> None:
    async def script(session: FakeAmiSession, action: ReceivedAction, cid: str) -> None:
        await session.send({"Event": "DialEnd", "DestUniqueid": cid, "DialStatus": "BUSY"})
        await session.send(hangup(cid, 17, "User busy"))
        await originate_response(session, action, cid, 0)

    on_originate(server, script)
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        result = await send_fax(ami, "PJSIP/441632960902", FILE, attempt_id="a-2", timeout_s=60)
    assert not result.answered and result.status is None
    assert (result.originate_reason, result.hangup_cause, result.dial_status) == (0, 17, "BUSY")


async def test_a_report_that_lags_behind_the_hangup_is_still_read(server: FakeAmiServer) -> None:
    async def script(session: FakeAmiSession, action: ReceivedAction, cid: str) -> None:
        await originate_response(session, action, cid, 4)
        await session.send(hangup(cid, 16, "Normal Clearing"))
        await asyncio.sleep(0.2)
        await session.send(fax_report(cid, "a-3", "FAILED", 1, "CALL_DROPPED"))

    on_originate(server, script)
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        result = await send_fax(ami, "PJSIP/441632960904", FILE, attempt_id="a-3", timeout_s=60)
    assert (result.status, result.pages, result.error) == ("FAILED", 1, "CALL_DROPPED")


async def test_an_attempt_that_overruns_is_hung_up_and_marked_timed_out(
    server: FakeAmiServer,
) -> None:
    async def script(session: FakeAmiSession, action: ReceivedAction, cid: str) -> None:
        await originate_response(session, action, cid, 4)  # ...and then nothing

    async def hangup_action(session: FakeAmiSession, action: ReceivedAction) -> None:
        cid = action.get("Channel") or ""
        await session.respond(action, Message="Channel Hungup")
        await session.send(fax_report(cid, "a-4", "FAILED", 0, "HANGUP"))
        await session.send(hangup(cid, 16, "Normal Clearing"))

    on_originate(server, script)
    server.handlers["Hangup"] = hangup_action
    async with client(server) as ami, asyncio.timeout(DEADLINE):
        result = await send_fax(
            ami, "PJSIP/441632960900", FILE, attempt_id="a-4", timeout_s=0.6, ring_timeout_s=0.3
        )
    assert result.timed_out and result.answered
    assert (result.status, result.hangup_cause) == ("FAILED", 16)
    sent = await server.wait_for_action("Hangup")
    assert sent.get("Channel") == result.channel_id


async def test_paths_the_dialplan_would_split_are_refused_before_dialling(
    server: FakeAmiServer,
) -> None:
    async with client(server) as ami:
        for bad in ("/srv/fax/a,b.tif", "relative.tif", "/srv/fax/$(x).tif", "/srv/a b.tif"):
            with pytest.raises(ValueError, match="unsafe"):
                await send_fax(ami, "PJSIP/1", bad, attempt_id="a", timeout_s=60)
        with pytest.raises(ValueError):
            await send_fax(ami, "PJSIP/1", FILE, attempt_id="a", timeout_s=10, ring_timeout_s=10)
    assert not [a for a in server.received if a.name == "Originate"]


def test_the_spool_maps_a_file_name_to_host_and_asterisk_paths(tmp_path: Path) -> None:
    spool = FaxSpool(host_dir=tmp_path, asterisk_dir="/srv/watchline/fax/outgoing/")
    assert spool.paths("c42-m17.tif") == (
        tmp_path / "c42-m17.tif",
        "/srv/watchline/fax/outgoing/c42-m17.tif",
    )
    for bad in ("../etc/passwd", "a/b.tif", ".hidden.tif", "a,b.tif"):
        with pytest.raises(ValueError):
            spool.paths(bad)
