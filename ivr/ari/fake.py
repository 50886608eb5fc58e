"""A fake ARI server for tests: the REST calls and the event websocket Watchline uses.

It implements the same HTTP interface as Asterisk (paths, query parameters, status codes,
JSON shapes) on 127.0.0.1 and a free port, records every request, and lets a test script
the websocket: send events or garbage, drop the connection, watch it come back. With
``auto_events`` (the default) it also emits what Asterisk would: StasisStart after an
originate, PlaybackStarted/Finished after a play, RecordingStarted/Finished after a record
(and stores a second of silent 8 kHz WAV), ChannelHangupRequest, StasisEnd and
ChannelDestroyed after a hang-up.

It speaks REST over HTTP only: it reports an Asterisk version (``version``) older than
REST over the websocket, as such an Asterisk would. It is a stand-in for unit tests only;
the real behaviour is tested against Asterisk.
"""

from __future__ import annotations

import asyncio
import io
import json
import uuid
import wave
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import aiohttp
from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: Mapping[str, str]
    body: Any


def silent_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A mono 16-bit WAV of silence, like a recording of a quiet caller."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x00" * int(seconds * rate))
    return buf.getvalue()


def _now() -> str:
    # Asterisk's own format: milliseconds and a colon-less UTC offset.
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"message": message}, status=status)


class FakeAriServer:
    """Async context manager; ``url`` is the HTTP root to give ``AriClient``."""

    def __init__(
        self, username: str = "watchline", password: str = "secret", app: str = "watchline"
    ) -> None:
        self.username = username
        self.password = password
        self.app = app
        self.auto_events = True
        #: Seconds GET /channels takes, to let a test act while a client waits for the list.
        self.list_delay_s = 0.0
        self.requests: list[RecordedRequest] = []
        self.channels: dict[str, dict[str, Any]] = {}
        self.variables: dict[str, dict[str, str]] = {}
        self.stored: dict[str, bytes] = {}
        self.live: set[str] = set()
        self.ws_connections = 0
        #: what GET /asterisk/info says; below 22.3, so clients keep requests on HTTP
        self.version = "20.7.0"
        #: each eventFilter PUT's event types, in order
        self.event_filters: list[list[str]] = []
        self.url = ""
        self._sockets: set[web.WebSocketResponse] = set()
        self._connected = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._sender: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        app = web.Application(middlewares=[self._auth_middleware])
        app.router.add_get("/ari/events", self._events)
        app.router.add_get("/ari/channels", self._list_channels)
        app.router.add_post("/ari/channels", self._originate)
        app.router.add_get("/ari/channels/{id}", self._get_channel)
        app.router.add_delete("/ari/channels/{id}", self._hangup)
        app.router.add_post("/ari/channels/{id}/answer", self._answer)
        app.router.add_post("/ari/channels/{id}/continue", self._continue)
        app.router.add_post("/ari/channels/{id}/play", self._play)
        app.router.add_post("/ari/channels/{id}/record", self._record)
        app.router.add_get("/ari/channels/{id}/variable", self._get_var)
        app.router.add_post("/ari/channels/{id}/variable", self._set_var)
        app.router.add_delete("/ari/playbacks/{id}", self._no_content)
        app.router.add_post("/ari/recordings/live/{name}/stop", self._stop_recording)
        app.router.add_get("/ari/recordings/stored/{name}", self._get_stored)
        app.router.add_get("/ari/recordings/stored/{name}/file", self._get_file)
        app.router.add_delete("/ari/recordings/stored/{name}", self._delete_stored)
        app.router.add_get("/ari/asterisk/info", self._info)
        app.router.add_put("/ari/applications/{app}/eventFilter", self._event_filter)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        self._sender = asyncio.create_task(self._send_outbox(), name="fake-ari-outbox")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._sender is not None:
            self._sender.cancel()
            await asyncio.gather(self._sender, return_exceptions=True)
        await self.drop_websockets()
        if self._runner is not None:
            await self._runner.cleanup()

    # --- scripting -----------------------------------------------------------------------

    def add_channel(
        self, channel_id: str, name: str = "", *, in_app: str | None = None, state: str = "Up"
    ) -> dict[str, Any]:
        """A channel as Asterisk lists it; ``in_app`` puts it in ``Stasis(in_app)``."""
        channel = {
            "id": channel_id,
            "name": name or f"PJSIP/{channel_id}",
            "state": state,
            "caller": {"name": "", "number": "441632960100"},
            "connected": {"name": "", "number": ""},
            "accountcode": "",
            "dialplan": {
                "context": "watchline",
                "exten": "s",
                "priority": 1,
                "app_name": "Stasis" if in_app else "Wait",
                "app_data": in_app or "30",
            },
            "creationtime": _now(),
            "language": "en",
        }
        self.channels[channel_id] = channel
        return channel

    async def send_event(self, event: Mapping[str, Any]) -> None:
        """Send an event (timestamp, application and asterisk_id filled in) to every socket."""
        full = {"timestamp": _now(), "application": self.app, "asterisk_id": "fa:ke"}
        await self.send_text(json.dumps({**full, **event}))

    async def send_text(self, text: str) -> None:
        for ws in list(self._sockets):
            await ws.send_str(text)

    async def send_bytes(self, data: bytes) -> None:
        for ws in list(self._sockets):
            await ws.send_bytes(data)

    async def drop_websockets(self) -> None:
        """Close every event websocket, as an Asterisk restart or a network cut would."""
        for ws in list(self._sockets):
            await ws.close()

    async def wait_connections(self, count: int, timeout_s: float = 5.0) -> None:
        """Wait until ``count`` websockets have been accepted in total and one is open."""
        async with asyncio.timeout(timeout_s), self._connected:
            await self._connected.wait_for(
                lambda: self.ws_connections >= count and bool(self._sockets)
            )

    async def flush(self) -> None:
        """Wait until every automatic event queued so far has been sent."""
        await self._outbox.join()

    def requests_to(self, method: str, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.method == method and r.path == path]

    # --- HTTP handlers -------------------------------------------------------------------

    @web.middleware
    async def _auth_middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            auth = aiohttp.BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            return _error(401, "Authentication required")
        if (auth.login, auth.password) != (self.username, self.password):
            return _error(401, "Authentication required")
        body: Any = None
        if request.can_read_body:
            body = json.loads(await request.text() or "null")
        self.requests.append(
            RecordedRequest(request.method, request.path, dict(request.query), body)
        )
        return await handler(request)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("app") != self.app:
            return _error(400, "Missing or unknown app")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        async with self._connected:
            self._sockets.add(ws)
            self.ws_connections += 1
            self._connected.notify_all()
        try:
            async for _ in ws:  # clients send nothing we need; read until closed
                pass
        finally:
            self._sockets.discard(ws)
        return ws

    async def _list_channels(self, request: web.Request) -> web.Response:
        if self.list_delay_s:
            await asyncio.sleep(self.list_delay_s)
        return web.json_response(list(self.channels.values()))

    async def _originate(self, request: web.Request) -> web.Response:
        q = request.query
        if "endpoint" not in q:
            return _error(400, "Endpoint parameter not provided")
        channel_id = q.get("channelId") or str(uuid.uuid4())
        app = q.get("app", "")
        args = q.get("appArgs", "")
        channel = self.add_channel(channel_id, f"{q['endpoint']}-00000001", state="Down")
        channel["dialplan"].update(app_name="Stasis", app_data=f"{app},{args}" if args else app)
        if self.auto_events and app == self.app:
            snapshot = {**channel, "state": "Up"}
            arg_list = args.split(",") if args else []
            self._later({"type": "StasisStart", "args": arg_list, "channel": snapshot})
        return web.json_response(channel)

    async def _get_channel(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["id"])
        return web.json_response(channel) if channel else _error(404, "Channel not found")

    async def _hangup(self, request: web.Request) -> web.Response:
        channel = self.channels.pop(request.match_info["id"], None)
        if channel is None:
            return _error(404, "Channel not found")
        if self.auto_events:
            hangup = {"cause": 16, "soft": False, "channel": channel}
            self._later({"type": "ChannelHangupRequest", **hangup})
            self._later({"type": "StasisEnd", "channel": channel})
            destroyed = {"cause": 16, "cause_txt": "Normal Clearing", "channel": channel}
            self._later({"type": "ChannelDestroyed", **destroyed})
        return web.Response(status=204)

    async def _answer(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            return _error(404, "Channel not found")
        channel["state"] = "Up"
        return web.Response(status=204)

    async def _continue(self, request: web.Request) -> web.Response:
        channel = self.channels.get(request.match_info["id"])
        if channel is None:
            return _error(404, "Channel not found")
        if self.auto_events:
            self._later({"type": "StasisEnd", "channel": channel})
        return web.Response(status=204)

    async def _play(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["id"]
        if channel_id not in self.channels:
            return _error(404, "Channel not found")
        media = request.query.get("media", "")
        playback = {
            "id": request.query.get("playbackId") or str(uuid.uuid4()),
            "media_uri": media.split(",")[0],
            "target_uri": f"channel:{channel_id}",
            "language": request.query.get("lang", "en"),
            "state": "queued",
        }
        if self.auto_events:
            self._later({"type": "PlaybackStarted", "playback": {**playback, "state": "playing"}})
            self._later({"type": "PlaybackFinished", "playback": {**playback, "state": "done"}})
        return web.json_response(playback, status=201)

    async def _record(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["id"]
        if channel_id not in self.channels:
            return _error(404, "Channel not found")
        q = request.query
        name = q.get("name", "")
        if not name:
            return _error(400, "Recording name is required")
        if name in self.stored and q.get("ifExists", "fail") == "fail":
            return _error(409, "Recording with the same name already exists")
        recording = {
            "name": name,
            "format": q.get("format", ""),
            "target_uri": f"channel:{channel_id}",
            "state": "queued",
        }
        self.live.add(name)
        if self.auto_events:
            self.live.discard(name)
            self.stored[name] = silent_wav()
            self._later(
                {"type": "RecordingStarted", "recording": {**recording, "state": "recording"}}
            )
            done = {**recording, "state": "done", "duration": 1}
            self._later({"type": "RecordingFinished", "recording": done})
        return web.json_response(recording, status=201)

    async def _get_var(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["id"]
        if channel_id not in self.channels:
            return _error(404, "Channel not found")
        value = self.variables.get(channel_id, {}).get(request.query.get("variable", ""))
        if value is None:
            return _error(404, "Provided variable was not found")
        return web.json_response({"value": value})

    async def _set_var(self, request: web.Request) -> web.Response:
        channel_id = request.match_info["id"]
        if channel_id not in self.channels:
            return _error(404, "Channel not found")
        q = request.query
        self.variables.setdefault(channel_id, {})[q.get("variable", "")] = q.get("value", "")
        return web.Response(status=204)

    async def _info(self, request: web.Request) -> web.Response:
        return web.json_response({"system": {"version": self.version, "entity_id": "fake"}})

    async def _event_filter(self, request: web.Request) -> web.Response:
        if request.match_info["app"] != self.app:
            return _error(404, "Application not found")
        body = await request.json()
        self.event_filters.append([f["type"] for f in body.get("disallowed", [])])
        return web.json_response({"name": self.app, "events_disallowed": body["disallowed"]})

    async def _no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _stop_recording(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.live:
            return _error(404, "Recording not found")
        self.live.discard(name)
        self.stored[name] = silent_wav()
        return web.Response(status=204)

    async def _get_stored(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in self.stored:
            return _error(404, "Recording not found")
        return web.json_response({"name": name, "format": "wav"})

    async def _get_file(self, request: web.Request) -> web.Response:
        data = self.stored.get(request.match_info["name"])
        if data is None:
            return _error(404, "Recording not found")
        return web.Response(body=data, content_type="audio/wav")

    async def _delete_stored(self, request: web.Request) -> web.Response:
        if self.stored.pop(request.match_info["name"], None) is None:
            return _error(404, "Recording not found")
        return web.Response(status=204)

    def _later(self, event: Mapping[str, Any]) -> None:
        # Events follow the HTTP answer, as with Asterisk, and keep their order.
        self._outbox.put_nowait(dict(event))

    async def _send_outbox(self) -> None:
        while True:  # until __aexit__ cancels it
            event = await self._outbox.get()
            try:
                await self.send_event(event)
            finally:
                self._outbox.task_done()
