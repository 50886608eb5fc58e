"""One logged-in AMI TCP connection: open, log in, read messages, correlate answers.

It does not reconnect and starts no tasks: :class:`ivr.ami.client.AmiClient` runs its
read loop and replaces it when it dies. Foreign errors (OSError, timeouts) become
:class:`AmiConnectionError` here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from ivr.ami.messages import Action, Greeting, Message, ProtocolErrorMessage, Response
from ivr.ami.protocol import MAX_FRAME_BYTES, AmiProtocol
from ivr.ami.tracker import ActionTracker, Completed, Expect, Outcome, Rejected
from ivr.errors import AmiActionError, AmiAuthError, AmiConnectionError, AmiError

log = logging.getLogger(__name__)

_READ_SIZE = 65536


class AmiConnection:
    """A connected, authenticated AMI session.

    :meth:`request` writes an action and waits for its outcome, which only arrives while
    someone feeds :meth:`dispatch` with what :meth:`read_message` returns (the client's
    reader task). :meth:`close` fails every pending request with AmiConnectionError.
    """

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        next_id: Callable[[], str],
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._next_id = next_id
        self._protocol = AmiProtocol(max_frame_bytes=max_frame_bytes)
        self._tracker = ActionTracker()
        self._futures: dict[str, asyncio.Future[Outcome]] = {}
        self._closed_reason: str | None = None
        self._protocol_eof = False
        self.greeting: Greeting | None = None

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        timeout: float,  # noqa: ASYNC109 - the deadline covers connect and login together
        next_id: Callable[[], str],
        event_mask: str = "on",
        event_filters: Sequence[str] = (),
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> AmiConnection:
        """Connect, wait for the banner, log in. Raises AmiAuthError when Asterisk refuses
        the credentials, AmiConnectionError for anything network- or time-related."""
        where = f"{host}:{port}"
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
        except (OSError, TimeoutError) as e:
            raise AmiConnectionError(f"cannot connect to AMI at {where}: {e or 'timeout'}") from e
        conn = cls(reader, writer, next_id=next_id, max_frame_bytes=max_frame_bytes)
        try:
            async with asyncio.timeout(timeout):
                await conn._login(username, secret, event_mask)
                for pattern in event_filters:
                    await conn._add_filter(pattern)
        except TimeoutError as e:
            conn.close("login timed out")
            raise AmiConnectionError(f"AMI at {where} did not complete login in {timeout}s") from e
        except BaseException:
            conn.close("login failed")
            raise
        log.info("AMI logged in to %s as %s (%s)", where, username, conn.greeting_text)
        return conn

    @property
    def greeting_text(self) -> str:
        return self.greeting.banner if self.greeting else "no banner"

    @property
    def is_closed(self) -> bool:
        return self._closed_reason is not None

    async def _login(self, username: str, secret: str, event_mask: str) -> None:
        first = await self.read_message()
        if not isinstance(first, Greeting):
            raise AmiConnectionError(f"peer is not an AMI server (first message: {first!r})")
        self.greeting = first
        action_id = self._next_id()
        login = Action(
            "Login",
            {"Username": username, "Secret": secret, "Events": event_mask},
            action_id=action_id,
        )
        self._write(self._protocol.send(login))
        # Bounded by the caller's timeout; nothing but the banner and our answer is expected.
        while True:
            message = await self.read_message()
            if isinstance(message, Response) and message.action_id == action_id:
                break
            log.debug("AMI: ignored before login: %r", message)
        if message.is_error:
            raise AmiAuthError(f"AMI login as {username!r} refused: {message.message}")

    async def _add_filter(self, pattern: str) -> None:
        """A whitelist filter: Asterisk then sends only the events matching some filter.

        Server-side filtering saves parsing every Newexten, VarSet, Newstate... of every
        call when the client reads a handful of event types.
        """
        action_id = self._next_id()
        self._write(
            self._protocol.send(
                Action("Filter", {"Operation": "Add", "Filter": pattern}, action_id=action_id)
            )
        )
        while True:
            message = await self.read_message()
            if isinstance(message, Response) and message.action_id == action_id:
                break
        if message.is_error:
            raise AmiError(f"AMI refused event filter {pattern!r}: {message.message}")

    async def read_message(self) -> Message:
        """The next message from the wire; AmiConnectionError at end of stream."""
        # Each pass either returns or reads more bytes, so this ends with the stream.
        while True:
            message = self._protocol.next_message()
            if message is not None:
                return message
            if self._protocol_eof:
                raise AmiConnectionError("AMI connection closed by the peer")
            try:
                data = await self._reader.read(_READ_SIZE)
            except OSError as e:
                raise AmiConnectionError(f"AMI read failed: {e}") from e
            if not data:
                self._protocol_eof = True
            self._protocol.receive_data(data)

    def dispatch(self, message: Message) -> None:
        """Resolve the request ``message`` completes, if any; log malformed input."""
        if isinstance(message, ProtocolErrorMessage):
            log.warning("AMI: skipped malformed data (%s): %r", message.reason, message.raw[:200])
            return
        outcome = self._tracker.feed(message)
        if outcome is None:
            return
        future = self._futures.pop(outcome.action_id, None)
        if future is not None and not future.done():
            future.set_result(outcome)

    async def request(
        self,
        action: Action,
        expect: Expect = Expect.RESPONSE,
        *,
        timeout: float,  # noqa: ASYNC109 - mandatory: no request may wait forever
        completion_event: str = "",
    ) -> Completed:
        """Send ``action`` and wait for its outcome.

        Raises AmiActionError on ``Response: Error``, AmiConnectionError when the
        connection is or becomes closed, or nothing answers within ``timeout`` seconds.
        ValueError for an action that cannot be framed (CR/LF in a value).
        """
        if self._closed_reason is not None:
            raise AmiConnectionError(f"AMI connection is closed ({self._closed_reason})")
        action = action.with_action_id(self._next_id())
        action_id = str(action.action_id)
        payload = self._protocol.send(action)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._tracker.expect(action_id, expect, completion_event=completion_event)
        self._futures[action_id] = future
        log.debug("AMI -> %r", action)
        try:
            async with asyncio.timeout(timeout):
                self._write(payload)
                await self._writer.drain()
                outcome = await future
        except TimeoutError as e:
            raise AmiConnectionError(
                f"no answer to AMI {action.name} ({action_id}) within {timeout}s"
            ) from e
        except OSError as e:
            raise AmiConnectionError(f"AMI write failed: {e}") from e
        finally:
            self._futures.pop(action_id, None)
            self._tracker.discard(action_id)
        if isinstance(outcome, Rejected):
            raise _action_error(action.name, outcome.response)
        return outcome

    def _write(self, payload: bytes) -> None:
        if self._writer.is_closing():
            raise AmiConnectionError("AMI connection is closing")
        self._writer.write(payload)

    def close(self, reason: str) -> None:
        """Close the socket and fail every pending request (retryable)."""
        if self._closed_reason is not None:
            return
        self._closed_reason = reason
        self._tracker.clear()
        futures, self._futures = self._futures, {}
        for action_id, future in futures.items():
            if not future.done():
                future.set_exception(
                    AmiConnectionError(f"AMI connection lost ({reason}) before {action_id} ended")
                )
        self._writer.close()


def _action_error(name: str, response: Response) -> AmiActionError:
    message = response.message or "Response: Error"
    if response.output_lines:
        message = f"{message}: {' / '.join(response.output_lines)}"
    return AmiActionError(name, message, response.as_dict())
