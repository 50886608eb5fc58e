"""Test-side handles: a phone in the fleet, and one outgoing call of it.

Both are fed by the fleet's event dispatch (``on_*`` methods, called on the event loop)
and offer bounded async waits to tests.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, TypeVar

from sip_test_rig.errors import RigError, RigTimeout
from sip_test_rig.results import CallResult
from sip_test_rig.script import CallScript, InCall, PhoneScript

if TYPE_CHECKING:
    from sip_test_rig.fleet import Fleet
    from sip_test_rig.worker_process import WorkerProcess

T = TypeVar("T")

#: Extra time a call result may take beyond the script's own timings.
RESULT_MARGIN_S = 15.0
#: How long to wait for a call whose script never hangs up (the far end should).
UNSCRIPTED_CALL_S = 120.0


class RigPhone:
    """One simulated phone: its SIP identity, registration, and the calls that reach it."""

    def __init__(
        self, fleet: Fleet, phone_id: str, username: str, worker: WorkerProcess, registers: bool
    ) -> None:
        self.phone_id = phone_id
        self.username = username
        self.registers = registers
        self.worker = worker
        #: Where to dial this phone directly (``sip:user@127.0.0.1:port``), set once added.
        self.uri = ""
        self._fleet = fleet
        self._added: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._registration: tuple[bool, int, str] | None = None
        self._registration_changed = asyncio.Event()
        self._failure: RigError | None = None
        self._results: asyncio.Queue[CallResult | RigError] = asyncio.Queue()
        self._incoming: asyncio.Queue[str | RigError] = asyncio.Queue()
        self._script_acks: asyncio.Queue[RigError | None] = asyncio.Queue()

    def __repr__(self) -> str:
        return f"<RigPhone {self.phone_id} {self.uri or 'adding'} pid={self.worker.pid}>"

    @property
    def worker_pid(self) -> int:
        return self.worker.pid

    @property
    def added(self) -> bool:
        return self._added.done() and not self._added.exception()

    @property
    def registered(self) -> bool:
        return bool(self._registration and self._registration[0])

    @property
    def registration_text(self) -> str:
        if self._registration is None:
            return "no answer from the registrar yet"
        _, status, reason = self._registration
        return f"{status} {reason}"

    # ---- waits for tests -----------------------------------------------------------------

    async def wait_added(self, timeout_s: float) -> None:
        try:
            async with asyncio.timeout(timeout_s):
                self.uri = await asyncio.shield(self._added)
        except TimeoutError:
            raise RigTimeout(f"phone {self.phone_id} not added within {timeout_s} s") from None

    async def wait_registered(self, timeout_s: float = 15.0) -> None:
        """Wait until the registrar has accepted this phone (failures are retried)."""
        try:
            async with asyncio.timeout(timeout_s):
                while not self.registered:
                    if self._failure is not None:
                        raise self._failure
                    self._registration_changed.clear()
                    await self._registration_changed.wait()
        except TimeoutError:
            state = self.registration_text
            raise RigTimeout(
                f"phone {self.phone_id} not registered within {timeout_s} s: {state}"
            ) from None

    async def wait_script_set(self, timeout_s: float) -> None:
        error = await _bounded(self._script_acks.get(), timeout_s, f"script for {self.phone_id}")
        if error is not None:
            raise error

    async def next_call_result(self, timeout_s: float = 60.0) -> CallResult:
        """The result of the next call that rang this phone (in order of ending)."""
        item = await _bounded(self._results.get(), timeout_s, f"a call result for {self.phone_id}")
        if isinstance(item, RigError):
            raise item
        return item

    async def next_incoming(self, timeout_s: float = 60.0) -> str:
        """The call id of the next call that rings this phone (before it is answered)."""
        item = await _bounded(self._incoming.get(), timeout_s, f"a call to {self.phone_id}")
        if isinstance(item, RigError):
            raise item
        return item

    # ---- actions -------------------------------------------------------------------------

    async def set_script(self, script: PhoneScript) -> None:
        await self._fleet.set_script(self, script)

    async def call(
        self,
        to: str,
        script: InCall | None = None,
        *,
        ring_timeout_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> CallResult:
        return await self._fleet.call(
            self, to, script, ring_timeout_s=ring_timeout_s, timeout_s=timeout_s
        )

    async def start_call(
        self, to: str, script: InCall | None = None, *, ring_timeout_s: float = 30.0
    ) -> CallHandle:
        return await self._fleet.start_call(self, to, script, ring_timeout_s=ring_timeout_s)

    async def hangup(self, call_id: str) -> None:
        await self._fleet.hangup(self, call_id)

    # ---- fed by the fleet --------------------------------------------------------------------

    def on_added(self, uri: str) -> None:
        if not self._added.done():
            self._added.set_result(uri)

    def on_registration(self, ok: bool, status: int, reason: str) -> None:
        self._registration = (ok, status, reason)
        self._registration_changed.set()

    def on_incoming(self, call_id: str) -> None:
        self._incoming.put_nowait(call_id)

    def on_result(self, result: CallResult) -> None:
        self._results.put_nowait(result)

    def on_script_set(self, error: RigError | None) -> None:
        self._script_acks.put_nowait(error)

    def fail(self, error: RigError) -> None:
        """The phone is gone (worker died, fleet closed): wake every waiter with ``error``."""
        if self._failure is not None:
            return
        self._failure = error
        if not self._added.done():
            self._added.set_exception(error)
            self._added.exception()  # mark retrieved: nobody may be waiting any more
        self._registration_changed.set()
        self._results.put_nowait(error)
        self._incoming.put_nowait(error)
        self._script_acks.put_nowait(error)


class CallHandle:
    """An outgoing call in progress."""

    def __init__(self, fleet: Fleet, call_id: str, phone: RigPhone, script: CallScript) -> None:
        self.call_id = call_id
        self.phone = phone
        self.script = script
        self._fleet = fleet
        self._answered = asyncio.Event()
        self._result: asyncio.Future[CallResult] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return f"<CallHandle {self.call_id} to {self.script.to}>"

    @property
    def done(self) -> bool:
        return self._result.done()

    async def wait_answered(self, timeout_s: float = 30.0) -> bool:
        """True once the call is answered; False if it ended unanswered."""
        waits: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._answered.wait()),
            asyncio.ensure_future(asyncio.shield(self._result)),
        ]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()
                if wait.done() and not wait.cancelled():
                    wait.exception()  # the failure is raised below, from self._result
        if self._answered.is_set():
            return True
        if self._result.done():
            self._result.result()  # raise the failure, if the call failed
            return False
        raise RigTimeout(f"call {self.call_id} not answered within {timeout_s} s")

    async def hangup(self) -> None:
        if not self.done:
            await self._fleet.hangup(self.phone, self.call_id)

    async def result(self, timeout_s: float | None = None) -> CallResult:
        """Wait for the call to end. On timeout the call is hung up and RigTimeout raised.

        The default timeout covers the ring timeout, the script's own hang-up time (or
        ``UNSCRIPTED_CALL_S`` when the far end is expected to hang up) and a margin.
        """
        if timeout_s is None:
            talk_s = self.script.hangup_after_s or UNSCRIPTED_CALL_S
            timeout_s = self.script.ring_timeout_s + talk_s + RESULT_MARGIN_S
        try:
            return await _bounded(asyncio.shield(self._result), timeout_s, f"call {self.call_id}")
        except RigTimeout:
            await self.hangup()
            raise

    def on_answered(self) -> None:
        self._answered.set()

    def on_result(self, result: CallResult) -> None:
        if not self._result.done():
            self._result.set_result(result)

    def fail(self, error: RigError) -> None:
        if not self._result.done():
            self._result.set_exception(error)
            self._result.exception()  # retrieved: awaiting it later still raises


async def _bounded(awaitable: Awaitable[T], timeout_s: float, what: str) -> T:
    try:
        async with asyncio.timeout(timeout_s):
            return await awaitable
    except TimeoutError:
        raise RigTimeout(f"no {what} within {timeout_s} s") from None
