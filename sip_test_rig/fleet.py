"""Many simulated phones for tests, the demo and benchmarks, spread over worker processes.

::

    async with Fleet("127.0.0.1", sandbox.sip_port) as fleet:
        member = await fleet.add_phone("441632960100", "secret", PhoneScript(answer_after_s=1))
        await fleet.wait_registered()
        ...  # the IVR rings the member
        result = await member.next_call_result(timeout_s=60)

A worker process holds at most 8 phones (the 9th account would abort it) and 4 calls; by
default the fleet puts ``phones_per_worker=4`` phones in each, so every phone can be in a
call at once. The fleet owns its workers: on exit, even after an exception, each is asked
to shut down cleanly and, failing that, killed by its own PID. Every wait has a bound.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from sip_test_rig.errors import CommandFailed, RigError, RigTimeout, ScriptError, WorkerFailed
from sip_test_rig.protocol import MAX_ACCOUNTS, AddPhone, Event, Hangup, PlaceCall, SetScript
from sip_test_rig.results import CallResult
from sip_test_rig.rig_phone import CallHandle, RigPhone
from sip_test_rig.script import CallScript, InCall, PhoneScript
from sip_test_rig.wavfile import check_playable
from sip_test_rig.worker_process import WorkerProcess

log = logging.getLogger(__name__)


class Fleet:
    def __init__(
        self,
        registrar_host: str | None = None,
        registrar_port: int | None = None,
        *,
        phones_per_worker: int = 4,
        log_dir: Path | None = None,
        start_timeout_s: float = 20.0,
        stop_timeout_s: float = 8.0,
        python: str = sys.executable,
    ) -> None:
        """Phones register at ``registrar_host:registrar_port``; with no registrar they
        only take and make direct calls (``sip:user@127.0.0.1:port``)."""
        if (registrar_host is None) != (registrar_port is None):
            raise ScriptError("give both registrar_host and registrar_port, or neither")
        if not 1 <= phones_per_worker <= MAX_ACCOUNTS:
            raise ScriptError(f"phones_per_worker must be 1..{MAX_ACCOUNTS}")
        self.registrar = (
            (registrar_host, registrar_port) if registrar_host and registrar_port else None
        )
        self.phones_per_worker = phones_per_worker
        self.start_timeout_s = start_timeout_s
        self.stop_timeout_s = stop_timeout_s
        self.python = python
        #: Exit code of every worker this fleet stopped, by PID (0 = clean pjsua2 shutdown).
        self.exit_codes: dict[int, int | None] = {}
        self._log_dir_given = log_dir
        self._log_dir: Path | None = None
        self._workers: list[WorkerProcess] = []
        self._phones: dict[str, RigPhone] = {}
        self._calls: dict[str, CallHandle] = {}
        self._placement = asyncio.Lock()
        self._call_seq = itertools.count(1)
        self._worker_seq = itertools.count(1)
        self._closing = False

    # ---- lifetime ------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._log_dir_given is not None:
            self._log_dir_given.mkdir(parents=True, exist_ok=True)
            self._log_dir = self._log_dir_given
        else:
            self._log_dir = Path(tempfile.mkdtemp(prefix="watchline-rig-"))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop every worker (cleanly if it can, else by killing its PID) and fail waiters."""
        self._closing = True
        codes = await asyncio.gather(
            *(w.stop(self.stop_timeout_s) for w in self._workers), return_exceptions=True
        )
        for worker, code in zip(self._workers, codes, strict=True):
            self.exit_codes[worker.pid] = code if isinstance(code, int) else None
        closed = RigError("the fleet is closed")
        for phone in self._phones.values():
            phone.fail(closed)
        for handle in self._calls.values():
            handle.fail(closed)
        clean = all(code == 0 for code in self.exit_codes.values())
        if self._log_dir_given is None and self._log_dir is not None:
            if clean:
                shutil.rmtree(self._log_dir, ignore_errors=True)
            else:
                log.warning("rig worker logs kept in %s", self._log_dir)

    @property
    def worker_pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    @property
    def phones(self) -> list[RigPhone]:
        return list(self._phones.values())

    # ---- phones --------------------------------------------------------------------------

    async def add_phone(
        self,
        username: str,
        password: str = "",
        script: PhoneScript | None = None,
        *,
        register: bool | None = None,
        timeout_s: float = 10.0,
    ) -> RigPhone:
        """Start a phone in a worker with room (starting a worker if none has).

        ``register`` defaults to whether the fleet has a registrar; registration completes
        in the background (see :meth:`wait_registered`).
        """
        script = script or PhoneScript()
        _check_wavs(script)
        registers = self.registrar is not None if register is None else register
        if registers and self.registrar is None:
            raise ScriptError("this fleet has no registrar to register with")
        async with self._placement:
            if username in self._phones:
                raise ScriptError(f"a phone {username!r} is already in this fleet")
            worker = await self._worker_with_room()
            phone = RigPhone(self, username, username, worker, registers)
            worker.phone_ids.add(username)
            self._phones[username] = phone
        registrar = self.registrar if registers else None
        try:
            await worker.send(AddPhone(username, username, password, registrar, script))
            await phone.wait_added(timeout_s)
        except BaseException:
            # Give the place back; a later add_phone of this name may succeed.
            worker.phone_ids.discard(username)
            self._phones.pop(username, None)
            raise
        return phone

    async def add_phones(
        self,
        credentials: Iterable[tuple[str, str]],
        script: PhoneScript | None = None,
        *,
        register: bool | None = None,
        timeout_s: float = 30.0,
    ) -> list[RigPhone]:
        """Add many phones; the workers they need are started in parallel."""
        wanted = list(credentials)
        async with self._placement:
            room = sum(self.phones_per_worker - len(w.phone_ids) for w in self._workers)
            missing = max(0, len(wanted) - room)
            new = -(-missing // self.phones_per_worker)
            await asyncio.gather(*(self._start_worker() for _ in range(new)))
        adds = (self.add_phone(u, p, script, register=register) for u, p in wanted)
        try:
            async with asyncio.timeout(timeout_s):
                return list(await asyncio.gather(*adds))
        except TimeoutError:
            raise RigTimeout(f"{len(wanted)} phones not added within {timeout_s} s") from None

    async def wait_registered(
        self, phones: Sequence[RigPhone] | None = None, *, timeout_s: float = 15.0
    ) -> float:
        """Wait until every phone (default: all that register) is registered.

        Returns the seconds waited. :class:`RigTimeout` names the phones still unregistered
        and the registrar's last answer to each.
        """
        targets = [p for p in (self.phones if phones is None else phones) if p.registers]
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.gather(*(p.wait_registered(timeout_s) for p in targets))
        except (TimeoutError, RigTimeout):
            late = [f"{p.phone_id} ({p.registration_text})" for p in targets if not p.registered]
            raise RigTimeout(f"not registered within {timeout_s} s: {', '.join(late)}") from None
        return loop.time() - started

    # ---- calls ---------------------------------------------------------------------------

    async def call(
        self,
        from_phone: RigPhone,
        to: str,
        script: InCall | None = None,
        *,
        ring_timeout_s: float = 30.0,
        timeout_s: float | None = None,
    ) -> CallResult:
        """Place a call and wait for its result; see :meth:`start_call` and
        :meth:`CallHandle.result` for the meaning of the arguments."""
        handle = await self.start_call(from_phone, to, script, ring_timeout_s=ring_timeout_s)
        return await handle.result(timeout_s)

    async def start_call(
        self,
        from_phone: RigPhone,
        to: str,
        script: InCall | None = None,
        *,
        ring_timeout_s: float = 30.0,
    ) -> CallHandle:
        """Dial ``to`` (an extension at the registrar, or a phone's ``uri``) from
        ``from_phone``; once answered, do what ``script`` says."""
        call_script = CallScript.of(to, script, ring_timeout_s=ring_timeout_s)
        _check_wavs(call_script)
        call_id = f"{from_phone.phone_id}-out{next(self._call_seq)}"
        handle = CallHandle(self, call_id, from_phone, call_script)
        self._calls[call_id] = handle
        await from_phone.worker.send(PlaceCall(from_phone.phone_id, call_id, call_script))
        return handle

    async def hangup(self, phone: RigPhone, call_id: str) -> None:
        """Hang up a call of ``phone`` (an outgoing handle's id or an incoming call's id)."""
        await phone.worker.send(Hangup(call_id))

    async def set_script(
        self, phone: RigPhone, script: PhoneScript, *, timeout_s: float = 10.0
    ) -> None:
        """Change how ``phone`` treats calls that ring it; returns once the worker has it."""
        _check_wavs(script)
        await phone.worker.send(SetScript(phone.phone_id, script))
        await phone.wait_script_set(timeout_s)

    # ---- workers and their events ----------------------------------------------------------

    async def _worker_with_room(self) -> WorkerProcess:
        for worker in self._workers:
            if len(worker.phone_ids) < self.phones_per_worker and worker.returncode is None:
                return worker
        return await self._start_worker()

    async def _start_worker(self) -> WorkerProcess:
        if self._closing or self._log_dir is None:
            raise RigError("use the fleet inside 'async with Fleet(...)'")
        index = next(self._worker_seq)
        worker = await WorkerProcess.start(
            index,
            self._log_dir / f"worker-{index}.log",
            self._on_event,
            timeout_s=self.start_timeout_s,
            python=self.python,
        )
        self._workers.append(worker)
        log.debug("rig worker %s started, pid %s, SIP port %s", index, worker.pid, worker.sip_port)
        return worker

    def _on_event(self, worker: WorkerProcess, kind: Event, fields: dict[str, Any]) -> None:
        phone = self._phones.get(str(fields.get("phone_id")))
        handle = self._calls.get(str(fields.get("call_id")))
        match kind:
            case Event.PHONE_ADDED if phone:
                phone.on_added(str(fields["uri"]))
            case Event.REGISTERED | Event.REGISTRATION_FAILED if phone:
                phone.on_registration(kind is Event.REGISTERED, fields["status"], fields["reason"])
            case Event.SCRIPT_SET if phone:
                phone.on_script_set(None)
            case Event.INCOMING if phone:
                phone.on_incoming(str(fields["call_id"]))
            case Event.ANSWERED if handle:
                handle.on_answered()
            case Event.CALL_ENDED:
                result = CallResult.from_event(fields)
                if handle is not None and result.direction == "outgoing":
                    self._calls.pop(result.call_id, None)
                    handle.on_result(result)
                elif phone is not None:
                    phone.on_result(result)
            case Event.ERROR:
                self._on_error(fields, phone, handle)
            case Event.STOPPED:
                self._on_worker_stopped(worker, fields)
            case _:
                log.debug("rig event %s %s", kind, fields)

    def _on_error(
        self, fields: dict[str, Any], phone: RigPhone | None, handle: CallHandle | None
    ) -> None:
        message = str(fields.get("message"))
        error = CommandFailed(
            message, phone_id=fields.get("phone_id"), call_id=fields.get("call_id")
        )
        if handle is not None and fields.get("command") == "PlaceCall":
            self._calls.pop(handle.call_id, None)
            handle.fail(error)
        elif phone is not None and not phone.added and fields.get("command") == "AddPhone":
            phone.fail(error)
        elif phone is not None and fields.get("command") == "SetScript":
            phone.on_script_set(error)
        else:
            log.warning("rig phone error: %s", fields)

    def _on_worker_stopped(self, worker: WorkerProcess, fields: dict[str, Any]) -> None:
        if self._closing:
            return
        failure = WorkerFailed(
            f"phone worker exited (code {fields.get('exit_code')})",
            pid=worker.pid,
            log_tail=worker.log_tail(),
        )
        for phone_id in worker.phone_ids:
            self._phones[phone_id].fail(failure)
        for handle in list(self._calls.values()):
            if handle.phone.worker is worker:
                handle.fail(failure)


def _check_wavs(script: InCall) -> None:
    """Refuse unplayable WAVs here, where the test can see the error, not in a worker."""
    for playback in script.play:
        check_playable(playback.path)
    machine = getattr(script, "answering_machine", None)
    if machine is not None:
        check_playable(machine.greeting)


__all__ = ["CallHandle", "CallResult", "Fleet", "RigPhone"]
