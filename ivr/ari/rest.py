"""The REST half of the ARI client: one typed coroutine per ARI call Watchline makes.

Every failure leaves as one of our errors: an HTTP status of 400 or more becomes
:class:`AriRequestError` (``.not_found`` for 404), a refused, reset or timed-out connection
becomes :class:`AriConnectionError` (retryable), a body that is not what ARI documents
becomes :class:`AriError`.

Credentials travel only in the Authorization header, never in a URL, so neither URLs in
log lines nor aiohttp's exception messages can leak the password.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar
from urllib.parse import quote

import aiohttp
from pydantic import BaseModel, TypeAdapter, ValidationError
from yarl import URL

from ivr.ari.models import Channel, LiveRecording, Playback, StoredRecording
from ivr.errors import AriConnectionError, AriError, AriRequestError

M = TypeVar("M", bound=BaseModel)

IfExists = Literal["fail", "overwrite", "append"]
TerminateOn = Literal["none", "any", "*", "#"]
QueryValue = str | int | float | bool | None

_CHANNEL_LIST: TypeAdapter[list[Channel]] = TypeAdapter(list[Channel])
#: Enough for an hour of 8 kHz 16-bit audio; a bigger file means something is wrong.
DEFAULT_MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
_CHUNK = 64 * 1024


def ari_root(base_url: str) -> str:
    """``http://host:8088`` or ``http://host:8088/ari`` (trailing slash or not) → ``.../ari``."""
    root = base_url.rstrip("/")
    return root if root.endswith("/ari") else f"{root}/ari"


def query_params(params: Mapping[str, QueryValue]) -> dict[str, str]:
    # ARI spells booleans "true"/"false"; yarl refuses bool values outright.
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return out


class AriRest:
    """Typed ARI REST calls over an aiohttp session supplied by the owner (``AriClient``)."""

    def __init__(
        self,
        base_url: str,
        username: str,
        password: str,
        app: str,
        *,
        request_timeout_s: float = 10.0,
        max_download_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
    ) -> None:
        self._root = ari_root(base_url)
        #: The Stasis application: originated channels land in it, its events are ours.
        self.app = app
        self._username = username
        # Kept only as a header value; neither logged nor shown by repr().
        self._auth_headers = {"Authorization": aiohttp.encode_basic_auth(username, password)}
        self._timeout = aiohttp.ClientTimeout(total=request_timeout_s)
        self._max_download = max_download_bytes
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        # Spelled out so that no default repr ever prints the Authorization header.
        name = type(self).__name__
        return f"{name}({self._root!r}, username={self._username!r}, app={self.app!r})"

    # --- channels ------------------------------------------------------------------------

    async def originate(
        self,
        endpoint: str,
        *,
        app_args: Sequence[str] = (),
        caller_id: str | None = None,
        dial_timeout_s: int = 30,
        variables: Mapping[str, str] | None = None,
        channel_id: str | None = None,
        other_channel_id: str | None = None,
        app: str | None = None,
    ) -> Channel:
        """Dial ``endpoint`` and put the answered channel into Stasis ``app`` (default: ours).

        Returns at once with the new channel's snapshot; the call's progress arrives as
        events. Choose ``channel_id`` yourself to subscribe to its events before dialling;
        otherwise a fresh UUID is used. ``other_channel_id`` names the second half of a
        Local channel.
        """
        if any("," in arg for arg in app_args):
            # Stasis receives "app,arg1,arg2": a comma inside an argument would split it.
            raise ValueError(f"app_args must not contain commas, got {list(app_args)!r}")
        channel_id = channel_id or str(uuid.uuid4())
        self._originating(channel_id)
        if other_channel_id:
            self._originating(other_channel_id)
        params: dict[str, QueryValue] = {
            "endpoint": endpoint,
            "app": app or self.app,
            "appArgs": ",".join(app_args) if app_args else None,
            "callerId": caller_id,
            "timeout": dial_timeout_s,
            "channelId": channel_id,
            "otherChannelId": other_channel_id,
        }
        body = {"variables": dict(variables)} if variables else None
        raw = await self._send("POST", ("channels",), params, body)
        return self._model(Channel, raw, "POST", "/channels")

    async def list_channels(self) -> list[Channel]:
        raw = await self._send("GET", ("channels",))
        try:
            return _CHANNEL_LIST.validate_json(raw)
        except ValidationError as e:
            raise AriError(f"ARI GET /channels: unexpected response: {e}") from e

    async def get_channel(self, channel_id: str) -> Channel:
        raw = await self._send("GET", ("channels", channel_id))
        return self._model(Channel, raw, "GET", f"/channels/{channel_id}")

    async def answer(self, channel_id: str) -> None:
        await self._send("POST", ("channels", channel_id, "answer"))

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; ``reason`` is an ARI reason such as normal, busy or congestion."""
        await self._send("DELETE", ("channels", channel_id), {"reason": reason})

    async def continue_in_dialplan(
        self,
        channel_id: str,
        *,
        context: str | None = None,
        extension: str | None = None,
        priority: int | None = None,
        label: str | None = None,
    ) -> None:
        """Leave Stasis and go on in the dialplan (where it was, unless told otherwise)."""
        params: dict[str, QueryValue] = {
            "context": context,
            "extension": extension,
            "priority": priority,
            "label": label,
        }
        await self._send("POST", ("channels", channel_id, "continue"), params)

    async def send_dtmf(
        self, channel_id: str, dtmf: str, *, duration_ms: int = 100, between_ms: int = 100
    ) -> None:
        """Send DTMF digits on a channel (what a rig or a Local pair needs to press keys)."""
        params: dict[str, QueryValue] = {
            "dtmf": dtmf,
            "duration": duration_ms,
            "between": between_ms,
        }
        await self._send("POST", ("channels", channel_id, "dtmf"), params)

    async def get_channel_var(self, channel_id: str, variable: str) -> str:
        """A channel variable or dialplan function value; AriRequestError(404) when unset."""
        path = ("channels", channel_id, "variable")
        raw = await self._send("GET", path, {"variable": variable})
        data = self._json(raw, "GET", f"/channels/{channel_id}/variable")
        if not isinstance(data, dict) or not isinstance(data.get("value"), str):
            raise AriError(f"ARI GET /channels/{channel_id}/variable: no 'value' in response")
        return str(data["value"])

    async def set_channel_var(self, channel_id: str, variable: str, value: str) -> None:
        path = ("channels", channel_id, "variable")
        await self._send("POST", path, {"variable": variable, "value": value})

    # --- media ---------------------------------------------------------------------------

    async def play(
        self,
        channel_id: str,
        media: str | Sequence[str],
        *,
        playback_id: str | None = None,
        lang: str = "en",
    ) -> Playback:
        """Queue media (``sound:...``, ``digits:123``, ``recording:...``) on a channel.

        Several URIs play one after another as a single playback. Playbacks and recordings
        on one channel queue behind each other; ``PlaybackFinished`` says when this one ends.
        """
        uris = [media] if isinstance(media, str) else list(media)
        if not uris or any(not uri or "," in uri for uri in uris):
            # ARI takes several URIs as one comma-separated parameter value.
            raise ValueError(f"media must be non-empty URIs without commas, got {uris!r}")
        params: dict[str, QueryValue] = {
            "media": ",".join(uris),
            "lang": lang,
            "playbackId": playback_id,
        }
        raw = await self._send("POST", ("channels", channel_id, "play"), params)
        return self._model(Playback, raw, "POST", f"/channels/{channel_id}/play")

    async def stop_playback(self, playback_id: str) -> None:
        await self._send("DELETE", ("playbacks", playback_id))

    async def record(
        self,
        channel_id: str,
        name: str,
        *,
        format: str = "wav",
        max_duration_s: int = 0,
        max_silence_s: int = 0,
        beep: bool = False,
        terminate_on: TerminateOn = "#",
        if_exists: IfExists = "overwrite",
    ) -> LiveRecording:
        """Record what the caller says into stored recording ``name`` (0 = no limit).

        Asterisk needs its recording spool directory to exist, or it answers 500.
        """
        params: dict[str, QueryValue] = {
            "name": name,
            "format": format,
            "maxDurationSeconds": max_duration_s,
            "maxSilenceSeconds": max_silence_s,
            "beep": beep,
            "terminateOn": terminate_on,
            "ifExists": if_exists,
        }
        raw = await self._send("POST", ("channels", channel_id, "record"), params)
        return self._model(LiveRecording, raw, "POST", f"/channels/{channel_id}/record")

    async def stop_recording(self, name: str) -> None:
        """Stop a live recording and keep what was recorded."""
        await self._send("POST", ("recordings", "live", name, "stop"))

    async def get_stored_recording(self, name: str) -> StoredRecording:
        raw = await self._send("GET", ("recordings", "stored", name))
        return self._model(StoredRecording, raw, "GET", f"/recordings/stored/{name}")

    async def fetch_recording(self, name: str) -> bytes:
        """The stored recording's file, over HTTP, so Asterisk may run on another host."""
        return await self._send("GET", ("recordings", "stored", name, "file"))

    async def delete_stored_recording(self, name: str) -> None:
        await self._send("DELETE", ("recordings", "stored", name))

    # --- Asterisk and the application ----------------------------------------------------

    async def asterisk_version(self) -> str:
        """The running Asterisk's version string, e.g. ``22.10.1``."""
        raw = await self._send("GET", ("asterisk", "info"), {"only": "system"})
        data = self._json(raw, "GET", "/asterisk/info")
        version = data.get("system", {}).get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise AriError("ARI GET /asterisk/info: no system.version in response")
        return version

    async def set_event_filter(self, app: str, *, disallowed: Sequence[str]) -> None:
        """Ask Asterisk not to send application ``app`` these event types at all."""
        body = {"disallowed": [{"type": t} for t in disallowed]}
        await self._send("PUT", ("applications", app, "eventFilter"), body=body)

    # --- plumbing ------------------------------------------------------------------------

    def _originating(self, channel_id: str) -> None:
        """Hook called with the id of a channel about to be originated."""

    async def _send(
        self,
        method: str,
        segments: Sequence[str],
        params: Mapping[str, QueryValue] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> bytes:
        """One request; returns the body of a 2xx answer, raises our errors otherwise."""
        if self._session is None:
            raise AriError("ARI client is not open (use it as an async context manager)")
        path = "/" + "/".join(segments)
        # Ids and names go in the path percent-encoded; the URL is then taken as encoded so
        # a "/" inside a recording name cannot change which resource is addressed.
        url = URL(self._root + "/" + "/".join(quote(s, safe="") for s in segments), encoded=True)
        try:
            async with self._session.request(
                method,
                url,
                params=query_params(params or {}),
                json=body,
                headers=self._auth_headers,
                timeout=self._timeout,
            ) as resp:
                if resp.status >= 400:
                    raise AriRequestError(method, path, resp.status, await _reason(resp))
                return await self._read_bounded(resp, method, path)
        except (aiohttp.ClientError, TimeoutError) as e:
            raise AriConnectionError(f"ARI {method} {path}: {type(e).__name__}: {e}") from e

    async def _read_bounded(self, resp: aiohttp.ClientResponse, method: str, path: str) -> bytes:
        if resp.content_length is not None and resp.content_length > self._max_download:
            raise AriError(f"ARI {method} {path}: body of {resp.content_length} bytes too big")
        data = bytearray()
        async for chunk in resp.content.iter_chunked(_CHUNK):
            data += chunk
            if len(data) > self._max_download:
                raise AriError(f"ARI {method} {path}: body over {self._max_download} bytes")
        return bytes(data)

    @staticmethod
    def _json(raw: bytes, method: str, path: str) -> Any:
        try:
            return json.loads(raw)
        except ValueError as e:
            raise AriError(f"ARI {method} {path}: response is not JSON") from e

    @staticmethod
    def _model(cls: type[M], raw: bytes, method: str, path: str) -> M:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as e:
            raise AriError(f"ARI {method} {path}: unexpected response: {e}") from e


async def _reason(resp: aiohttp.ClientResponse) -> str:
    try:
        text = (await resp.content.read(4096)).decode("utf-8", errors="replace")
    except aiohttp.ClientError:
        return resp.reason or ""
    return error_reason(text, resp.reason or "")


def error_reason(text: str, phrase: str) -> str:
    """Why ARI refused a request, from its error body (over HTTP or the websocket)."""
    # ARI errors are {"message": "..."}; anything else is summarised, never dumped whole.
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return text.strip()[:200] or phrase
