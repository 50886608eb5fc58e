"""The broadcast benchmark's second baseline: the least an ARI application can do.

It rings the same Local-channel members straight into Stasis (an ARI originate with
``app=``), plays the bulletin when ``StasisStart`` arrives and rings the next member when
``StasisEnd`` does. There is no database, no dialogue and no AMI, and requests go over
plain aiohttp HTTP, the usual way to write one. Set beside the call-file spooler, it shows
what driving calls through Stasis costs at all; set beside the controller, what the
controller adds (persisting every step, a dialogue that listens for keys).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import aiohttp

from ivr.sandbox import SandboxInfo

#: Its own Stasis application name, so the controller's app never sees these calls.
APP = "watchline-bench-minimal"
#: Member numbers for this pass (the controller's are +4470..., the call files' 70...).
FIRST_NUMBER = 72_000_000


async def ring_all(info: SandboxInfo, media: str, *, calls: int, concurrency: int) -> None:
    """Ring ``calls`` members, ``concurrency`` at a time; returns once every call has left
    Stasis. Raises on any failed request."""
    auth = {"Authorization": aiohttp.BasicAuth(info.ari_username, info.ari_password).encode()}
    base = f"{info.ari_url}/ari"
    async with aiohttp.ClientSession(headers=auth) as http:

        async def post(path: str, **params: str) -> None:
            async with http.post(f"{base}/{path}", params=params) as r:
                if r.status >= 300:
                    raise RuntimeError(f"ARI {path}: {r.status} {await r.text()}")

        ours: set[str] = set()
        rung = ended = 0

        def ring(tg: asyncio.TaskGroup) -> None:
            nonlocal rung
            channel_id = str(uuid.uuid4())
            ours.add(channel_id)
            endpoint = f"Local/{FIRST_NUMBER + rung}@watchline-bench"
            rung += 1
            tg.create_task(post("channels", endpoint=endpoint, app=APP, channelId=channel_id))

        async with http.ws_connect(f"{base}/events?app={APP}") as ws, asyncio.TaskGroup() as tg:
            for _ in range(min(concurrency, calls)):
                ring(tg)
            async with asyncio.timeout(600):
                async for message in ws:
                    event: dict[str, Any] = json.loads(message.data)
                    channel_id = (event.get("channel") or {}).get("id")
                    if channel_id not in ours:
                        continue
                    if event["type"] == "StasisStart":
                        tg.create_task(post(f"channels/{channel_id}/play", media=media))
                    elif event["type"] == "StasisEnd":
                        ended += 1
                        if rung < calls:
                            ring(tg)
                        elif ended >= calls:
                            break
