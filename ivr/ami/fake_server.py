"""A scriptable fake AMI server on 127.0.0.1, for tests of AMI users (not a mock of Asterisk).

It speaks the real wire format: banner, Login (with real credential checking), Ping,
Logoff, and whatever handlers a test registers; it can inject raw bytes, drop
connections and restart on the same port. Behaviour that only Asterisk knows (dialplan,
channels) is never imitated here beyond what a test scripts explicitly; the same paths
are tested against the real Asterisk in tests/integration.

    async with FakeAmiServer(username="u", secret="s") as server:
        server.handlers["Status"] = my_handler
        async with AmiClient(server.host, server.port, "u", "s") as ami: ...
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from types import TracebackType

from ivr.ami.messages import _Frame
from ivr.ami.protocol import split_header

log = logging.getLogger(__name__)

BANNER = "Asterisk Call Manager/11.0.0"


class ReceivedAction(_Frame):
    """An action as the fake server read it."""

    __slots__ = ()

    @property
    def name(self) -> str:
        return self.get("Action") or ""


Handler = Callable[["FakeAmiSession", ReceivedAction], Awaitable[None]]


def encode_frame(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return "".join(f"{k}: {v}\r\n" for k, v in items).encode() + b"\r\n"


class FakeAmiSession:
    """One client connection to the fake server."""

    def __init__(self, server: FakeAmiServer, writer: asyncio.StreamWriter) -> None:
        self.server = server
        self._writer = writer
        self.logged_in = False

    async def send_raw(self, data: bytes) -> None:
        if self._writer.is_closing():
            return
        self._writer.write(data)
        try:
            await self._writer.drain()
        except ConnectionError:
            log.debug("fake AMI: client went away while we wrote")

    async def send(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        await self.send_raw(encode_frame(headers))

    async def respond(
        self, action: ReceivedAction, status: str = "Success", **headers: str
    ) -> None:
        """``Response: <status>`` with the action's ActionID and ``headers``."""
        frame: list[tuple[str, str]] = [("Response", status)]
        if action.action_id is not None:
            frame.append(("ActionID", action.action_id))
        frame.extend(headers.items())
        await self.send(frame)

    @property
    def closed(self) -> bool:
        return self._writer.is_closing()

    def close(self) -> None:
        self._writer.close()


async def _read_action(reader: asyncio.StreamReader) -> ReceivedAction | None:
    headers: list[tuple[str, str]] = []
    # One line per pass; ends at the blank line or at EOF.
    while True:
        line = await reader.readline()
        if not line:
            return None
        text = line.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text:
            if headers:
                return ReceivedAction(headers=tuple(headers))
            continue
        header = split_header(text)
        if header is not None:
            headers.append(header)


class FakeAmiServer:
    """Listens on 127.0.0.1 (port 0 unless given); owns its connection tasks."""

    def __init__(
        self,
        username: str = "watchline",
        secret: str = "fake-secret",
        *,
        banner: str = BANNER,
        port: int = 0,
    ) -> None:
        self.username = username
        self.secret = secret
        self.banner = banner
        self.host = "127.0.0.1"
        self.port = port
        #: Handlers by action name (case-insensitive lookup); Login, Ping, Logoff built in.
        self.handlers: dict[str, Handler] = {}
        self.answer_pings = True
        #: Every action received, in order, from every session.
        self.received: list[ReceivedAction] = []
        self.sessions: list[FakeAmiSession] = []
        self.logins = 0
        self.failed_logins = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._received_changed = asyncio.Event()

    async def __aenter__(self) -> FakeAmiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._on_client, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening, drop every client, and wait for the connection tasks."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        self.drop_all()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def restart(self, downtime: float = 0.0) -> None:
        """Like an Asterisk restart: everyone is dropped, the port is dead for a while."""
        await self.stop()
        await asyncio.sleep(downtime)
        await self.start()

    def drop_all(self) -> None:
        for session in self.sessions:
            session.close()

    @property
    def live_sessions(self) -> list[FakeAmiSession]:
        return [s for s in self.sessions if s.logged_in and not s.closed]

    async def broadcast(self, headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> None:
        for session in self.live_sessions:
            await session.send(headers)

    async def broadcast_raw(self, data: bytes) -> None:
        for session in self.live_sessions:
            await session.send_raw(data)

    async def wait_for_action(self, name: str, count: int = 1) -> ReceivedAction:
        """The ``count``-th action called ``name``, waiting for it if need be."""
        # Each pass waits for a new action; the caller bounds it with a timeout.
        while True:
            matching = [a for a in self.received if a.name.casefold() == name.casefold()]
            if len(matching) >= count:
                return matching[count - 1]
            self._received_changed.clear()
            await self._received_changed.wait()

    def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # A plain callback, so the connection task is ours to track and cancel in stop().
        serve = asyncio.ensure_future(self._serve(reader, writer))
        self._tasks.add(serve)
        serve.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = FakeAmiSession(self, writer)
        self.sessions.append(session)
        try:
            await session.send_raw(f"{self.banner}\r\n".encode())
            # One action per pass; ends when the client or the test closes the connection.
            while (action := await _read_action(reader)) is not None:
                self.received.append(action)
                self._received_changed.set()
                await self._handle(session, action)
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def _handle(self, session: FakeAmiSession, action: ReceivedAction) -> None:
        name = action.name.casefold()
        custom = {k.casefold(): v for k, v in self.handlers.items()}.get(name)
        if custom is not None:
            await custom(session, action)
        elif name == "login":
            await self._login(session, action)
        elif name == "ping":
            if self.answer_pings:
                await session.respond(action, Ping="Pong", Timestamp="1732715123.456789")
        elif name == "logoff":
            await session.respond(action, "Goodbye", Message="Thanks for all the fish.")
            session.close()
        else:
            await session.respond(
                action,
                "Error",
                Message=f"Invalid/unknown command: {action.name}. "
                "Use Action: ListCommands to show available commands.",
            )

    async def _login(self, session: FakeAmiSession, action: ReceivedAction) -> None:
        if action.get("Username") == self.username and action.get("Secret") == self.secret:
            self.logins += 1
            session.logged_in = True
            await session.respond(action, Message="Authentication accepted")
            await session.send(
                {"Event": "FullyBooted", "Privilege": "system,all", "Status": "Fully Booted"}
            )
        else:
            self.failed_logins += 1
            await session.respond(action, "Error", Message="Authentication failed")
            session.close()


def substitute_action_id(transcript: bytes, recorded_id: str, action_id: str | None) -> bytes:
    """Replay a recorded transcript as the answer to a new action."""
    return transcript.replace(
        f"ActionID: {recorded_id}".encode(), f"ActionID: {action_id}".encode()
    )
